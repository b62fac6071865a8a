"""A rep's rejection becomes a training label: a negative one, as of when they rejected, for a
lead the CRM has no outcome for; the CRM's outcome always wins, and a verdict that says nothing
about the buyer ("could not reach") or a later acceptance is not a label."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from scoring import selectors, services
from scoring.models import FeedbackReason, FeedbackVerdict
from tests.factories import FeedbackFactory, LeadFactory, TouchpointFactory

pytestmark = pytest.mark.django_db


def _reject(lead, reason, *, at):
    return FeedbackFactory(lead=lead, verdict=FeedbackVerdict.REJECT, reason=reason, created_at=at)


def test_only_buyer_rejections_without_an_outcome_become_labels():
    now = timezone.now()
    wrong_fit = LeadFactory()
    _reject(wrong_fit, FeedbackReason.WRONG_FIT, at=now - timedelta(days=3))
    unreachable = LeadFactory()
    _reject(unreachable, FeedbackReason.UNREACHABLE, at=now - timedelta(days=3))
    changed_mind = LeadFactory()
    _reject(changed_mind, FeedbackReason.NO_BUDGET, at=now - timedelta(days=3))
    FeedbackFactory(lead=changed_mind, created_at=now - timedelta(days=1))
    converted = LeadFactory(converted_at=now - timedelta(days=2))
    _reject(converted, FeedbackReason.BAD_TIMING, at=now - timedelta(days=5))
    untouched = LeadFactory()

    rejections = selectors.feedback_rejections()
    labelled = selectors.labelled_lead_ids()

    assert set(rejections) == {wrong_fit.pk}
    assert rejections[wrong_fit.pk] == now - timedelta(days=3)
    assert wrong_fit.pk in labelled and converted.pk in labelled
    assert {unreachable.pk, changed_mind.pk, untouched.pk}.isdisjoint(labelled)


def test_a_rejected_lead_trains_as_a_negative_seen_as_of_the_rejection():
    now = timezone.now()
    rejected = LeadFactory(created_at=now - timedelta(days=20))
    rejected_at = now - timedelta(days=10)
    _reject(rejected, FeedbackReason.STUDENT, at=rejected_at)
    TouchpointFactory(lead=rejected, occurred_at=now - timedelta(days=12), page_category="pricing")
    # After the verdict: training must not see it, as it never sees activity after an outcome.
    TouchpointFactory(lead=rejected, occurred_at=now - timedelta(days=2), page_category="pricing")
    converted = LeadFactory(
        created_at=now - timedelta(days=20), converted_at=now - timedelta(days=5)
    )

    data = services.training_set(config=services.engine_config())

    assert data.y.loc[rejected.pk] == 0 and data.y.loc[converted.pk] == 1
    assert data.leads.loc[rejected.pk, "as_of"] == rejected_at
    assert data.X.loc[rejected.pk, "touch_count"] == 1
    assert data.X.loc[rejected.pk, "pricing_views"] == 1
