"""Event POST to qualified and routed lead: p50, p95 and p99 over 1,000 events across 200 leads,
with a real Celery worker on Redis and PostgreSQL; beside it, a no-op task's round trip.

Run from the checkout: ``.venv/bin/python bench/latency.py [--events 1000] [--leads 200]``.

Without ``DATABASE_URL`` it creates a throwaway database ``leadqual_bench_latency`` on
127.0.0.1 (user postgres; ``BENCH_PG_ADMIN_URL`` overrides the admin connection), migrates it,
and drops it afterwards (``--keep`` keeps it). With ``DATABASE_URL`` (PostgreSQL only) it uses
that database and replaces any demo world in it. The broker is ``CELERY_BROKER_URL`` (Redis;
default ``redis://127.0.0.1:6379/6``): its default queue is purged before and after, so give
the benchmark a Redis database of its own.

It loads a small demo world (accounts, reps, routing rules, history) and trains a model, so
qualification runs the real model path; issues an ingest token; and starts what production
runs: a Celery worker (prefork, ``--concurrency`` processes, default 2) and the web server
(Django's threaded server, DEBUG off), both on the same database and broker. Then it posts
``--events`` events one after another to ``POST /api/v1/events``, round-robin over ``--leads``
new people at the demo accounts' domains (so the first event of each person creates the
lead), at ``--rate`` events/s (0: each as soon as the previous one was answered).

For each event, the clock runs from just before its POST until a poller (every 10 ms, on its
own connection) sees the lead with a current qualification computed after the POST began and
a current assignment. Its first event (a new lead: created, qualified, assigned) is reported
on its own as well. The ceiling, from the same run and the same worker: the round trip of a
no-op task (``leadqual.ping``) through the broker and back, which every event's path sits on
twice (re-qualification, then routing).

The last line is one JSON object with the figures. A script, not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.database import postgres_database
from bench.servers import server_wait_ready

BENCH_DATABASE = "leadqual_bench_latency"
DEFAULT_BROKER = "redis://127.0.0.1:6379/6"
TARGET_P95_MS = 1000
ROOT = Path(__file__).resolve().parents[1]
POLL_SECONDS = 0.01
PAGES = ("pricing", "implementation", "roi_calculator", "security", "product", "demo")
TITLES = ("VP Operations", "Director of IT", "Head of Revenue Operations", "CFO", "Engineer")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--leads", type=int, default=200, help="people the events are spread over")
    parser.add_argument("--rate", type=float, default=0, help="events/s offered; 0: sequential")
    parser.add_argument("--demo-leads", type=int, default=2000, help="size of the demo world")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--concurrency", type=int, default=2, help="worker processes")
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--timeout", type=float, default=60.0, help="per event, seconds")
    parser.add_argument("--pings", type=int, default=200, help="no-op round trips to time")
    parser.add_argument("--keep", action="store_true", help="keep the throwaway database")
    args = parser.parse_args()
    if args.events < 1 or not 1 <= args.leads <= args.events:
        sys.exit("--events must be at least 1 and --leads between 1 and --events")
    broker = os.environ.get("CELERY_BROKER_URL") or DEFAULT_BROKER
    if not broker.startswith(("redis://", "rediss://")):
        sys.exit(f"bench/latency.py measures on Redis: CELERY_BROKER_URL is {broker!r}")
    # Before Django reads its settings: the broker, and the shared cache that the web process
    # and the workers coordinate through, are this Redis.
    os.environ["CELERY_BROKER_URL"] = broker
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "0"
    with postgres_database(BENCH_DATABASE, script="bench/latency.py", keep=args.keep):
        _run(args)


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def _summary(values: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(_percentile(values, 0.50) * 1000, 1),
        "p95_ms": round(_percentile(values, 0.95) * 1000, 1),
        "p99_ms": round(_percentile(values, 0.99) * 1000, 1),
        "max_ms": round(max(values) * 1000, 1),
    }


def _child_env(**extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-latency-secret-key-not-for-production"),
        "ALLOWED_HOSTS": "127.0.0.1",
        "LEADQUAL_API_INGEST_RATE": "1000000/min",
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


def _start(command: list[str], log: Any, **extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        command,
        cwd=ROOT,
        env=_child_env(**extra),
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)


def _tail(log: Any) -> str:
    log.flush()
    return Path(log.name).read_text(errors="replace")[-4000:]


def _worker_start(args: argparse.Namespace, log: Any) -> subprocess.Popen[bytes]:
    from leadqual.celery import app

    hostname = f"bench-latency-{uuid.uuid4().hex[:8]}@bench"
    worker = _start(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "leadqual",
            "worker",
            "--pool=prefork",
            f"--concurrency={args.concurrency}",
            "--without-gossip",
            "--without-mingle",
            "--loglevel=WARNING",
            f"--hostname={hostname}",
        ],
        log,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            sys.exit(f"the worker exited with {worker.returncode}:\n{_tail(log)}")
        if app.control.ping(destination=[hostname], timeout=1.0):
            return worker
    _stop(worker)
    sys.exit(f"the worker did not answer a ping within 60 s:\n{_tail(log)}")


def _server_start(args: argparse.Namespace, log: Any) -> subprocess.Popen[bytes]:
    server = _start(
        [
            sys.executable,
            "manage.py",
            "runserver",
            f"127.0.0.1:{args.port}",
            "--noreload",
            "--skip-checks",
        ],
        log,
    )
    server_wait_ready(
        server,
        args.port,
        stop=lambda: _stop(server),
        details=lambda: f":\n{_tail(log)}",
    )
    return server


def _pings(count: int) -> list[float]:
    from leadqual.celery import ping

    times = []
    for _ in range(count):
        started = time.perf_counter()
        ping.delay().get(timeout=30)
        times.append(time.perf_counter() - started)
    return times


class _Poller(threading.Thread):
    """Watches the pending events' leads; records when each is qualified and routed."""

    def __init__(self) -> None:
        super().__init__(name="latency-poller", daemon=True)
        self.lock = threading.Lock()
        # event index -> (email, POST began (wall clock), POST began (perf counter))
        self.pending: dict[int, tuple[str, datetime, float]] = {}
        self.began_perf: dict[int, float] = {}
        self.done: dict[int, float] = {}
        self.stopping = threading.Event()
        self.error: BaseException | None = None

    def watch(self, index: int, email: str, began: datetime, began_perf: float) -> None:
        with self.lock:
            self.pending[index] = (email, began, began_perf)
            self.began_perf[index] = began_perf

    def run(self) -> None:
        from django.db import connection

        from accounts.models import Lead
        from routing.models import Assignment
        from scoring.models import Qualification

        query = (
            f"SELECT l.email, q.computed_at, a.id FROM {Lead._meta.db_table} l "
            f"LEFT JOIN {Qualification._meta.db_table} q ON q.lead_id = l.id AND q.is_current "
            f"LEFT JOIN {Assignment._meta.db_table} a ON a.lead_id = l.id "
            "AND a.status IN ('open', 'accepted') WHERE l.email = ANY(%s)"
        )
        try:
            while not self.stopping.is_set():
                with self.lock:
                    pending = dict(self.pending)
                if pending:
                    emails = sorted({email for email, _, _ in pending.values()})
                    with connection.cursor() as cursor:
                        cursor.execute(query, [emails])
                        seen = {row[0]: (row[1], row[2]) for row in cursor.fetchall()}
                    now = time.perf_counter()
                    with self.lock:
                        for index, (email, began, _) in pending.items():
                            computed_at, assignment = seen.get(email, (None, None))
                            if computed_at is not None and computed_at >= began and assignment:
                                self.done[index] = now
                                self.pending.pop(index, None)
                time.sleep(POLL_SECONDS)
        except BaseException as exc:  # reported by the main thread
            self.error = exc
        finally:
            connection.close()


