"""``discover``: read the partner's whole customer list and write manifests for the candidates.

Reads only — one list call per page, one subscriptions call per customer, one eligibility call
per customer with an MS-AZR-0145P subscription, all through the client's shared limiter — and
never a create, a state read or write, or a lock. Customers are read while the list is still
being paged, so the list's latency hides behind the per-customer reads.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Collection, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from reconciler import discovery, manifest
from reconciler.connect import open_client
from reconciler.discovery import Discovery, NewManifest, Observation, Unread
from reconciler.errors import UsageError
from reconciler.model import Desired, parse_customer_id
from reconciler.partnercenter import (
    AuthenticationError,
    Customer,
    DeadlineExceeded,
    PartnerCenterClient,
    PartnerCenterError,
)
from reconciler.refresh import Progress, WatchesClient, notice_of
from reconciler.settings import Settings
from reconciler.workflow.inputs import load_desired

log = logging.getLogger(__name__)

#: Customers per list page: what Microsoft's bulk migration tool asks for.
PAGE_SIZE = 500


@dataclass(frozen=True, slots=True)
class DiscoverOptions:
    """What ``discover`` was asked for (validated here, so a bad flag costs no call)."""

    manifests: tuple[Path, ...]
    #: Whether ``manifests`` came from ``-m``; the default (settings, ``manifests/``) may be
    #: missing, since discover is how a partner's first manifests come to be.
    manifests_given: bool = True
    write_dir: Path | None = None
    wave_size: int = 100
    prefix: str = "discovered"
    parallelism: int | None = None
    command: str = field(default="reconciler discover", compare=False)

    def __post_init__(self) -> None:
        if self.wave_size < 1:
            raise UsageError(f"--wave-size must be at least 1, not {self.wave_size}.")
        if self.write_dir is not None and self.write_dir.exists() \
                and not self.write_dir.is_dir():
            raise UsageError(f"--write {self.write_dir}: that is a file, not a directory.")
        if not discovery.PREFIX_PATTERN.fullmatch(self.prefix):
            raise UsageError(
                f"--prefix {self.prefix!r} cannot start a manifest name: use lower-case letters, "
                "digits and dashes, starting and ending with a letter or digit (at most 52).")


@dataclass(frozen=True, slots=True)
class Discovered:
    """The discovery, and the manifest files written (empty without ``--write``)."""

    discovery: Discovery
    written: tuple[Path, ...] = ()
    write_dir: Path | None = None


def discover(settings: Settings, options: DiscoverOptions, *,
             progress: Progress | None = None) -> Discovered:
    """Classify every customer, then (with ``write_dir``) write manifests for the new ones."""
    desired = _managed(settings, options)
    sources = _sources(desired)
    parallelism = options.parallelism or settings.parallelism
    with open_client(settings, desired=desired, parallelism=parallelism,
                     notice=notice_of(progress)) as client:
        if isinstance(progress, WatchesClient):
            progress.watch(client.stats)
        seen, unread = _read_all(client, parallelism, progress)
    found = tuple(sorted((discovery.classify(s, sources) for s in seen),
                         key=lambda f: f.customer_id))
    result = Discovery(found, tuple(sorted(unread, key=lambda u: u.customer_id)))
    if options.write_dir is None:
        return Discovered(result)
    files = _plan_files(result, options, settings, desired)
    return Discovered(result, write_files(options.write_dir, files), options.write_dir)


def _managed(settings: Settings, options: DiscoverOptions) -> Desired:
    """The manifests that say who is managed: ``-m`` and those already in the write directory."""
    paths = [p for p in options.manifests
             if options.manifests_given or p.is_file() or manifest.discover([p])[0]]
    target = options.write_dir
    if target is not None and target.is_dir() and not _covered(target, paths) \
            and manifest.discover([target])[0]:
        paths.append(target)
    return load_desired(settings, paths)


def _covered(directory: Path, paths: Collection[Path]) -> bool:
    resolved = directory.resolve()
    return any(resolved == p.resolve() or resolved.is_relative_to(p.resolve())
               for p in paths if p.is_dir())


def _sources(desired: Desired) -> dict[str, str]:
    """Where each customer is first listed (``file:line``), whatever the family."""
    sources: dict[str, str] = {}
    for upgrade in sorted(desired.upgrades, key=lambda u: (u.source.path, u.source.line)):
        sources.setdefault(upgrade.customer_id, str(upgrade.source))
    return sources


class _Tally:
    """Customers listed so far and read so far, for a progress line whose total still grows."""

    def __init__(self, progress: Progress | None) -> None:
        self.listed = self.read = 0
        self.progress = progress
        self.lock = threading.Lock()

    def add(self, listed: int = 0, read: int = 0) -> None:
        with self.lock:
            self.listed += listed
            self.read += read
            done, total = self.read, self.listed
        if self.progress is not None:
            self.progress(done, total)


def _read_all(client: PartnerCenterClient, parallelism: int,
              progress: Progress | None) -> tuple[list[Observation], list[Unread]]:
    seen: list[Observation] = []
    unread: list[Unread] = []
    stop = threading.Event()
    tally = _Tally(progress)

    def read(customer: Customer) -> None:
        try:
            if not stop.is_set():
                parse_customer_id(customer.id, "listed customer id")  # untrusted: check it
                seen.append(_observe(client, customer))
        except UsageError as exc:
            unread.append(Unread(customer.id, customer.company_name,
                                 f"Partner Center listed it, but {exc.message[0].lower()}"
                                 f"{exc.message[1:]}"))
        except (AuthenticationError, DeadlineExceeded):
            stop.set()  # every other call would be refused the same way, or not start
            raise
        except PartnerCenterError as exc:
            log.warning("discover could not read customer %s: %s", customer.id, exc)
            unread.append(Unread(customer.id.lower(), customer.company_name, str(exc),
                                 exc.correlation_id))
        finally:
            tally.add(read=1)

    with ThreadPoolExecutor(max_workers=max(1, parallelism),
                            thread_name_prefix="discover") as pool:
        futures: list[Future[None]] = []
        try:
            for customer in _listed(client, stop):
                tally.add(listed=1)
                futures.append(pool.submit(read, customer))
        finally:
            wait(futures)
        for future in futures:
            error = future.exception()
            if error is not None:
                raise error
    return seen, unread


def _listed(client: PartnerCenterClient, stop: threading.Event) -> Iterator[Customer]:
    for customer in client.customers(page_size=PAGE_SIZE):
        if stop.is_set():
            return
        yield customer


def _observe(client: PartnerCenterClient, customer: Customer) -> Observation:
    subscriptions = client.subscriptions(customer.id)
    eligibility = (client.eligibility(customer.id)
                   if discovery.needs_eligibility(subscriptions) else None)
    return discovery.observe(customer.id, customer.company_name, customer.domain,
                             subscriptions, eligibility)


def _plan_files(result: Discovery, options: DiscoverOptions, settings: Settings,
                desired: Desired) -> list[NewManifest]:
    assert options.write_dir is not None
    existing = {p.name for p in options.write_dir.iterdir()} if options.write_dir.is_dir() \
        else set()
    existing |= {u.manifest_name for u in desired.upgrades}
    return discovery.new_manifests(
        result.candidates, existing=existing, prefix=options.prefix,
        wave_size=options.wave_size, product_family=_family(settings),
        generated=datetime.now(UTC), command=options.command)


def _family(settings: Settings) -> str:
    families = tuple(settings.allowed_families)
    return "Azure" if "Azure" in families or not families else families[0]


def write_files(directory: Path, files: list[NewManifest]) -> tuple[Path, ...]:
    """Create each file, never replacing one that exists (a concurrent run's, say)."""
    if files:
        directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for new in files:
        path = directory / new.filename
        _create(path, new.text)
        written.append(path)
    return tuple(written)


def _create(path: Path, text: str) -> None:
    """Write ``path`` whole or not at all, refusing to replace an existing file."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "x", encoding="utf-8", newline="\n") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(temporary, path)  # fails if the name exists: nothing is ever overwritten
        except FileExistsError:
            raise UsageError(f"{manifest.display_path(path)} appeared while discover was "
                             "running; nothing was overwritten. Run discover again.") from None
    finally:
        temporary.unlink(missing_ok=True)


__all__ = ["DiscoverOptions", "Discovered", "discover", "write_files"]
