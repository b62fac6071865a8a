from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from routing.models import AssignmentStatus, Queue
from tests.conftest import ROLE_SDR, user_in_role
from tests.dashboards.sdr_world import assigned_lead, open_assignment
from tests.factories import AccountFactory, AssignmentFactory, LeadFactory, SalesRepFactory

QUEUE = "/queue/"

pytestmark = pytest.mark.django_db


def _emails(response: Any) -> list[str]:
    """The leads' emails in the order the page shows them (a partial has no test context)."""
    return re.findall(r'<span class="row-hint">(?:[^<]* · )?([^<]+@[^<]+)</span>',
                      response.content.decode())  # fmt: skip


def _other_rep() -> Any:
    return SalesRepFactory(user=user_in_role(ROLE_SDR, username="other-sdr"))


def test_the_queue_lists_my_open_sales_leads_by_expected_value(
    sdr_client: Client, sdr_user: User
) -> None:
    rep = sdr_user.sales_rep
    assigned_lead(rep=rep, email="low@acme.com", expected_value=1_000, probability=0.9)
    assigned_lead(rep=rep, email="high@acme.com", expected_value=90_000, probability=0.4)
    assigned_lead(rep=rep, email="mid@acme.com", expected_value=20_000, probability=0.6)
    # Not in my queue: another rep's lead, a closed assignment of mine, a nurture queue item.
    assigned_lead(rep=_other_rep(), email="theirs@acme.com", expected_value=99_000)
    done = assigned_lead(rep=rep, email="done@acme.com")
    assignment = open_assignment(done)
    assignment.status = AssignmentStatus.CLOSED
    assignment.save(update_fields=["status"])
    AssignmentFactory(lead=LeadFactory(email="nurture@acme.com"), rep=rep, queue=Queue.NURTURE)

    response = sdr_client.get(QUEUE)

    assert response.status_code == 200
    assert _emails(response) == ["high@acme.com", "mid@acme.com", "low@acme.com"]
    html = response.content.decode()
    assert "My queue" in html
    assert 'hx-trigger="every 30s"' in html
    assert "theirs@acme.com" not in html
    # One click to the brief, with a real href for readers without JavaScript.
    lead_id = response.context["page"].rows[0].lead_id
    assert f'href="/leads/{lead_id}/"' in html
    assert "HX-Request" in response["Vary"]


def test_the_queue_as_an_htmx_partial_is_only_the_results(
    sdr_client: Client, sdr_user: User
) -> None:
    assigned_lead(rep=sdr_user.sales_rep, email="ana@acme.com")

    response = sdr_client.get(QUEUE, HTTP_HX_REQUEST="true")

    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<section id="queue-results"')
    assert "<html" not in html and "filter-bar" not in html
    assert "ana@acme.com" in html
    assert "HX-Request" in response["Vary"]


def test_search_matches_name_email_and_company(sdr_client: Client, sdr_user: User) -> None:
    rep = sdr_user.sales_rep
    assigned_lead(rep=rep, email="ana@northwind.com", name="Ana Ruiz")
    assigned_lead(rep=rep, email="bo@acme.com", account=AccountFactory(name="Globex"))
    assigned_lead(rep=rep, email="cy@acme.com", name="Cy")

    assert _emails(sdr_client.get(QUEUE, {"q": "ruiz"})) == ["ana@northwind.com"]
    assert _emails(sdr_client.get(QUEUE, {"q": "GLOBEX"})) == ["bo@acme.com"]
    assert _emails(sdr_client.get(QUEUE, {"q": "cy@"})) == ["cy@acme.com"]


def test_sla_and_account_filters(sdr_client: Client, sdr_user: User) -> None:
    rep = sdr_user.sales_rep
    now = timezone.now()
    acme = AccountFactory(name="Acme")
    assigned_lead(rep=rep, email="late@x.com", sla_due_at=now - timedelta(minutes=5))
    assigned_lead(rep=rep, email="soon@x.com", sla_due_at=now + timedelta(minutes=20), account=acme)
    assigned_lead(rep=rep, email="later@x.com", sla_due_at=now + timedelta(hours=6), account=acme)

    overdue = sdr_client.get(QUEUE, {"sla": "overdue"})
    assert _emails(overdue) == ["late@x.com"]
    page = overdue.context["page"]
    assert (page.total, page.overdue, page.due_soon) == (1, 1, 1)
    assert _emails(sdr_client.get(QUEUE, {"sla": "due_soon"})) == ["soon@x.com"]
    by_account = sdr_client.get(QUEUE, {"account": acme.pk, "sort": "sla"})
    assert _emails(by_account) == ["soon@x.com", "later@x.com"]


def test_a_bad_filter_value_is_reported_and_left_off(sdr_client: Client, sdr_user: User) -> None:
    assigned_lead(rep=sdr_user.sales_rep, email="ana@acme.com")

    response = sdr_client.get(QUEUE, {"sla": "yesterday", "account": "abc"})

    assert response.status_code == 200
    assert _emails(response) == ["ana@acme.com"]
    html = response.content.decode()
    assert "The filter was left off." in html


