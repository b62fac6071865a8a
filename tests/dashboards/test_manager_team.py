"""The sales manager's team page: load against capacity, SLA breaches, assignments by rule;
as a full page and as each HTMX fragment, who may see it, and its query count."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Account, Lead
from routing.models import (
    Assignment,
    AssignmentStatus,
    RoutingPool,
    RoutingRule,
    RoutingSettings,
    SalesRep,
)
from routing.selectors import start_of_day
from scoring.models import Tier
from tests.dashboards.conftest import client_for

TEAM = "/team/"
HTMX = {"HX-Request": "true"}


def rep_named(username: str, **fields: object) -> SalesRep:
    first, last = username.split(".")
    user = User.objects.create_user(
        username=username, first_name=first.title(), last_name=last.title()
    )
    return SalesRep.objects.create(user=user, **fields)


_lead_seq = iter(range(10**6))


def assign(
    rep: SalesRep | None,
    *,
    status: str = AssignmentStatus.OPEN,
    due_in: timedelta | None = timedelta(hours=2),
    assigned_ago: timedelta | None = None,
    rule: RoutingRule | None = None,
    touched: bool = False,
) -> Assignment:
    n = next(_lead_seq)
    account, _ = Account.objects.get_or_create(domain="acme.com", defaults={"name": "Acme"})
    lead = Lead.objects.create(account=account, email=f"lead{n}@acme.com", name=f"Lead {n}")
    now = timezone.now()
    if assigned_ago is None:
        # Earlier today, wherever the clock is: an hour ago is yesterday just after midnight.
        since_midnight = now - start_of_day(now, RoutingSettings.load().business_hours())
        assigned_ago = min(timedelta(hours=1), since_midnight / 2)
    return Assignment.objects.create(
        lead=lead,
        rep=rep,
        tier=Tier.SALES_READY,
        reason="test",
        rule=rule,
        status=status,
        assigned_at=now - assigned_ago,
        sla_due_at=now + due_in if due_in is not None else None,
        first_touch_at=now if touched else None,
    )


def test_the_url_is_named_in_the_dashboards_namespace() -> None:
    assert reverse("dashboards:team") == TEAM
    assert reverse("dashboards:assignment_reassign", args=[7]) == "/assignments/7/reassign/"


@pytest.mark.django_db
def test_each_reps_open_and_todays_leads_are_shown_against_their_caps(
    demo_users: dict[str, User],
) -> None:
    maria = rep_named("maria.garcia", max_open_leads=3, max_leads_per_day=10, team="EMEA")
    tom = rep_named("tom.becker", max_open_leads=50, max_leads_per_day=2)
    for _ in range(3):
        assign(maria)
    assign(maria, status=AssignmentStatus.CLOSED, assigned_ago=timedelta(days=3))  # not counted
    assign(tom, status=AssignmentStatus.ACCEPTED)  # accepted still counts as open load
    assign(tom, assigned_ago=timedelta(days=2))  # open, but not today's

    response = client_for(demo_users["manager"]).get(TEAM)

    assert response.status_code == 200
    loads = {rep.name: rep for rep in response.context["load"].reps}
    assert (loads["Maria Garcia"].open_leads, loads["Maria Garcia"].assigned_today) == (3, 3)
    assert loads["Maria Garcia"].at_open_capacity
    assert (loads["Tom Becker"].open_leads, loads["Tom Becker"].assigned_today) == (2, 1)
    # The fullest rep comes first.
    assert response.context["load"].reps[0].name == "Maria Garcia"
    html = response.content.decode()
    assert "3 / 3" in html and "2 / 50" in html and "1 / 2" in html
    assert "At capacity" in html
    assert "css/manager.css" in html


@pytest.mark.django_db
def test_out_of_office_and_inactive_reps_are_marked(demo_users: dict[str, User]) -> None:
    now = timezone.now()
    rep_named(
        "claire.dubois",
        out_of_office_from=now - timedelta(days=1),
        out_of_office_until=now + timedelta(days=3),
    )
    rep_named("sofia.rossi", is_active=False)

    response = client_for(demo_users["manager"]).get(TEAM)

    loads = {rep.name: rep for rep in response.context["load"].reps}
    assert loads["Claire Dubois"].out_of_office and not loads["Claire Dubois"].is_available
    assert not loads["Sofia Rossi"].is_active
    assert response.context["load"].away == 1
    html = response.content.decode()
    assert "Out of office until" in html
    assert "Inactive" in html
    # The inactive rep is no target for a reassignment; the absent one is, marked as such.
    targets = [rep.name for rep in response.context["load"].targets]
    assert "Sofia Rossi" not in targets and "Claire Dubois" in targets


@pytest.mark.django_db
def test_only_open_untouched_assignments_past_their_deadline_are_breaches(
    demo_users: dict[str, User],
) -> None:
    maria = rep_named("maria.garcia")
    late = assign(maria, due_in=-timedelta(hours=3))
    later = assign(maria, due_in=-timedelta(hours=1))
    assign(maria, due_in=timedelta(hours=1))  # not due yet
    assign(maria, due_in=-timedelta(hours=5), touched=True)  # touched in the end
    assign(maria, due_in=-timedelta(hours=5), status=AssignmentStatus.ACCEPTED)
    assign(maria, due_in=None)  # no deadline
    queue_breach = assign(None, due_in=-timedelta(minutes=30))

    response = client_for(demo_users["manager"]).get(TEAM)

    breaches = response.context["breaches"]
    assert breaches.total == 3
    assert [b.assignment_id for b in breaches.items] == [late.pk, later.pk, queue_breach.pk]
    overdue = {rep.name: rep.overdue for rep in response.context["load"].reps}
    assert overdue == {"Maria Garcia": 2, "Sam Rivera": 0}
    html = response.content.decode()
    assert f'id="assignment-{late.pk}"' in html
    assert "3 past SLA" in html
    assert f'action="/assignments/{late.pk}/reassign/"' in html


@pytest.mark.django_db
def test_the_breach_list_is_bounded_and_says_how_many_more(
    demo_users: dict[str, User], monkeypatch: pytest.MonkeyPatch
) -> None:
    from dashboards.selectors import manager as selectors

    monkeypatch.setattr(selectors.sla_breaches, "__kwdefaults__", {"now": None, "limit": 2})
    maria = rep_named("maria.garcia")
    for hours in (1, 2, 3):
        assign(maria, due_in=-timedelta(hours=hours))

    html = client_for(demo_users["manager"]).get(TEAM).content.decode()

    assert "Showing the 2 longest overdue of 3." in html


@pytest.mark.django_db
def test_assignments_are_counted_per_rule_over_the_chosen_period(
    demo_users: dict[str, User],
) -> None:
    pool = RoutingPool.objects.create(name="EMEA pool")
    emea = RoutingRule.objects.create(name="EMEA", priority=10, pool=pool)
    quiet = RoutingRule.objects.create(name="Quiet", priority=20, pool=pool, is_active=False)
    maria = rep_named("maria.garcia")
    assign(maria, rule=emea)
    assign(maria, rule=emea, status=AssignmentStatus.ACCEPTED)
    assign(maria, rule=emea, assigned_ago=timedelta(days=20))  # outside the week
    assign(maria, rule=None)
    client = client_for(demo_users["manager"])

    week = client.get(TEAM).context["by_rule"]
    month = client.get(TEAM, {"days": "30"}).context["by_rule"]

    assert week.days == 7
    by_name = {row.name: row for row in week.rows}
    assert (by_name["EMEA"].assigned, by_name["EMEA"].open, by_name["EMEA"].accepted) == (2, 1, 1)
    assert by_name["Quiet"].assigned == 0 and not by_name["Quiet"].is_active
    assert by_name["No rule"].assigned == 1
    assert [row.rule_id for row in week.rows] == [emea.pk, quiet.pk, None]
    assert week.total == 3 and by_name["EMEA"].percent == pytest.approx(66.7)
    assert {row.name: row.assigned for row in month.rows}["EMEA"] == 3


@pytest.mark.django_db
def test_a_period_that_is_not_offered_is_refused_with_a_message(
    demo_users: dict[str, User],
) -> None:
    response = client_for(demo_users["manager"]).get(TEAM, {"days": "400"})

    assert response.status_code == 200
    assert response.context["by_rule"].days == 7
    html = response.content.decode()
    assert "Select a valid choice" in html and "Showing the last 7 days" in html


# --- HTMX fragments ---------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("target", "present", "absent"),
    [
        ("rep-load", 'id="rep-load"', ['id="sla-breaches"', 'id="by-rule"']),
        ("sla-breaches", 'id="sla-breaches"', ['id="rep-load"', 'id="by-rule"']),
        ("by-rule", 'id="by-rule"', ['id="rep-load"', 'id="sla-breaches"']),
        ("", 'id="team-body"', []),
    ],
)
def test_an_htmx_request_gets_only_the_fragment_it_targets(
    demo_users: dict[str, User], target: str, present: str, absent: list[str]
) -> None:
    maria = rep_named("maria.garcia")
    assign(maria, due_in=-timedelta(hours=1))
    headers = {**HTMX, "HX-Target": target} if target else HTMX

    response = client_for(demo_users["manager"]).get(TEAM, headers=headers)

    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html and "site-header" not in html
    assert present in html
    for fragment in absent:
        assert fragment not in html
    assert "HX-Request" in response["Vary"] and "HX-Target" in response["Vary"]


@pytest.mark.django_db
def test_the_full_page_and_its_fragments_carry_the_same_panels(
    demo_users: dict[str, User],
) -> None:
    maria = rep_named("maria.garcia")
    assign(maria, due_in=-timedelta(hours=1))
    client = client_for(demo_users["manager"])

    page = client.get(TEAM).content.decode()
    body = client.get(TEAM, headers=HTMX).content.decode()

    assert "<html" in page and 'id="team-body"' in page
    for panel in ('id="rep-load"', 'id="sla-breaches"', 'id="by-rule"'):
        assert panel in page and panel in body


@pytest.mark.django_db
def test_links_that_htmx_follows_keep_a_plain_url_for_readers_without_javascript(
    demo_users: dict[str, User],
) -> None:
    html = client_for(demo_users["manager"]).get(TEAM).content.decode()

    # The period form works as a plain GET form; the polling panels are plain sections.
    assert '<form method="get" action="/team/"' in html
    assert 'hx-get="/team/"' in html


@pytest.mark.django_db
def test_the_by_rule_fragment_only_queries_what_it_shows(demo_users: dict[str, User]) -> None:
    client = client_for(demo_users["manager"])
    client.get(TEAM)  # warm the session and the permission caches' tables

    with CaptureQueriesContext(connection) as fragment:
        client.get(TEAM, {"days": "30"}, headers={**HTMX, "HX-Target": "by-rule"})
    with CaptureQueriesContext(connection) as page:
        client.get(TEAM, {"days": "30"})

    assert len(fragment) < len(page)
    assert not any("routing_salesrep" in q["sql"] for q in fragment.captured_queries)


# --- access -------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("username", ["manager", "admin", "revops"])
def test_managers_superusers_and_revops_open_the_team_page(
    demo_users: dict[str, User], username: str
) -> None:
    assert client_for(demo_users[username]).get(TEAM).status_code == 200


@pytest.mark.django_db
def test_revops_sees_the_team_read_only(demo_users: dict[str, User]) -> None:
    maria = rep_named("maria.garcia")
    assign(maria, due_in=-timedelta(hours=1))

    html = client_for(demo_users["revops"]).get(TEAM).content.decode()

    assert "Past their SLA" in html
    assert "Read-only" in html
    assert "reassign-form" not in html and "/reassign/" not in html


@pytest.mark.django_db
def test_sdrs_are_refused_the_team_page_and_its_fragments(demo_users: dict[str, User]) -> None:
    client = client_for(demo_users["sdr"])

    assert client.get(TEAM).status_code == 403
    assert client.get(TEAM, headers={**HTMX, "HX-Target": "rep-load"}).status_code == 403


@pytest.mark.django_db
def test_a_user_without_a_role_is_refused(db: None) -> None:
    user = User.objects.create_user(username="nobody")

    assert client_for(user).get(TEAM).status_code == 403


@pytest.mark.django_db
def test_anonymous_visitors_are_sent_to_log_in(client: Client) -> None:
    response = client.get(TEAM)

    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


# --- query count ----------------------------------------------------------------------------


def _queries(client: Client, headers: dict[str, str] | None = None) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(TEAM, headers=headers)
    assert response.status_code == 200
    return len(captured)


@pytest.mark.django_db
@pytest.mark.parametrize("username", ["manager", "revops", "admin"])
def test_the_team_page_queries_do_not_grow_with_reps_rules_and_assignments(
    demo_users: dict[str, User], username: str
) -> None:
    client = client_for(demo_users[username])
    pool = RoutingPool.objects.create(name="Pool")
    first = rep_named("maria.garcia")
    assign(first, due_in=-timedelta(hours=1), rule=RoutingRule.objects.create(name="A", pool=pool))
    client.get(TEAM)
    small = _queries(client)
    small_body = _queries(client, HTMX)

    for i in range(6):
        rep = rep_named(f"rep.number{i}")
        rule = RoutingRule.objects.create(name=f"Rule {i}", pool=pool)
        for hours in (1, 2, -3):
            assign(rep, due_in=-timedelta(hours=hours), rule=rule)

    assert _queries(client) == small
    assert _queries(client, HTMX) == small_body
    # Session, user, permissions, navigation, then a handful per panel.
    assert small <= 14
