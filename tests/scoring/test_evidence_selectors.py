"""scoring.evidence_selectors feeds account scoring the renewals and news the feeds stored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from accounts.account_feeds import account_events_store, intent_signals_store
from scoring.account_scoring import AccountFrames, accounts_score
from scoring.evidence_selectors import account_events_frame, account_intent_frame
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


def test_a_fed_renewal_and_competitor_news_reach_the_account_score() -> None:
    account = AccountFactory(domain="acme.com")
    account_events_store(
        items=[
            # Announced long ago, renewing in three months: still read.
            {"account_domain": "acme.com", "kind": "contract_renewal", "vendor": "Acme CRM",
             "occurred_at": "2025-01-01T00:00:00Z", "renews_at": "2027-03-01"},
            {"account_domain": "acme.com", "kind": "competitor_news", "vendor": "Rival",
             "occurred_at": "2026-11-20T00:00:00Z"},
        ],
        now=NOW,
    )  # fmt: skip
    intent_signals_store(
        items=[{"account_domain": "acme.com", "topic": "CRM", "surge_score": 3.0,
                "observed_at": "2026-11-28T00:00:00Z"}],
        now=NOW,
    )  # fmt: skip
    since = NOW - timedelta(days=180)
    events = account_events_frame(account_ids=[account.pk], since=since)
    intent = account_intent_frame(account_ids=[account.pk], since=since)
    assert sorted(events["kind"]) == ["competitor_news", "contract_renewal"]

    scores = accounts_score(
        AccountFrames(
            accounts=pd.DataFrame({"account_id": [account.pk]}), events=events, intent=intent
        ),
        now=NOW,
    )
    row = scores.iloc[0]
    assert row["renewal_vendor"] == "Acme CRM"
    assert 85 <= row["renewal_in_days"] <= 95
    assert row["competitor_news_vendor"] == "Rival"
