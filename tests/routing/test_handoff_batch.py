"""The batched handoff read: the same packages as one lead at a time, in a bounded number of
queries per batch, with no lead's colleagues, events or assignment leaking into another's."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from accounts.models import (
    Account,
    AccountEventKind,
    CommitteeRole,
    FormType,
    Lead,
    PageCategory,
    TouchpointKind,
)
from routing.handoff import ALERT_FUNDING, ALERT_INTENT_SURGE, to_text
from routing.handoff_service import handoff_for_lead, handoffs_for_leads
from routing.models import AssignmentStatus, Queue
from scoring.models import Tier
from tests.factories import (
    AccountEventFactory,
    AccountFactory,
    AssignmentFactory,
    IntentSignalFactory,
    LeadFactory,
    QualificationFactory,
    SalesRepFactory,
    StakeholderFactory,
    TouchpointFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

# Every batch, whatever its size: leads, qualifications, stakeholders, one activity
# aggregate, events, intent signals, assignments.
BATCH_QUERIES = 7
ROLES = [role for role in CommitteeRole.values if role]
PAGES = [PageCategory.PRICING, PageCategory.CASE_STUDY, PageCategory.BLOG]


def brief(tier: str) -> dict[str, Any]:
    return {
        "tier": tier,
        "status": "Sales Ready" if tier == Tier.SALES_READY else "Nurture",
        "confidence": "high",
        "recommended_action": "Call within the hour.",
        "factors": {
            "positive": [{"feature": "pricing_visits", "sentence": "Visited pricing 4 times"}],
            "negative": [{"feature": "recency", "sentence": "No recorded activity lately"}],
        },
        "talking_points": ["Be ready to discuss pricing tiers."],
    }


@dataclass
class World:
    now: datetime
    accounts: list[Account] = field(default_factory=list)
    leads: list[Lead] = field(default_factory=list)

    @property
    def lead_ids(self) -> list[int]:
        return [lead.pk for lead in self.leads]


def build_world(*, accounts: int, leads_per_account: int, seed: int = 7) -> World:
    """Accounts with committees, colleagues, touchpoints, events, intent and assignments, plus
    leads without an account (one of them on another account's committee)."""
    rng = random.Random(seed)
    now = datetime.now(UTC).replace(microsecond=0)
    world = World(now=now)
    reps = [
        SalesRepFactory(user=UserFactory(first_name=f"Rep{i}", last_name="Smith")) for i in range(3)
    ]
    for a in range(accounts):
        account = AccountFactory(employee_count=50 * (a + 1), industry="Software", region="NA")
        world.accounts.append(account)
        people = [
            LeadFactory(account=account, name=f"Person {a}-{i}", title=rng.choice(["CFO", "VP"]))
            for i in range(leads_per_account)
        ]
        world.leads.extend(people)
        for i, lead in enumerate(people):
            if i % 3 != 2:  # some leads are on the committee, some are not
                StakeholderFactory(
                    account=account,
                    lead=lead,
                    committee_role=rng.choice(ROLES),
                    role_inferred=bool(i % 2),
                )
            if i % 4 != 3:  # some leads are not qualified yet
                QualificationFactory(
                    lead=lead,
                    tier=rng.choice([Tier.SALES_READY, Tier.NURTURE]),
                    brief=brief(rng.choice([Tier.SALES_READY, Tier.NURTURE])),
                )
            for _ in range(rng.randint(0, 6)):
                TouchpointFactory(
                    lead=lead,
                    page_category=rng.choice(PAGES),
                    occurred_at=now - timedelta(hours=rng.uniform(0.5, 24 * 120)),
                )
            if rng.random() < 0.3:
                TouchpointFactory(
                    lead=lead,
                    kind=TouchpointKind.FORM_SUBMIT,
                    form_type=rng.choice([FormType.DEMO_REQUEST, FormType.CONTACT_SALES]),
                    occurred_at=now - timedelta(hours=rng.uniform(1, 72)),
                )
            if rng.random() < 0.6:
                AssignmentFactory(
                    lead=lead,
                    rep=rng.choice([*reps, None]),
                    queue=rng.choice([Queue.SALES, Queue.NURTURE]),
                    status=AssignmentStatus.OPEN,
                    reason=f"routed {a}-{i}",
                    assigned_at=now - timedelta(minutes=rng.randint(1, 600)),
                    sla_due_at=now + timedelta(minutes=rng.randint(-60, 120)),
                    expected_value=rng.choice([None, 25000]),
                )
            if rng.random() < 0.3:
                AssignmentFactory(
                    lead=lead,
                    status=AssignmentStatus.REASSIGNED,
                    reason="old",
                    assigned_at=now - timedelta(days=2),
                )
        # A CRM contact on the committee who is no lead.
        StakeholderFactory(account=account, name=f"Contact {a}", committee_role=CommitteeRole.USER)
        if a % 2 == 0:
            AccountEventFactory(
                account=account,
                kind=AccountEventKind.FUNDING,
                title=f"Series {a}",
                occurred_at=now - timedelta(days=10 + a),
            )
            IntentSignalFactory(
                account=account, topic=f"topic {a}", surge_score=2.5 + a, observed_at=now
            )
        # Out of the window: never shown.
        AccountEventFactory(account=account, occurred_at=now - timedelta(days=200))
        IntentSignalFactory(account=account, surge_score=5.0, observed_at=now - timedelta(days=200))

    # Leads without an account: one with only its own activity, one on the first account's
    # committee (its stakeholders are the committees it sits on, not that account's others).
    loner = LeadFactory(email="pat@gmail.com", name="Pat Doe")
    TouchpointFactory(lead=loner, occurred_at=now - timedelta(days=2))
    QualificationFactory(lead=loner, brief=brief(Tier.NURTURE))
    advisor = LeadFactory(email="ada@outlook.com", name="Ada Advisor")
    StakeholderFactory(
        account=world.accounts[0], lead=advisor, committee_role=CommitteeRole.TECHNICAL_EVALUATOR
    )
    TouchpointFactory(lead=advisor, occurred_at=now - timedelta(days=1))
    world.leads.extend([loner, advisor])
    return world


def test_batched_packages_equal_the_one_lead_packages_for_every_lead() -> None:
    world = build_world(accounts=6, leads_per_account=6)

    batch = handoffs_for_leads(lead_ids=world.lead_ids, now=world.now)

    assert list(batch) == world.lead_ids
    for lead_id in world.lead_ids:
        single = handoff_for_lead(lead_id=lead_id, now=world.now)
        assert batch[lead_id] == single, lead_id
        assert to_text(batch[lead_id]) == to_text(single)


def test_each_lead_sees_only_its_own_accounts_people_events_and_assignment() -> None:
    world = build_world(accounts=3, leads_per_account=4)
    first, second = world.accounts[0], world.accounts[1]

    batch = handoffs_for_leads(lead_ids=world.lead_ids, now=world.now)

    for lead in world.leads:
        package = batch[lead.pk]
        assert package.lead.lead_id == lead.pk
        names = {m.name for m in package.stakeholders.people}
        if lead.account is not None:
            a = world.accounts.index(lead.account)
            colleagues = {p.name for p in world.leads if p.account_id == lead.account_id}
            # Committee members, the CRM contact, the lead and its active colleagues.
            assert names <= colleagues | {f"Contact {a}", "Ada Advisor"}
            i = world.leads.index(lead) - 4 * a
            assert package.reason in ("", f"routed {a}-{i}")
        else:
            assert package.assignment is None
    on_first = next(p for p in world.leads if p.account_id == first.pk)
    on_second = next(p for p in world.leads if p.account_id == second.pk)
    first_kinds = [a.kind for a in batch[on_first.pk].alerts]
    assert ALERT_FUNDING in first_kinds and ALERT_INTENT_SURGE in first_kinds
    second_kinds = [a.kind for a in batch[on_second.pk].alerts]
    assert ALERT_FUNDING not in second_kinds and ALERT_INTENT_SURGE not in second_kinds
    # The advisor, with no account, sees itself only; the first account sees the advisor.
    advisor = world.leads[-1]
    assert [m.name for m in batch[advisor.pk].stakeholders.people] == ["Ada Advisor"]
    assert batch[advisor.pk].stakeholders.people[0].committee_role == (
        CommitteeRole.TECHNICAL_EVALUATOR
    )
    assert "Ada Advisor" in {m.name for m in batch[on_first.pk].stakeholders.people}
    assert "Ada Advisor" not in {m.name for m in batch[on_second.pk].stakeholders.people}
    assert batch[world.leads[-2].pk].lead.company == "gmail.com"


def test_the_current_assignment_is_the_open_or_accepted_one_not_a_newer_closed_one() -> None:
    now = datetime.now(UTC)
    lead, other = LeadFactory(), LeadFactory()
    AssignmentFactory(
        lead=lead,
        reason="current",
        status=AssignmentStatus.ACCEPTED,
        assigned_at=now - timedelta(hours=1),
    )
    AssignmentFactory(
        lead=lead,
        reason="reassigned",
        status=AssignmentStatus.REASSIGNED,
        assigned_at=now - timedelta(minutes=5),
    )
    AssignmentFactory(lead=other, reason="other's", assigned_at=now)

    batch = handoffs_for_leads(lead_ids=[lead.pk, other.pk], now=now)

    assert batch[lead.pk].reason == "current"
    assert batch[other.pk].reason == "other's"


@pytest.mark.parametrize("size", [5, 50])
def test_query_count_is_the_same_for_5_and_50_leads(
    size: int, django_assert_max_num_queries: Any
) -> None:
    world = build_world(accounts=10, leads_per_account=5)
    ids = world.lead_ids[:size]
    assert len(ids) == size

    with django_assert_max_num_queries(BATCH_QUERIES):
        batch = handoffs_for_leads(lead_ids=ids, now=world.now)

    assert len(batch) == size


def test_missing_leads_are_left_out_and_the_one_lead_read_raises() -> None:
    lead = LeadFactory()
    missing = lead.pk + 1000

    batch = handoffs_for_leads(lead_ids=[missing, lead.pk, lead.pk])

    assert list(batch) == [lead.pk]
    assert handoffs_for_leads(lead_ids=[]) == {}
    with pytest.raises(Lead.DoesNotExist):
        handoff_for_lead(lead_id=missing)


def test_naive_now_is_refused() -> None:
    lead = LeadFactory()
    with pytest.raises(ValueError, match="timezone-aware"):
        handoffs_for_leads(lead_ids=[lead.pk], now=datetime(2025, 6, 2, 10, 0))
