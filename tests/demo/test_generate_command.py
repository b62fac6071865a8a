"""`manage.py generate_demo_data`: loads the world once, fast paths, reset, errors.

Runs on SQLite (executemany) and, with DATABASE_URL on PostgreSQL, through COPY.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db.models import Count

from accounts.models import (
    Account,
    AccountEvent,
    AccountTechnology,
    IntentSignal,
    Lead,
    Opportunity,
    Stakeholder,
    Touchpoint,
)
from accounts.services import account_match_for_email
from leadqual.demo.load import (
    DEMO_MARKER,
    anchor_label,
    anchor_parse,
    demo_world_info,
    demo_world_load,
)
from leadqual.demo.world import REPS, Persona, world_generate
from routing.models import RoutingPool, RoutingRule, SalesRep, Territory
from scoring.defaults import scoring_defaults_ensure
from scoring.models import (
    DisqualificationRule,
    IdealCustomerProfile,
    PointRule,
    PointSignal,
    RuleCategory,
)
from tests.demo.conftest import ANCHOR

LEADS = 600
pytestmark = pytest.mark.django_db


def _generate(*args: str) -> str:
    out = StringIO()
    call_command("generate_demo_data", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def _load(seed: int = 3, *extra: str) -> str:
    return _generate("--leads", str(LEADS), "--seed", str(seed), "--anchor", "2025-06-01", *extra)


def _table_counts() -> dict[str, int]:
    return {
        "accounts": Account.objects.count(),
        "leads": Lead.objects.count(),
        "stakeholders": Stakeholder.objects.count(),
        "touchpoints": Touchpoint.objects.count(),
        "intent_signals": IntentSignal.objects.count(),
        "account_events": AccountEvent.objects.count(),
        "opportunities": Opportunity.objects.count(),
        "technologies": AccountTechnology.objects.count(),
        "reps": SalesRep.objects.count(),
    }


def _db_digest() -> str:
    """A hash of the loaded rows, without database ids or load-time stamps."""
    digest = hashlib.sha256()
    leads = Lead.objects.order_by("external_id").values_list(
        "external_id", "email", "name", "title", "account__domain", "status", "source",
        "created_at", "converted_at", "closed_at", "attributes", "owner__username",
    )  # fmt: skip
    touchpoints = Touchpoint.objects.order_by("external_id").values_list(
        "external_id", "lead__email", "account__domain", "kind", "occurred_at", "url",
        "page_category", "duration_seconds", "form_type", "text", "properties",
    )  # fmt: skip
    opportunities = Opportunity.objects.order_by("lead__email").values_list(
        "lead__email", "stage", "amount", "created_at", "closed_at", "is_won"
    )
    for rows in (leads, touchpoints, opportunities):
        for row in rows:
            digest.update(repr(row).encode())
    return digest.hexdigest()


def test_loads_the_generated_world_row_for_row() -> None:
    output = _load()
    world = world_generate(leads=LEADS, seed=3, anchor=ANCHOR)
    assert _table_counts() == world.counts()
    assert "Loaded the demo world (seed 3, anchor 2025-06-01, 600 leads)" in output
    # A progress bar, but no flood when stdout is not a terminal.
    assert "[" in output and "]" in output
    assert len(output.splitlines()) <= 20
    info = demo_world_info()
    assert info is not None and (info.seed, info.anchor, info.leads) == (3, "2025-06-01", LEADS)


def test_rows_read_back_as_generated() -> None:
    _load()
    world = world_generate(leads=LEADS, seed=3, anchor=ANCHOR)
    expected = world.touchpoints.iloc[0]
    stored = Touchpoint.objects.get(external_id=expected["external_id"])
    assert stored.occurred_at == expected["occurred_at"].to_pydatetime()
    assert stored.occurred_at.tzinfo is not None
    assert stored.kind == expected["kind"]
    assert stored.url == expected["url"]
    assert stored.properties == __import__("json").loads(expected["properties"])
    lead_row = world.leads.iloc[5]
    lead = Lead.objects.select_related("account").get(email=lead_row["email"])
    assert lead.attributes == lead_row["attributes"]
    assert lead.created_at == lead_row["created_at"].to_pydatetime()
    assert lead.title == lead_row["title"]
    account = Account.objects.get(domain=world.accounts.iloc[0]["domain"])
    assert account.tech_stack == world.accounts.iloc[0]["tech_stack"]
    assert account.attributes[DEMO_MARKER]["seed"] == 3


def test_leads_sit_on_the_account_that_matching_would_choose() -> None:
    _load()
    for lead in Lead.objects.select_related("account"):
        assert account_match_for_email(email=lead.email) == lead.account, lead.email


def test_the_account_feeds_read_back_as_generated() -> None:
    """Renewals with their incumbent and date, competitor news, intent with its vendor id and
    arrival, technologies, fiscal years: in their own columns, as the feeds store them."""
    _load()
    world = world_generate(leads=LEADS, seed=3, anchor=ANCHOR)
    domains = world.accounts["domain"].to_numpy()
    renewal = world.account_events[world.account_events["kind"] == "contract_renewal"].iloc[0]
    stored = AccountEvent.objects.get(
        account__domain=domains[renewal["account"]],
        kind="contract_renewal",
        occurred_at=renewal["occurred_at"].to_pydatetime(),
    )
    assert stored.vendor == renewal["vendor"] != ""
    assert stored.renews_at is not None and stored.renews_at.isoformat() == renewal["renews_at"]
    assert AccountEvent.objects.filter(kind="competitor_news").exclude(vendor="").exists()
    assert not AccountEvent.objects.filter(kind="funding", renews_at__isnull=False).exists()
    signal = world.intent_signals.iloc[0]
    stored_signal = IntentSignal.objects.get(external_id=signal["external_id"])
    assert stored_signal.received_at == signal["received_at"].to_pydatetime()
    assert stored_signal.received_at >= stored_signal.observed_at
    tech = world.technologies.iloc[0]
    stored_tech = AccountTechnology.objects.get(
        account__domain=domains[tech["account"]], name=tech["name"]
    )
    assert (stored_tech.category, stored_tech.source) == (tech["category"], tech["source"])
    assert stored_tech.last_seen == tech["last_seen"].to_pydatetime()
    months = world.accounts["fiscal_year_start_month"].to_numpy()
    known = Account.objects.filter(fiscal_year_start_month__isnull=False).count()
    assert known == int((months > 0).sum()) > 0


def test_history_has_outcomes_and_opportunities_at_conversion() -> None:
    _load()
    converted = Lead.objects.filter(status="converted")
    assert converted.exists()
    assert not converted.filter(converted_at__isnull=True).exists()
    for lead in converted.prefetch_related("opportunities")[:50]:
        (opportunity,) = lead.opportunities.all()
        assert opportunity.created_at == lead.converted_at
        assert opportunity.amount is not None and opportunity.amount > 0
        if opportunity.is_closed:
            assert opportunity.closed_at is not None
            assert opportunity.stage in ("closed_won", "closed_lost")
        else:
            assert opportunity.closed_at is None
    assert Opportunity.objects.filter(is_closed=False).exists()
    assert Opportunity.objects.filter(is_won=True).exists()
    assert not Lead.objects.filter(status="closed", closed_at__isnull=True).exists()
    assert (
        not Lead.objects.filter(status__in=["new", "working"])
        .exclude(converted_at=None, closed_at=None)
        .exists()
    )


def test_nothing_about_the_persona_is_stored() -> None:
    _load()
    personas = {str(p) for p in Persona}
    for attributes, outcome in Lead.objects.values_list("attributes", "outcome_attributes"):
        assert set(attributes) <= {"lead_source_detail", "preferred_contact",
                                   "annual_budget_band"}  # fmt: skip
        assert not {str(v) for v in attributes.values()} & personas
        assert not {str(v) for v in outcome.values()} & personas


def test_reps_teams_territories_and_routing_exist() -> None:
    _load()
    reps = SalesRep.objects.select_related("user")
    assert reps.count() == len(REPS) >= 12
    assert all(not rep.user.has_usable_password() for rep in reps)
    assert all(rep.user.first_name and rep.user.last_name for rep in reps)
    assert sum(rep.is_out_of_office(ANCHOR) for rep in reps) == 1
    assert set(Territory.objects.values_list("name", flat=True)) == {
        "North America", "EMEA", "APAC", "LATAM",
    }  # fmt: skip
    assert RoutingPool.objects.filter(is_fallback=True).count() == 1
    assert RoutingRule.objects.count() >= 3
    assert Account.objects.exclude(owner=None).exists()
    roles = set(Stakeholder.objects.values_list("committee_role", flat=True))
    assert {"economic_buyer", "champion", "technical_evaluator"} <= roles


def test_scoring_defaults_are_loaded_once() -> None:
    _load()
    assert {r.category for r in DisqualificationRule.objects.all()} == set(RuleCategory.values)
    assert IdealCustomerProfile.objects.filter(is_active=True).count() == 1
    pricing = PointRule.objects.get(signal=PointSignal.PAGE_CATEGORY, value="pricing")
    assert pricing.points == 15
    assert PointRule.objects.get(signal=PointSignal.ICP_MATCH).points == 20
    assert PointRule.objects.get(signal=PointSignal.PAGE_CATEGORY, value="whitepaper").points == 10
    competitor = DisqualificationRule.objects.get(category=RuleCategory.COMPETITOR)
    assert competitor.parameters["use_account_flag"] is True
    assert "leadwise.io" in competitor.parameters["domains"]
    # An operator's edit survives a second run.
    pricing.points = 12
    pricing.save(update_fields=["points"])
    before = (PointRule.objects.count(), DisqualificationRule.objects.count())
    scoring_defaults_ensure()
    assert (PointRule.objects.count(), DisqualificationRule.objects.count()) == before
    assert PointRule.objects.get(pk=pricing.pk).points == 12


def test_running_twice_does_not_duplicate_anything() -> None:
    _load()
    before = _table_counts()
    digest = _db_digest()
    output = _load()
    assert "already loaded" in output
    assert _table_counts() == before
    assert _db_digest() == digest
    # Even with other arguments: there is one demo world at a time.
    assert "already loaded" in _load(9)
    assert _table_counts() == before


def test_reset_replaces_the_world_and_keeps_other_rows() -> None:
    own = Account.objects.create(name="Real Customer", domain="real-customer.example")
    own_lead = Lead.objects.create(email="ana@real-customer.example", account=own)
    _load(3)
    first = _db_digest()
    output = _load(4, "--reset")
    assert "Removed the previous demo world" in output
    info = demo_world_info()
    assert info is not None and info.seed == 4
    assert not Lead.objects.filter(external_id__startswith="demo-3-").exists()
    assert Lead.objects.filter(external_id__startswith="demo-4-").count() == LEADS
    assert _table_counts() == {
        **world_generate(leads=LEADS, seed=4, anchor=ANCHOR).counts(),
        "accounts": world_generate(leads=LEADS, seed=4, anchor=ANCHOR).counts()["accounts"] + 1,
        "leads": LEADS + 1,
    }
    assert Lead.objects.filter(pk=own_lead.pk, account=own).exists()
    assert get_user_model().objects.filter(username=REPS[0].username).count() == 1
    # Back to the first seed: the very same world as before.
    _load(3, "--reset")
    assert _db_digest() == first


def test_a_conflicting_row_stops_the_load_and_leaves_nothing_behind() -> None:
    world = world_generate(leads=LEADS, seed=3, anchor=ANCHOR)
    taken = world.accounts.iloc[10]["domain"]
    Account.objects.create(name="Someone else", domain=taken)
    with pytest.raises(CommandError, match="collide"):
        _load()
    assert Account.objects.count() == 1
    assert Lead.objects.count() == 0
    assert SalesRep.objects.count() == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--leads", "0"), "--leads must be at least 1"),
        (("--leads", "-5"), "--leads must be at least 1"),
        (("--anchor", "2025-13-01"), "--anchor must be a date"),
        (("--anchor", "yesterday"), "--anchor must be a date"),
        (("--anchor", "2025-06-01T25:00"), "--anchor must be a date"),
        (("--seed", "-1"), "--seed must be zero or positive"),
    ],
)
def test_bad_arguments_are_refused_clearly(args: tuple[str, ...], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        _generate(*args)
    assert Lead.objects.count() == 0


def test_running_again_on_a_world_anchored_days_ago_says_its_clock_has_aged() -> None:
    _load()
    output = _load()
    assert "already loaded (seed 3, anchor 2025-06-01, 600 leads)" in output
    assert "days ago: its buyers' recent activity has aged since" in output
    assert "--reset brings its clock back to now" in output


def test_by_default_the_world_is_anchored_to_the_minute_it_is_generated() -> None:
    from django.utils import timezone

    started = timezone.now().replace(second=0, microsecond=0)
    _generate("--leads", "120", "--seed", "1")
    info = demo_world_info()
    assert info is not None
    anchored = anchor_parse(info.anchor)
    assert started <= anchored <= timezone.now()
    assert info.anchor == anchored.strftime("%Y-%m-%dT%H:%MZ")
    again = _generate("--leads", "120", "--seed", "1")
    assert "already loaded" in again and "aged" not in again


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-06-01", datetime(2026, 6, 1, tzinfo=UTC)),
        ("2026-06-01T09:30", datetime(2026, 6, 1, 9, 30, tzinfo=UTC)),
        ("2026-06-01T09:30+02:00", datetime(2026, 6, 1, 7, 30, tzinfo=UTC)),
        ("2026-06-01T09:30Z", datetime(2026, 6, 1, 9, 30, tzinfo=UTC)),
    ],
)
def test_an_anchor_is_a_date_or_a_date_and_time(text: str, expected: datetime) -> None:
    assert anchor_parse(text) == expected
    # What is stored reads back as the same moment.
    assert anchor_parse(anchor_label(expected)) == expected


def test_default_anchor_is_today_and_the_service_reports_progress() -> None:
    stages: list[tuple[str, int, int]] = []
    result = demo_world_load(
        leads=120, seed=1, progress=lambda stage, done, total: stages.append((stage, done, total))
    )
    assert result.loaded
    assert result.counts["leads"] == 120
    names = [stage for stage, _, _ in stages]
    assert names[0] == "Generating the world"
    assert "Touchpoints" in names
    assert stages[-1][1] == stages[-1][2]
    assert all(done <= total for _, done, total in stages)
    assert Lead.objects.values("status").annotate(n=Count("id")).count() >= 3
    latest = Touchpoint.objects.order_by("-occurred_at").first()
    assert latest is not None
    from django.utils import timezone

    assert latest.occurred_at <= timezone.now()
