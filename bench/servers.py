"""Waiting for the HTTP server a benchmark started."""

from __future__ import annotations

import http.client
import subprocess
import sys
import time
from collections.abc import Callable


def server_wait_ready(
    server: subprocess.Popen[bytes],
    port: int,
    *,
    stop: Callable[[], None],
    details: Callable[[], str] = lambda: "",
    path: str = "/api/v1/schema/",
    seconds: float = 30.0,
) -> None:
    """Return once 127.0.0.1:`port` answers `path`; exit the benchmark, with `details()` (a
    log's tail, say), when the server dies or does not answer within `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"the server exited with {server.returncode}{details()}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", path)
            connection.getresponse().read()
            return
        except OSError:
            time.sleep(0.2)
    stop()
    sys.exit(f"the server did not start within {seconds:.0f} s{details()}")
