"""Render time of every dashboard page and HTMX partial on PostgreSQL, with its query count.

Run from the checkout: ``.venv/bin/python bench/dashboards.py [--leads 100000] [--runs 30]``.

Without ``DATABASE_URL`` it creates a throwaway database ``leadqual_bench_dashboards`` on
127.0.0.1 (user postgres; ``BENCH_PG_ADMIN_URL`` overrides the admin connection), migrates it,
and drops it afterwards (``--keep`` keeps it). With ``DATABASE_URL`` (PostgreSQL only) it uses
that database and replaces any demo world in it; ``--reuse`` keeps a world that a previous
``--keep`` run left there, and skips building it.

The world is built as the product builds it: the demo world (``generate_demo_data``), a model
trained on its history, every lead qualified, every lead routed, the demo users, a metrics
snapshot (the hourly task's), and the demo SDR given a queue of Sales Ready leads, some of them
past their SLA.

Then each page is requested through Django's test Client (the whole middleware stack, DEBUG
off, the cached template loader) as the role that uses it: the full page; the page as an
HTMX request (``HX-Request``); and every fragment the page itself asks htmx for, found in its
HTML (each element's ``hx-get`` with its ``HX-Target``). Each is timed over ``--runs``
requests after ``--warmup`` ones, and its queries are counted on one more. Pages whose URL
name does not resolve yet are reported as skipped.

It prints p50/p95 per page and partial in ms beside the 300 ms target, and as its last line
one JSON object of the figures. A script, not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.database import postgres_database

BENCH_DATABASE = "leadqual_bench_dashboards"
TARGET_P95_MS = 300.0
# The demo SDR's queue: this many Sales Ready leads, every fourth one past its SLA.
SDR_QUEUE = 40


@dataclass
class World:
    sdr_lead_id: int | None = None
    sdr_account_id: int | None = None
    breach_assignment_id: int | None = None


@dataclass(frozen=True)
class PageSpec:
    name: str  # the URL name in the dashboards namespace
    role: str  # the demo user who opens it
    args: Callable[[World], list[int] | None] = lambda world: []


def _lead(world: World) -> list[int] | None:
    return [world.sdr_lead_id] if world.sdr_lead_id else None


def _account(world: World) -> list[int] | None:
    return [world.sdr_account_id] if world.sdr_account_id else None


def _breach(world: World) -> list[int] | None:
    return [world.breach_assignment_id] if world.breach_assignment_id else None


PAGES: list[PageSpec] = [
    PageSpec("home", "sdr"),
    PageSpec("home", "manager"),
    PageSpec("queue", "sdr"),
    PageSpec("lead_brief", "sdr", _lead),
    PageSpec("account_detail", "sdr", _account),
    PageSpec("team", "manager"),
    PageSpec("assignment_reassign", "manager", _breach),
    PageSpec("revops", "revops"),
    PageSpec("salesforce_status", "revops"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--runs", type=int, default=30, help="timed requests per variant")
    parser.add_argument("--warmup", type=int, default=3, help="untimed requests first")
    parser.add_argument("--keep", action="store_true", help="keep the throwaway database")
    parser.add_argument(
        "--reuse", action="store_true", help="use the world already in the database, if any"
    )
    args = parser.parse_args()
    if args.leads < 1 or args.runs < 2 or args.warmup < 0:
        parser.error("--leads must be at least 1, --runs at least 2, --warmup at least 0")

    # Timings as production serves pages: DEBUG off (no query log, cached templates).
    os.environ["DEBUG"] = "0"
    os.environ.setdefault("SECRET_KEY", "bench-dashboards-secret-key-not-for-production")
    os.environ["ALLOWED_HOSTS"] = "testserver"
    with postgres_database(BENCH_DATABASE, script="bench/dashboards.py", keep=args.keep):
        _run(args)


# --- the world ----------------------------------------------------------------------------------


def _stage(label: str, started: float) -> float:
    now = time.perf_counter()
    print(f"  {label:<44} {now - started:7.1f}s", flush=True)
    return now


def _build_world(args: argparse.Namespace) -> None:
    from django.db import connection

    from accounts.models import Lead
    from dashboards.services import metrics_snapshot_take
    from leadqual.demo.load import demo_world_load
    from routing.services import assignments_route
    from scoring import services

    print(f"building the world: {args.leads:,} leads, seed {args.seed}")
    started = time.perf_counter()
    demo_world_load(leads=args.leads, seed=args.seed, reset=True)
    started = _stage("demo world", started)
    trained = services.model_train(activate="always")
    started = _stage(f"model #{trained.version.pk} trained", started)
    ids = list(Lead.objects.order_by("pk").values_list("pk", flat=True))
    services.leads_qualify(lead_ids=ids, notify=False)
    started = _stage("every lead qualified", started)
    assignments_route(lead_ids=ids)
    started = _stage("every lead routed", started)
    metrics_snapshot_take()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    _stage("snapshot, ANALYZE", started)


def _sdr_queue() -> World:
    """Give the demo SDR a queue (once; a reused world keeps it), some of it overdue."""
    from django.contrib.auth.models import User
    from django.utils import timezone

    from dashboards.services import demo_users_ensure
    from routing.models import Assignment, AssignmentStatus, Queue
    from routing.services import ReassignmentError, assignment_reassign
    from scoring.models import Tier

    demo_users_ensure()
    rep = User.objects.get(username="sdr").sales_rep
    mine = Assignment.objects.filter(rep=rep, status=AssignmentStatus.OPEN)
    missing = SDR_QUEUE - mine.count()
    if missing > 0:
        candidates = (
            Assignment.objects.filter(
                status=AssignmentStatus.OPEN, queue=Queue.SALES, tier=Tier.SALES_READY
            )
            .exclude(rep=rep)
            .order_by("pk")[:missing]
        )
        for assignment in candidates:
            try:
                assignment_reassign(
                    assignment=assignment, reason="benchmark queue", to_rep=rep, by_user=None
                )
            except ReassignmentError:
                continue
        late = list(mine.order_by("pk").values_list("pk", flat=True)[::4])
        Assignment.objects.filter(pk__in=late).update(
            sla_due_at=timezone.now() - timedelta(hours=2)
        )
    first = mine.select_related("lead").order_by("pk").first()
    breach = (
        Assignment.objects.filter(
            status=AssignmentStatus.OPEN,
            first_touch_at__isnull=True,
            sla_due_at__lt=timezone.now(),
        )
        .order_by("sla_due_at")
        .values_list("pk", flat=True)
        .first()
    )
    return World(
        sdr_lead_id=first.lead_id if first else None,
        sdr_account_id=first.lead.account_id if first else None,
        breach_assignment_id=breach,
    )


# --- measuring ------------------------------------------------------------------------------------


class _HxGets(HTMLParser):
    """(path, HX-Target) of every element that asks htmx for a fragment with hx-get."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {k: v or "" for k, v in attrs}
        url = attributes.get("hx-get")
        if not url or not url.startswith("/"):
            return
        target = attributes.get("hx-target", "this")
        if target == "this":
            target_id = attributes.get("id", "")
        elif target.startswith("#"):
            target_id = target[1:]
        else:
            return  # "closest …", "find …": htmx resolves them in the page; not reproducible here
        self.found.append((url.replace("&amp;", "&"), target_id))


