"""POST /api/v1/leads/{id}/feedback: a rep's verdict, stored against what they saw."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from accounts.models import ApiScope
from scoring.models import Feedback, TriggerKind, TriggerRule
from tests.api.test_leads_api import field_errors, token_client
from tests.conftest import ROLE_SDR, user_in_role
from tests.factories import LeadFactory, QualificationFactory

pytestmark = pytest.mark.django_db


def url(lead_id: int) -> str:
    return f"/api/v1/leads/{lead_id}/feedback"


def post(client: Client, lead_id: int, data: dict[str, Any]) -> Any:
    return client.post(url(lead_id), data, content_type="application/json")


def test_an_sdr_rejects_their_lead_and_the_verdict_is_stored_against_the_current_decision(
    sdr_client: Client, sdr_user: User
) -> None:
    lead = LeadFactory(owner=sdr_user)
    QualificationFactory(lead=lead, is_current=False)
    current = QualificationFactory(lead=lead)

    response = post(
        sdr_client,
        lead.pk,
        {"verdict": "reject", "reason": "no_budget", "comment": "Budget frozen until Q3"},
    )

    assert response.status_code == 201, response.content
    body = response.json()
    feedback = Feedback.objects.get()
    assert body["id"] == feedback.pk
    assert (feedback.lead_id, feedback.qualification_id, feedback.user_id) == (
        lead.pk,
        current.pk,
        sdr_user.pk,
    )
    assert (feedback.verdict, feedback.reason, feedback.comment) == (
        "reject",
        "no_budget",
        "Budget frozen until Q3",
    )
    assert body["qualification_id"] == current.pk


def test_feedback_can_name_the_qualification_the_rep_saw(
    sdr_client: Client, sdr_user: User
) -> None:
    lead = LeadFactory(owner=sdr_user)
    seen = QualificationFactory(lead=lead, is_current=False)
    QualificationFactory(lead=lead)

    response = post(
        sdr_client,
        lead.pk,
        {"verdict": "accept", "reason": "good_fit", "qualification_id": seen.pk},
    )

    assert response.status_code == 201
    assert Feedback.objects.get().qualification_id == seen.pk


def test_feedback_on_an_unqualified_lead_has_no_qualification(
    sdr_client: Client, sdr_user: User
) -> None:
    lead = LeadFactory(owner=sdr_user)

    response = post(sdr_client, lead.pk, {"verdict": "accept", "reason": "good_fit"})

    assert response.status_code == 201
    assert Feedback.objects.get().qualification_id is None


@pytest.mark.parametrize(
    ("data", "fields"),
    [
        ({"verdict": "maybe", "reason": "good_fit"}, {"verdict"}),
        ({"verdict": "accept"}, {"reason"}),
        ({"reason": "good_fit"}, {"verdict"}),
        ({"verdict": "reject", "reason": "too_expensive"}, {"reason"}),
        ({}, {"verdict", "reason"}),
        (
            {"verdict": "accept", "reason": "good_fit", "qualification_id": "x"},
            {"qualification_id"},
        ),
    ],
)
def test_invalid_feedback_is_400_naming_each_bad_field_and_stores_nothing(
    sdr_client: Client, sdr_user: User, data: dict[str, Any], fields: set[str]
) -> None:
    lead = LeadFactory(owner=sdr_user)

    response = post(sdr_client, lead.pk, data)

    assert response.status_code == 400
    assert set(field_errors(response)) == fields
    assert not Feedback.objects.exists()


def test_a_qualification_of_another_lead_is_refused(sdr_client: Client, sdr_user: User) -> None:
    lead = LeadFactory(owner=sdr_user)
    elsewhere = QualificationFactory(lead=LeadFactory(owner=sdr_user))

    response = post(
        sdr_client,
        lead.pk,
        {"verdict": "accept", "reason": "good_fit", "qualification_id": elsewhere.pk},
    )

    assert response.status_code == 400
    errors = field_errors(response)
    assert set(errors) == {"qualification_id"}
    assert str(elsewhere.pk) in errors["qualification_id"][0]
    assert not Feedback.objects.exists()


def test_feedback_on_another_sdrs_lead_is_404(sdr_client: Client) -> None:
    theirs = LeadFactory(owner=user_in_role(ROLE_SDR))

    response = post(sdr_client, theirs.pk, {"verdict": "accept", "reason": "good_fit"})

    assert response.status_code == 404
    assert not Feedback.objects.exists()


def test_a_manager_records_feedback_on_any_lead(manager_client: Client) -> None:
    lead = LeadFactory(owner=user_in_role(ROLE_SDR))

    assert post(
        manager_client, lead.pk, {"verdict": "accept", "reason": "good_fit"}
    ).status_code == (201)


@pytest.mark.parametrize("scope", [ApiScope.READ, ApiScope.INGEST])
def test_tokens_cannot_record_feedback(scope: str) -> None:
    lead = LeadFactory()

    response = post(token_client(scope), lead.pk, {"verdict": "accept", "reason": "good_fit"})

    assert response.status_code == 403
    assert not Feedback.objects.exists()


def test_revops_without_the_feedback_permission_gets_403(revops_client: Client) -> None:
    lead = LeadFactory()

    response = post(revops_client, lead.pk, {"verdict": "accept", "reason": "good_fit"})

    assert response.status_code == 403


# --- TRIGGERS: a "not buying now" verdict's revisit date (scoring/feedback_revisit.py) -------


def test_a_bad_timing_verdict_stores_the_revisit_date_the_rep_picked(
    sdr_client: Client, sdr_user: User
) -> None:
    lead = LeadFactory(owner=sdr_user)
    day = timezone.localdate() + timedelta(days=45)

    response = post(
        sdr_client,
        lead.pk,
        {"verdict": "reject", "reason": "bad_timing", "revisit_on": day.isoformat()},
    )

    assert response.status_code == 201, response.content
    assert response.json()["revisit_on"] == day.isoformat()
    assert Feedback.objects.get().revisit_on == day


def test_a_bad_timing_verdict_without_a_date_gets_the_timing_triggers_default(
    sdr_client: Client, sdr_user: User
) -> None:
    TriggerRule.objects.filter(kind=TriggerKind.TIMING_WINDOW).update(revisit_days=30)
    lead = LeadFactory(owner=sdr_user)

    response = post(sdr_client, lead.pk, {"verdict": "reject", "reason": "bad_timing"})

    assert response.status_code == 201, response.content
    assert Feedback.objects.get().revisit_on == timezone.localdate() + timedelta(days=30)


@pytest.mark.parametrize(
    ("reason", "days", "message"),
    [
        ("bad_timing", 0, "is not in the future"),
        ("bad_timing", -3, "is not in the future"),
        ("bad_timing", 400, "more than a year ahead"),
        ("no_budget", 30, "Only a “Not buying now” (bad_timing) verdict takes a revisit date"),
    ],
)
def test_a_revisit_date_in_the_past_too_far_or_with_another_reason_is_refused(
    sdr_client: Client, sdr_user: User, reason: str, days: int, message: str
) -> None:
    lead = LeadFactory(owner=sdr_user)
    day = timezone.localdate() + timedelta(days=days)

    response = post(
        sdr_client, lead.pk, {"verdict": "reject", "reason": reason, "revisit_on": str(day)}
    )

    assert response.status_code == 400
    [error] = field_errors(response)["revisit_on"]
    assert message in error
    assert not Feedback.objects.exists()


def test_a_revisit_date_that_is_not_a_date_names_the_field(
    sdr_client: Client, sdr_user: User
) -> None:
    lead = LeadFactory(owner=sdr_user)

    response = post(
        sdr_client, lead.pk, {"verdict": "reject", "reason": "bad_timing", "revisit_on": "soon"}
    )

    assert response.status_code == 400
    assert "revisit_on" in field_errors(response)
