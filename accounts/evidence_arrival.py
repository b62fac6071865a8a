"""Account evidence that arrived, and the hand-off to the apps that act on it.

Account-level evidence (an account event such as a funding round, a third-party intent surge,
a technology seen at the account, a new contact at a company we already talk to) does not
touch any one lead's touchpoints, so the per-lead re-qualification of an event ingest never
hears of it. Whatever stores such evidence describes it as `EvidenceArrival`s and, once its
transaction commits, hands them to settings.LEADQUAL_AFTER_ACCOUNT_EVIDENCE: dotted paths,
because accounts cannot import scoring (scoring re-scores the accounts and fires the
re-qualification triggers).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils.module_loading import import_string

KIND_ACCOUNT_EVENT = "account_event"
KIND_INTENT = "intent"
KIND_TECHNOLOGY = "technology"
KIND_NEW_CONTACT = "new_contact"
EVIDENCE_KINDS = (KIND_ACCOUNT_EVENT, KIND_INTENT, KIND_TECHNOLOGY, KIND_NEW_CONTACT)


@dataclass(frozen=True, slots=True)
class EvidenceArrival:
    """One piece of account evidence just stored.

    `record_id` is the stored row's primary key (an AccountEvent, IntentSignal, technology
    row, or for a new contact the new Lead); `detail` narrows the kind where it has one (the
    account event's kind, "funding"; the intent topic).
    """

    account_id: int
    kind: str
    record_id: int | None = None
    detail: str = ""

    def __post_init__(self) -> None:
        if self.kind not in EVIDENCE_KINDS:
            raise ValueError(f"unknown evidence kind {self.kind!r}; one of {EVIDENCE_KINDS}")

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe, for a task message."""
        return {
            "account_id": self.account_id,
            "kind": self.kind,
            "record_id": self.record_id,
            "detail": self.detail,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EvidenceArrival:
        return cls(
            account_id=int(data["account_id"]),
            kind=str(data["kind"]),
            record_id=None if data.get("record_id") is None else int(data["record_id"]),
            detail=str(data.get("detail") or ""),
        )


def account_evidence_notify(arrivals: Sequence[EvidenceArrival]) -> None:
    """Hand the arrivals to the apps that act on them (LEADQUAL_AFTER_ACCOUNT_EVIDENCE)."""
    if not arrivals:
        return
    payload = [arrival.as_dict() for arrival in arrivals]
    for path in settings.LEADQUAL_AFTER_ACCOUNT_EVIDENCE:
        import_string(path)(payload)


def account_evidence_on_commit(arrivals: Iterable[EvidenceArrival]) -> None:
    """Notify once the current transaction commits (at once outside one).

    robust: the evidence is stored whatever a hook does; a failed enqueue (broker down) is
    logged, and the nightly run scores the accounts anyway.
    """
    items = list(arrivals)
    if items:
        transaction.on_commit(lambda: account_evidence_notify(items), robust=True)
