"""Stored account qualifications with crafted values, for the tests of what shows them (the
account page, the accounts API, the Salesforce push). Crafted rather than computed, so that a
test can tell a value read from the stored row from one computed on the spot."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from accounts.models import Account
from scoring.models import AccountQualification, AccountQualificationReason

CRAFTED_PARTS: list[dict[str, Any]] = [
    {"part": "engagement", "label": "Combined engagement", "points": 23, "max": 30,
     "detail": "41 touchpoints in 30 days from 4 people and 6 anonymous visits"},
    {"part": "coverage", "label": "Committee coverage", "points": 12, "max": 25,
     "detail": "Engaged: champion and user; missing: economic buyer"},
    {"part": "cross_functional", "label": "Cross-functional interest", "points": 10, "max": 15,
     "detail": "2 departments active (engineering, operations)"},
    {"part": "intent", "label": "Company intent", "points": 20, "max": 20,
     "detail": '300% research surge on "lead scoring"'},
    {"part": "timing", "label": "Displacement and timing", "points": 6, "max": 10,
     "detail": "Contract with Acme CRM renews in 60 days"},
]  # fmt: skip


def account_qualification_store(
    account: Account,
    *,
    score: int = 71,
    priority: str = "high",
    computed_at: datetime | None = None,
    reason: str = AccountQualificationReason.INTENT,
    reason_detail: str = "lead scoring",
    parts: list[dict[str, Any]] | None = None,
) -> AccountQualification:
    """Store a new current qualification of `account` (the previous current one retires), the
    way scoring.account_services does."""
    AccountQualification.objects.filter(account=account, is_current=True).update(is_current=False)
    return AccountQualification.objects.create(
        account=account,
        is_current=True,
        computed_at=computed_at or timezone.now(),
        score=score,
        priority=priority,
        parts=parts if parts is not None else CRAFTED_PARTS,
        roles_engaged=["champion", "user"],
        roles_quiet=["technical_evaluator"],
        roles_missing=["economic_buyer"],
        departments=["engineering", "operations"],
        play=[
            "Find the economic buyer: no one in that role is mapped.",
            "Re-engage the technical evaluator: quiet for 30 days.",
        ],
        reason=reason,
        reason_detail=reason_detail,
    )


def account_history_store(account: Account) -> list[AccountQualification]:
    """Three qualifications, oldest first: Low 20 (nightly), Medium 41 (an account event),
    then the current High 71 (intent)."""
    now = timezone.now()
    return [
        account_qualification_store(
            account, score=20, priority="low", computed_at=now - timedelta(days=20),
            reason=AccountQualificationReason.NIGHTLY, reason_detail="",
        ),
        account_qualification_store(
            account, score=41, priority="medium", computed_at=now - timedelta(days=6),
            reason=AccountQualificationReason.ACCOUNT_EVENT, reason_detail="funding",
        ),
        account_qualification_store(account, computed_at=now - timedelta(hours=2)),
    ]  # fmt: skip
