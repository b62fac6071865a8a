"""Writes to the CRM record."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping, Sequence
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from accounts.domains import domain_candidates, email_domain, is_free_mail
from accounts.models import (
    Account,
    ApiScope,
    ApiToken,
    Lead,
    SalesforceSyncRun,
    SyncDirection,
    SyncRunStatus,
)
from accounts.salesforce.client import ApiUsage
from accounts.selectors import account_for_domain


def account_match_for_email(*, email: str) -> Account | None:
    """The account an address belongs to, by its domain or the nearest parent domain.

    Free-mail addresses never match: a gmail.com address is a person, not a company.
    """
    domain = email_domain(email)
    if is_free_mail(domain, settings.LEADQUAL_FREE_MAIL_DOMAINS_EXTRA):
        return None
    return account_for_domain(candidates=domain_candidates(domain))


@transaction.atomic
def lead_match_account(*, lead: Lead) -> Lead:
    """Attach the lead to its account when the email domain (or a parent) names one."""
    account = account_match_for_email(email=lead.email)
    if account is not None and lead.account_id != account.pk:
        lead.account = account
        lead.save(update_fields=["account", "updated_at"])
    return lead


# --- API tokens -------------------------------------------------------------------------------

# Keys look like "lq_<43 url-safe characters>" (256 random bits): the marker makes a leaked key
# recognisable to secret scanners, and the prefix kept in clear tells tokens apart.
API_KEY_MARKER = "lq_"
API_KEY_PREFIX_LENGTH = 10


def api_key_hash(key: str) -> str:
    """The stored form of a key. A plain SHA-256 is enough: the key is 256 random bits, so
    there is nothing for a slow, salted hash to protect against guessing."""
    return hashlib.sha256(key.encode()).hexdigest()


def api_token_issue(*, name: str, scope: str, created_by: User | None) -> tuple[ApiToken, str]:
    """A new token and its key. The key is returned once and never stored: show it now."""
    if scope not in ApiScope.values:
        raise ValueError(f"Unknown API scope {scope!r}; expected one of {ApiScope.values}.")
    if not name.strip():
        raise ValueError("An API token needs a name saying who uses it.")
    key = API_KEY_MARKER + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        name=name.strip(),
        scope=scope,
        prefix=key[:API_KEY_PREFIX_LENGTH],
        key_hash=api_key_hash(key),
        created_by=created_by,
    )
    return token, key


def api_token_revoke(*, token: ApiToken) -> ApiToken:
    """Stop the token working from the next request on. Revoking twice keeps the first time."""
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token


# --- Salesforce sync runs ---------------------------------------------------------------------

# A run keeps the first errors only: enough to see what is wrong, small enough for the panel.
SYNC_RUN_MAX_ERRORS = 100


def salesforce_sync_run_start(*, direction: str, dry_run: bool = False) -> SalesforceSyncRun:
    """Record that a pull or push starts; finish it with `salesforce_sync_run_finish`."""
    if direction not in SyncDirection.values:
        raise ValueError(f"Unknown sync direction {direction!r}; expected {SyncDirection.values}.")
    return SalesforceSyncRun.objects.create(direction=direction, dry_run=dry_run)


def salesforce_sync_run_finish(
    *,
    run: SalesforceSyncRun,
    status: str,
    counts: Mapping[str, Any],
    errors: Sequence[Mapping[str, Any]],
    api_usage: ApiUsage | None,
) -> SalesforceSyncRun:
    """Record how a run ended. ``counts`` is {object: {count: n}} (or objects with
    ``as_dict()``, such as the pull's PullCounts); ``errors`` is cut to the first 100."""
    if status not in SyncRunStatus.values or status == SyncRunStatus.RUNNING:
        raise ValueError(f"A finished run is ok, failed or stopped, not {status!r}.")
    run.status = status
    run.finished_at = timezone.now()
    run.counts = {
        str(name): (value.as_dict() if hasattr(value, "as_dict") else dict(value))
        for name, value in counts.items()
    }
    run.errors = [dict(error) for error in errors[:SYNC_RUN_MAX_ERRORS]]
    run.api_used = api_usage.used if api_usage is not None else None
    run.api_limit = api_usage.limit if api_usage is not None else None
    run.save(update_fields=["status", "finished_at", "counts", "errors", "api_used", "api_limit"])
    return run
