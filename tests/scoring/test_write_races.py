"""Qualification runs that race with new evidence or with each other lose nothing: a lead
marked for re-qualification after a run read its evidence stays marked, and a run that finds a
current row stored by a concurrent run after its retire step retires that one too."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pandas as pd
import pytest
from django.db import DEFAULT_DB_ALIAS, connections
from django.utils import timezone

from accounts.models import Lead
from scoring import selectors, services
from scoring.models import Confidence, Qualification, Tier
from tests.factories import LeadFactory


@pytest.mark.django_db
def test_a_mark_set_after_the_run_read_the_evidence_survives_the_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen_then, marked_later = LeadFactory(), LeadFactory()
    before = timezone.now() - timedelta(seconds=5)
    Lead.objects.filter(pk__in=[seen_then.pk, marked_later.pk]).update(
        requalify_requested_at=before
    )
    read = selectors.lead_frame

    def read_then_an_event_arrives(**kwargs: Any) -> pd.DataFrame:
        frame = read(**kwargs)
        # An ingest that commits while the run assesses: a new touchpoint the run never read.
        Lead.objects.filter(pk=marked_later.pk).update(requalify_requested_at=timezone.now())
        return frame

    monkeypatch.setattr(selectors, "lead_frame", read_then_an_event_arrives)

    services.leads_qualify(lead_ids=[seen_then.pk, marked_later.pk], notify=False)

    marks = dict(Lead.objects.values_list("pk", "requalify_requested_at"))
    assert marks[seen_then.pk] is None
    later = marks[marked_later.pk]
    assert later is not None and later > before


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_current_row_stored_by_a_concurrent_run_is_retired_not_a_failure(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lead = LeadFactory()
    retire = services.qualifications_retire_for_copy
    calls: list[int] = []

    def concurrent_run_commits_after_our_retire(cursor: Any, lead_ids: list[int]) -> None:
        retire(cursor, lead_ids)
        calls.append(len(lead_ids))
        if len(calls) > 1:
            return

        def other_run() -> None:
            other = connections.create_connection(DEFAULT_DB_ALIAS)
            try:
                with other.cursor() as c:
                    c.execute(
                        f"INSERT INTO {Qualification._meta.db_table} (lead_id, is_current, "
                        "computed_at, point_score, tier, disqualification_reason, "
                        "needs_review, contributions, brief, recommended_action, confidence, "
                        "account_priority, threshold_note, override_reason, "
                        "overridden_disqualification) "
                        "VALUES (%s, true, now(), 0, %s, '', false, '{}', '{}', '', %s, "
                        "'', '', '', '')",
                        [lead.pk, Tier.NURTURE, Confidence.LOW],
                    )
            finally:
                other.close()

        thread = threading.Thread(target=other_run)
        thread.start()
        thread.join()

    monkeypatch.setattr(
        services, "qualifications_retire_for_copy", concurrent_run_commits_after_our_retire
    )

    result = services.leads_qualify(lead_ids=[lead.pk], notify=False, pipeline=False)

    assert result.leads == 1 and len(calls) == 2
    rows = Qualification.objects.filter(lead=lead)
    assert rows.count() == 2
    current = rows.get(is_current=True)
    assert current.recommended_action != ""  # ours, not the concurrent run's bare row
