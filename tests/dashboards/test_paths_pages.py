"""The alternative paths' pages: a team's members see the leads waiting on their path with why
they are there, filter them, and mark them handled; managers and RevOps see every path; anyone
else gets 404. Each page is tested whole and as its HTMX fragment, and counted in queries."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Lead
from routing.models import (
    Assignment,
    AssignmentEvent,
    AssignmentEventKind,
    AssignmentStatus,
    PathDestination,
    PathDestinationKind,
    Queue,
    WebhookDelivery,
    WebhookDeliveryStatus,
)
from scoring.models import DisqualificationRule, Qualification, RuleAction, Tier
from tests.conftest import ROLE_SDR, user_in_role
from tests.dashboards.conftest import client_for
from tests.factories import AccountFactory, LeadFactory, UserFactory

pytestmark = pytest.mark.django_db

COMMUNITY = "/paths/community/"
HTMX = {"HX-Request": "true"}


def on_path(
    email: str,
    *,
    path: str = Queue.COMMUNITY,
    code: str = "student",
    evidence: str = "Academic email domain (mit.edu)",
    minutes_ago: int = 10,
    account: Any = None,
) -> Assignment:
    """A lead a rule sent to a path, with the rule's hit in its brief."""
    rule, _ = DisqualificationRule.objects.get_or_create(
        reason_code=code,
        defaults={"name": code.replace("_", " ").title() + " rule", "category": "student",
                  "action": RuleAction.ROUTE_COMMUNITY},
    )  # fmt: skip
    lead: Lead = LeadFactory(email=email, name=email.split("@")[0].title(), account=account)
    Qualification.objects.create(
        lead=lead,
        tier=Tier.DISQUALIFY,
        confidence="high",
        disqualification_reason=code,
        brief={"tier": "disqualify", "rule_hits": [
            {"reason_code": code, "category": rule.category, "rule": rule.name,
             "action": rule.action, "needs_review": False, "evidence": evidence}]},
    )  # fmt: skip
    assignment: Assignment = Assignment.objects.create(
        lead=lead,
        queue=path,
        tier=Tier.DISQUALIFY,
        reason=f"rule {code} → {path}",
        reason_code=code,
        assigned_at=timezone.now() - timedelta(minutes=minutes_ago),
    )
    return assignment


def community_team(*members: User) -> PathDestination:
    destination: PathDestination = PathDestination.objects.create(
        path=Queue.COMMUNITY, kind=PathDestinationKind.TEAM
    )
    destination.members.set(members)
    return destination


@pytest.fixture
def ana() -> User:
    user: User = UserFactory(username="ana", first_name="Ana", last_name="Ruiz")
    return user


@pytest.fixture
def member(ana: User) -> Client:
    community_team(ana)
    return client_for(ana)


def emails(response: Any) -> list[str]:
    return re.findall(r'<span class="row-hint">(?:[^<]* · )?([^<]+@[^<]+)</span>',
                      response.content.decode())  # fmt: skip


# --- what a member sees ----------------------------------------------------------------------


def test_a_member_sees_the_leads_waiting_on_the_path_newest_first_with_the_rule_and_evidence(
    member: Client,
) -> None:
    on_path("old@mit.edu", minutes_ago=90)
    on_path("new@uni.ac.uk", minutes_ago=5, evidence="Academic email domain (uni.ac.uk)")
    on_path("support@acme.com", path=Queue.SUPPORT, code="support_need")

    response = member.get(COMMUNITY)

    assert response.status_code == 200
    assert emails(response) == ["new@uni.ac.uk", "old@mit.edu"]
    html = response.content.decode()
    assert "Held by the community team: Ana Ruiz." in html
    assert "Student rule" in html and '<code class="small">student</code>' in html
    assert "Academic email domain (uni.ac.uk)" in html
    assert "rule student → community" in html
    assert 'hx-trigger="every 30s"' in html
    assert "HX-Request" in response["Vary"]
    # One click to the brief, with a real href for readers without JavaScript.
    lead_id = response.context["page"].rows[0].lead_id
    assert f'href="/leads/{lead_id}/"' in html


def test_a_member_is_not_linked_to_account_pages_they_may_not_open(
    member: Client, demo_users: dict[str, User]
) -> None:
    account = AccountFactory(name="State University")
    on_path("amy@state.edu", account=account)

    assert f'href="/accounts/{account.pk}/"' not in member.get(COMMUNITY).content.decode()
    assert member.get(f"/accounts/{account.pk}/").status_code == 404
    manager_page = client_for(demo_users["manager"]).get(COMMUNITY).content.decode()
    assert f'href="/accounts/{account.pk}/"' in manager_page


def test_the_htmx_request_gets_the_results_fragment_only(member: Client) -> None:
    on_path("amy@mit.edu")

    response = member.get(COMMUNITY, {"q": "amy"}, headers=HTMX)

    html = response.content.decode()
    assert html.lstrip().startswith('<section id="path-results"')
    assert "<html" not in html and "filter-bar" not in html
    assert emails(response) == ["amy@mit.edu"]


