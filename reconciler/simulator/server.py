"""HTTP/1.1 plumbing: a threaded standard-library server with keep-alive.

One thread per connection (``ThreadingHTTPServer``), so 64 and more concurrent keep-alive
clients are served. Each response is written with a single ``send`` and Nagle is off, because
a header/body split across two small writes meets the peer's delayed ACK and costs 40 ms.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import random
import socket
import threading
import time
import uuid
from base64 import b64encode
from datetime import UTC, datetime
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from reconciler.simulator.api import ApiRequest, Service
from reconciler.simulator.recording import RecordedRequest, Recorder
from reconciler.simulator.responses import ApiResponse

logger = logging.getLogger(__name__)

_REASONS = {s.value: s.phrase for s in HTTPStatus}
# Ids and MS-CV values need to be unique, not unpredictable: a PRNG avoids an os.urandom
# syscall per header, and with it a GIL hand-off per response.
_ids = random.Random()
_MAX_HEADERS = 100


def _fresh_id() -> str:
    return str(uuid.UUID(int=_ids.getrandbits(128), version=4))


class IncompleteRequest(Exception):
    """The connection closed before the whole request body arrived."""


class _DateCache:
    """The Date header changes once a second; formatting it per response is waste."""

    def __init__(self) -> None:
        self._second = -1
        self._value = ""

    def get(self) -> str:
        now = int(time.time())
        if now != self._second:
            self._value = formatdate(now, usegmt=True)
            self._second = now
        return self._value


_dates = _DateCache()


def _parse_json_body(body: bytes) -> bytes | dict[str, object]:
    """The recorded form of a body: the JSON object if it is one, else the raw bytes."""
    if not body:
        return body
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return body
    return doc if isinstance(doc, dict) else body


class ApiServer(ThreadingHTTPServer):
    """The threaded server; it remembers open connections so ``stop`` can cut them."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(
        self, address: tuple[str, int], service: Service, recorder: Recorder, backlog: int = 256
    ) -> None:
        self.request_queue_size = backlog
        self.service = service
        self.recorder = recorder
        self.server_id = str(100000000 + os.getpid() % 899999999)
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, ApiHandler)

    def process_request(self, request: Any, client_address: Any) -> None:
        """Track the connection, then hand it to a thread."""
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        """Forget the connection when its thread is done with it."""
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Log (not print) a connection that broke, e.g. a client that went away mid-request."""
        logger.debug("connection from %s failed", client_address, exc_info=True)

    def close_connections(self) -> None:
        """Cut every open keep-alive connection (threads blocked on them then end)."""
        with self._connections_lock:
            open_now = list(self._connections)
        for conn in open_now:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class ApiHandler(BaseHTTPRequestHandler):
    """Reads a request, asks the :class:`Service`, writes the answer in one piece.

    Every method goes to the router (no ``do_GET`` and friends): it answers 405 for a known
    path with the wrong method and 404 for anything else.
    """

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: ApiServer
    raw_headers: list[tuple[str, str]]
    lower_headers: dict[str, str]

    def log_message(self, format: str, *args: Any) -> None:
        """Route the standard library's access log to logging instead of stderr."""
        logger.debug("%s " + format, self.address_string(), *args)

    def handle_one_request(self) -> None:
        """Read one request with a lean header parser, then serve it.

        ``http.server`` parses headers with the ``email`` package, which costs more than the
        whole API operation; this reads ``Name: value`` lines directly. Malformed input gets
        the standard error responses and a closed connection.
        """
        try:
            self.raw_requestline = self.rfile.readline(65537)
            if not self.raw_requestline:
                self.close_connection = True
                return
            if self._read_head():
                self._serve()
            self.wfile.flush()
        except TimeoutError:
            self.close_connection = True

    def _read_head(self) -> bool:
        """Parse the request line and headers; on failure answer 400 and return False."""
        self.close_connection = True
        self.command, self.request_version = "", "HTTP/1.0"  # what send_error reads
        self.requestline = str(self.raw_requestline, "latin-1").rstrip("\r\n")
        words = self.requestline.split()
        if len(words) != 3 or words[2] not in ("HTTP/1.1", "HTTP/1.0"):
            self.send_error(HTTPStatus.BAD_REQUEST, "Bad request line")
            return False
        self.command, self.path, self.request_version = words
        pairs: list[tuple[str, str]] = []
        while True:
            line = self.rfile.readline(65537)
            if line in (b"\r\n", b"\n", b""):
                break
            name, sep, value = str(line, "latin-1").partition(":")
            if not sep or len(pairs) >= _MAX_HEADERS or len(line) > 65536:
                self.send_error(HTTPStatus.BAD_REQUEST, "Bad header")
                return False
            pairs.append((name.strip(), value.strip()))
        self.raw_headers = pairs
        self.lower_headers = {k.lower(): v for k, v in pairs}
        connection = self.lower_headers.get("connection", "").lower()
        self.close_connection = connection == "close" or (
            self.request_version == "HTTP/1.0" and connection != "keep-alive"
        )
        if self.lower_headers.get("expect", "").lower() == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        return True

    def _read_body(self) -> bytes:
        if "chunked" in self.lower_headers.get("transfer-encoding", "").lower():
            return self._read_chunked()
        length = int(self.lower_headers.get("content-length") or 0)
        return self._read_exactly(length) if length > 0 else b""

    def _read_exactly(self, size: int) -> bytes:
        # A client killed mid-send leaves a short body. A real front end never hands such a
        # request to the service: processing it would answer (and, with dedup, remember) a
        # 400 for an MS-RequestId whose real request was never seen.
        data = self.rfile.read(size)
        if len(data) < size:
            raise IncompleteRequest
        return data

    def _read_chunked(self) -> bytes:
        """A chunked body (a client streaming its JSON); trailers are read and ignored."""
        parts: list[bytes] = []
        while True:
            line = self.rfile.readline(1024)
            if not line:
                raise IncompleteRequest
            size = int(line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(parts)
            parts.append(self._read_exactly(size))
            self.rfile.readline(1024)  # the CRLF after each chunk

    def _serve(self) -> None:
        try:
            body = self._read_body()
        except IncompleteRequest:
            self.close_connection = True  # the client went away mid-request: nothing to serve
            return
        except ValueError:
            self.send_error(HTTPStatus.BAD_REQUEST, "Bad body framing")
            self.close_connection = True
            return
        headers = self.lower_headers
        outcome = self.server.service.handle(ApiRequest(self.command, self.path, headers, body))
        answered = outcome.response if not outcome.drop else None
        if self.server.recorder.enabled:
            self.server.recorder.add(
                RecordedRequest(
                    method=self.command,
                    path=self.path,
                    headers=dict(self.raw_headers),
                    body=_parse_json_body(body),
                    status=answered.status if answered else 0,
                    time=datetime.now(UTC),
                )
            )
        if answered is None:
            self._drop()
            return
        self._write(answered, headers)

    def _drop(self) -> None:
        """Close the connection without a byte of answer, as a crashed front end would."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _write(self, response: ApiResponse, request_headers: dict[str, str]) -> None:
        # Echo the caller's ids; a caller that sent none gets fresh ones, as a trace handle.
        request_id = request_headers.get("ms-requestid") or _fresh_id()
        correlation_id = request_headers.get("ms-correlationid") or _fresh_id()
        cv = b64encode(_ids.getrandbits(72).to_bytes(9, "big")).decode() + ".0"
        lines = [
            f"HTTP/1.1 {response.status} {_REASONS.get(response.status, '')}",
            f"Date: {_dates.get()}",
            f"Content-Length: {len(response.body)}",
            f"MS-CV: {cv}",
            f"MS-ServerId: {self.server.server_id}",
            f"MS-RequestId: {request_id}",
            f"MS-CorrelationId: {correlation_id}",
        ]
        lines.extend(f"{name}: {value}" for name, value in response.headers)
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.wfile.write(head if self.command == "HEAD" else head + response.body)
        # A log line per request is the access log; kept at debug so benchmarks stay fast.
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("%s %s -> %d", self.command, self.path, response.status)
