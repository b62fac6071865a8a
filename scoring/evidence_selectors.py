"""The account-evidence frames account scoring reads (scoring.account_scoring.AccountFrames).

Filled by the account feeds (accounts.account_feeds): intent signals, and account events with
a contract renewal's incumbent vendor and renewal date, or the competitor in the news.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import pandas as pd
from django.db.models import Q

from accounts.models import AccountEvent, IntentSignal

EVENT_COLUMNS = ["account_id", "kind", "occurred_at", "title", "renews_at", "vendor"]
INTENT_COLUMNS = ["account_id", "topic", "surge_score", "observed_at"]


def account_events_frame(*, account_ids: Iterable[int], since: datetime) -> pd.DataFrame:
    """AccountFrames.events: events since `since`, plus every renewal still to come (a renewal
    announced long ago may renew next month)."""
    ids = list(account_ids)
    rows = (
        AccountEvent.objects.filter(account_id__in=ids)
        .filter(Q(occurred_at__gte=since) | Q(kind="contract_renewal", renews_at__gte=since.date()))
        .order_by()
        .values_list(*EVENT_COLUMNS)
    )
    frame = pd.DataFrame(list(rows), columns=EVENT_COLUMNS)
    frame["occurred_at"] = pd.to_datetime(frame["occurred_at"], utc=True)
    # A date: the renewal is taken to happen at the start of its day (UTC).
    frame["renews_at"] = pd.to_datetime(frame["renews_at"], utc=True)
    return frame


def account_intent_frame(*, account_ids: Iterable[int], since: datetime) -> pd.DataFrame:
    """AccountFrames.intent: the accounts' intent signals observed since `since`."""
    rows = IntentSignal.objects.filter(
        account_id__in=list(account_ids), observed_at__gte=since
    ).values_list(*INTENT_COLUMNS)
    frame = pd.DataFrame(list(rows), columns=INTENT_COLUMNS)
    frame["observed_at"] = pd.to_datetime(frame["observed_at"], utc=True)
    return frame
