from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from accounts.models import FormType, Lead, TouchpointKind
from scoring.models import Feedback, FeedbackReason, FeedbackVerdict
from scoring.services import lead_qualify
from tests.conftest import ROLE_SDR, user_in_role
from tests.dashboards.sdr_world import assigned_lead, busy_account, current, seed_brief
from tests.factories import (
    AccountFactory,
    LeadFactory,
    QualificationFactory,
    SalesRepFactory,
    TouchpointFactory,
)

pytestmark = pytest.mark.django_db


def brief_url(lead: Lead) -> str:
    return f"/leads/{lead.pk}/"


def feedback_url(lead: Lead) -> str:
    return f"/leads/{lead.pk}/feedback/"


def _other_reps_lead() -> Lead:
    rep = SalesRepFactory(user=user_in_role(ROLE_SDR, username="other-sdr"))
    return assigned_lead(rep=rep, email="theirs@acme.com")


def test_the_brief_shows_the_seeds_assessment_card(sdr_client: Client, sdr_user: User) -> None:
    lead = assigned_lead(rep=sdr_user.sales_rep, name="Jennifer Martinez", touchpoints=4)

    response = sdr_client.get(brief_url(lead))

    assert response.status_code == 200
    html = response.content.decode()
    for heading in ("Lead qualification assessment", "Behaviour analysis", "Fit assessment",
                    "Intent signals", "Predictive assessment", "Qualification status",
                    "Recommended action", "Talking points"):  # fmt: skip
        assert heading in html
    assert "92/100" in html and "Company size in range" in html  # fit with its factors
    assert "340% surge in category research" in html
    assert "78%" in html and "45\u201360 days" in html and "$85,000 \u2013 $120,000" in html
    assert "Route to Enterprise SDR with context brief." in html
    assert "Walk through the ROI model they explored." in html
    # The behaviour timeline: a chart drawn by the vendored plotly.js, and its numbers.
    assert "/static/vendor/plotly-basic.min.js" in html
    assert 'id="behaviour-timeline-chart"' in html
    assert "The numbers" in html
    assert "cdn" not in html.lower()
    assert "HX-Request" in response["Vary"]


def test_the_brief_shows_the_point_score_beside_the_ai_decision_and_factors_apart_from_rules(
    sdr_client: Client, sdr_user: User
) -> None:
    brief = seed_brief(
        rule_hits=[{"reason_code": "competitor-domain", "category": "competitor",
                    "rule": "Competitors", "action": "disqualify", "needs_review": True,
                    "evidence": "Email domain rival.com is a known competitor."}],
    )  # fmt: skip
    lead = assigned_lead(rep=sdr_user.sales_rep, brief=brief)

    response = sdr_client.get(brief_url(lead))

    html = response.content.decode()
    decision = html[html.index('id="decision"') : html.index('id="feedback-panel"')]
    assert "AI decision" in decision and "Sales Ready" in decision
    assert "Point score" in decision and ">95<" in decision and "routes at 100" in decision
    assert "Points alone would have missed this lead." in decision
    factors = html[html.index('id="model-factors"') : html.index('id="rule-hits"')]
    rules = html[html.index('id="rule-hits"') : html.index('id="behaviour-timeline"')]
    assert "Activity surge: 12 touchpoints" in factors and "+0.90" in factors
    assert "Email domain type: corporate" in factors and "-0.05" in factors
    assert "competitor" not in factors.lower()
    assert "Email domain rival.com is a known competitor." in rules
    assert "competitor-domain" in rules
    assert "Activity surge" not in rules


