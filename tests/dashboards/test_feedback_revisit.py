"""The brief's feedback form takes a revisit date with a "not buying now" verdict (TRIGGERS:
the timing-window trigger resurfaces the lead on it)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from scoring.models import Feedback
from tests.dashboards.sdr_world import assigned_lead, current

pytestmark = pytest.mark.django_db


def test_the_form_offers_a_revisit_date(sdr_client: Client, sdr_user: User) -> None:
    lead = assigned_lead(rep=sdr_user.sales_rep)
    html = sdr_client.get(f"/leads/{lead.pk}/").content.decode()
    assert 'type="date" name="revisit_on"' in html


def test_not_buying_now_with_a_date_is_stored_and_the_panel_says_when_it_resurfaces(
    sdr_client: Client, sdr_user: User
) -> None:
    lead = assigned_lead(rep=sdr_user.sales_rep)
    day = timezone.localdate() + timedelta(days=60)

    response = sdr_client.post(
        f"/leads/{lead.pk}/feedback/",
        {"verdict": "reject", "reason": "bad_timing", "revisit_on": day.isoformat(),
         "qualification_id": current(lead).pk},
        HTTP_HX_REQUEST="true",
    )  # fmt: skip

    assert response.status_code == 200
    assert Feedback.objects.get().revisit_on == day
    html = response.content.decode()
    assert f"The lead resurfaces for you on {day.day} {day:%b %Y}" in html
    assert f"Revisit on {day.day} {day:%b %Y}" in html  # in the earlier verdicts


def test_a_revisit_date_in_the_past_comes_back_on_the_field(
    sdr_client: Client, sdr_user: User
) -> None:
    lead = assigned_lead(rep=sdr_user.sales_rep)
    day = timezone.localdate() - timedelta(days=1)

    response = sdr_client.post(
        f"/leads/{lead.pk}/feedback/",
        {"verdict": "reject", "reason": "bad_timing", "revisit_on": day.isoformat()},
        HTTP_HX_REQUEST="true",
    )

    assert response.status_code == 200
    assert not Feedback.objects.exists()
    html = response.content.decode()
    assert f"{day:%Y-%m-%d} is not in the future." in html
