"""Retention of the qualification history: what `prune_qualifications` deletes and what it keeps."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts.models import Lead
from routing.models import SalesforcePushState
from scoring import services
from scoring.models import Qualification
from tests.factories import FeedbackFactory, LeadFactory, QualificationFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


def _history(lead: Lead, *days_ago: int) -> list[Qualification]:
    """One retired qualification per age given, oldest first, then a current one today."""
    retired = [
        QualificationFactory(lead=lead, is_current=False, computed_at=NOW - timedelta(days=d))
        for d in sorted(days_ago, reverse=True)
    ]
    return [*retired, QualificationFactory(lead=lead, is_current=True, computed_at=NOW)]


def _left(lead: Lead) -> set[int]:
    return set(Qualification.objects.filter(lead=lead).values_list("pk", flat=True))


def test_old_retired_rows_go_and_the_current_first_and_pointed_at_ones_stay():
    lead = LeadFactory()
    first, old, reviewed, pushed, recent, current = _history(lead, 400, 300, 200, 100, 10)
    FeedbackFactory(lead=lead, qualification=reviewed)
    SalesforcePushState.objects.create(lead=lead, pushed_qualification=pushed)
    # A lead whose only qualification is old and current keeps it.
    lone = LeadFactory()
    only = QualificationFactory(lead=lone, is_current=True, computed_at=NOW - timedelta(days=500))

    result = services.qualifications_prune(older_than_days=30, now=NOW)

    assert (result.prunable, result.deleted) == (1, 1)
    assert result.before == NOW - timedelta(days=30)
    assert _left(lead) == {first.pk, reviewed.pk, pushed.pk, recent.pk, current.pk}
    assert _left(lone) == {only.pk}
    # The feedback and the push state still point at their rows.
    assert lead.feedback.get().qualification_id == reviewed.pk
    assert SalesforcePushState.objects.get(lead=lead).pushed_qualification_id == pushed.pk
    assert old.pk not in _left(lead)


def test_a_dry_run_counts_and_deletes_nothing():
    lead = LeadFactory()
    _history(lead, 90, 80, 70, 60)
    before = _left(lead)

    result = services.qualifications_prune(older_than_days=30, dry_run=True, now=NOW)

    assert (result.prunable, result.deleted, result.dry_run) == (3, 0, True)
    assert _left(lead) == before


def test_batches_delete_everything_prunable_and_report_progress():
    leads = [LeadFactory() for _ in range(3)]
    for lead in leads:
        _history(lead, 50, 45, 40, 35)
    seen: list[tuple[int, int]] = []

    result = services.qualifications_prune(
        older_than_days=30, batch_size=2, now=NOW, progress=lambda d, t: seen.append((d, t))
    )

    assert result.deleted == 9
    assert seen == [(2, 9), (4, 9), (6, 9), (8, 9), (9, 9)]
    for lead in leads:
        assert Qualification.objects.filter(lead=lead).count() == 2  # the first and the current


def test_the_command_prunes_reports_and_refuses_bad_input():
    lead = LeadFactory()
    _history(lead, 3000, 2000, 1000)
    out = io.StringIO()

    call_command("prune_qualifications", "--older-than", "365", "--dry-run", stdout=out)
    assert "2 retired qualifications computed before" in out.getvalue()
    assert "would be deleted (dry run: nothing was)" in out.getvalue()
    assert Qualification.objects.filter(lead=lead).count() == 4

    out = io.StringIO()
    call_command("prune_qualifications", "--older-than", "365", stdout=out)
    assert "Deleted 2 retired qualifications computed before" in out.getvalue()
    assert Qualification.objects.filter(lead=lead).count() == 2

    with pytest.raises(CommandError, match="--older-than must be at least 1 day"):
        call_command("prune_qualifications", "--older-than", "0")
    with pytest.raises(CommandError, match="--batch-size must be at least 1"):
        call_command("prune_qualifications", "--older-than", "5", "--batch-size", "0")
    with pytest.raises(ValueError, match="older_than_days must be at least 1"):
        services.qualifications_prune(older_than_days=0)
