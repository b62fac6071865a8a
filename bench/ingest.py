"""Events/s through POST /api/v1/events/batch into PostgreSQL, beside a raw COPY of the rows.

Run from the checkout: ``.venv/bin/python bench/ingest.py [--events 100000] [--batch 5000]``.

Without ``DATABASE_URL`` it creates a throwaway database ``leadqual_bench_ingest`` on
127.0.0.1 (user postgres; ``BENCH_PG_ADMIN_URL`` overrides the admin connection), migrates it,
and drops it afterwards (``--keep`` keeps it). With ``DATABASE_URL`` (PostgreSQL only) it uses
that database, adding its own accounts, leads and events (prefixed ``bench-``).

It seeds accounts and known leads, issues an ingest token, and starts a real HTTP server
(Django's threaded WSGI server, as ``runserver``, in a subprocess with DEBUG off). Then it
posts the batches one after another over one keep-alive connection, each request body encoded
before the clock starts. The events are a realistic mix, as a tracker sends them: visits of
one to eight events a minute or two apart, spread over the last day and sent in time order;
80% of the visits by known leads (found by email or by their tracker id, half each), 20%
(``--new-share``) by people new to leadqual, a fifth of those on free-mail addresses; page
views mostly, with email, form, webinar and chat events.

The server's after-ingest hook (``LEADQUAL_AFTER_INGEST``, the debounced re-qualification)
enqueues on a real Redis broker (``--broker``, default ``redis://127.0.0.1:6379/7``, emptied
afterwards) with no worker listening, so the figure includes what the web process does per
request and nothing of the qualification itself; ``--no-hooks`` leaves the hook out.

The ceiling, measured in the same run: the same touchpoint rows, exported with COPY and
COPY'd into an empty copy of the table (same indexes), as bench/demo_data.py measures it.

The last line is one JSON object with the figures. A script, not a test: it asserts nothing
but that every event was stored.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import http.client
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.database import postgres_database
from bench.servers import server_wait_ready

BENCH_DATABASE = "leadqual_bench_ingest"
TARGET_EVENTS_PER_S = 10_000
# The server's stderr (request log, tracebacks), for when a request fails.
SERVER_LOG = Path(tempfile.gettempdir()) / "leadqual-bench-ingest-server.log"
ROOT = Path(__file__).resolve().parents[1]

FREE_MAIL = ("gmail.com", "yahoo.com", "outlook.com", "hotmail.com")
KINDS = (
    ("page_view", 0.70),
    ("email_open", 0.10),
    ("email_click", 0.06),
    ("content_download", 0.04),
    ("form_submit", 0.04),
    ("webinar", 0.03),
    ("chat_message", 0.03),
)
PAGES = ("home", "pricing", "product", "blog", "docs", "case_study", "comparison", "security")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=5_000, help="events per request")
    parser.add_argument("--accounts", type=int, default=2_000)
    parser.add_argument("--known-leads", type=int, default=20_000)
    parser.add_argument(
        "--new-share", type=float, default=0.2, help="share of events from people new to us"
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--clients", type=int, default=2, help="concurrent connections posting batches"
    )
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/7")
    parser.add_argument("--no-hooks", action="store_true", help="leave LEADQUAL_AFTER_INGEST out")
    parser.add_argument("--keep", action="store_true", help="keep the throwaway database")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.serve:
        _serve(args)
        return
    if not 1 <= args.batch <= 10_000:
        sys.exit("--batch must be between 1 and 10,000 (the endpoint's limit)")
    with postgres_database(BENCH_DATABASE, script="bench/ingest.py", keep=args.keep):
        _run(args)


def _serve(args: argparse.Namespace) -> None:
    """The server subprocess: the project's WSGI application on Django's threaded server."""
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    if args.no_hooks:
        settings.LEADQUAL_AFTER_INGEST = []
    call_command("runserver", f"127.0.0.1:{args.port}", use_reloader=False, skip_checks=True)


def _run(args: argparse.Namespace) -> None:
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    rng = random.Random(args.seed)
    known = _seed(args, rng)
    key = _token()
    batches, total = _batches(args, rng, known)
    print(
        f"{total:,} events in {len(batches)} batches of up to {args.batch:,}; "
        f"{args.known_leads:,} known leads, {args.accounts:,} accounts; "
        f"{args.clients} concurrent client{'s' if args.clients != 1 else ''}"
    )

    server = _server_start(args)
    try:
        latencies, seconds, answered = _post_all(args.port, key, batches, clients=args.clients)
    finally:
        server.terminate()
        server.wait(timeout=30)
        if not args.no_hooks and args.broker:
            _broker_empty(args.broker)

    created = sum(a["created"] for a in answered)
    duplicates = sum(a["duplicates"] for a in answered)
    invalid = sum(a["invalid"] for a in answered)
    leads_created = sum(a["leads_created"] for a in answered)
    if created != total or invalid:
        sys.exit(f"expected {total} events stored; got {created} ({invalid} invalid)")
    rate = total / seconds
    p50 = statistics.median(latencies)
    p95 = sorted(latencies)[max(0, int(len(latencies) * 0.95) - 1)]
    print(
        f"ingest: {total:,} events through POST /api/v1/events/batch in {seconds:.2f}s: "
        f"{rate:,.0f} events/s ({leads_created:,} new leads; per request p50 {p50 * 1000:.0f} "
        f"ms, p95 {p95 * 1000:.0f} ms; hooks {'off' if args.no_hooks else 'on'})"
    )
    copy_rate, copied = _copy_ceiling()
    print(
        f"ceiling: raw COPY of the same {copied:,} touchpoint rows into an empty copy of the "
        f"table: {copy_rate:,.0f} rows/s"
    )
    print(
        f"events/s is {rate / copy_rate:.0%} of the raw COPY rate; target {TARGET_EVENTS_PER_S:,}"
        f" events/s: {'met' if rate >= TARGET_EVENTS_PER_S else 'NOT met'}"
    )
    figures = {
        "events": total,
        "batch": args.batch,
        "clients": args.clients,
        "seconds": round(seconds, 2),
        "events_per_s": round(rate),
        "copy_rows_per_s": round(copy_rate),
        "ratio": round(rate / copy_rate, 3),
        "request_p50_ms": round(p50 * 1000),
        "request_p95_ms": round(p95 * 1000),
        "leads_created": leads_created,
        "duplicates": duplicates,
        "hooks": not args.no_hooks,
        "cpu_count": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(figures))


def _seed(args: argparse.Namespace, rng: random.Random) -> list[tuple[str, str | None]]:
    """Accounts and known leads (half with a tracker id); the leads' (email, external id)."""
    from accounts.models import Account, Lead

    Account.objects.bulk_create(
        [
            Account(name=f"Bench company {i}", domain=f"bench-company{i}.com")
            for i in range(args.accounts)
        ],
        ignore_conflicts=True,
    )
    accounts = dict(
        Account.objects.filter(domain__startswith="bench-company").values_list("domain", "pk")
    )
    leads = []
    known: list[tuple[str, str | None]] = []
    for i in range(args.known_leads):
        domain = f"bench-company{rng.randrange(args.accounts)}.com"
        email = f"bench-known{i}@{domain}"
        external_id = f"bench-visitor-{i}" if i % 2 == 0 else None
        leads.append(
            Lead(email=email, external_id=external_id, account_id=accounts[domain], source="bench")
        )
        known.append((email, external_id))
    Lead.objects.bulk_create(leads, batch_size=5000, ignore_conflicts=True)
    return known


