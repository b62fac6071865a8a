"""Reads of the CRM record."""

from __future__ import annotations

from collections.abc import Sequence

from accounts.models import Account


def account_for_domain(*, candidates: Sequence[str]) -> Account | None:
    """The account whose domain is the most specific of the candidates, if any."""
    if not candidates:
        return None
    found = {a.domain: a for a in Account.objects.filter(domain__in=candidates)}
    for domain in candidates:
        if domain in found:
            return found[domain]
    return None