def _measure(
    args: argparse.Namespace,
    *,
    key: str,
    run: str,
    emails: list[str],
    domains: list[str],
    worker_log: Any,
    server_log: Any,
) -> tuple[_Poller, list[float], list[float], float]:
    """Start the worker and the server, warm up, time the pings, post the events and wait."""
    from django.utils import timezone

    from accounts.models import Lead
    from leadqual.celery import app
    from scoring.models import Qualification
    from scoring.tasks import leads_requalify_task

    app.control.purge()
    worker = _worker_start(args, worker_log)
    server = _server_start(args, server_log)
    poller = _Poller()
    try:
        http_connection = http.client.HTTPConnection("127.0.0.1", args.port, timeout=60)
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

        def post(index: int, email: str) -> None:
            body = json.dumps(
                {
                    "external_id": f"lat-{run}-{index}",
                    "kind": "page_view",
                    "occurred_at": timezone.now().isoformat(),
                    "page_category": PAGES[index % len(PAGES)],
                    "duration_seconds": 30 + index % 300,
                    "person": {
                        "email": email,
                        "name": f"Person {index % args.leads}",
                        "title": TITLES[index % len(TITLES)],
                    },
                }
            )
            http_connection.request("POST", "/api/v1/events", body=body, headers=headers)
            response = http_connection.getresponse()
            answer = response.read()
            if response.status >= 300:
                raise SystemExit(f"POST /api/v1/events answered {response.status}: {answer!r}")

        # Warm up the worker processes (each loads the model on first use) and the server, on
        # people outside the measured set. The warm-up runs are sent directly as well, so that
        # a failing qualification stops the benchmark at once with the worker's error.
        warm = [f"warmup{run}.{n}@{domains[n % len(domains)]}" for n in range(2 * args.concurrency)]
        for n, email in enumerate(warm):
            post(-1 - n, email)
        warm_ids = list(Lead.objects.filter(email__in=warm).values_list("pk", flat=True))
        sent = [leads_requalify_task.delay([lead_id], None, False) for lead_id in warm_ids]
        try:
            for result in sent:
                result.get(timeout=120)
        except Exception as exc:
            sys.exit(f"a warm-up qualification failed: {exc!r}\n{_tail(worker_log)}")
        deadline = time.monotonic() + 60
        while Qualification.objects.filter(lead__email__in=warm, is_current=True).count() < len(
            warm
        ):
            if time.monotonic() > deadline:
                sys.exit(f"warm-up leads were not qualified within 60 s:\n{_tail(worker_log)}")
            time.sleep(0.2)

        ping_times = _pings(args.pings)
        print(
            f"no-op task round trip (leadqual.ping, {args.pings}x): "
            f"p50 {statistics.median(ping_times) * 1000:.1f} ms, "
            f"p95 {_percentile(ping_times, 0.95) * 1000:.1f} ms"
        )

        poller.start()
        posted = time.perf_counter()
        post_times: list[float] = []
        for index in range(args.events):
            if args.rate > 0:
                due = posted + index / args.rate
                if (wait := due - time.perf_counter()) > 0:
                    time.sleep(wait)
            email = emails[index % args.leads]
            began = timezone.now()
            began_perf = time.perf_counter()
            poller.watch(index, email, began, began_perf)
            post(index, email)
            post_times.append(time.perf_counter() - began_perf)
        posting = time.perf_counter() - posted
        deadline = time.monotonic() + args.timeout
        while poller.pending and time.monotonic() < deadline and poller.error is None:
            time.sleep(0.05)
        poller.stopping.set()
        poller.join(timeout=10)
        if poller.error is not None:
            raise poller.error
    finally:
        _stop(server)
        _stop(worker)
        app.control.purge()

    return poller, ping_times, post_times, posting


