"""Reads of account qualification: the frames `account_scoring.accounts_score` works on, for
many accounts at once, and the stored results.

Every loader here is set-wide: a fixed handful of queries for a chunk of accounts, never one
per account, so the nightly run over every account costs a few queries per chunk.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
from django.db.models import Q

from accounts.models import (
    Account,
    AccountEvent,
    AccountEventKind,
    IntentSignal,
    Lead,
    Stakeholder,
    Touchpoint,
)
from scoring.account_scoring import COMPANY_CHANGES, AccountFrames, AccountScoringConfig
from scoring.models import AccountQualification, AccountScoringSettings

# The kinds the account core reads. `competitor_news` is the FEEDS part's new kind; until it
# exists an AccountEvent of that kind simply is not there, and the filter matches nothing.
_EVENT_KINDS = (*COMPANY_CHANGES, AccountEventKind.CONTRACT_RENEWAL.value, "competitor_news")
# A renewal is announced well before it happens: how far back a renewal event is still read
# (the core keeps only those renewing within its window from now).
RENEWAL_LOOKBACK_DAYS = 730


def account_scoring_config(
    *, settings_row: AccountScoringSettings | None = None
) -> AccountScoringConfig:
    """The core's configuration with the admin's priority thresholds."""
    row = settings_row or AccountScoringSettings.load()
    return AccountScoringConfig(high=row.high_threshold, medium=row.medium_threshold)


def account_ids_for_qualification() -> list[int]:
    """Every account, in id order: the nightly run scores them all (an account with no
    evidence left scores Low, which is what its leads must read)."""
    return list(Account.objects.order_by("pk").values_list("pk", flat=True))


def _event_field_names() -> set[str]:
    return {f.name for f in AccountEvent._meta.get_fields()}


def _event_rows(account_ids: list[int], now: datetime, config: AccountScoringConfig) -> list[Any]:
    """Account events with `renews_at` and `vendor` from their own columns when the model has
    them (FEEDS adds them), else from `details` (how the demo world and the admin store them
    today: {"renews_at": "2027-03-01", "vendor": "Acme CRM"})."""
    fields = _event_field_names()
    columns = ["account_id", "kind", "occurred_at", "title", "details"]
    columns += [name for name in ("renews_at", "vendor") if name in fields]
    recent = now - timedelta(days=max(config.company_change_days, config.competitor_news_days))
    renewal_since = now - timedelta(days=RENEWAL_LOOKBACK_DAYS)
    rows = (
        AccountEvent.objects.filter(account_id__in=account_ids, kind__in=_EVENT_KINDS)
        .filter(
            Q(occurred_at__gte=recent)
            | Q(kind=AccountEventKind.CONTRACT_RENEWAL, occurred_at__gte=renewal_since)
        )
        .filter(occurred_at__lte=now)
        .order_by()
        .values(*columns)
    )
    out = []
    for row in rows:
        details = row.pop("details") or {}
        if not isinstance(details, dict):
            details = {}
        row["renews_at"] = row.get("renews_at") or details.get("renews_at")
        row["vendor"] = row.get("vendor") or details.get("vendor") or ""
        out.append(row)
    return out


def account_frames(
    *, account_ids: Sequence[int], now: datetime, config: AccountScoringConfig
) -> AccountFrames:
    """The evidence of these accounts as of `now`: six queries, whatever their number."""
    ids = [int(i) for i in account_ids]
    window = {
        "occurred_at__gte": now - timedelta(days=config.activity_days),
        "occurred_at__lte": now,
    }
    known = pd.DataFrame(
        list(
            Touchpoint.objects.filter(lead__account_id__in=ids, **window)
            .order_by()
            .values_list("lead__account_id", "lead_id", "occurred_at")
        ),
        columns=["account_id", "lead_id", "occurred_at"],
    )
    anonymous = pd.DataFrame(
        list(
            Touchpoint.objects.filter(lead__isnull=True, account_id__in=ids, **window)
            .order_by()
            .values_list("account_id", "occurred_at")
        ),
        columns=["account_id", "occurred_at"],
    )
    anonymous["lead_id"] = float("nan")
    touchpoints = pd.concat([known, anonymous], ignore_index=True) if len(anonymous) else known

    leads = pd.DataFrame(
        list(
            Lead.objects.filter(account_id__in=ids)
            .order_by()
            .values_list("pk", "account_id", "department")
        ),
        columns=["lead_id", "account_id", "department"],
    )
    stakeholders = list(
        Stakeholder.objects.filter(account_id__in=ids)
        .order_by()
        .values_list("pk", "account_id", "lead_id", "committee_role")
    )
    roles = {(a, lead): role for _, a, lead, role in stakeholders if lead is not None}
    leads["committee_role"] = [
        roles.get((a, lead), "")
        for a, lead in zip(leads["account_id"].tolist(), leads["lead_id"].tolist(), strict=True)
    ]
    # A CRM contact with no lead is known on the committee but can never be active: it gets
    # a negative id of its own so that it neither collides with a lead nor merges with
    # another such contact.
    contacts = pd.DataFrame(
        [(-pk, a, "", role) for pk, a, lead, role in stakeholders if lead is None and role],
        columns=["lead_id", "account_id", "department", "committee_role"],
    )
    people = pd.concat([leads, contacts], ignore_index=True) if len(contacts) else leads

    intent = pd.DataFrame(
        list(
            IntentSignal.objects.filter(
                account_id__in=ids,
                observed_at__gte=now - timedelta(days=config.intent_days),
                observed_at__lte=now,
            )
            .order_by()
            .values_list("account_id", "topic", "surge_score", "observed_at")
        ),
        columns=["account_id", "topic", "surge_score", "observed_at"],
    )
    events = pd.DataFrame(
        _event_rows(ids, now, config),
        columns=["account_id", "kind", "occurred_at", "title", "renews_at", "vendor"],
    )
    if len(events):
        events["renews_at"] = pd.to_datetime(events["renews_at"], utc=True, errors="coerce")
    return AccountFrames(
        accounts=pd.DataFrame({"account_id": ids}),
        touchpoints=touchpoints,
        people=people,
        intent=intent,
        events=events,
    )


def account_qualifications_current(
    *, account_ids: Iterable[int]
) -> dict[int, AccountQualification]:
    """The current qualification of each of these accounts that has one (one query)."""
    return {
        q.account_id: q
        for q in AccountQualification.objects.filter(
            account_id__in=list(account_ids), is_current=True
        )
    }


def account_priorities(*, account_ids: Iterable[int]) -> dict[int, str]:
    """Each account's current priority (one query; accounts never scored are absent)."""
    ids = sorted({int(i) for i in account_ids})
    if not ids:
        return {}
    return dict(
        AccountQualification.objects.filter(account_id__in=ids, is_current=True)
        .order_by()
        .values_list("account_id", "priority")
    )


def lead_account_priorities(*, leads: pd.DataFrame) -> list[str]:
    """The current priority of each lead's account, in the frame's row order ("" for a lead
    without an account or at an account never scored): one query for a chunk of leads."""
    accounts = pd.to_numeric(leads["account_id"], errors="coerce")
    priorities = account_priorities(account_ids=accounts.dropna().astype("int64").unique().tolist())
    return [
        "" if a != a else priorities.get(int(a), "")  # NaN != NaN: no account
        for a in accounts.tolist()
    ]


def account_qualification_history(
    *, account_id: int, limit: int = 10
) -> list[AccountQualification]:
    """The account's last `limit` qualifications, newest first (each one a change)."""
    return list(
        AccountQualification.objects.filter(account_id=account_id).order_by("-computed_at", "-pk")[
            :limit
        ]
    )
