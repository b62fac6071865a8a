"""The database refuses data that breaks the model's rules, whichever code path writes it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Account, Lead, Opportunity, OpportunityStage, Touchpoint
from scoring.models import ModelKind, ModelStatus
from tests.factories import (
    AccountFactory,
    LeadFactory,
    ModelVersionFactory,
    OpportunityFactory,
    QualificationFactory,
    StakeholderFactory,
    TouchpointFactory,
)

pytestmark = pytest.mark.django_db


def test_a_touchpoint_external_id_is_unique_so_replays_cannot_duplicate_events() -> None:
    TouchpointFactory(external_id="evt-1")

    with pytest.raises(IntegrityError), transaction.atomic():
        TouchpointFactory(external_id="evt-1")

    assert Touchpoint.objects.filter(external_id="evt-1").count() == 1


def test_a_lead_email_is_unique() -> None:
    LeadFactory(email="jordan@acme.com")

    with pytest.raises(IntegrityError), transaction.atomic():
        LeadFactory(email="jordan@acme.com")

    assert Lead.objects.filter(email="jordan@acme.com").count() == 1


def test_an_upper_case_lead_email_violates_the_lowercase_check() -> None:
    with pytest.raises(IntegrityError, match="lead_email_lowercase"), transaction.atomic():
        Lead.objects.create(email="Jordan@Acme.com")

    assert not Lead.objects.exists()


def test_an_upper_case_account_domain_violates_the_lowercase_check() -> None:
    with pytest.raises(IntegrityError, match="account_domain_lowercase"), transaction.atomic():
        Account.objects.create(name="Acme", domain="Acme.com")

    assert not Account.objects.exists()


def test_an_account_domain_is_unique() -> None:
    AccountFactory(domain="acme.com")

    with pytest.raises(IntegrityError), transaction.atomic():
        AccountFactory(domain="acme.com")


def test_a_touchpoint_needs_a_lead_or_an_account() -> None:
    with (
        pytest.raises(IntegrityError, match="touchpoint_has_lead_or_account"),
        transaction.atomic(),
    ):
        TouchpointFactory(lead=None, account=None)

    # Either one alone is enough: an anonymous visit from a known company has only the account.
    TouchpointFactory(lead=None, account=AccountFactory())
    TouchpointFactory(lead=LeadFactory(), account=None)
    assert Touchpoint.objects.count() == 2


def test_a_lead_has_at_most_one_current_qualification() -> None:
    lead = LeadFactory()
    QualificationFactory(lead=lead, is_current=True)

    with pytest.raises(IntegrityError), transaction.atomic():
        QualificationFactory(lead=lead, is_current=True)

    # The history is append-only: any number of past assessments beside the current one.
    QualificationFactory(lead=lead, is_current=False)
    QualificationFactory(lead=lead, is_current=False)
    assert lead.qualifications.filter(is_current=True).count() == 1
    assert lead.qualifications.count() == 3


def test_two_leads_each_have_their_own_current_qualification() -> None:
    QualificationFactory(is_current=True)
    QualificationFactory(is_current=True)


def test_only_one_model_version_of_a_kind_is_active() -> None:
    ModelVersionFactory(kind=ModelKind.CONVERSION, status=ModelStatus.ACTIVE)

    with pytest.raises(IntegrityError), transaction.atomic():
        ModelVersionFactory(kind=ModelKind.CONVERSION, status=ModelStatus.ACTIVE)

    # Other kinds have their own active version; candidates and retired ones are unlimited.
    ModelVersionFactory(kind=ModelKind.TIMELINE, status=ModelStatus.ACTIVE)
    ModelVersionFactory(kind=ModelKind.CONVERSION, status=ModelStatus.CANDIDATE)
    ModelVersionFactory(kind=ModelKind.CONVERSION, status=ModelStatus.RETIRED)


def test_a_won_opportunity_must_be_closed() -> None:
    with pytest.raises(IntegrityError, match="opportunity_won_is_closed"), transaction.atomic():
        OpportunityFactory(stage=OpportunityStage.CLOSED_WON, is_won=True, is_closed=False)

    OpportunityFactory(stage=OpportunityStage.CLOSED_WON, is_won=True, is_closed=True)
    OpportunityFactory(stage=OpportunityStage.CLOSED_LOST, is_won=False, is_closed=True)
    assert Opportunity.objects.count() == 2


def test_an_opportunity_cannot_close_before_it_opens() -> None:
    opened = timezone.now()

    with (
        pytest.raises(IntegrityError, match="opportunity_closes_after_it_opens"),
        transaction.atomic(),
    ):
        OpportunityFactory(created_at=opened, closed_at=opened - timedelta(days=1), is_closed=True)


def test_a_lead_is_a_stakeholder_of_an_account_once() -> None:
    lead = LeadFactory()
    account = AccountFactory()
    StakeholderFactory(account=account, lead=lead)

    with pytest.raises(IntegrityError), transaction.atomic():
        StakeholderFactory(account=account, lead=lead)

    # Contacts without a lead are not limited by it.
    StakeholderFactory(account=account, lead=None, name="A")
    StakeholderFactory(account=account, lead=None, name="B")