@dataclass
class Variant:
    label: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    status: int = 0
    queries: int = 0
    timings_ms: list[float] = field(default_factory=list)

    @property
    def p50(self) -> float:
        return statistics.median(self.timings_ms)

    @property
    def p95(self) -> float:
        ordered = sorted(self.timings_ms)
        # Nearest rank: with 30 runs, the 29th slowest.
        return ordered[max(0, min(len(ordered) - 1, round(0.95 * len(ordered)) - 1))]


def _measure(client: Any, variant: Variant, *, runs: int, warmup: int) -> Variant:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(warmup):
        client.get(variant.path, **variant.headers)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(variant.path, **variant.headers)
    variant.status = response.status_code
    variant.queries = len(captured)
    for _ in range(runs):
        started = time.perf_counter()
        client.get(variant.path, **variant.headers)
        variant.timings_ms.append((time.perf_counter() - started) * 1000)
    return variant


def _variants(client: Any, path: str) -> list[Variant]:
    page = client.get(path)
    variants = [Variant("page", path), Variant("htmx", path, {"HTTP_HX_REQUEST": "true"})]
    if page.status_code != 200 or "text/html" not in page.get("Content-Type", ""):
        return variants[:1]
    parser = _HxGets()
    parser.feed(page.content.decode())
    seen = set()
    for url, target in parser.found:
        if (url, target) in seen:
            continue
        seen.add((url, target))
        headers = {"HTTP_HX_REQUEST": "true"}
        if target:
            headers["HTTP_HX_TARGET"] = target
        variants.append(Variant(f"htmx #{target or '?'}", url, headers))
    return variants


