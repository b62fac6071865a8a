"""The re-qualification pipeline on real components: a Celery worker subprocess on the broker
(Redis at CELERY_BROKER_URL), PostgreSQL, and events posted over HTTP to a live server.

The worker here listens on the default queue, not a queue of its own as in
tests/test_celery_worker.py: the product enqueues its tasks (the ingest's re-qualification,
qualification's routing) with plain `.delay()`, and those are the paths under test. Use a
broker database of your own (redis://.../<n>): the tests purge its default queue.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import ApiScope, Lead
from accounts.services import api_token_issue
from leadqual.celery import app as celery_app
from routing.models import Assignment, AssignmentStatus
from scoring import tasks
from scoring.models import Qualification
from tests.celery_worker import REPO_ROOT, RunningWorker, WorkerFailed, database_url_for
from tests.factories import LeadFactory
from tests.routing.test_services import build_world
from tests.scoring.test_pipeline import pipeline_state_forget

pytestmark = [
    pytest.mark.slow,
    pytest.mark.celery_worker,
    pytest.mark.django_db(transaction=True),
]

WAIT = 60.0


def _wait_ready(worker: RunningWorker, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if worker.process.poll() is not None:
            raise WorkerFailed(f"The worker exited while starting:\n{worker.log()}")
        if celery_app.control.ping(destination=[worker.hostname], timeout=1.0):
            return
    raise WorkerFailed(f"The worker did not answer a ping in {timeout:.0f}s:\n{worker.log()}")


@contextmanager
def _worker(broker_url: str, *, pool: str) -> Iterator[RunningWorker]:
    """A worker on the default queue with one execution slot, killed (never waited for) at
    the end; its log is printed when the block fails."""
    token = uuid.uuid4().hex[:10]
    hostname = f"leadqual-pipeline-{token}@pytest"
    log_file = tempfile.NamedTemporaryFile(  # noqa: SIM115 - open for the worker's lifetime
        prefix="leadqual-pipeline-worker-", suffix=".log", delete=False
    )
    env = {
        **os.environ,
        "DATABASE_URL": database_url_for(connection.settings_dict),
        "CELERY_BROKER_URL": broker_url,
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "PYTHONUNBUFFERED": "1",
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "leadqual",
            "worker",
            f"--pool={pool}",
            "--concurrency=1",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
            "--loglevel=INFO",
            f"--hostname={hostname}",
        ],
        cwd=REPO_ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    worker = RunningWorker(process, hostname, "celery", Path(log_file.name))
    ok = False
    try:
        _wait_ready(worker)
        yield worker
        ok = True
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=20)
        log_file.close()
        if not ok:
            print(f"--- Celery worker log ({worker.log_path}) ---\n{worker.log()}")
        worker.log_path.unlink(missing_ok=True)


@pytest.fixture
def start_worker(celery_broker_url: str, transactional_db: None) -> Iterator[Callable[..., Any]]:
    """Start workers on the default queue (as many as the test needs, one after another)."""
    if connection.vendor != "postgresql":
        pytest.skip("a worker process needs the test database on PostgreSQL")
    conf = celery_app.conf
    saved = conf.task_always_eager
    conf.task_always_eager = False
    celery_app.control.purge()
    pipeline_state_forget()
    with ExitStack() as stack:

        def start(pool: str = "solo") -> RunningWorker:
            worker: RunningWorker = stack.enter_context(_worker(celery_broker_url, pool=pool))
            return worker

        try:
            yield start
        finally:
            conf.task_always_eager = saved
            pipeline_state_forget()


def _poll(condition: Callable[[], bool], what: str, worker: RunningWorker | None = None) -> None:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    log = worker.log() if worker is not None else ""
    raise AssertionError(f"Timed out after {WAIT:.0f}s waiting for {what}.\n{log}")


def _converged(lead_id: int) -> bool:
    dirty = Lead.objects.filter(pk=lead_id, requalify_requested_at__isnull=False).exists()
    return not dirty and Qualification.objects.filter(lead_id=lead_id, is_current=True).exists()


# --- (a) events over HTTP to a qualified, assigned lead ---------------------------------------


def _event(n: int, email: str) -> dict[str, Any]:
    # The ingest's event shape (accounts/events.py): one touchpoint of one person.
    return {
        "external_id": f"pipeline-test-{uuid.uuid4().hex}-{n}",
        "kind": "page_view",
        "occurred_at": (timezone.now() - timedelta(minutes=5 - n)).isoformat(),
        "page_category": "pricing" if n % 2 else "implementation",
        "duration_seconds": 120,
        "person": {"email": email, "name": "Jordan Lee", "title": "VP Operations"},
    }


def _post(url: str, payload: dict[str, Any], key: str) -> tuple[int, str]:
    request = urllib.request.Request(
        url,
        data=json.dumps(payload).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_events_posted_over_http_leave_the_lead_qualified_and_assigned_by_a_real_worker(
    start_worker: Callable[..., RunningWorker], live_server: Any
) -> None:
    world = build_world()
    worker = start_worker()
    _, key = api_token_issue(name="pipeline test", scope=ApiScope.INGEST, created_by=None)
    email = f"buyer-{uuid.uuid4().hex[:8]}@{world.account.domain}"
    for n in range(3):
        status, body = _post(f"{live_server.url}/api/v1/events", _event(n, email), key)
        assert status == 201, body

    def qualified_and_assigned() -> bool:
        lead = Lead.objects.filter(email=email).first()
        if lead is None or not _converged(lead.pk):
            return False
        return Assignment.objects.filter(
            lead=lead, status__in=[AssignmentStatus.OPEN, AssignmentStatus.ACCEPTED]
        ).exists()

    _poll(qualified_and_assigned, "the lead to be qualified and assigned", worker)
    lead = Lead.objects.get(email=email)
    assert Qualification.objects.filter(lead=lead, is_current=True).count() == 1
    # Three events, each enqueued after its own commit: coalesced or not, never more runs
    # than events.
    assert 1 <= Qualification.objects.filter(lead=lead).count() <= 3
    assert "scoring.tasks.leads_requalify_task" in worker.log()
    assert "routing.tasks.assignments_route_task" in worker.log()


# --- (b) a worker killed in the middle of a re-qualification loses nothing ------------------


def _waiting_on_a_lock() -> bool:
    """Whether some backend of this database waits on a row lock (the worker, on ours)."""
    with psycopg.connect(_libpq_url(), autocommit=True) as db:
        row = db.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        ).fetchone()
    return bool(row and row[0])


def _libpq_url() -> str:
    return database_url_for(connection.settings_dict).replace("postgres://", "postgresql://", 1)


@contextmanager
def _lead_row_locked(lead_id: int) -> Iterator[None]:
    """Hold the lead's row lock: a re-qualification reads its evidence, assesses it and then
    waits to write (the new qualification's foreign key needs a share lock on the lead). That
    parks the task deterministically in its last step, with nothing committed yet."""
    with transaction.atomic():
        Lead.objects.select_for_update().get(pk=lead_id)
        yield


def _enqueue_inside(lead_id: int) -> None:
    """What leads_requalify_enqueue does after an ingest commits, from inside the block that
    holds the lock (where its on-commit send would wait for the block to end)."""
    assert tasks._flag_queued()
    tasks.leads_requalify_task.delay([lead_id], timezone.now().isoformat())


def _pool_children(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        return [int(p) for p in children.read_text().split()]
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


def test_a_pool_process_killed_mid_task_loses_nothing_the_task_runs_again_and_converges(
    start_worker: Callable[..., RunningWorker],
) -> None:
    worker = start_worker(pool="prefork")
    lead = LeadFactory(requalify_requested_at=timezone.now())

    with _lead_row_locked(lead.pk):
        _enqueue_inside(lead.pk)
        _poll(_waiting_on_a_lock, "the task to block on the lead's row lock", worker)
        (child,) = _pool_children(worker.process.pid)
        os.kill(child, signal.SIGKILL)
        _poll(lambda: "WorkerLostError" in worker.log(), "the worker to notice", worker)
        # Nothing of the killed attempt is visible: it never committed.
        assert not Qualification.objects.filter(lead=lead).exists()

    # acks_late + reject_on_worker_lost: the message went back to the queue, and the pool's new
    # process runs it again.
    _poll(lambda: _converged(lead.pk), "the re-run to converge", worker)
    assert Qualification.objects.filter(lead=lead, is_current=True).count() == 1
    assert Qualification.objects.filter(lead=lead).count() == 1
    # The same message, received twice: once by the killed process, once by its successor.
    received = re.findall(
        r"Task scoring\.tasks\.leads_requalify_task\[([0-9a-f-]+)\] received", worker.log()
    )
    assert len(received) >= 2 and received[0] == received[1], worker.log()


def test_a_whole_worker_killed_mid_task_loses_nothing_the_sweep_finishes_the_work(
    start_worker: Callable[..., RunningWorker],
) -> None:
    # SIGKILL of the whole worker leaves its message unacknowledged on Redis until the
    # broker's visibility timeout (an hour by default) hands it out again. The lead stays
    # dirty meanwhile, so the next worker's dirty sweep (every minute on beat) re-qualifies it.
    first = start_worker()
    marked_at = timezone.now() - timedelta(minutes=2)
    lead = LeadFactory(requalify_requested_at=marked_at)

    with _lead_row_locked(lead.pk):
        _enqueue_inside(lead.pk)
        _poll(_waiting_on_a_lock, "the task to block on the lead's row lock", first)
        os.killpg(first.process.pid, signal.SIGKILL)
        first.process.wait(timeout=20)

    assert not Qualification.objects.filter(lead=lead).exists()
    assert Lead.objects.get(pk=lead.pk).requalify_requested_at == marked_at  # still marked

    second = start_worker()
    # Beat sends the sweep every minute; here every two seconds. The first sweeps find the
    # lead still claimed by the killed run (for tasks.CLAIM_SECONDS), a later one takes it.
    last_sweep = [0.0]

    def swept_and_converged() -> bool:
        if _converged(lead.pk):
            return True
        if time.monotonic() - last_sweep[0] > 2:
            tasks.leads_requalify_dirty_sweep_task.delay()
            last_sweep[0] = time.monotonic()
        return False

    _poll(swept_and_converged, "the sweep to converge", second)
    assert Qualification.objects.filter(lead=lead, is_current=True).count() == 1
    assert Qualification.objects.filter(lead=lead).count() == 1
