"""Progress lines: a live line on a TTY, at most one line per 10 s in a log, 429s visible."""

from __future__ import annotations

import io

from reconciler.cli.progress import LOG_INTERVAL, Progress
from reconciler.partnercenter import ClientStats


class Stream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def stats(throttled: int, concurrency: int, rate: float | None = None,
          backing_off: bool = False) -> ClientStats:
    return ClientStats(requests=50, throttled=throttled, retries=throttled, concurrency=concurrency,
                       max_concurrency=8, in_flight=concurrency, rate=rate,
                       backing_off=backing_off)


def test_log_gets_a_line_at_most_every_ten_seconds() -> None:
    stream, clock = Stream(tty=False), Clock()
    progress = Progress("Checking drift", stream=stream, clock=clock)
    for done in range(1, 50):
        clock.now += 0.5
        progress(done, 100)
    lines = stream.getvalue().splitlines()
    assert len(lines) == int(49 * 0.5 // LOG_INTERVAL)
    assert lines[0].startswith("Checking drift: 20/100 (20%), 2.0/s, ETA 40s")


def test_tty_line_is_redrawn_and_shows_back_off() -> None:
    stream, clock = Stream(tty=True), Clock()
    progress = Progress("Applying", stream=stream, clock=clock, width=lambda: 200)
    progress.watch(lambda: stats(12, 2, rate=31.4, backing_off=True))
    clock.now += 2
    progress(10, 40)
    assert stream.getvalue() == ("\r\x1b[2KApplying: 10/40 (25%), 5.0/s, ETA 6s, "
                                 "12 throttled (429), backing off to 31 requests/s")
    progress.finish()
    assert stream.getvalue().endswith("\r\x1b[2K")


def test_no_throttling_no_noise() -> None:
    stream, clock = Stream(tty=True), Clock()
    progress = Progress("Refreshing", stream=stream, clock=clock)
    progress.watch(lambda: stats(0, 8))
    clock.now += 1
    progress(5, 5)
    assert "throttled" not in stream.getvalue()


def test_refresh_hands_the_client_to_a_watching_progress() -> None:
    from reconciler.refresh import WatchesClient

    assert isinstance(Progress("x", stream=Stream(False)), WatchesClient)


def test_the_rate_found_is_shown_once_the_client_paces() -> None:
    stream, clock = Stream(tty=True), Clock()
    progress = Progress("Refreshing", stream=stream, clock=clock)
    progress.watch(lambda: stats(0, 8, rate=6.25))
    clock.now += 1
    progress(5, 10)
    assert stream.getvalue().endswith(", 6.2 requests/s")
    assert "throttled" not in stream.getvalue()


def test_a_notice_from_the_client_goes_on_its_own_line_above_the_live_line() -> None:
    import logging

    from reconciler.cli.logs import NoticeHandler

    stream, clock = Stream(tty=True), Clock()
    progress = Progress("Refreshing", stream=stream, clock=clock, width=lambda: 200)
    clock.now += 1
    progress(1, 4)
    handler = NoticeHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    try:
        handler.emit(logging.LogRecord(
            "reconciler.partnercenter.notice", logging.WARNING, __file__, 1,
            "Partner Center asked to wait 60s (Retry-After); waiting 60s, until 12:00:00 UTC.",
            None, None))
    finally:
        progress.finish()
    assert stream.getvalue() == (
        "\r\x1b[2KRefreshing: 1/4 (25%), 1.0/s, ETA 3s"
        "\r\x1b[2KPartner Center asked to wait 60s (Retry-After); waiting 60s, until 12:00:00 "
        "UTC.\n")