def test_the_filters_search_pick_a_rule_and_show_handled_leads(member: Client, ana: User) -> None:
    on_path("amy@mit.edu", code="student")
    on_path("bo@acme.com", code="researcher", account=AccountFactory(name="Lab Co"))
    handled = on_path("cy@mit.edu", code="student")
    Assignment.objects.filter(pk=handled.pk).update(
        status=AssignmentStatus.ACCEPTED, accepted_by=ana, accepted_at=timezone.now()
    )

    assert emails(member.get(COMMUNITY, {"q": "lab co"})) == ["bo@acme.com"]
    assert emails(member.get(COMMUNITY, {"reason": "researcher"})) == ["bo@acme.com"]
    shown = member.get(COMMUNITY, {"state": "handled"})
    assert emails(shown) == ["cy@mit.edu"]
    assert "Handled by Ana Ruiz" in shown.content.decode()
    assert sorted(emails(member.get(COMMUNITY, {"state": "all"}))) == [
        "amy@mit.edu",
        "bo@acme.com",
        "cy@mit.edu",
    ]
    assert emails(member.get(COMMUNITY, {"sort": "oldest"}))[0] == "amy@mit.edu"


def test_a_bad_filter_is_reported_and_left_off(member: Client) -> None:
    on_path("amy@mit.edu")

    response = member.get(COMMUNITY, {"reason": "no-such-rule", "state": "sideways"})

    assert response.status_code == 200
    html = response.content.decode()
    assert "Why here: Select a valid choice." in html and "The filter was left off." in html
    assert emails(response) == ["amy@mit.edu"]


def test_an_empty_path_says_how_leads_arrive(member: Client) -> None:
    html = member.get(COMMUNITY).content.decode()

    assert "Nothing waiting: leads appear here as routing sends them to the community path." in html


# --- marking a lead handled --------------------------------------------------------------------


def test_a_member_marks_a_lead_handled_and_htmx_swaps_in_the_row(member: Client, ana: User) -> None:
    assignment = on_path("amy@mit.edu")

    response = member.post(f"{COMMUNITY}{assignment.pk}/handled/", headers=HTMX)

    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith(
        f'<tr class="queue-row path-row path-row-handled" id="path-row-{assignment.pk}"'
    )
    assert "Handled by Ana Ruiz" in html and "Mark handled" not in html
    assignment.refresh_from_db()
    assert (assignment.status, assignment.accepted_by_id) == (AssignmentStatus.ACCEPTED, ana.pk)
    assert AssignmentEvent.objects.filter(
        assignment=assignment, kind=AssignmentEventKind.HANDLED, by_user=ana
    ).exists()


def test_without_javascript_handled_redirects_back_with_the_filters(member: Client) -> None:
    assignment = on_path("amy@mit.edu")
    back = f"{COMMUNITY}?q=amy"

    response = member.post(f"{COMMUNITY}{assignment.pk}/handled/", {"next": back})

    assert (response.status_code, response["Location"]) == (302, back)
    followed = member.get(back)
    assert "Marked handled" in followed.content.decode()


def test_handled_never_redirects_off_the_site(member: Client) -> None:
    assignment = on_path("amy@mit.edu")

    response = member.post(
        f"{COMMUNITY}{assignment.pk}/handled/", {"next": "https://evil.example.com/"}
    )

    assert response["Location"] == COMMUNITY


def test_handling_a_lead_twice_says_who_handled_it(member: Client, ana: User) -> None:
    assignment = on_path("amy@mit.edu")
    member.post(f"{COMMUNITY}{assignment.pk}/handled/", headers=HTMX)

    response = member.post(f"{COMMUNITY}{assignment.pk}/handled/", headers=HTMX)

    assert "Already handled by Ana Ruiz." in response.content.decode()


def test_a_lead_on_another_path_cannot_be_handled_from_this_one(member: Client) -> None:
    elsewhere = on_path("help@acme.com", path=Queue.SUPPORT)

    response = member.post(f"{COMMUNITY}{elsewhere.pk}/handled/")

    assert response.status_code == 404
    elsewhere.refresh_from_db()
    assert elsewhere.status == AssignmentStatus.OPEN


# --- who may see which path --------------------------------------------------------------------


def test_managers_and_revops_see_every_path_and_only_managers_may_handle(
    demo_users: dict[str, User],
) -> None:
    assignment = on_path("amy@mit.edu")
    manager, revops = client_for(demo_users["manager"]), client_for(demo_users["revops"])

    for path in ("success", "support", "community", "nurture", "low_priority"):
        assert manager.get(f"/paths/{path}/").status_code == 200, path
        assert revops.get(f"/paths/{path}/").status_code == 200, path
    index = manager.get("/paths/").content.decode()
    assert "Held by no one yet: its leads wait in the community queue, unowned." in index
    revops_page = revops.get(COMMUNITY).content.decode()
    assert "Read-only for you." in revops_page and "Mark handled" not in revops_page
    assert revops.post(f"{COMMUNITY}{assignment.pk}/handled/").status_code == 404
    assert "Mark handled" in manager.get(COMMUNITY).content.decode()
    assert manager.post(f"{COMMUNITY}{assignment.pk}/handled/").status_code == 302