def test_a_brief_written_by_qualification_renders(sdr_client: Client, sdr_user: User) -> None:
    now = timezone.now()
    account = AccountFactory(domain="northwind.com", employee_count=400, industry="software")
    lead = LeadFactory(account=account, email="ana@northwind.com", name="Ana", owner=sdr_user)
    for i, page in enumerate(["pricing", "roi_calculator", "implementation", "case_study"]):
        TouchpointFactory(lead=lead, page_category=page, duration_seconds=300,
                          occurred_at=now - timedelta(days=3 - i * 0.5))  # fmt: skip
    TouchpointFactory(
        lead=lead,
        kind=TouchpointKind.FORM_SUBMIT,
        form_type=FormType.DEMO_REQUEST,
        occurred_at=now - timedelta(hours=3),
    )
    lead_qualify(lead_id=lead.pk, now=now)

    response = sdr_client.get(brief_url(lead))

    assert response.status_code == 200
    html = response.content.decode()
    assert "Not enough data yet" in html  # no model trained: the confidence says so
    assert "No model factors" in html
    assert f">{current(lead).point_score}<" in html
    assert "ROI calculator" in html  # content consumed
    assert "Qualification history" in html


def test_the_brief_as_an_htmx_partial(sdr_client: Client, sdr_user: User) -> None:
    lead = assigned_lead(rep=sdr_user.sales_rep)

    whole = sdr_client.get(brief_url(lead), HTTP_HX_REQUEST="true")
    chart = sdr_client.get(
        brief_url(lead), {"weeks": 8}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="behaviour-timeline"
    )

    assert whole.status_code == 200 and chart.status_code == 200
    assert "<html" not in whole.content.decode()
    assert whole.content.decode().lstrip().startswith('<div id="brief-content"')
    chart_html = chart.content.decode()
    assert chart_html.lstrip().startswith('<section id="behaviour-timeline"')
    assert "in the last 8 weeks" in chart_html
    assert "HX-Target" in chart["Vary"]


def test_stakeholders_events_and_the_handoff_package_are_on_the_brief(
    sdr_client: Client, sdr_user: User
) -> None:
    _, leads = busy_account(rep=sdr_user.sales_rep)

    html = sdr_client.get(brief_url(leads[0])).content.decode()

    assert "Stakeholders at Acme Manufacturing" in html
    assert "Economic buyer · engaged" in html and "Technical evaluator · missing" in html
    assert "Person 4" in html
    assert "topic 2" in html and "New VP 0" in html
    assert "Handoff package" in html and "Assigned by a test." in html


def test_the_salesforce_link_uses_the_instance_url(
    sdr_client: Client, sdr_user: User, settings: Any
) -> None:
    settings.SALESFORCE_INSTANCE_URL = "https://example.my.salesforce.com/"
    lead = assigned_lead(rep=sdr_user.sales_rep)
    lead.salesforce_id = "00Q000000000001AAA"
    lead.save(update_fields=["salesforce_id"])

    html = sdr_client.get(brief_url(lead)).content.decode()
    assert (
        'href="https://example.my.salesforce.com/lightning/r/Lead/00Q000000000001AAA/view"' in html
    )

    settings.SALESFORCE_INSTANCE_URL = ""
    settings.SALESFORCE_LOOPBACK_URL = ""
    html = sdr_client.get(brief_url(lead)).content.decode()
    assert "<code>00Q000000000001AAA</code>" in html and "lightning/r/Lead" not in html


def test_an_sdr_gets_404_on_another_reps_lead(sdr_client: Client) -> None:
    lead = _other_reps_lead()

    assert sdr_client.get(brief_url(lead)).status_code == 404
    assert sdr_client.get(brief_url(lead), HTTP_HX_REQUEST="true").status_code == 404
    response = sdr_client.post(feedback_url(lead), {"verdict": "accept", "reason": "good_fit"})
    assert response.status_code == 404
    assert not Feedback.objects.exists()
    assert sdr_client.get("/leads/999999/").status_code == 404


def test_an_sdr_sees_a_lead_assigned_to_them_that_they_do_not_own(
    sdr_client: Client, sdr_user: User
) -> None:
    lead = assigned_lead(rep=sdr_user.sales_rep)
    Lead.objects.filter(pk=lead.pk).update(owner=None)

    assert sdr_client.get(brief_url(lead)).status_code == 200


def test_a_manager_sees_any_lead(manager_client: Client) -> None:
    lead = _other_reps_lead()
    assert manager_client.get(brief_url(lead)).status_code == 200


