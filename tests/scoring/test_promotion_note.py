"""The note a trained model keeps about its promotion, shown beside its status on the RevOps
models page: it must agree with that status."""

from __future__ import annotations

import pytest

from scoring import services
from scoring.models import ModelStatus
from tests.scoring.test_services import FAST, _history

pytestmark = pytest.mark.django_db


def test_the_first_model_is_noted_as_promoted_because_none_was_active() -> None:
    _history()

    result = services.model_train(params=FAST)

    assert result.activated and result.version.status == ModelStatus.ACTIVE
    assert result.reason == result.version.notes == services.FIRST_MODEL_NOTE


def test_a_first_model_kept_as_a_candidate_is_not_noted_as_promoted() -> None:
    _history()

    result = services.model_train(params=FAST, activate="never")

    assert not result.activated and result.version.status == ModelStatus.CANDIDATE
    assert result.version.notes == "no model was active; not activated"