def test_others_get_404_for_every_path_and_the_index(
    demo_users: dict[str, User], ana: User
) -> None:
    community_team(ana)
    assignment = on_path("amy@mit.edu")
    sdr = client_for(demo_users["sdr"])
    outsider = client_for(UserFactory(username="outsider"))
    support_member = client_for(ana)

    for client in (sdr, outsider):
        assert client.get(COMMUNITY).status_code == 404
        assert client.get(COMMUNITY, headers=HTMX).status_code == 404
        assert client.get("/paths/").status_code == 404
        assert client.post(f"{COMMUNITY}{assignment.pk}/handled/").status_code == 404
    # A member of one path does not see another.
    assert support_member.get("/paths/support/").status_code == 404
    assert support_member.get("/paths/review/").status_code == 404
    assert support_member.get("/paths/sales/").status_code == 404


def test_anonymous_visitors_are_sent_to_log_in(client: Client) -> None:
    response = client.get(COMMUNITY)

    assert response.status_code == 302 and "/login" in response["Location"]


def test_members_find_their_path_in_the_navigation_and_managers_find_all_paths(
    demo_users: dict[str, User], ana: User
) -> None:
    community_team(ana)

    member_nav = client_for(ana).get("/").content.decode()
    manager_nav = client_for(demo_users["manager"]).get("/").content.decode()
    sdr_nav = client_for(demo_users["sdr"]).get("/").content.decode()

    assert f'href="{COMMUNITY}">Community</a>' in member_nav
    assert 'href="/paths/">Paths</a>' in manager_nav
    assert "/paths/" not in sdr_nav


# --- queries --------------------------------------------------------------------------------


def _queries(client: Client, **headers: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(COMMUNITY, headers=headers)
    assert response.status_code == 200
    return len(captured)


def test_the_path_page_and_its_fragment_take_the_same_queries_for_2_leads_as_for_30(
    member: Client,
) -> None:
    for i in range(2):
        on_path(f"s{i}@mit.edu", account=AccountFactory())
    member.get(COMMUNITY)  # warm the session and the content types
    small, small_fragment = _queries(member), _queries(member, **HTMX)

    for i in range(2, 30):
        on_path(f"s{i}@mit.edu", account=AccountFactory(), code=f"rule-{i % 4}")
    large, large_fragment = _queries(member), _queries(member, **HTMX)

    assert (large, large_fragment) == (small, small_fragment)
    # session, user, nav, the destination and its members, reasons (2), counts, page, rule hits
    assert large <= 10


# --- the brief says which path and who holds it ------------------------------------------------


def test_the_brief_s_handoff_panel_says_the_path_and_who_holds_it(
    member: Client, ana: User
) -> None:
    assignment = on_path("amy@mit.edu")
    brief = f"/leads/{assignment.lead_id}/"

    html = member.get(brief).content.decode()
    assert "Community, held by the community team: Ana Ruiz" in html
    assert f'href="{COMMUNITY}">the path' in html

    member.post(f"{COMMUNITY}{assignment.pk}/handled/")
    html = member.get(brief).content.decode()
    assert "; handled by Ana Ruiz" in html


def test_the_brief_of_a_webhook_path_lead_says_where_its_delivery_stands(
    demo_users: dict[str, User],
) -> None:
    PathDestination.objects.create(
        path=Queue.SUCCESS,
        kind=PathDestinationKind.WEBHOOK,
        webhook_url="https://hooks.example.com/leadqual",
    )
    assignment = on_path("help@acme.com", path=Queue.SUCCESS, code="support_need")
    WebhookDelivery.objects.create(
        assignment=assignment, path=Queue.SUCCESS, status=WebhookDeliveryStatus.RETRYING
    )

    html = client_for(demo_users["manager"]).get(f"/leads/{assignment.lead_id}/").content.decode()

    assert (
        "Customer success, held by the webhook at hooks.example.com (webhook: waiting to retry)"
        in html
    )


def test_a_sales_lead_s_brief_names_no_path(demo_users: dict[str, User]) -> None:
    lead: Lead = LeadFactory(email="buyer@acme.com")
    Qualification.objects.create(lead=lead, tier=Tier.SALES_READY, confidence="high")
    Assignment.objects.create(lead=lead, queue=Queue.SALES, tier=Tier.SALES_READY, reason="x")

    html = client_for(demo_users["manager"]).get(f"/leads/{lead.pk}/").content.decode()

    assert "handoff-path" not in html


def test_a_member_may_open_the_brief_of_a_lead_on_their_path_and_no_other(
    member: Client,
) -> None:
    mine = on_path("amy@mit.edu")
    theirs = on_path("help@acme.com", path=Queue.SUPPORT)
    sdr = user_in_role(ROLE_SDR, username="sdr-x")

    assert member.get(f"/leads/{mine.lead_id}/").status_code == 200
    assert member.get(f"/leads/{theirs.lead_id}/").status_code == 404
    assert client_for(sdr).get(f"/leads/{mine.lead_id}/").status_code == 404