def test_a_lead_not_yet_qualified_says_so(manager_client: Client) -> None:
    lead = LeadFactory(name="Fresh Lead")
    html = manager_client.get(brief_url(lead)).content.decode()
    assert "Not qualified yet" in html


def test_accept_with_htmx_creates_feedback_and_returns_the_panel(
    sdr_client: Client, sdr_user: User
) -> None:
    lead = assigned_lead(rep=sdr_user.sales_rep)
    qualification = current(lead)

    response = sdr_client.post(
        feedback_url(lead),
        {"verdict": "accept", "reason": "good_fit", "comment": "Booked a demo",
         "qualification_id": qualification.pk},
        HTTP_HX_REQUEST="true",
    )  # fmt: skip

    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="feedback-panel"')
    assert "Recorded: Accept (Good fit and timing)" in html
    assert "Booked a demo" in html  # listed under earlier verdicts
    feedback = Feedback.objects.get()
    assert (feedback.lead, feedback.user, feedback.verdict, feedback.reason) == (
        lead,
        sdr_user,
        FeedbackVerdict.ACCEPT,
        FeedbackReason.GOOD_FIT,
    )
    assert feedback.qualification == qualification


def test_reject_needs_a_reason_and_a_bad_form_creates_nothing(
    sdr_client: Client, sdr_user: User
) -> None:
    lead = assigned_lead(rep=sdr_user.sales_rep)

    missing = sdr_client.post(feedback_url(lead), {"verdict": "reject"}, HTTP_HX_REQUEST="true")
    contradictory = sdr_client.post(
        feedback_url(lead), {"verdict": "reject", "reason": "good_fit"}, HTTP_HX_REQUEST="true"
    )
    foreign = sdr_client.post(
        feedback_url(lead),
        {"verdict": "reject", "reason": "no_budget",
         "qualification_id": QualificationFactory(is_current=False).pk},
        HTTP_HX_REQUEST="true",
    )  # fmt: skip

    assert "This field is required." in missing.content.decode()
    assert "A rejection needs a reason other than" in contradictory.content.decode()
    assert "is not a qualification of lead" in foreign.content.decode()
    assert not Feedback.objects.exists()

    rejected = sdr_client.post(
        feedback_url(lead), {"verdict": "reject", "reason": "no_budget"}, HTTP_HX_REQUEST="true"
    )
    assert "Recorded: Reject (No budget)" in rejected.content.decode()
    assert Feedback.objects.get().verdict == FeedbackVerdict.REJECT


def test_feedback_without_javascript_redirects_back_to_the_brief(
    sdr_client: Client, sdr_user: User
) -> None:
    lead = assigned_lead(rep=sdr_user.sales_rep)

    ok = sdr_client.post(feedback_url(lead), {"verdict": "accept", "reason": "good_fit"})
    assert ok.status_code == 302 and ok["Location"] == brief_url(lead)
    assert "Recorded: Accept" in sdr_client.get(brief_url(lead)).content.decode()

    bad = sdr_client.post(feedback_url(lead), {"verdict": "maybe"})
    assert bad.status_code == 400
    assert "Lead qualification assessment" in bad.content.decode()
    assert Feedback.objects.count() == 1
    assert sdr_client.get(feedback_url(lead)).status_code == 405


def test_the_brief_reads_in_a_fixed_number_of_queries(
    sdr_client: Client, sdr_user: User, django_assert_max_num_queries: Any
) -> None:
    _, leads = busy_account(rep=sdr_user.sales_rep, people=3)
    sdr_client.get(brief_url(leads[0]))
    with django_assert_max_num_queries(20) as small:
        sdr_client.get(brief_url(leads[0]))
    few = len(small)

    # Many more people, touchpoints, signals and verdicts: the count must not grow.
    _, more = busy_account(rep=sdr_user.sales_rep, people=15)
    for lead in more[:5]:
        lead_qualify(lead_id=lead.pk)
    for _ in range(4):
        sdr_client.post(feedback_url(more[0]), {"verdict": "accept", "reason": "good_fit"})
    with django_assert_max_num_queries(few):
        response = sdr_client.get(brief_url(more[0]))
    assert response.status_code == 200