def test_the_queue_pages_and_keeps_filters_in_the_page_links(
    sdr_client: Client, sdr_user: User
) -> None:
    rep = sdr_user.sales_rep
    for i in range(27):
        assigned_lead(rep=rep, email=f"p{i:02d}@acme.com", expected_value=1000 + i)

    first = sdr_client.get(QUEUE, {"q": "acme"})
    second = sdr_client.get(QUEUE, {"q": "acme", "page": "2"}, HTTP_HX_REQUEST="true")

    assert len(_emails(first)) == 25 and first.context["page"].pages == 2
    assert _emails(second) == ["p01@acme.com", "p00@acme.com"]
    assert "?q=acme&amp;page=2" in first.content.decode()
    # A page past the end shows the last page rather than an error.
    assert _emails(sdr_client.get(QUEUE, {"page": 99})) == ["p01@acme.com", "p00@acme.com"]


def test_an_sdr_cannot_look_at_another_reps_queue(sdr_client: Client, sdr_user: User) -> None:
    other = _other_rep()
    assigned_lead(rep=other, email="theirs@acme.com")
    assigned_lead(rep=sdr_user.sales_rep, email="mine@acme.com")

    response = sdr_client.get(QUEUE, {"rep": other.pk})

    assert _emails(response) == ["mine@acme.com"]
    assert 'name="rep"' not in response.content.decode()


def test_a_manager_sees_every_reps_queue_or_picks_one(
    manager_client: Client, sdr_user: User
) -> None:
    other = _other_rep()
    assigned_lead(rep=other, email="theirs@acme.com", expected_value=5)
    assigned_lead(rep=sdr_user.sales_rep, email="sams@acme.com", expected_value=10)

    everyone = manager_client.get(QUEUE)
    one = manager_client.get(QUEUE, {"rep": other.pk})

    assert _emails(everyone) == ["sams@acme.com", "theirs@acme.com"]
    assert "All reps\u2019 queues" in everyone.content.decode()
    assert _emails(one) == ["theirs@acme.com"]
    assert manager_client.get(QUEUE, {"rep": 999_999}).status_code == 404


def test_an_sdr_without_a_rep_profile_is_told_how_to_get_one(db: None) -> None:
    client = Client()
    client.force_login(user_in_role(ROLE_SDR, username="new-sdr"))

    response = client.get(QUEUE)

    assert response.status_code == 200
    assert "No queue yet" in response.content.decode()


def test_the_queue_reads_in_a_fixed_number_of_queries(
    sdr_client: Client, sdr_user: User, django_assert_max_num_queries: Any
) -> None:
    rep = sdr_user.sales_rep
    for i in range(12):
        assigned_lead(rep=rep, email=f"q{i}@acme.com", account=AccountFactory())
    sdr_client.get(QUEUE)  # warm the session and the content types

    # session, user, groups (nav), rep, account choices, counts, page; the page's handoff
    # packages in one batch (leads, qualifications, stakeholders, activity, events, intent,
    # assignments)
    with django_assert_max_num_queries(15):
        response = sdr_client.get(QUEUE, {"q": "acme"})
    assert len(_emails(response)) == 12
    with django_assert_max_num_queries(15):
        sdr_client.get(QUEUE, HTTP_HX_REQUEST="true")


def test_post_is_not_allowed(sdr_client: Client) -> None:
    assert sdr_client.post(QUEUE).status_code == 405


def test_anonymous_users_are_sent_to_log_in(client: Client) -> None:
    response = client.get(QUEUE)
    assert response.status_code == 302 and "/login" in response["Location"]


def test_each_row_shows_its_next_step_and_most_urgent_alert_and_the_sla_once(
    sdr_client: Client, sdr_user: User
) -> None:
    from accounts.models import FormType, TouchpointKind
    from routing.handoff import ALERT_SLA
    from routing.handoff_service import handoff_for_lead
    from routing.next_step import next_step
    from tests.factories import TouchpointFactory

    lead = assigned_lead(rep=sdr_user.sales_rep, email="demo@acme.com")
    TouchpointFactory(
        lead=lead,
        kind=TouchpointKind.FORM_SUBMIT,
        form_type=FormType.DEMO_REQUEST,
        occurred_at=timezone.now() - timedelta(minutes=10),
    )
    package = handoff_for_lead(lead_id=lead.pk)
    assert package.alerts, "a fresh demo request raises an urgency alert"
    assert any(a.kind == ALERT_SLA for a in package.alerts), "the assignment has an SLA clock"

    html = sdr_client.get(QUEUE).content.decode()

    step = next_step(package)
    assert step.do.startswith("Call within the hour: they requested a demo")
    assert f"Next step:</span> {step.do}" in html
    # The routing instruction is not the rep's next step.
    assert package.approach.action not in html
    others = [a for a in package.alerts if a.kind != ALERT_SLA]
    high = [a for a in others if a.severity == "high"]
    assert (high or others)[0].message in html
    # The deadline appears once: in the SLA column, not again as an alert line.
    sla_alert = next(a for a in package.alerts if a.kind == ALERT_SLA)
    assert sla_alert.message not in html
    assert html.count('class="sla-badge') == 1
