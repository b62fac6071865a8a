"""Start and stop a real Celery worker for integration tests.

The worker is a subprocess on the broker in CELERY_BROKER_URL, reading the test database that
pytest-django created, and listening on a queue of its own so that no other worker on the same
broker (a developer's `make worker`, another CI run) can take the test's messages.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from leadqual.celery import app as celery_app

REPO_ROOT = Path(__file__).resolve().parent.parent


class WorkerFailed(RuntimeError):
    """The worker did not start, or died; the message carries its log."""


@dataclass
class RunningWorker:
    process: subprocess.Popen[bytes]
    hostname: str
    queue: str
    log_path: Path

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def send(self, task: Any, *args: Any, **kwargs: Any) -> Any:
        """Enqueue `task` through the broker on this worker's queue; returns its AsyncResult."""
        return task.apply_async(args=args, kwargs=kwargs, queue=self.queue)


def database_url_for(settings_dict: dict[str, Any]) -> str:
    """A DATABASE_URL naming the same PostgreSQL database as a Django connection's settings."""
    if not settings_dict["ENGINE"].endswith("postgresql"):
        raise ValueError(f"A worker needs a shared database, not {settings_dict['ENGINE']}.")
    user = quote(settings_dict.get("USER") or "", safe="")
    password = quote(settings_dict.get("PASSWORD") or "", safe="")
    credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = settings_dict.get("HOST") or ""
    port = f":{settings_dict['PORT']}" if settings_dict.get("PORT") else ""
    return f"postgres://{credentials}{host}{port}/{quote(settings_dict['NAME'], safe='')}"


def _wait_until_ready(worker: RunningWorker, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if worker.process.poll() is not None:
            raise WorkerFailed(
                f"The Celery worker exited with {worker.process.returncode} while starting:\n"
                f"{worker.log()}"
            )
        replies = celery_app.control.ping(destination=[worker.hostname], timeout=1.0)
        if replies:
            return
    raise WorkerFailed(
        f"The Celery worker did not answer a ping in {timeout:.0f}s:\n{worker.log()}"
    )


def _stop(worker: RunningWorker, *, clean: bool, timeout: float = 20.0) -> None:
    process = worker.process
    if process.poll() is not None:
        return
    if clean:
        # SIGTERM is Celery's warm shutdown: finish the current task, then exit.
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
            return
        except subprocess.TimeoutExpired:
            pass
    # The worker runs in its own session, so this reaches anything it started too.
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=timeout)


@contextmanager
def celery_worker_running(
    *, broker_url: str, database_url: str, startup_timeout: float = 60.0
) -> Iterator[RunningWorker]:
    """Run a solo-pool worker for the duration of the block; stop it cleanly after.

    When the block fails, the worker is killed rather than waited for, and its log is printed
    so pytest shows it with the failure.
    """
    token = uuid.uuid4().hex[:10]
    # A literal node name (no %h) so the ping below can address exactly this worker.
    hostname = f"leadqual-test-{token}@pytest"
    queue = f"leadqual-test-{token}"
    log_file = tempfile.NamedTemporaryFile(  # noqa: SIM115 - kept open for the worker's lifetime
        prefix="leadqual-celery-worker-", suffix=".log", delete=False
    )
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": broker_url,
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "PYTHONUNBUFFERED": "1",
    }
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "leadqual",
        "worker",
        "--pool=solo",
        "--concurrency=1",
        "--without-heartbeat",
        "--without-gossip",
        "--without-mingle",
        "--loglevel=INFO",
        f"--hostname={hostname}",
        f"--queues={queue}",
    ]
    process = subprocess.Popen(
        command,
        cwd=REPO_ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    worker = RunningWorker(
        process=process,
        hostname=hostname,
        queue=queue,
        log_path=Path(log_file.name),
    )
    clean = False
    try:
        _wait_until_ready(worker, startup_timeout)
        yield worker
        clean = True
    finally:
        try:
            _stop(worker, clean=clean)
        finally:
            log_file.close()
            if not clean:
                print(f"--- Celery worker log ({worker.log_path}) ---\n{worker.log()}")
            else:
                worker.log_path.unlink(missing_ok=True)
