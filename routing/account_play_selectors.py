"""Reads of account plays (routing.account_plays): the play of an account, the owner routing
prefers for an outreach account's leads, the leads an outreach gathers, and the account
nurture track shown on the nurture path's page.

Each read is one query whatever the number of accounts or leads. This module imports no
other routing module but the models: routing.selectors reads the play owners from here.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from accounts.models import Account, Lead, LeadStatus, Touchpoint
from routing.models import AccountPlay, AccountPlayStatus

# routing.engine's preferred_reason for an outreach account's leads: the Assignment reason
# reads "account play owner" (or "account play owner out of office → account play owner's
# team (EMEA) → ...").
PLAY_OWNER = "account play owner"


def account_play_for(account: Account | int) -> AccountPlay | None:
    """The account's play, with its owner's user, or None when its priority has set none yet
    (never scored, or scored before plays existed: the next change of its qualification
    starts one)."""
    account_id = account if isinstance(account, int) else account.pk
    return (
        AccountPlay.objects.select_related("owner__user", "qualification")
        .filter(account_id=account_id)
        .first()
    )


def account_play_owners(*, account_ids: Collection[int]) -> dict[int, int]:
    """{account id: owner's rep id} for the accounts among these with an outreach play that
    has an owner (one query): routing prefers that rep for every lead of the account."""
    ids = sorted({int(i) for i in account_ids if i is not None})
    if not ids:
        return {}
    return dict(
        AccountPlay.objects.filter(
            account_id__in=ids, status=AccountPlayStatus.OUTREACH, owner__isnull=False
        )
        .order_by()
        .values_list("account_id", "owner_id")
    )


def engaged_lead_ids(
    *, account_ids: Collection[int], now: datetime, days: int
) -> dict[int, list[int]]:
    """{account id: its engaged leads' ids}: the people with a touchpoint in the last `days`
    (the account score's "people active"), converted and closed leads left out. One query."""
    ids = sorted({int(i) for i in account_ids})
    out: dict[int, list[int]] = {}
    if not ids:
        return out
    rows = (
        Touchpoint.objects.filter(
            lead__account_id__in=ids,
            occurred_at__gte=now - timedelta(days=days),
            occurred_at__lte=now,
        )
        .exclude(lead__status__in=(LeadStatus.CONVERTED, LeadStatus.CLOSED))
        .order_by()
        .values_list("lead__account_id", "lead_id")
        .distinct()
    )
    for account_id, lead_id in sorted(rows):
        out.setdefault(account_id, []).append(lead_id)
    return out


@dataclass(frozen=True)
class NurtureTrack:
    """A lead on its account's targeted nurture track (a Medium account's play)."""

    account_id: int
    account_name: str
    reason: str


def account_nurture_tracks(*, lead_ids: Collection[int]) -> dict[int, NurtureTrack]:
    """{lead id: its account's nurture track} for the leads among these whose account's play
    is a targeted nurture (one query)."""
    ids = sorted({int(i) for i in lead_ids})
    if not ids:
        return {}
    rows = (
        Lead.objects.filter(pk__in=ids, account__play__status=AccountPlayStatus.NURTURE)
        .order_by()
        .values_list("pk", "account_id", "account__name", "account__play__reason")
    )
    return {
        lead_id: NurtureTrack(account_id, name, reason)
        for lead_id, account_id, name, reason in rows
    }
