"""Writes to the CRM record."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction

from accounts.domains import domain_candidates, email_domain, is_free_mail
from accounts.models import Account, Lead
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
