"""Throughput of the Salesforce sync against the loopback org, with its ceilings.

Run from the checkout: ``.venv/bin/python bench/salesforce.py [--leads 50000] [--push 5000]``.

Without ``DATABASE_URL`` it creates a throwaway database ``leadqual_bench_salesforce`` on
127.0.0.1 (user postgres; ``BENCH_PG_ADMIN_URL`` overrides the admin connection), migrates it,
and drops it afterwards (``--keep`` keeps it). With ``DATABASE_URL`` (PostgreSQL only) it uses
that database, which should be empty of Salesforce data (the pull upserts into it).

The loopback Salesforce-compatible server runs in a process of its own (as a real org is
elsewhere, and so that its work does not share this process's interpreter lock), seeded by
``accounts.salesforce.loopback.seed.seed_org`` with ``--leads`` leads, a tenth of them past
leads with a known outcome. Then, timed:

1. **pull**: ``salesforce_pull`` of Account, then of Lead, through Bulk API 2.0 (forced:
   ``SALESFORCE_PULL_BULK_THRESHOLD=0``), each into the empty database, with the
   re-qualification hook (``LEADQUAL_AFTER_INGEST``) off: without a broker it would qualify
   the leads inline. Leads/s is the first headline figure. Ceiling: the client's
   ``bulk_query`` of the same SOQL (the Lead handler's fields), every record read and typed,
   none applied to the database.
2. **push**: ``--push`` open leads are qualified (a model trained on the pulled history) and
   routed to the org's reps (activated, one pool for Sales Ready leads), untimed; then
   ``salesforce_push`` of exactly those leads (score, tier, brief, top reasons, owner; the
   handoff package built from our database, composite collections of 200). Records/s is the
   second headline figure. Ceiling: the client's ``collection_update`` of the same records with
   the same field values (read back from the org beforehand), nothing read from our database.

The last line is one JSON object with the figures. A script, not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.database import postgres_database

BENCH_DATABASE = "leadqual_bench_salesforce"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--leads", type=int, default=50_000, help="leads in the org")
    parser.add_argument("--push", type=int, default=5_000, help="results to push")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the throwaway database")
    args = parser.parse_args()
    if args.leads < 1 or not 1 <= args.push <= args.leads * 0.8:
        parser.error("--leads must be positive and --push at most 80% of --leads")

    with postgres_database(BENCH_DATABASE, script="bench/salesforce.py", keep=args.keep):
        _run(args)


def _serve(conn: Connection, leads: int, history: int, seed: int) -> None:
    """The child process: seed the org, serve it, say where, serve until told to stop."""
    from accounts.salesforce.loopback import LoopbackServer
    from accounts.salesforce.loopback.seed import seed_org

    server = LoopbackServer()
    org = seed_org(server.store, leads=leads, history=history, seed=seed)
    server.start()
    conn.send({"url": server.url, "user_ids": org.user_ids})
    conn.recv()
    server.stop()


def _rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else 0.0


def _run(args: argparse.Namespace) -> None:
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from accounts.models import Lead
    from accounts.salesforce.client import SalesforceClient, SalesforceConfig
    from accounts.salesforce.loopback import (
        DEFAULT_PASSWORD,
        DEFAULT_SECURITY_TOKEN,
        INTEGRATION_USERNAME,
    )
    from accounts.salesforce.pull import LeadPullHandler, salesforce_pull, select_list
    from routing.models import RoutingPool, RoutingRule, SalesRep
    from routing.salesforce_push import salesforce_push
    from routing.salesforce_users import SalesforceUserHandler
    from routing.services import assignments_route
    from scoring.models import Tier
    from scoring.services import leads_qualify, model_train

    print(f"database: {connection.settings_dict['NAME']} on {connection.settings_dict['HOST']}")
    started = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    print(f"migrate: {time.perf_counter() - started:.1f}s")
    if Lead.objects.filter(salesforce_id__isnull=False).exists():
        raise SystemExit("the database already holds Salesforce leads: use an empty one")

    started = time.perf_counter()
    # spawn: a fresh interpreter, nothing of this process's Django or database state.
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    history = args.leads // 10
    child = context.Process(
        target=_serve, args=(theirs, args.leads, history, args.seed), daemon=True
    )
    child.start()
    org = ours.recv()
    print(f"loopback org: {args.leads:,} leads seeded ({time.perf_counter() - started:.1f}s)")
    figures: dict[str, Any] = {"leads": args.leads, "push": args.push}
    try:
        # Bulk API 2.0 whatever the size: the figure is the Bulk path's.
        settings.SALESFORCE_PULL_BULK_THRESHOLD = 0
        # The pull marks new leads and hands them to this hook; without a broker the hook
        # would qualify and route them inline, inside the timing. In production it only
        # enqueues; qualification and routing have benchmarks of their own.
        settings.LEADQUAL_AFTER_INGEST = []
        client = SalesforceClient(
            SalesforceConfig(
                username=INTEGRATION_USERNAME,
                password=DEFAULT_PASSWORD,
                security_token=DEFAULT_SECURITY_TOKEN,
                loopback_url=org["url"],
                bulk_poll_seconds=0,
                timeout_seconds=120.0,
            )
        )
        figures.update(_pull(client, salesforce_pull, LeadPullHandler, select_list))

        # Untimed: what a sync does between pull and push.
        started = time.perf_counter()
        users = SalesforceUserHandler(integration_username=INTEGRATION_USERNAME)
        salesforce_pull(client=client, objects=["User"], handlers={"User": users})
        reps = list(SalesRep.objects.filter(salesforce_user_id__in=org["user_ids"]))
        for rep in reps:
            rep.is_active, rep.max_open_leads, rep.max_leads_per_day = True, 10_000, 10_000
            rep.save(update_fields=["is_active", "max_open_leads", "max_leads_per_day"])
        pool = RoutingPool.objects.create(name="Salesforce reps")
        pool.reps.set(reps)
        RoutingRule.objects.create(name="Sales Ready", tiers=[Tier.SALES_READY], pool=pool)
        trained = model_train(activate="always")
        lead_ids = list(
            Lead.objects.filter(converted_at__isnull=True, closed_at__isnull=True)
            .order_by("pk")
            .values_list("pk", flat=True)[: args.push]
        )
        leads_qualify(lead_ids=lead_ids, notify=False)
        routed = assignments_route(lead_ids=lead_ids)
        print(
            f"prepared: model on {trained.version.training_rows:,} leads (holdout AUC "
            f"{trained.metrics.get('auc', 0):.3f}), {len(lead_ids):,} leads qualified, "
            f"{sum(1 for a in routed if a.rep_id):,} routed to a rep "
            f"({time.perf_counter() - started:.1f}s)"
        )
        figures.update(_push(client, salesforce_push, lead_ids))
    finally:
        ours.send("stop")
        child.join(timeout=30)
    print(json.dumps(figures))


def _pull(
    client: Any, salesforce_pull: Any, handler_class: Any, select_list: Any
) -> dict[str, Any]:
    started = time.perf_counter()
    accounts = salesforce_pull(client=client, objects=["Account"]).counts["Account"]
    account_s = time.perf_counter() - started
    account_rate = _rate(accounts.created, account_s)
    print(f"pull Account (Bulk): {accounts.created:,} in {account_s:.1f}s, {account_rate:,.0f}/s")

    started = time.perf_counter()
    leads = salesforce_pull(client=client, objects=["Lead"]).counts["Lead"]
    lead_s = time.perf_counter() - started
    pulled = leads.created + leads.updated + leads.unchanged + leads.skipped
    rate = _rate(pulled, lead_s)
    print(
        f"pull Lead (Bulk): {pulled:,} ({leads.created:,} created, {leads.skipped} skipped) "
        f"in {lead_s:.1f}s, {rate:,.0f} leads/s"
    )

    handler = handler_class()
    handler.prepare(client.describe("Lead"))
    soql = f"SELECT {', '.join(select_list(handler.fields))} FROM Lead ORDER BY SystemModstamp, Id"
    started = time.perf_counter()
    read = sum(1 for _ in client.bulk_query(soql, include_deleted=True))
    ceiling_s = time.perf_counter() - started
    ceiling = _rate(read, ceiling_s)
    print(
        f"ceiling: bulk_query of the same SOQL, records read and typed, none applied: "
        f"{read:,} in {ceiling_s:.1f}s, {ceiling:,.0f} records/s "
        f"(the pull reaches {rate / ceiling:.0%})"
    )
    return {
        "pull_accounts": accounts.created,
        "pull_accounts_per_s": round(account_rate),
        "pull_leads_seconds": round(lead_s, 2),
        "pull_leads_per_s": round(rate),
        "pull_ceiling_records": read,
        "pull_ceiling_per_s": round(ceiling),
    }


def _push(client: Any, salesforce_push: Any, lead_ids: list[int]) -> dict[str, Any]:
    from accounts.models import Lead
    from accounts.salesforce.client import soql_quote

    started = time.perf_counter()
    report = salesforce_push(client=client, lead_ids=lead_ids)
    push_s = time.perf_counter() - started
    rate = _rate(report.pushed, push_s)
    print(
        f"push: {report.pushed:,} sent in {report.calls} calls, {report.skipped} converted "
        f"skipped, {report.failed} refused, in {push_s:.1f}s, {rate:,.0f} records/s"
    )

    # The same records with the same values, read back from the org (untimed).
    sf_ids = [
        str(sf_id)
        for sf_id in Lead.objects.filter(
            pk__in=lead_ids, salesforce_push_state__pushed_at__isnull=False
        )
        .order_by("pk")
        .values_list("salesforce_id", flat=True)
    ]
    fields = ["Id", "Score__c", "Tier__c", "Brief__c", "Top_Reasons__c", "OwnerId"]
    payloads: list[dict[str, Any]] = []
    for start in range(0, len(sf_ids), 500):
        ids = ", ".join(soql_quote(i) for i in sf_ids[start : start + 500])
        payloads.extend(
            {f: record[f] for f in fields}
            for record in client.query(f"SELECT {', '.join(fields)} FROM Lead WHERE Id IN ({ids})")
        )
    size = sum(len(json.dumps(p)) for p in payloads) / max(len(payloads), 1)
    started = time.perf_counter()
    results = client.collection_update("Lead", payloads, auto_assign=False)
    ceiling_s = time.perf_counter() - started
    ceiling = _rate(sum(1 for r in results if r.success), ceiling_s)
    print(
        f"ceiling: collection_update of the same {len(payloads):,} records and values "
        f"(~{size:,.0f} bytes of JSON each), nothing read from our database: "
        f"{ceiling_s:.1f}s, {ceiling:,.0f} records/s (the push reaches {rate / ceiling:.0%})"
    )
    return {
        "push_records": report.pushed,
        "push_calls": report.calls,
        "push_seconds": round(push_s, 2),
        "push_per_s": round(rate),
        "push_ceiling_per_s": round(ceiling),
        "push_record_bytes": round(size),
    }


if __name__ == "__main__":
    main()
