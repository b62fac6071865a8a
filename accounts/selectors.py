"""Reads of the CRM record."""

from __future__ import annotations

from collections.abc import Sequence

from accounts.models import Account, SalesforceSyncRun, SalesforceSyncState


def account_for_domain(*, candidates: Sequence[str]) -> Account | None:
    """The account whose domain is the most specific of the candidates, if any."""
    if not candidates:
        return None
    found = {a.domain: a for a in Account.objects.filter(domain__in=candidates)}
    for domain in candidates:
        if domain in found:
            return found[domain]
    return None


def salesforce_sync_runs_recent(*, limit: int = 20) -> list[SalesforceSyncRun]:
    """The latest pulls and pushes, newest first."""
    return list(SalesforceSyncRun.objects.order_by("-started_at", "-pk")[:limit])


def salesforce_sync_states() -> list[SalesforceSyncState]:
    """The pull's position per Salesforce object, by object name."""
    return list(SalesforceSyncState.objects.order_by("object_name"))
