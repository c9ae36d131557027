"""Azurite for the tests: use a running one, or install (once) and start one for the session.

Never skips: the azureblob backend is tested on every run, so when Azurite cannot be started the
tests that need it fail with a message saying why and how to fix it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "azurite.sh"
ACCOUNT = "devstoreaccount1"
# Azurite's well-known development account key (public, documented; not a secret).
ACCOUNT_KEY = ("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/"
               "KBHBeksoGMGw==")
RUNNING_ENV = "RECONCILER_TEST_AZURITE_CONNECTION_STRING"


class AzuriteUnavailable(RuntimeError):
    """Azurite could not be installed or started."""


def connection_string(port: int) -> str:
    return (f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
            f"BlobEndpoint=http://127.0.0.1:{port}/{ACCOUNT};")


def account_url(conn: str) -> str:
    parts = dict(p.split("=", 1) for p in conn.split(";") if "=" in p)
    return parts["BlobEndpoint"].rstrip("/")


def _binary() -> Path:
    home = Path(os.environ.get("AZURITE_HOME", REPO / ".ci" / ".azurite"))
    binary = home / "node_modules" / ".bin" / "azurite-blob"
    if binary.exists():
        return binary
    result = subprocess.run(["bash", str(SCRIPT), "install"], capture_output=True, text=True,
                            timeout=600, check=False)
    if result.returncode != 0 or not binary.exists():
        raise AzuriteUnavailable(
            f"Azurite is not installed and `{SCRIPT} install` failed (exit {result.returncode}):"
            f" {result.stderr.strip()[-500:]}. Install Node.js 20 and npm, then run it.")
    return binary


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AzuriteUnavailable(f"Azurite exited with {proc.returncode}: "
                                     f"{log.read_text(errors='replace')[-500:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise AzuriteUnavailable(f"Azurite did not listen on port {port} within 60 s.")


@contextmanager
def azurite(workdir: Path) -> Iterator[str]:
    """A connection string to a running Azurite blob service (started here if need be)."""
    given = os.environ.get(RUNNING_ENV)
    if given:
        yield given
        return
    binary = _binary()
    port = _free_port()
    log = workdir / "azurite.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [str(binary), "--blobHost", "127.0.0.1", "--blobPort", str(port),
             "--location", str(workdir), "--skipApiVersionCheck", "--disableTelemetry",
             "--loose", "--silent"],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        _wait_ready(port, proc, log)
        yield connection_string(port)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
