"""Account evidence reaches scoring's steps once its transaction commits, and not before."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import override_settings

from accounts.evidence_arrival import (
    KIND_ACCOUNT_EVENT,
    KIND_NEW_CONTACT,
    EvidenceArrival,
    account_evidence_on_commit,
)

SEEN: list[list[EvidenceArrival]] = []


def record_step(arrivals: list[EvidenceArrival]) -> None:
    SEEN.append(list(arrivals))


def test_an_arrival_survives_the_round_trip_through_a_task_message() -> None:
    arrival = EvidenceArrival(account_id=7, kind=KIND_ACCOUNT_EVENT, record_id=3, detail="funding")
    assert EvidenceArrival.from_dict(arrival.as_dict()) == arrival


def test_an_unknown_kind_is_refused_with_the_kinds_it_knows() -> None:
    with pytest.raises(ValueError, match="unknown evidence kind 'rumour'"):
        EvidenceArrival(account_id=1, kind="rumour")


@pytest.mark.django_db
@override_settings(LEADQUAL_ON_ACCOUNT_EVIDENCE=[f"{__name__}.record_step"])
def test_the_steps_run_after_commit_with_the_arrivals(
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    SEEN.clear()
    arrivals = [
        EvidenceArrival(account_id=1, kind=KIND_ACCOUNT_EVENT, record_id=10, detail="funding"),
        EvidenceArrival(account_id=2, kind=KIND_NEW_CONTACT, record_id=20),
    ]
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        account_evidence_on_commit(arrivals)
        assert not SEEN  # nothing before the commit
    assert len(callbacks) == 1
    assert len(SEEN) == 1
    assert SEEN[0] == arrivals