def _token() -> str:
    from accounts.models import ApiScope
    from accounts.services import api_token_issue

    return api_token_issue(name="bench/ingest.py", scope=ApiScope.INGEST, created_by=None)[1]


def _batches(
    args: argparse.Namespace, rng: random.Random, known: list[tuple[str, str | None]]
) -> tuple[list[bytes], int]:
    """The events as a tracker would send them: visits (sessions) of one to eight events a
    minute or two apart, over the last day, in time order, cut into batches."""
    run = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    now = datetime.now(UTC)
    kinds, weights = zip(*KINDS, strict=True)
    timed: list[tuple[datetime, dict[str, Any]]] = []
    new_people = 0
    while len(timed) < args.events:
        if rng.random() < args.new_share or not known:
            new_people += 1
            domain = (
                rng.choice(FREE_MAIL)
                if rng.random() < 0.2
                else f"bench-company{rng.randrange(args.accounts)}.com"
            )
            # Every event of a new person carries both keys, as a tracker does once the
            # visitor has filled in a form: a visit may straddle two batches stored by two
            # connections at once, and an external id alone cannot create a person.
            person: dict[str, str] = {
                "email": f"bench-new{run}-{new_people}@{domain}",
                "external_id": f"bench-nv-{run}-{new_people}",
                "name": f"New Person {new_people}",
            }
        else:
            email, external_id = rng.choice(known)
            person = (
                {"external_id": external_id}
                if external_id and rng.random() < 0.5
                else {"email": email}
            )
        at = now - timedelta(seconds=rng.randrange(86_400))
        for _ in range(min(rng.randint(1, 8), args.events - len(timed))):
            at += timedelta(seconds=rng.randrange(10, 120))
            kind = rng.choices(kinds, weights)[0]
            event: dict[str, Any] = {
                "external_id": f"bench-{run}-{len(timed)}",
                "kind": kind,
                "occurred_at": min(at, now).isoformat(),
                "person": person,
            }
            if kind == "page_view":
                page = rng.choice(PAGES)
                event |= {
                    "url": f"https://example.com/{page}",
                    "page_category": page,
                    "duration_seconds": rng.randrange(5, 600),
                    "properties": {"utm_source": rng.choice(("ads", "newsletter", "organic"))},
                }
            elif kind == "form_submit":
                event |= {"form_type": rng.choice(("demo_request", "newsletter", "contact_sales"))}
            elif kind == "chat_message":
                event |= {"text": "Do you integrate with Salesforce?"}
            timed.append((at, event))
    timed.sort(key=lambda pair: pair[0])
    events = [event for _, event in timed]
    bodies = [
        json.dumps({"events": events[start : start + args.batch]}).encode()
        for start in range(0, len(events), args.batch)
    ]
    return bodies, len(events)


