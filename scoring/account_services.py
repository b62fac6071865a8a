"""Account qualification: score accounts with the pure core and store what changed.

Real time: `accounts_qualify_for_evidence` is the first step of
settings.LEADQUAL_ON_ACCOUNT_EVIDENCE, so an account event, an intent surge, a technology or a
new contact re-scores its account within the evidence task. Nightly: the full run scores every
account before it re-qualifies the leads (`scoring.tasks.leads_qualify_all_task`), which is
also when the engagement part catches up with the day's touchpoints.

A stored row is a change: a run that finds an account's score, priority, parts, roles and
play as they are stores nothing, so the nightly run does not grow the history by one row per
account per night. When an account's priority changes, its leads are marked dirty and handed
to the real-time re-qualification (their Sales Ready bar depends on it; see
`scoring.account_threshold`). The LEADQUAL_AFTER_ACCOUNT_QUALIFY hooks (routing's account
plays) hear of every account stored, once it has committed.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from accounts.evidence_arrival import EvidenceArrival
from accounts.models import Lead
from scoring import account_selectors
from scoring.account_scoring import (
    AccountScoringConfig,
    account_parts,
    account_play,
    accounts_score,
)
from scoring.models import AccountQualification, AccountQualificationReason

logger = logging.getLogger(__name__)

Progress = Callable[[int, int], None]

# Accounts scored and stored together: a handful of queries and one transaction each; at
# 2,000 accounts a chunk's frames stay a few megabytes even for busy accounts.
ACCOUNT_CHUNK = 2000


@dataclass
class AccountQualifyResult:
    accounts: int = 0  # scored
    stored: int = 0  # new rows (accounts whose result changed)
    # account_id -> (previous priority, or "" for an account never scored, new priority)
    priority_changes: dict[int, tuple[str, str]] = field(default_factory=dict)
    # The same for every account that got a new row, its priority changed or not (its roles
    # may have): what the LEADQUAL_AFTER_ACCOUNT_QUALIFY hooks hear of.
    stored_accounts: dict[int, tuple[str, str]] = field(default_factory=dict)
    seconds: float = 0.0


def _signature(values: dict[str, Any]) -> tuple[Any, ...]:
    """What makes a result different from the stored one. The sentences' counts and ages
    ("12 days ago") are left out on purpose: they move every day, and a row a night per
    account is the bloat the history must not have; the points they explain are in."""
    return (
        int(values["score"]),
        str(values["priority"]),
        tuple(int(p["points"]) for p in values["parts"]),
        tuple(values["roles_engaged"]),
        tuple(values["roles_quiet"]),
        tuple(values["roles_missing"]),
        tuple(values["departments"]),
        tuple(values["play"]),
    )


def _stored_signature(row: AccountQualification) -> tuple[Any, ...]:
    return _signature(
        {
            "score": row.score,
            "priority": row.priority,
            "parts": row.parts or [],
            "roles_engaged": row.roles_engaged or [],
            "roles_quiet": row.roles_quiet or [],
            "roles_missing": row.roles_missing or [],
            "departments": row.departments or [],
            "play": row.play or [],
        }
    )


def _results(scored: Any, config: AccountScoringConfig) -> dict[int, dict[str, Any]]:
    out: dict[int, dict[str, Any]] = {}
    for account_id, row in scored.to_dict("index").items():
        out[int(account_id)] = {
            "score": int(row["score"]),
            "priority": str(row["priority"]),
            "parts": account_parts(row, config),
            "roles_engaged": list(row["roles_engaged"]),
            "roles_quiet": list(row["roles_quiet"]),
            "roles_missing": list(row["roles_missing"]),
            "departments": list(row["departments"]),
            "play": account_play(row, config),
        }
    return out


def _store_chunk(
    results: dict[int, dict[str, Any]], *, reason: str, reason_detail: str, now: datetime
) -> tuple[int, dict[int, tuple[str, str]], dict[int, tuple[str, str]]]:
    """Store the changed results of one chunk in one transaction; (rows stored, priority
    changes, (previous, new) priority of every account stored)."""
    with transaction.atomic():
        # Locked, so that two runs scoring the same account at once serialise here instead of
        # both retiring the same row (the loser would then break "one current per account").
        current = {
            row.account_id: row
            for row in AccountQualification.objects.select_for_update().filter(
                account_id__in=list(results), is_current=True
            )
        }
        new: list[AccountQualification] = []
        changes: dict[int, tuple[str, str]] = {}
        stored: dict[int, tuple[str, str]] = {}
        for account_id, values in results.items():
            before = current.get(account_id)
            if before is not None and _stored_signature(before) == _signature(values):
                continue
            new.append(
                AccountQualification(
                    account_id=account_id,
                    computed_at=now,
                    reason=reason,
                    reason_detail=reason_detail[:200],
                    **values,
                )
            )
            previous = before.priority if before is not None else ""
            stored[account_id] = (previous, values["priority"])
            if previous != values["priority"]:
                changes[account_id] = (previous, values["priority"])
        if new:
            AccountQualification.objects.filter(
                account_id__in=[q.account_id for q in new], is_current=True
            ).update(is_current=False)
            AccountQualification.objects.bulk_create(new, batch_size=1000)
    return len(new), changes, stored


def accounts_qualify(
    *,
    account_ids: Sequence[int] | None = None,
    reason: str,
    reason_detail: str = "",
    now: datetime | None = None,
    chunk_size: int = ACCOUNT_CHUNK,
    requalify_leads: bool = True,
    progress: Progress | None = None,
) -> AccountQualifyResult:
    """Score these accounts (None: every account) as of `now` and store the changed results.

    `reason`: an AccountQualificationReason. `requalify_leads`: when a priority changed, mark
    the account's leads dirty and enqueue their re-qualification (the nightly run passes
    False: it re-qualifies every lead right after).
    """
    if reason not in AccountQualificationReason.values:
        raise ValueError(
            f"accounts_qualify: unknown reason {reason!r}; one of "
            f"{', '.join(AccountQualificationReason.values)}"
        )
    if chunk_size < 1:
        raise ValueError(f"accounts_qualify: chunk_size must be at least 1, not {chunk_size}.")
    started = timezone.now()
    now = now or started
    config = account_selectors.account_scoring_config()
    ids = (
        account_selectors.account_ids_for_qualification()
        if account_ids is None
        else sorted({int(i) for i in account_ids})
    )
    result = AccountQualifyResult()
    for start in range(0, len(ids), chunk_size):
        chunk = ids[start : start + chunk_size]
        frames = account_selectors.account_frames(account_ids=chunk, now=now, config=config)
        results = _results(accounts_score(frames, now=now, config=config), config)
        count, changes, stored = _store_chunk(
            results, reason=reason, reason_detail=reason_detail, now=now
        )
        result.accounts += len(results)
        result.stored += count
        result.priority_changes.update(changes)
        result.stored_accounts.update(stored)
        if progress:
            progress(min(start + chunk_size, len(ids)), len(ids))
    if result.priority_changes and requalify_leads:
        _leads_requalify(account_ids=list(result.priority_changes), now=now)
    if result.stored_accounts:
        # Every stored account, not only a changed priority: a play lists the roles to reach,
        # which move under the same priority (routing/account_plays.py).
        stored_accounts = dict(result.stored_accounts)
        transaction.on_commit(lambda: account_priority_changed_notify(stored_accounts))
    result.seconds = (timezone.now() - started).total_seconds()
    return result


def _leads_requalify(*, account_ids: list[int], now: datetime) -> None:
    """Mark the accounts' leads dirty and hand them to the real-time re-qualification: the
    same path as new activity (coalesced, swept if the broker is down)."""
    # Imported here: scoring.tasks imports this module for the nightly run.
    from scoring.tasks import leads_requalify_enqueue

    lead_ids = list(
        Lead.objects.filter(account_id__in=account_ids).order_by("pk").values_list("pk", flat=True)
    )
    if not lead_ids:
        return
    Lead.objects.filter(pk__in=lead_ids).update(requalify_requested_at=now)
    leads_requalify_enqueue(lead_ids)


def account_priority_changed_notify(changes: dict[int, tuple[str, str]]) -> None:
    """settings.LEADQUAL_AFTER_ACCOUNT_QUALIFY, with each account that got a new qualification
    and its (previous, new) priority: routing starts, updates and ends account plays."""
    payload = {account_id: list(pair) for account_id, pair in changes.items()}
    for path in getattr(settings, "LEADQUAL_AFTER_ACCOUNT_QUALIFY", []):
        import_string(path)(payload)


def accounts_qualify_for_evidence(arrivals: Sequence[EvidenceArrival]) -> int:
    """settings.LEADQUAL_ON_ACCOUNT_EVIDENCE (first step): re-score the accounts the evidence
    arrived for, each with the first arrival's kind and detail as its reason; returns how many
    accounts got a new stored result. Safe to run twice: the second run finds nothing
    changed."""
    first: dict[int, EvidenceArrival] = {}
    for arrival in arrivals:
        first.setdefault(arrival.account_id, arrival)
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for account_id, arrival in first.items():
        groups[(arrival.kind, arrival.detail)].append(account_id)
    stored = 0
    for (kind, detail), account_ids in groups.items():
        result = accounts_qualify(account_ids=account_ids, reason=kind, reason_detail=detail)
        stored += result.stored
    return stored
