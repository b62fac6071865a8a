"""Throughput of the routing decision.

Run from the checkout: ``.venv/bin/python bench/routing.py [--leads 100000] [--reps 50]``.

Builds a synthetic routing world in memory (reps in regional pools plus a fallback pool, a
dozen rules on territory, size, deal size, industry, source, language and skill; some reps out
of office, some filling up, some leads at owned accounts, a realistic share of nurture and
disqualified leads) and measures:

- the pure engine: decisions/s of `Router.route_many` over all the leads, best of
  ``--repeat`` runs, each decision seeing the loads and credits left by the ones before;
- single calls: decisions/s of the module-level `route()` one lead at a time, which compiles
  the rules on every call as a one-off caller would;
- two reference costs from the same run: building the inputs (the LeadFacts records), and a
  ceiling, a bare loop that only takes ``min()`` of a credit over the members of the pool each
  decision used and adds to the winner's credit (what any pool-scanning picker costs in
  Python before it checks a single condition).

With ``--persist`` it also measures routing through the database on PostgreSQL: the same world
stored as rows (reps, pools, territories, rules, and ``--persist-leads`` leads, each at its
own account and qualified Sales Ready with its deal size and probability, bulk-inserted), then
persisted decisions/s of `routing.services.assignments_route` over all of them: facts loaded in
bulk, reps and round-robin clocks locked, loads counted, one assignment stored per lead, lead
owners and credits updated, in transactions of ``--persist-batch`` leads. Beside it, from the
same run, the pure engine over exactly those leads' facts as loaded from the database.
Without ``DATABASE_URL`` it creates a throwaway database ``leadqual_bench_routing`` on
127.0.0.1 (user postgres; ``BENCH_PG_ADMIN_URL`` overrides the admin connection) and drops it
afterwards (``--keep`` keeps it); with ``DATABASE_URL`` (PostgreSQL only) it adds its rows to
that database.

The last line is one JSON object with the figures. A script, not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

# bench/ is on sys.path when this runs as a script, and its name would shadow the app.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from routing.engine import (
    LEAST_LOADED,
    LeadFacts,
    PoolSpec,
    RepState,
    RoundRobinState,
    Router,
    RuleSpec,
    TerritorySpec,
    route,
)

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
COUNTRIES = {
    "NA": ("US", "US", "US", "CA"),
    "EMEA": ("GB", "DE", "FR", "NL", "ES", "IT", "SE", "AT", "CH"),
    "APAC": ("JP", "AU", "SG", "IN"),
    "LATAM": ("BR", "MX", "AR"),
}
REGION_MIX = (("NA", 0.45), ("EMEA", 0.3), ("APAC", 0.15), ("LATAM", 0.1))
INDUSTRIES = ("technology", "finance", "healthcare", "manufacturing", "retail", "logistics")
SOURCES = ("web", "web", "web", "event", "partner", "outbound", "paid_search")
LANGUAGES = {"DE": "de", "AT": "de", "CH": "de", "FR": "fr", "ES": "es", "MX": "es", "AR": "es"}
# (pool id, name, reps); each pool is a team. The fallback pool has reps of its own and a few
# borrowed from the regional pools.
POOLS = (
    (1, "NA Enterprise", 8),
    (2, "NA Mid-Market", 10),
    (3, "EMEA", 10),
    (4, "APAC", 7),
    (5, "LATAM", 5),
    (6, "SMB", 6),
)
FALLBACK_POOL_ID = 9
DISQUALIFIERS = (
    ("competitor", "disqualify"),
    ("student", "disqualify"),
    ("job_seeker", "disqualify"),
    ("spam", "disqualify"),
    ("minimum_fit", "disqualify"),
    ("existing_customer_support", "route_support"),
    ("non_decision_maker", "route_success"),
)


class World(NamedTuple):
    reps: dict[int, RepState]
    pools: list[PoolSpec]
    rules: list[RuleSpec]
    leads: list[LeadFacts]
    build_seconds: float


def build_world(leads: int, reps: int, seed: int) -> World:
    rng = np.random.default_rng(seed)
    rep_states: dict[int, RepState] = {}
    pools: list[PoolSpec] = []
    # The pool sizes add up to 46 of 50 reps; the rest work only the fallback pool.
    scale = reps / 50
    next_id = 1
    for pool_id, name, size in POOLS:
        members = []
        for _ in range(max(1, round(size * scale))):
            languages = {"en"}
            if name == "EMEA":
                languages.add(str(rng.choice(["de", "fr", "es"])))
            if name == "LATAM":
                languages.update({"es", "pt"})
            skills = {"enterprise"} if name == "NA Enterprise" and rng.random() < 0.75 else set()
            skills.add(str(rng.choice(INDUSTRIES)))
            away = rng.random() < 0.1
            rep_states[next_id] = RepState(
                rep_id=next_id,
                user_id=next_id,
                team=name,
                weight=float(rng.choice([1.0, 1.0, 1.0, 1.5, 2.0])),
                skills=frozenset(skills),
                languages=frozenset(languages),
                out_of_office_from=NOW - timedelta(days=2) if away else None,
                out_of_office_until=NOW + timedelta(days=5) if away else None,
                # A few reps fill up during the run; the rest have room for all of it.
                max_open_leads=int(rng.integers(300, 1500)) if rng.random() < 0.15 else 10**9,
                max_leads_per_day=10**9,
            )
            members.append(next_id)
            next_id += 1
        pools.append(PoolSpec(pool_id, name, members))
    overflow = list(range(next_id, next_id + max(reps - len(rep_states), 1)))
    for rep_id in overflow:
        rep_states[rep_id] = RepState(
            rep_id=rep_id,
            user_id=rep_id,
            team="Overflow",
            languages=frozenset({"en"}),
            max_open_leads=10**9,
            max_leads_per_day=10**9,
        )
    overflow += [pool.rep_ids[0] for pool in pools[:4]]
    pools.append(PoolSpec(FALLBACK_POOL_ID, "Overflow", overflow, is_fallback=True))

    na = TerritorySpec("North America", regions=["NA"], countries=COUNTRIES["NA"])
    emea = TerritorySpec("EMEA", regions=["EMEA"])
    dach = TerritorySpec("DACH", regions=["EMEA"], countries=["DE", "AT", "CH"])
    apac = TerritorySpec("APAC", regions=["APAC"])
    latam = TerritorySpec("LATAM", regions=["LATAM"])
    west = TerritorySpec("US West", countries=["US"], states=["CA", "WA", "OR"])
    rules = [
        RuleSpec(1, "NA enterprise", 1, 10, territory=na, min_employees=1000,
                 required_skill="enterprise", tiers=["sales_ready"]),
        RuleSpec(2, "Large deals NA", 1, 15, territory=na, min_deal_size=100_000),
        RuleSpec(3, "US West mid-market", 2, 18, territory=west, min_employees=100),
        RuleSpec(4, "NA mid-market", 2, 20, territory=na, min_employees=100,
                 strategy=LEAST_LOADED),
        RuleSpec(5, "DACH in German", 3, 25, territory=dach, languages=["de"]),
        RuleSpec(6, "EMEA finance", 3, 28, territory=emea, industries=["finance"],
                 required_skill="finance"),
        RuleSpec(7, "EMEA", 3, 30, territory=emea, min_employees=50),
        RuleSpec(8, "APAC", 4, 40, territory=apac),
        RuleSpec(9, "LATAM", 5, 50, territory=latam),
        RuleSpec(10, "SMB", 6, 60, max_employees=99),
        RuleSpec(11, "Partner referrals", 2, 70, lead_sources=["partner"]),
        RuleSpec(12, "Retired EMEA rule", 3, 5, territory=emea, is_active=False),
    ]  # fmt: skip

    started = time.perf_counter()
    lead_list = _leads(rng, leads, owners=[tuple(p.rep_ids) for p in pools[:3]])
    build_seconds = time.perf_counter() - started
    return World(rep_states, pools, rules, lead_list, build_seconds)


def _leads(rng: np.random.Generator, n: int, owners: list[tuple[int, ...]]) -> list[LeadFacts]:
    regions = rng.choice([r for r, _ in REGION_MIX], size=n, p=[p for _, p in REGION_MIX])
    tiers = rng.choice(["sales_ready", "nurture", "disqualify"], size=n, p=[0.6, 0.25, 0.15])
    employees = np.round(rng.lognormal(5.0, 1.6, size=n)).astype(int) + 1
    deal = rng.lognormal(10.3, 0.9, size=n)
    probability = rng.beta(2.0, 3.0, size=n)
    owned = rng.random(n) < 0.12
    # Unknown geography and size: no rule can place these, the fallback pool takes them.
    unknown = rng.random(n) < 0.05
    rule_hit = rng.random(n) < 0.5
    disqualifier = rng.integers(0, len(DISQUALIFIERS), size=n)
    industry = rng.integers(0, len(INDUSTRIES), size=n)
    source = rng.integers(0, len(SOURCES), size=n)
    picks = rng.random((n, 3))
    leads = []
    for i in range(n):
        region = str(regions[i])
        countries = COUNTRIES[region]
        country = countries[int(picks[i, 0] * len(countries))]
        state = ("CA", "NY", "TX", "WA", "MA")[int(picks[i, 1] * 5)] if country == "US" else ""
        size: int | None = int(employees[i])
        if unknown[i]:
            region = country = state = ""
            size = None
        tier = str(tiers[i])
        category = action = ""
        if tier == "disqualify" and rule_hit[i]:
            category, action = DISQUALIFIERS[int(disqualifier[i])]
        owner = None
        if owned[i]:
            members = owners[int(picks[i, 2] * len(owners))]
            owner = members[int(picks[i, 2] * 997) % len(members)]
        leads.append(
            LeadFacts(
                lead_id=i + 1,
                tier=tier,
                rule_category=category,
                rule_action=action,
                account_id=i // 3 + 1,
                account_owner_rep_id=owner,
                country=country,
                region=region,
                state=state,
                industry=INDUSTRIES[int(industry[i])],
                employee_count=size,
                deal_size=float(deal[i]),
                expected_deal_value=float(deal[i] * probability[i]),
                lead_source=SOURCES[int(source[i])],
                language=LANGUAGES.get(country, "en"),
            )
        )
    return leads


def measure_engine(world: World, repeat: int) -> dict[str, Any]:
    router = Router(rules=world.rules, pools=world.pools)
    runs = []
    run = None
    for _ in range(repeat):
        started = time.perf_counter()
        run = router.route_many(world.leads, reps=world.reps, rr_state=RoundRobinState(), now=NOW)
        runs.append(time.perf_counter() - started)
    assert run is not None
    n = len(world.leads)
    best = min(runs)
    vias = Counter(d.via for d in run.decisions)
    print(
        f"engine: {n:,} decisions in {', '.join(f'{s:.2f}s' for s in runs)} "
        f"(best {n / best:,.0f}/s)"
    )
    print("  placed by: " + ", ".join(f"{via} {count:,}" for via, count in vias.most_common()))

    # One call per lead through the module-level function, as a one-off caller would.
    sample = world.leads[: min(n, 10_000)]
    reps = dict(world.reps)
    state = RoundRobinState()
    started = time.perf_counter()
    for lead in sample:
        decision = route(
            lead, reps=reps, rules=world.rules, rr_state=state, pools=world.pools, now=NOW
        )
        if decision.credit_update is not None:
            state.apply(decision.credit_update)
    single = time.perf_counter() - started
    print(f"single route() calls: {len(sample):,} in {single:.2f}s, {len(sample) / single:,.0f}/s")

    # The ceiling: only min() of a credit over the members of the pool each decision used.
    members = {pool.pool_id: pool.rep_ids for pool in world.pools}
    teams: dict[str, list[int]] = {}
    for rep in world.reps.values():
        teams.setdefault(rep.team, []).append(rep.rep_id)
    lists = []
    for lead, decision in zip(world.leads, run.decisions, strict=True):
        if decision.pool_id is not None:
            lists.append((members[decision.pool_id], lead.expected_deal_value))
        elif decision.via == "team" and decision.rep_id is not None:
            lists.append((tuple(teams[world.reps[decision.rep_id].team]), lead.expected_deal_value))
    credits = dict.fromkeys(world.reps, 0.0)
    weights = {rep_id: rep.weight for rep_id, rep in world.reps.items()}
    get = credits.__getitem__
    started = time.perf_counter()
    for pool_members, value in lists:
        chosen = min(pool_members, key=get)
        credits[chosen] += (0.5 + value * 1e-5) / weights[chosen]
    ceiling = time.perf_counter() - started
    print(
        f"ceiling: bare min() over the same pool lists: {len(lists):,} picks in {ceiling:.3f}s "
        f"(over all {n:,} leads: {n / ceiling:,.0f}/s)"
    )
    print(f"inputs: building {n:,} LeadFacts took {world.build_seconds:.2f}s")
    return {
        "engine_decisions_per_s": round(n / best),
        "engine_seconds": [round(s, 3) for s in runs],
        "single_call_decisions_per_s": round(len(sample) / single),
        "ceiling_min_pick_decisions_per_s": round(n / ceiling),
        "inputs_build_seconds": round(world.build_seconds, 3),
        "placed_by": dict(vias.most_common()),
    }


# --- persisted -----------------------------------------------------------------------------

BENCH_DATABASE = "leadqual_bench_routing"


def measure_persisted(world: World, args: argparse.Namespace) -> dict[str, Any]:
    from bench.database import postgres_database

    with postgres_database(BENCH_DATABASE, script="bench/routing.py --persist", keep=args.keep):
        return _persisted(world, args)


def _persisted(world: World, args: argparse.Namespace) -> dict[str, Any]:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from routing import selectors
    from routing.services import assignments_route

    print(f"database: {connection.settings_dict['NAME']} on {connection.settings_dict['HOST']}")
    call_command("migrate", verbosity=0, interactive=False)
    n = min(args.persist_leads or len(world.leads), len(world.leads))
    started = time.perf_counter()
    lead_ids = _store_world(world, n)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(f"stored: {n:,} Sales Ready leads with accounts and qualifications in "
          f"{time.perf_counter() - started:.1f}s")  # fmt: skip

    # The pure engine over exactly these leads, as the service will load them.
    setup = selectors.routing_setup()
    facts = [
        item.facts
        for start in range(0, n, 5000)
        for item in selectors.routable_leads(
            lead_ids=lead_ids[start : start + 5000], disqualifiers=setup.disqualifiers
        )
    ]
    reps = selectors.rep_states(now=NOW, hours=setup.hours)
    engine_runs = []
    for _ in range(args.repeat):
        run_started = time.perf_counter()
        setup.router.route_many(facts, reps=reps, rr_state=RoundRobinState(), now=NOW)
        engine_runs.append(time.perf_counter() - run_started)
    engine_rate = len(facts) / min(engine_runs)
    print(f"engine on the same {len(facts):,} stored leads: {engine_rate:,.0f}/s")

    started = time.perf_counter()
    created = assignments_route(lead_ids=lead_ids, now=NOW, batch_size=args.persist_batch)
    seconds = time.perf_counter() - started
    rate = len(created) / seconds
    to_reps = sum(1 for a in created if a.rep_id is not None)
    print(
        f"persisted: {len(created):,} assignments ({to_reps:,} to reps) in {seconds:.2f}s, "
        f"{rate:,.0f}/s in transactions of {args.persist_batch} "
        f"({rate / engine_rate:.0%} of the engine's rate on the same leads)"
    )
    started = time.perf_counter()
    again = assignments_route(lead_ids=lead_ids, now=NOW, batch_size=args.persist_batch)
    rerun = time.perf_counter() - started
    print(f"routing them again changes {len(again)}: {n / rerun:,.0f} leads/s checked")
    return {
        "persisted_leads": n,
        "persisted_batch": args.persist_batch,
        "persisted_seconds": round(seconds, 2),
        "persisted_decisions_per_s": round(rate),
        "persisted_rerun_leads_per_s": round(n / rerun),
        "engine_on_persisted_leads_per_s": round(engine_rate),
    }


def _store_world(world: World, n: int) -> list[int]:
    """The world as rows: reps, pools, territories, rules, and `n` Sales Ready leads."""
    from decimal import Decimal

    from django.contrib.auth.models import User
    from django.db import transaction

    from accounts.models import Account, Lead
    from routing.models import RoutingPool, RoutingRule, SalesRep, Territory
    from scoring.models import Confidence, Qualification, Tier

    with transaction.atomic():
        users = User.objects.bulk_create(
            [User(username=f"bench-rep-{rep_id}") for rep_id in world.reps]
        )
        reps = SalesRep.objects.bulk_create(
            [
                SalesRep(
                    user=user,
                    team=rep.team,
                    weight=Decimal(str(rep.weight)),
                    skills=sorted(rep.skills),
                    languages=sorted(rep.languages),
                    out_of_office_from=rep.out_of_office_from,
                    out_of_office_until=rep.out_of_office_until,
                    max_open_leads=min(rep.max_open_leads, 2**31 - 1),
                    max_leads_per_day=min(rep.max_leads_per_day, 2**31 - 1),
                )
                for user, rep in zip(users, world.reps.values(), strict=True)
            ]
        )
        rep_pk = {rep_id: rep.pk for rep_id, rep in zip(world.reps, reps, strict=True)}
        user_pk = {rep_id: user.pk for rep_id, user in zip(world.reps, users, strict=True)}
        pool_pk = {}
        for pool_spec in world.pools:
            pool = RoutingPool.objects.create(
                name=pool_spec.name, is_fallback=pool_spec.is_fallback
            )
            pool.reps.set([rep_pk[rep_id] for rep_id in pool_spec.rep_ids])
            pool_pk[pool_spec.pool_id] = pool.pk
        for spec in world.rules:
            territory = None
            if spec.territory is not None:
                territory, _ = Territory.objects.get_or_create(
                    name=spec.territory.name,
                    defaults={
                        "regions": sorted(spec.territory.regions),
                        "countries": sorted(spec.territory.countries),
                        "states": sorted(spec.territory.states),
                    },
                )
            RoutingRule.objects.create(
                name=spec.name,
                priority=spec.priority,
                is_active=spec.is_active,
                tiers=sorted(spec.tiers),
                territory=territory,
                industries=sorted(spec.industries),
                min_employees=spec.min_employees,
                max_employees=spec.max_employees,
                min_deal_size=spec.min_deal_size,
                lead_sources=sorted(spec.lead_sources),
                languages=sorted(spec.languages),
                required_skill=spec.required_skill,
                pool_id=pool_pk[spec.pool_id],
                strategy=spec.strategy,
            )

    lead_ids: list[int] = []
    chunk = 5000
    for start in range(0, n, chunk):
        facts = world.leads[start : start + chunk]
        with transaction.atomic():
            accounts = Account.objects.bulk_create(
                [
                    Account(
                        name=f"Bench {f.lead_id}",
                        domain=f"bench{f.lead_id}.example",
                        country=f.country,
                        state=f.state,
                        region=f.region,
                        industry=f.industry,
                        employee_count=f.employee_count,
                        owner_id=(
                            user_pk[f.account_owner_rep_id]
                            if f.account_owner_rep_id is not None
                            else None
                        ),
                    )
                    for f in facts
                ]
            )
            leads = Lead.objects.bulk_create(
                [
                    Lead(
                        account=account,
                        email=f"lead{f.lead_id}@bench{f.lead_id}.example",
                        country=f.country,
                        state=f.state,
                        language=f.language,
                        source=f.lead_source,
                    )
                    for f, account in zip(facts, accounts, strict=True)
                ]
            )
            # Low = high = the deal size, so the middle of the range is the world's deal size
            # and probability x size its expected value.
            Qualification.objects.bulk_create(
                [
                    Qualification(
                        lead=lead,
                        tier=Tier.SALES_READY,
                        confidence=Confidence.HIGH,
                        conversion_probability=min(f.expected_deal_value / f.deal_size, 1.0)
                        if f.deal_size
                        else None,
                        deal_size_low=Decimal(f"{f.deal_size:.2f}") if f.deal_size else None,
                        deal_size_high=Decimal(f"{f.deal_size:.2f}") if f.deal_size else None,
                    )
                    for f, lead in zip(facts, leads, strict=True)
                ]
            )
        lead_ids.extend(lead.pk for lead in leads)
    return lead_ids


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--reps", type=int, default=50)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--repeat", type=int, default=3, help="engine runs; the best counts")
    parser.add_argument(
        "--persist", action="store_true", help="also route through PostgreSQL and store"
    )
    parser.add_argument(
        "--persist-leads", type=int, default=None, help="leads to persist; default --leads"
    )
    parser.add_argument(
        "--persist-batch", type=int, default=500, help="leads per routing transaction"
    )
    parser.add_argument("--keep", action="store_true", help="keep the throwaway database")
    args = parser.parse_args()

    world = build_world(args.leads, args.reps, args.seed)
    print(
        f"world: {len(world.leads):,} leads, {len(world.reps)} reps, {len(world.pools)} pools, "
        f"{len(world.rules)} rules"
    )
    figures: dict[str, Any] = {
        "leads": len(world.leads),
        "reps": len(world.reps),
        "pools": len(world.pools),
        "rules": len(world.rules),
    }
    figures.update(measure_engine(world, args.repeat))
    if args.persist:
        figures.update(measure_persisted(world, args))
    figures["cpu_count"] = os.cpu_count()
    figures["load_average_1m"] = round(os.getloadavg()[0], 2)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
