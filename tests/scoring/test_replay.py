"""The holdout replay: the active model's time-ordered holdout, scored as of a minute before
each outcome, stored as history beside the current qualifications."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import numpy as np
import pytest
from django.core.management import call_command
from django.db.models import Q

from accounts.models import Lead
from scoring import replay, services
from scoring.ml.metrics import roc_auc
from scoring.models import ModelVersion, Qualification
from tests.factories import LeadFactory
from tests.scoring.test_services import FAST, _history

pytestmark = pytest.mark.django_db


def _trained() -> ModelVersion:
    _history()
    version = services.model_train(params=FAST).version
    assert version.metrics["holdout"]["method"] == "time"
    return version


def _holdout_ids(version: ModelVersion) -> set[int]:
    cutoff = version.metrics["holdout"]["cutoff"]
    labelled = Q(converted_at__isnull=False) | Q(closed_at__isnull=False)
    return set(Lead.objects.filter(labelled, created_at__gte=cutoff).values_list("pk", flat=True))


def test_the_replay_scores_exactly_the_holdout_as_history_a_minute_before_each_outcome() -> None:
    version = _trained()
    services.leads_qualify(lead_ids=list(Lead.objects.values_list("pk", flat=True)), notify=False)
    current_before = set(Qualification.objects.filter(is_current=True).values_list("pk", "lead_id"))

    result = replay.holdout_replay()

    holdout = _holdout_ids(version)
    rows = Qualification.objects.filter(is_current=False).select_related("lead")
    assert result.replayed == len(holdout) == version.metrics["holdout"]["rows"] == rows.count()
    assert result.matches_training_holdout
    assert {q.lead_id for q in rows} == holdout
    for q in rows:
        outcome_at = q.lead.converted_at or q.lead.closed_at
        assert outcome_at is not None
        assert q.computed_at == outcome_at - replay.LEAD_TIME
        assert q.computed_at < version.trained_at
        assert q.model_version_id == version.pk
    # The current qualifications are the same rows as before: nothing re-routed, nothing lost.
    assert set(Qualification.objects.filter(is_current=True).values_list("pk", "lead_id")) == (
        current_before
    )


def test_the_replayed_scores_reproduce_the_models_holdout_auc() -> None:
    version = _trained()

    replay.holdout_replay()

    rows = list(
        Qualification.objects.filter(is_current=False).values_list(
            "conversion_probability", "lead__converted_at"
        )
    )
    y = np.array([converted is not None for _, converted in rows], dtype=int)
    p = np.array([probability for probability, _ in rows], dtype=float)
    # The same leads, with the evidence of a minute before the outcome rather than of the
    # outcome itself (what the holdout was scored with at training): the same ranking.
    assert roc_auc(y, p) == pytest.approx(version.metrics["auc"], abs=0.01)


def test_running_it_again_replays_nothing_and_a_live_assessment_is_never_shadowed() -> None:
    version = _trained()
    live = Lead.objects.get(pk=min(_holdout_ids(version)))
    outcome_at = live.converted_at or live.closed_at
    assert outcome_at is not None
    # Someone's real qualification from before the outcome: the replay must leave it be.
    Qualification.objects.create(
        lead=live, tier="nurture", confidence="high", computed_at=outcome_at - timedelta(days=2)
    )

    first = replay.holdout_replay()
    second = replay.holdout_replay()

    assert first.replayed == first.holdout_leads - 1 and first.already_assessed == 1
    assert Qualification.objects.filter(lead=live).count() == 1
    assert second.replayed == 0 and second.already_assessed == second.holdout_leads
    assert "every lead of the holdout is assessed" in second.reason


def test_a_holdout_that_is_not_time_ordered_is_not_replayed() -> None:
    _history(dated=False)
    version = services.model_train(params=FAST).version

    result = replay.holdout_replay()

    assert result.replayed == 0 and result.model_version == version.pk
    assert "not time-ordered (cross-validated)" in result.reason
    assert not Qualification.objects.filter(is_current=False).exists()


def test_without_an_active_model_there_is_nothing_to_replay() -> None:
    LeadFactory()

    result = replay.holdout_replay()

    assert (result.model_version, result.replayed) == (None, 0)
    assert result.reason == "no conversion model is active"


def test_the_command_says_what_it_replayed_and_that_the_set_is_the_training_holdout() -> None:
    version = _trained()
    out = StringIO()

    call_command("replay_holdout", stdout=out)
    again = StringIO()
    call_command("replay_holdout", stdout=again)

    text = out.getvalue()
    rows = version.metrics["holdout"]["rows"]
    assert f"Model #{version.pk}'s holdout: {rows} leads with an outcome" in text
    assert "exactly the holdout recorded at training" in text
    assert f"{rows} scored as of a minute before their outcome and stored as history" in text
    assert again.getvalue().startswith("Nothing replayed: every lead of the holdout")
