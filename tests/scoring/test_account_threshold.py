"""The account priority moves a lead's Sales Ready bar by the admin's factor, and says so."""

from __future__ import annotations

import numpy as np
import pytest

from accounts.models import Lead
from scoring.account_threshold import account_sales_ready, threshold_notes
from scoring.models import (
    AccountQualification,
    AccountScoringSettings,
    Qualification,
    ScoringSettings,
)
from scoring.services import leads_qualify
from tests.factories import AccountFactory, LeadFactory

FACTORS = {"high": 0.85, "medium": 1.0, "low": 1.2}


def test_each_priority_scales_the_threshold_and_an_unscored_account_keeps_it() -> None:
    bar = account_sales_ready(0.42, np.array(["high", "medium", "low", ""], dtype=object), FACTORS)
    assert bar.tolist() == pytest.approx([0.357, 0.42, 0.504, 0.42])


def test_the_note_is_written_only_where_the_threshold_changed() -> None:
    priorities = np.array(["high", "medium", "low", ""], dtype=object)
    notes = threshold_notes(0.42, priorities, account_sales_ready(0.42, priorities, FACTORS))
    assert notes == [
        "Account priority High lowered the Sales Ready threshold from 0.42 to 0.36.",
        "",
        "Account priority Low raised the Sales Ready threshold from 0.42 to 0.50.",
        "",
    ]


@pytest.mark.django_db
def test_a_lead_at_a_high_account_stores_its_priority_and_the_note() -> None:
    high = AccountFactory()
    AccountQualification.objects.create(account=high, score=80, priority="high", reason="manual")
    at_high: Lead = LeadFactory(account=high)
    alone: Lead = LeadFactory()
    leads_qualify(lead_ids=[at_high.pk, alone.pk], notify=False)
    q = Qualification.objects.get(lead=at_high, is_current=True)
    base = ScoringSettings.load().sales_ready_threshold
    factor = AccountScoringSettings.load().high_factor
    assert q.account_priority == "high"
    assert q.threshold_note == (
        f"Account priority High lowered the Sales Ready threshold from {base:.2f} to "
        f"{base * factor:.2f}."
    )
    other = Qualification.objects.get(lead=alone, is_current=True)
    assert (other.account_priority, other.threshold_note) == ("", "")