def _discovered_revops_pages(listed: set[str]) -> list[PageSpec]:
    """RevOps pages beyond the main one: every argument-less route of dashboards.views.revops."""
    from dashboards.views import revops

    # Actions answer POST only: a GET would time a 405.
    post_only = {"revops-model-rollback", "revops-train", "revops-snapshot-refresh"}
    found = []
    for pattern in revops.urlpatterns:
        name = getattr(pattern, "name", None)
        if (
            name
            and name not in listed
            and name not in post_only
            and not pattern.pattern.regex.groupindex
        ):
            found.append(PageSpec(name, "revops"))
    return found


def _run(args: argparse.Namespace) -> None:
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.urls import NoReverseMatch, reverse

    from accounts.models import Lead

    print(f"database: {connection.settings_dict['NAME']} on {connection.settings_dict['HOST']}")
    started = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    print(f"migrate: {time.perf_counter() - started:.1f}s")
    leads = Lead.objects.count()
    if args.reuse and leads:
        print(f"reusing the world in the database: {leads:,} leads")
    else:
        _build_world(args)
        leads = Lead.objects.count()
    world = _sdr_queue()

    clients: dict[str, Client] = {}
    for username in ("sdr", "manager", "revops"):
        clients[username] = Client()
        clients[username].force_login(User.objects.get(username=username))

    pages = PAGES + _discovered_revops_pages({spec.name for spec in PAGES})
    results: dict[str, dict[str, Any]] = {}
    skipped: dict[str, str] = {}
    print(
        f"\n{'page':<34} {'as':<8} {'variant':<26} {'p50 ms':>8} {'p95 ms':>8} "
        f"{'queries':>8}  status"
    )
    for spec in pages:
        key = f"{spec.name}[{spec.role}]"
        page_args = spec.args(world)
        if page_args is None:
            skipped[key] = "the world has nothing to show on it"
            print(f"{spec.name:<34} {spec.role:<8} skipped: {skipped[key]}")
            continue
        try:
            path = reverse(f"dashboards:{spec.name}", args=page_args)
        except NoReverseMatch:
            skipped[key] = "URL name does not resolve: the page is not built yet"
            print(f"{spec.name:<34} {spec.role:<8} skipped: {skipped[key]}")
            continue
        client = clients[spec.role]
        figures: dict[str, Any] = {}
        for variant in _variants(client, path):
            _measure(client, variant, runs=args.runs, warmup=args.warmup)
            flag = "" if variant.p95 < TARGET_P95_MS else "  OVER TARGET"
            print(
                f"{spec.name:<34} {spec.role:<8} {variant.label:<26} {variant.p50:8.1f} "
                f"{variant.p95:8.1f} {variant.queries:8}  {variant.status}{flag}",
                flush=True,
            )
            figures[variant.label] = {
                "path": variant.path,
                "p50_ms": round(variant.p50, 1),
                "p95_ms": round(variant.p95, 1),
                "queries": variant.queries,
                "status": variant.status,
            }
        results[key] = figures

    measured = [v for figures in results.values() for v in figures.values()]
    worst = max(measured, key=lambda v: v["p95_ms"]) if measured else None
    over = sorted(
        f"{key} {label}"
        for key, figures in results.items()
        for label, v in figures.items()
        if v["p95_ms"] >= TARGET_P95_MS
    )
    print(
        f"\n{len(measured)} pages and partials measured, {len(skipped)} skipped; "
        f"worst p95 {worst['p95_ms'] if worst else 0:.1f} ms "
        f"({worst['path'] if worst else '-'}); target p95 < {TARGET_P95_MS:.0f} ms: "
        f"{'met' if not over else 'missed by ' + ', '.join(over)}"
    )
    print(
        json.dumps(
            {
                "leads": leads,
                "runs": args.runs,
                "target_p95_ms": TARGET_P95_MS,
                "all_under_target": not over and bool(measured),
                "worst_p95_ms": worst["p95_ms"] if worst else None,
                "over_target": over,
                "pages": results,
                "skipped": skipped,
                "cpu_count": os.cpu_count(),
                "load_average_1m": round(os.getloadavg()[0], 2),
            }
        )
    )


if __name__ == "__main__":
    main()
