"""factory_boy factories for every model.

Each factory sets only what the database or the model requires, with unique values where a
constraint demands them; a test sets what it asserts on. Users get the password
`TEST_PASSWORD` so `client.login(username=..., password=TEST_PASSWORD)` works.
"""

from __future__ import annotations

from typing import Any

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from accounts.models import (
    Account,
    AccountEvent,
    AccountEventKind,
    IntentSignal,
    Lead,
    Opportunity,
    OpportunityStage,
    Stakeholder,
    Touchpoint,
    TouchpointKind,
)
from routing.models import Assignment, RoutingPool, RoutingRule, SalesRep, Territory
from scoring.models import (
    Confidence,
    DisqualificationRule,
    Feedback,
    FeedbackReason,
    FeedbackVerdict,
    IdealCustomerProfile,
    ModelKind,
    ModelVersion,
    PointRule,
    PointSignal,
    Qualification,
    RuleCategory,
    Tier,
)

TEST_PASSWORD = "test-password-1234"

# factory_boy's Factory.__new__ is untyped, so mypy would take `LeadFactory()` for a LeadFactory
# instead of a Lead. Through an Any base the result is compatible with the model type, and a
# test that wants precise types annotates it: `lead: Lead = LeadFactory()`.
ModelFactory: Any = factory.django.DjangoModelFactory


class UserFactory(ModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password(TEST_PASSWORD)


# --- accounts -------------------------------------------------------------------------------


class AccountFactory(ModelFactory):
    class Meta:
        model = Account

    name = factory.Sequence(lambda n: f"Company {n}")
    # Lower case: the account_domain_lowercase constraint.
    domain = factory.Sequence(lambda n: f"company{n}.com")


class LeadFactory(ModelFactory):
    class Meta:
        model = Lead

    # Lower case: the lead_email_lowercase constraint.
    email = factory.Sequence(lambda n: f"person{n}@example.com")


class StakeholderFactory(ModelFactory):
    class Meta:
        model = Stakeholder

    account = factory.SubFactory(AccountFactory)


class TouchpointFactory(ModelFactory):
    class Meta:
        model = Touchpoint

    # A touchpoint needs a lead or an account (touchpoint_has_lead_or_account).
    lead = factory.SubFactory(LeadFactory)
    kind = TouchpointKind.PAGE_VIEW
    occurred_at = factory.LazyFunction(timezone.now)
    external_id = factory.Sequence(lambda n: f"tp-{n}")


class IntentSignalFactory(ModelFactory):
    class Meta:
        model = IntentSignal

    account = factory.SubFactory(AccountFactory)
    topic = "lead qualification"
    surge_score = 1.0
    observed_at = factory.LazyFunction(timezone.now)


class AccountEventFactory(ModelFactory):
    class Meta:
        model = AccountEvent

    account = factory.SubFactory(AccountFactory)
    kind = AccountEventKind.FUNDING
    occurred_at = factory.LazyFunction(timezone.now)
    title = factory.Sequence(lambda n: f"Event {n}")


class OpportunityFactory(ModelFactory):
    class Meta:
        model = Opportunity

    stage = OpportunityStage.PROSPECTING


# --- scoring --------------------------------------------------------------------------------


class IdealCustomerProfileFactory(ModelFactory):
    """Active by default, as the model is: at most one active profile may exist (icp_one_active),
    so pass is_active=False for any others."""

    class Meta:
        model = IdealCustomerProfile

    name = factory.Sequence(lambda n: f"ICP {n}")


class DisqualificationRuleFactory(ModelFactory):
    class Meta:
        model = DisqualificationRule

    name = factory.Sequence(lambda n: f"Rule {n}")
    category = RuleCategory.COMPETITOR
    reason_code = factory.Sequence(lambda n: f"reason-{n}")


class PointRuleFactory(ModelFactory):
    class Meta:
        model = PointRule

    name = factory.Sequence(lambda n: f"Points {n}")
    signal = PointSignal.PAGE_CATEGORY
    points = 10


class ModelVersionFactory(ModelFactory):
    """A candidate (the model's default); at most one active version per kind may exist."""

    class Meta:
        model = ModelVersion

    kind = ModelKind.CONVERSION
    artifact = b""


class QualificationFactory(ModelFactory):
    """Current by default: at most one current qualification per lead may exist."""

    class Meta:
        model = Qualification

    lead = factory.SubFactory(LeadFactory)
    tier = Tier.NURTURE
    confidence = Confidence.MEDIUM


class FeedbackFactory(ModelFactory):
    class Meta:
        model = Feedback

    lead = factory.SubFactory(LeadFactory)
    # Nullable in the table (a deleted user keeps their feedback) but required on entry.
    user = factory.SubFactory(UserFactory)
    verdict = FeedbackVerdict.ACCEPT
    reason = FeedbackReason.GOOD_FIT


# --- routing --------------------------------------------------------------------------------


class TerritoryFactory(ModelFactory):
    class Meta:
        model = Territory

    name = factory.Sequence(lambda n: f"Territory {n}")


class SalesRepFactory(ModelFactory):
    class Meta:
        model = SalesRep

    user = factory.SubFactory(UserFactory)


class RoutingPoolFactory(ModelFactory):
    """Not the fallback by default: at most one fallback pool may exist."""

    class Meta:
        model = RoutingPool

    name = factory.Sequence(lambda n: f"Pool {n}")


class RoutingRuleFactory(ModelFactory):
    class Meta:
        model = RoutingRule

    name = factory.Sequence(lambda n: f"Routing rule {n}")
    pool = factory.SubFactory(RoutingPoolFactory)


class AssignmentFactory(ModelFactory):
    class Meta:
        model = Assignment

    lead = factory.SubFactory(LeadFactory)
    reason = "Assigned by a test."
