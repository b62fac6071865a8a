"""Lead-to-account matching by email domain: free mail never matches, subdomains find their
parent, the most specific account wins."""

from __future__ import annotations

import pytest
from pytest_django.fixtures import Settings

from accounts.domains import (
    InvalidEmail,
    domain_candidates,
    email_domain,
    is_free_mail,
    normalise_domain,
    normalise_email,
)
from accounts.services import account_match_for_email, lead_match_account
from tests.factories import AccountFactory, LeadFactory


@pytest.mark.django_db
def test_a_gmail_address_never_joins_an_account_even_one_with_that_domain() -> None:
    AccountFactory(name="Google (mail)", domain="gmail.com")
    lead = LeadFactory(email="someone@gmail.com")

    lead_match_account(lead=lead)

    lead.refresh_from_db()
    assert lead.account is None
    assert account_match_for_email(email="someone@gmail.com") is None


@pytest.mark.django_db
def test_a_subdomain_address_joins_the_parent_account() -> None:
    acme = AccountFactory(domain="acme.com")
    lead = LeadFactory(email="someone@eu.acme.com")

    lead_match_account(lead=lead)

    lead.refresh_from_db()
    assert lead.account == acme


@pytest.mark.django_db
def test_an_exact_domain_address_joins_its_account() -> None:
    acme = AccountFactory(domain="acme.com")

    assert account_match_for_email(email="Jordan@ACME.com") == acme


@pytest.mark.django_db
def test_the_most_specific_account_wins() -> None:
    AccountFactory(name="Acme", domain="acme.com")
    acme_eu = AccountFactory(name="Acme Europe", domain="eu.acme.com")

    assert account_match_for_email(email="someone@eu.acme.com") == acme_eu
    assert account_match_for_email(email="someone@sales.eu.acme.com") == acme_eu
    us = account_match_for_email(email="someone@us.acme.com")
    assert us is not None
    assert us.domain == "acme.com"


@pytest.mark.django_db
def test_a_compound_suffix_company_matches_but_the_suffix_itself_never_does() -> None:
    acme_uk = AccountFactory(domain="acme.co.uk")
    # A bad record with a public suffix as its domain must not swallow every UK company.
    AccountFactory(domain="co.uk")

    assert account_match_for_email(email="someone@sales.acme.co.uk") == acme_uk
    assert account_match_for_email(email="someone@acme.co.uk") == acme_uk
    assert account_match_for_email(email="someone@other.co.uk") is None


def test_a_compound_suffix_is_never_a_candidate() -> None:
    assert domain_candidates("eu.acme.co.uk") == ["eu.acme.co.uk", "acme.co.uk"]
    assert domain_candidates("eu.sales.acme.com") == [
        "eu.sales.acme.com",
        "sales.acme.com",
        "acme.com",
    ]


@pytest.mark.django_db
def test_no_account_no_match() -> None:
    lead = LeadFactory(email="someone@unknown-company.com")

    lead_match_account(lead=lead)

    lead.refresh_from_db()
    assert lead.account is None


@pytest.mark.django_db
def test_matching_again_changes_nothing() -> None:
    acme = AccountFactory(domain="acme.com")
    lead = LeadFactory(email="someone@acme.com")
    lead_match_account(lead=lead)
    lead.refresh_from_db()
    updated_at = lead.updated_at

    lead_match_account(lead=lead)

    lead.refresh_from_db()
    assert lead.account == acme
    assert lead.updated_at == updated_at


@pytest.mark.django_db
def test_extra_free_mail_domains_from_settings_never_match(settings: Settings) -> None:
    AccountFactory(domain="mailbox.example")
    assert account_match_for_email(email="someone@mailbox.example") is not None

    settings.LEADQUAL_FREE_MAIL_DOMAINS_EXTRA = ["Mailbox.Example"]

    assert account_match_for_email(email="someone@mailbox.example") is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("acme.com", "acme.com"),
        ("ACME.com", "acme.com"),
        ("www.acme.com", "acme.com"),
        ("https://www.acme.com/pricing?plan=team", "acme.com"),
        ("http://Acme.com:8080/", "acme.com"),
        ("  acme.com.  ", "acme.com"),
        ("eu.acme.com", "eu.acme.com"),
    ],
)
def test_normalise_domain(raw: str, expected: str) -> None:
    assert normalise_domain(raw) == expected


def test_normalise_email_lower_cases_and_strips_www() -> None:
    assert normalise_email("  Jordan.Lee@WWW.Acme.com ") == "jordan.lee@acme.com"
    assert email_domain("jordan.lee@EU.acme.com") == "eu.acme.com"


@pytest.mark.parametrize("raw", ["", "jordan", "jordan@", "@acme.com", "jordan@localhost"])
def test_invalid_emails_raise(raw: str) -> None:
    with pytest.raises(InvalidEmail):
        normalise_email(raw)


def test_free_mail_is_recognised_in_any_case_and_with_www() -> None:
    assert is_free_mail("gmail.com")
    assert is_free_mail("GMail.com")
    assert is_free_mail("yahoo.co.uk")
    assert not is_free_mail("acme.com")
    assert is_free_mail("mailbox.example", extra=["MAILBOX.example"])