def _server_start(args: argparse.Namespace) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-ingest-secret-key-not-for-production"),
        "ALLOWED_HOSTS": "127.0.0.1",
        "LEADQUAL_API_INGEST_RATE": "1000000/min",
        "LOG_LEVEL": "WARNING",
        "CELERY_BROKER_URL": "" if args.no_hooks else args.broker,
    }
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", "--port", str(args.port)]
        + (["--no-hooks"] if args.no_hooks else []),
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=SERVER_LOG.open("wb"),
    )
    server_wait_ready(
        server,
        args.port,
        stop=server.terminate,
        details=lambda: "; run it by hand to see why",
    )
    return server


def _post_all(
    port: int, key: str, batches: list[bytes], *, clients: int
) -> tuple[list[float], float, list[dict[str, Any]]]:
    """Post every batch, `clients` at a time (one keep-alive connection each)."""
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    local = threading.local()

    def post(body: bytes) -> tuple[float, dict[str, Any]]:
        if not hasattr(local, "connection"):
            local.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        sent = time.perf_counter()
        local.connection.request("POST", "/api/v1/events/batch", body=body, headers=headers)
        response = local.connection.getresponse()
        data = response.read()
        latency = time.perf_counter() - sent
        if response.status != 200:
            raise RuntimeError(
                f"POST /api/v1/events/batch answered {response.status}: {data[:500]!r}; "
                f"the server's log: {SERVER_LOG}"
            )
        return latency, json.loads(data)

    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(max_workers=clients) as pool:
        results = list(pool.map(post, batches))
    seconds = time.perf_counter() - started
    return [latency for latency, _ in results], seconds, [answer for _, answer in results]


def _copy_ceiling() -> tuple[float, int]:
    """The benchmark's touchpoints, COPY'd into an empty copy of the table: (rows/s, rows)."""
    from bench.database import touchpoint_copy_ceiling

    seconds, copied = touchpoint_copy_ceiling(where="external_id LIKE 'bench-%%'")
    return copied / seconds, copied


def _broker_empty(url: str) -> None:
    import redis

    redis.Redis.from_url(url).flushdb()


if __name__ == "__main__":
    main()