def _run(args: argparse.Namespace) -> None:
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from accounts.models import ApiScope, Lead
    from accounts.services import api_token_issue
    from leadqual.demo.load import demo_world_load
    from scoring import services
    from scoring.models import Qualification

    print(f"database: {connection.settings_dict['NAME']}; broker: {settings.CELERY_BROKER_URL}")
    call_command("migrate", verbosity=0, interactive=False)
    started = time.perf_counter()
    demo_world_load(leads=args.demo_leads, seed=args.seed, reset=True)
    trained = services.model_train(activate="always")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(
        f"demo world of {args.demo_leads:,} leads, model #{trained.version.pk} "
        f"(AUC {trained.metrics.get('auc', 0):.3f}): {time.perf_counter() - started:.1f}s"
    )
    domains = list(
        Lead.objects.filter(account__isnull=False, account__is_competitor=False)
        .values_list("account__domain", flat=True)
        .distinct()
        .order_by("account__domain")[: args.leads]
    )
    if not domains:
        sys.exit("the demo world has no accounts to send events for")
    _, key = api_token_issue(name="bench/latency.py", scope=ApiScope.INGEST, created_by=None)
    run = uuid.uuid4().hex[:6]
    emails = [f"lat{run}.{i}@{domains[i % len(domains)]}" for i in range(args.leads)]
    connection.close()  # the children get the database to themselves while they start

    with (
        tempfile.NamedTemporaryFile(prefix="bench-latency-worker-", suffix=".log") as worker_log,
        tempfile.NamedTemporaryFile(prefix="bench-latency-server-", suffix=".log") as server_log,
    ):
        poller, ping_times, post_times, posting = _measure(
            args,
            key=key,
            run=run,
            emails=emails,
            domains=domains,
            worker_log=worker_log,
            server_log=server_log,
        )
        worker_tail = _tail(worker_log)
    latencies, first = _latencies(poller, args)
    missing = args.events - len(latencies)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*) FROM {Qualification._meta.db_table} q "
            f"JOIN {Lead._meta.db_table} l ON l.id = q.lead_id WHERE l.email = ANY(%s)",
            [emails],
        )
        row = cursor.fetchone()
    qualifications = int(row[0]) if row else 0
    if not latencies:
        sys.exit(f"no event was qualified and routed in time:\n{worker_tail}")
    overall = _summary(latencies)
    new_leads = _summary(first) if first else {}
    noop_p50 = round(statistics.median(ping_times) * 1000, 1)
    print(
        f"posted {args.events:,} events over {args.leads} people in {posting:.1f}s "
        f"({args.events / posting:.0f}/s offered{'' if args.rate else ', sequential'}; "
        f"POST p50 {statistics.median(post_times) * 1000:.1f} ms); "
        f"{qualifications:,} qualifications stored for them"
        + (f"; {missing} not qualified and routed within {args.timeout:.0f}s" if missing else "")
    )
    print(
        f"POST to qualified and routed, all events: p50 {overall['p50_ms']:.0f} ms, "
        f"p95 {overall['p95_ms']:.0f} ms, p99 {overall['p99_ms']:.0f} ms, "
        f"max {overall['max_ms']:.0f} ms (target p95 < {TARGET_P95_MS} ms)"
    )
    if new_leads:
        print(
            f"first event of a person (lead created, qualified, assigned): "
            f"p50 {new_leads['p50_ms']:.0f} ms, p95 {new_leads['p95_ms']:.0f} ms, "
            f"p99 {new_leads['p99_ms']:.0f} ms"
        )
    print(
        f"ceiling from this run: a no-op task's round trip p50 {noop_p50:.1f} ms "
        "(an event's path holds two tasks: re-qualification, then routing)"
    )
    figures: dict[str, Any] = {
        "events": args.events,
        "leads": args.leads,
        "rate": args.rate,
        "worker_concurrency": args.concurrency,
        "missing": missing,
        "qualifications": qualifications,
        "new_lead": new_leads,
        "post_p50_ms": round(statistics.median(post_times) * 1000, 1),
        "noop_task_p95_ms": round(_percentile(ping_times, 0.95) * 1000, 1),
        "p50_ms": overall["p50_ms"],
        "p95_ms": overall["p95_ms"],
        "p99_ms": overall["p99_ms"],
        "noop_task_p50_ms": noop_p50,
    }
    print(json.dumps(figures))


def _latencies(poller: _Poller, args: argparse.Namespace) -> tuple[list[float], list[float]]:
    """Per event qualified and routed in time: seconds from its POST; and those of the first
    event of each person."""
    latencies = []
    first = []
    for index in range(args.events):
        done = poller.done.get(index)
        if done is None:
            continue
        latency = done - poller.began_perf[index]
        latencies.append(latency)
        if index < args.leads:
            first.append(latency)
    return latencies, first


if __name__ == "__main__":
    main()
