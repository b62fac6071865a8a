"""The routing dry run: the service replays recent leads under proposed rules and writes nothing;
the admin runs it from a rule's form (validated like Save) and from the rule list."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse, reverse_lazy

from accounts.models import Lead
from routing import selectors
from routing.dry_run import MAX_LAST_N, DryRunError, RoutingDryRun, routing_dry_run
from routing.engine import RuleSpec
from routing.models import (
    Assignment,
    AssignmentEvent,
    RoundRobinClock,
    RoundRobinCredit,
    RoutingRule,
)
from routing.services import assignment_reassign
from scoring.models import Tier
from tests.factories import UserFactory
from tests.routing.test_services import NOW, World, build_world, leads, qualified_lead, route

pytestmark = pytest.mark.django_db

RULES = reverse_lazy("admin:routing_routingrule_changelist")
RULE_ADD = reverse_lazy("admin:routing_routingrule_add")
DRY_RUN_PAGE = reverse_lazy("admin:routing_routingrule_dry_run")


def rule_url(rule: RoutingRule) -> str:
    return reverse("admin:routing_routingrule_change", args=[rule.pk])


def rows_written() -> tuple[int, ...]:
    return (
        Assignment.objects.count(),
        AssignmentEvent.objects.count(),
        RoundRobinClock.objects.count(),
        RoundRobinCredit.objects.count(),
        RoutingRule.objects.count(),
    )


def credits_and_clocks() -> list[tuple[Any, ...]]:
    return [
        *RoundRobinClock.objects.order_by("key").values_list("key", "virtual_time", "seq"),
        *RoundRobinCredit.objects.order_by("key", "rep").values_list("key", "rep", "credit"),
    ]


def emea_routed(n: int = 6) -> tuple[World, list[Lead]]:
    """Six EMEA leads routed by the saved rules: two each to Ana, Ben and Cleo."""
    world = build_world()
    items = leads(n, world.account)
    route(*items)
    return world, items


def emea_to_overflow(world: World) -> list[RuleSpec]:
    """The saved rules with the EMEA rule pointed at the overflow pool (Dev alone)."""
    return [
        dataclasses.replace(spec, pool_id=world.overflow.pk)
        if spec.rule_id == world.emea_rule.pk
        else spec
        for spec in selectors.rule_specs()
    ]


def by_rep(report: RoutingDryRun) -> dict[str, tuple[int, float, int, float]]:
    return {
        row.name: (row.now_leads, row.now_value, row.dry_leads, row.dry_value)
        for row in report.reps
    }


# --- the service ---------------------------------------------------------------------------


def test_the_saved_rules_move_nothing_that_is_already_where_they_send_it() -> None:
    emea_routed()

    report = routing_dry_run(now=NOW)

    assert (report.leads, report.moved, report.newly_assigned, report.unchanged) == (6, 0, 0, 6)
    assert report.changed_sample == []
    assert by_rep(report) == dict.fromkeys(("Ana", "Ben", "Cleo"), (2, 30000.0, 2, 30000.0))
    assert [(p.label, p.now_leads, p.dry_leads) for p in report.places] == [
        ("Rule EMEA → pool EMEA AEs", 6, 6)
    ]


def test_pointing_the_emea_rule_at_another_pool_moves_its_leads_there_with_the_reason() -> None:
    world, items = emea_routed()
    before = (rows_written(), credits_and_clocks())

    report = routing_dry_run(rules=emea_to_overflow(world), now=NOW)

    assert (report.leads, report.moved, report.newly_assigned, report.unchanged) == (6, 6, 0, 0)
    assert by_rep(report) == {
        "Ana": (2, 30_000.0, 0, 0.0),
        "Ben": (2, 30_000.0, 0, 0.0),
        "Cleo": (2, 30_000.0, 0, 0.0),
        "Dev": (0, 0.0, 6, 90_000.0),
    }
    dev = next(row for row in report.reps if row.name == "Dev")
    assert (dev.change_leads, dev.change_value) == (6, 90_000.0)
    assert (dev.open_now, dev.open_after, dev.over_capacity) == (0, 6, False)
    ana = next(row for row in report.reps if row.name == "Ana")
    assert (ana.open_now, ana.open_after) == (2, 0)
    assert [(p.label, p.now_leads, p.dry_leads, p.change) for p in report.places] == [
        ("Rule EMEA → pool EMEA AEs", 6, 0, -6),
        ("Rule EMEA → pool Overflow", 0, 6, 6),
    ]
    assert {c.lead_id for c in report.changed_sample} == {lead.pk for lead in items}
    assert {c.dry_run for c in report.changed_sample} == {"Dev"}
    assert {c.now for c in report.changed_sample} == {"Ana", "Ben", "Cleo"}
    assert {c.reason for c in report.changed_sample} == {
        "rule EMEA → pool Overflow → only eligible rep"
    }
    # Nothing written: no assignment, event, credit or clock, and the rule is as saved.
    assert (rows_written(), credits_and_clocks()) == before
    assert RoutingRule.objects.get(pk=world.emea_rule.pk).pool_id == world.emea_pool.pk


def test_a_full_rep_in_the_new_pool_sends_the_rest_to_the_fallback_and_counts_capacity() -> None:
    world, _ = emea_routed()
    world.dev.max_open_leads = 4
    world.dev.save(update_fields=["max_open_leads"])

    report = routing_dry_run(rules=emea_to_overflow(world), now=NOW)

    dev = next(row for row in report.reps if row.name == "Dev")
    assert (dev.dry_leads, dev.open_after, dev.max_open_leads) == (4, 4, 4)
    # The overflow pool is also the fallback: two leads wait for a manager.
    assert report.unassigned == 2
    assert report.moved == 6
    waiting = [c for c in report.changed_sample if c.dry_run == "Sales queue, no rep"]
    assert len(waiting) == 2
    assert all("1 at capacity" in c.reason for c in waiting)


def test_reps_exactly_at_capacity_keep_what_they_hold_under_the_saved_rules() -> None:
    full = {"max_open_leads": 2}
    world = build_world(ana=full, ben=full, cleo=full)
    route(*leads(6, world.account))

    report = routing_dry_run(now=NOW)

    assert (report.moved, report.unchanged, report.unassigned) == (0, 6, 0)
    assert {(row.name, row.open_after, row.max_open_leads) for row in report.reps} == {
        ("Ana", 2, 2),
        ("Ben", 2, 2),
        ("Cleo", 2, 2),
    }


def test_a_lead_a_manager_placed_by_hand_stays_with_that_rep() -> None:
    world, items = emea_routed(1)
    held = Assignment.objects.get(lead=items[0])
    assignment_reassign(assignment=held, to_rep=world.dev, reason="Knows them", now=NOW)

    report = routing_dry_run(now=NOW)

    assert (report.moved, report.unchanged) == (0, 1)
    assert [(p.label, p.now_leads, p.dry_leads) for p in report.places] == [
        ("Placed by a manager", 1, 1)
    ]


def test_a_lead_whose_rep_left_the_pool_would_move_back_into_it() -> None:
    world, items = emea_routed(1)
    world.emea_pool.reps.remove(world.ana)

    report = routing_dry_run(now=NOW)

    (change,) = report.changed_sample
    assert (change.lead_id, change.now, change.dry_run) == (items[0].pk, "Ana", "Ben")
    assert change.reason == "rule EMEA → pool EMEA AEs → weighted round-robin among 2 eligible reps"


def test_leads_not_routed_yet_are_newly_assigned_and_other_tiers_go_to_their_queues() -> None:
    world = build_world()
    fresh = qualified_lead(world.account)
    nurture = qualified_lead(world.account, Tier.NURTURE)

    report = routing_dry_run(now=NOW)

    assert (report.leads, report.newly_assigned, report.moved) == (2, 1, 1)
    assert {(c.lead_id, c.now, c.dry_run, c.newly_assigned) for c in report.changed_sample} == {
        (fresh.pk, "Not routed yet", "Ana", True),
        (nurture.pk, "Not routed yet", "Marketing nurture queue", False),
    }
    assert Assignment.objects.count() == 0


def test_only_the_last_n_qualified_leads_are_replayed() -> None:
    world, items = emea_routed()

    report = routing_dry_run(rules=emea_to_overflow(world), last_n=2, now=NOW)

    assert (report.last_n, report.leads, report.moved) == (2, 2, 2)
    assert {c.lead_id for c in report.changed_sample} == {items[-1].pk, items[-2].pk}


def test_an_inactive_edit_takes_the_rule_out_and_its_leads_go_to_the_fallback() -> None:
    world, _ = emea_routed(3)
    rules = [dataclasses.replace(spec, is_active=False) for spec in selectors.rule_specs()]

    report = routing_dry_run(rules=rules, now=NOW)

    assert report.moved == 3
    assert {c.reason for c in report.changed_sample} == {
        "no rule matched → fallback pool Overflow → only eligible rep"
    }
    assert world.dev.pk in {row.rep_id for row in report.reps}


def _queries_for_dry_run(rules: list[RuleSpec]) -> int:
    with CaptureQueriesContext(connection) as queries:
        routing_dry_run(rules=rules, now=NOW)
    return len(queries)


def test_the_dry_run_takes_the_same_number_of_queries_for_5_leads_as_for_50() -> None:
    world, _ = emea_routed(5)
    rules = emea_to_overflow(world)
    few = _queries_for_dry_run(rules)
    route(*leads(45, world.account))

    assert _queries_for_dry_run(rules) == few


@pytest.mark.parametrize("bad", [0, -1, MAX_LAST_N + 1, "50", 2.5, True])
def test_an_invalid_n_is_refused_with_the_allowed_range(bad: Any) -> None:
    with pytest.raises(DryRunError, match="last_n must be"):
        routing_dry_run(last_n=bad, now=NOW)


# --- the admin -----------------------------------------------------------------------------


def staff_with(*codenames: str) -> Client:
    user: User = UserFactory(username=f"staff-{'-'.join(codenames)}", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="routing", codename__in=codenames)
    )
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def rule_manager() -> Client:
    return staff_with("view_routingrule", "change_routingrule", "add_routingrule")


def rule_form(rule: RoutingRule, **changes: Any) -> dict[str, Any]:
    """The change form as the browser posts it, with `changes` on top."""
    data: dict[str, Any] = {
        "name": rule.name,
        "priority": str(rule.priority),
        "is_active": "on" if rule.is_active else "",
        "tiers": list(rule.tiers),
        "territory": str(rule.territory_id or ""),
        "industries": ", ".join(rule.industries),
        "min_employees": "",
        "max_employees": "",
        "min_deal_size": "",
        "lead_sources": "",
        "languages": "",
        "required_skill": "",
        "pool": str(rule.pool_id),
        "strategy": rule.strategy,
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def test_the_rule_form_has_the_dry_run_button(rule_manager: Client) -> None:
    world = build_world()

    for url in (rule_url(world.emea_rule), RULE_ADD):
        html = rule_manager.get(url).content.decode()
        assert 'name="_dry_run"' in html
        assert 'value="Dry run (don\'t save)"' in html
        assert 'name="dry_run_last_n"' in html


def test_dry_run_of_an_edited_rule_reports_the_moves_and_saves_nothing(
    rule_manager: Client,
) -> None:
    world, _ = emea_routed()
    before = (rows_written(), credits_and_clocks())

    response = rule_manager.post(
        rule_url(world.emea_rule),
        {
            **rule_form(world.emea_rule, pool=str(world.overflow.pk), name="EMEA to Dev"),
            "dry_run_last_n": "100",
            "_dry_run": "Dry run (don't save)",
        },
    )

    assert response.status_code == 200
    outcome = response.context["dry_run"]
    report = outcome["report"]
    assert (report.last_n, report.leads, report.moved) == (100, 6, 6)
    assert outcome["title"] == "Dry run of the rules with this rule"
    html = response.content.decode()
    assert "nothing was saved" in html
    assert "Rule EMEA to Dev → pool Overflow" in html
    assert "rule EMEA to Dev → pool Overflow → only eligible rep" in html
    assert ">+90,000<" in html  # Dev's change in expected value
    # The form is shown again with the edit, for Save.
    assert response.context["adminform"].form.cleaned_data["name"] == "EMEA to Dev"
    assert (rows_written(), credits_and_clocks()) == before
    rule = RoutingRule.objects.get(pk=world.emea_rule.pk)
    assert (rule.name, rule.pool_id) == ("EMEA", world.emea_pool.pk)


def test_dry_run_on_the_add_form_adds_the_rule_and_creates_nothing(rule_manager: Client) -> None:
    world, _ = emea_routed()

    response = rule_manager.post(
        RULE_ADD,
        {
            **rule_form(world.emea_rule, name="Everything to Dev", priority="1"),
            "territory": "",
            "pool": str(world.overflow.pk),
            "_dry_run": "Dry run",
        },
    )

    report = response.context["dry_run"]["report"]
    assert report.moved == 6
    assert {c.reason for c in report.changed_sample} == {
        "rule Everything to Dev → pool Overflow → only eligible rep"
    }
    assert "Rule Everything to Dev (new) → pool Overflow" in response.content.decode()
    assert RoutingRule.objects.count() == 1


def test_dry_run_of_an_invalid_form_shows_the_errors_and_runs_nothing(
    rule_manager: Client,
) -> None:
    world, _ = emea_routed()

    response = rule_manager.post(
        rule_url(world.emea_rule),
        {
            **rule_form(world.emea_rule, min_employees="500", max_employees="10", pool=""),
            "_dry_run": "Dry run",
        },
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors["max_employees"] == ["Must be at least the minimum."]
    assert "pool" in errors
    assert response.context["dry_run"] is None
    assert "errornote" in response.content.decode()


@pytest.mark.parametrize("last_n", ["0", "5001", "many"])
def test_dry_run_with_a_bad_n_says_why_and_runs_nothing(rule_manager: Client, last_n: str) -> None:
    world, _ = emea_routed()

    response = rule_manager.post(
        rule_url(world.emea_rule),
        {**rule_form(world.emea_rule), "dry_run_last_n": last_n, "_dry_run": "Dry run"},
    )

    assert response.status_code == 200
    assert "dry_run_last_n" in response.context["dry_run_size_form"].errors
    assert response.context["dry_run"]["error"].startswith("Leads: ")
    assert "report" not in response.context["dry_run"]


def test_a_user_who_may_only_view_rules_cannot_dry_run() -> None:
    world, _ = emea_routed()
    viewer = staff_with("view_routingrule")

    page = viewer.get(rule_url(world.emea_rule))
    posted = viewer.post(
        rule_url(world.emea_rule), {**rule_form(world.emea_rule), "_dry_run": "Dry run"}
    )

    assert page.status_code == 200
    assert 'name="_dry_run"' not in page.content.decode()
    assert posted.status_code == 403
    assert viewer.get(DRY_RUN_PAGE).status_code == 403
    assert "Dry run the current rules" not in viewer.get(RULES).content.decode()


def test_the_changelist_links_to_a_dry_run_of_the_current_rules(rule_manager: Client) -> None:
    world, _ = emea_routed()
    qualified_lead(world.account)  # not routed yet

    assert str(DRY_RUN_PAGE) in rule_manager.get(RULES).content.decode()
    response = rule_manager.get(DRY_RUN_PAGE, {"dry_run_last_n": "5"})

    assert response.status_code == 200
    report = response.context["dry_run"]["report"]
    assert (report.last_n, report.leads, report.newly_assigned, report.moved) == (5, 5, 1, 0)
    html = response.content.decode()
    assert "Dry run of the current rules · nothing was saved" in html
    assert 'value="5"' in html
    bad = rule_manager.get(DRY_RUN_PAGE, {"dry_run_last_n": "0"})
    assert bad.context["dry_run"]["error"].startswith("Leads: ")


def test_the_disable_action_dry_runs_without_the_selected_rules(rule_manager: Client) -> None:
    world, _ = emea_routed(3)

    response = rule_manager.post(
        RULES,
        {"action": "dry_run_disable", "_selected_action": [str(world.emea_rule.pk)]},
    )

    assert response.status_code == 200
    report = response.context["dry_run"]["report"]
    assert report.moved == 3
    assert {c.dry_run for c in report.changed_sample} == {"Dev"}
    assert RoutingRule.objects.get(pk=world.emea_rule.pk).is_active
