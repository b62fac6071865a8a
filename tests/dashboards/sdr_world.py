"""Small worlds for the SDR page tests: reps with queues of qualified, assigned leads."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from accounts.models import Account, CommitteeRole, Lead, PageCategory, TouchpointKind
from routing.models import Assignment, Queue, SalesRep
from scoring.models import Confidence, Qualification, Tier
from tests.factories import (
    AccountEventFactory,
    AccountFactory,
    AssignmentFactory,
    IntentSignalFactory,
    LeadFactory,
    QualificationFactory,
    StakeholderFactory,
    TouchpointFactory,
)


def seed_brief(**overrides: Any) -> dict[str, Any]:
    """The seed's assessment card as a stored brief, with one rule hit apart from the factors."""
    brief: dict[str, Any] = {
        "lead": {"name": "Jennifer Martinez", "title": "Director of Operations",
                 "email": "jennifer@acme-mfg.com"},
        "status": "Sales Ready",
        "tier": "sales_ready",
        "needs_review": False,
        "confidence": "high",
        "confidence_note": "",
        "behaviour": [
            "Activity: 12 touchpoints in past 7 days (vs. 2 the month before), 14 in all.",
            "Content pattern: progressed from educational to evaluation content.",
        ],
        "content": [
            {"category": "implementation", "visits": 3, "minutes": 12.0},
            {"category": "roi_calculator", "visits": 2, "minutes": 8.0},
        ],
        "fit": {
            "company": {"score": 92, "factors": [
                {"factor": "company_size", "label": "Company size in range", "points": 40,
                 "max": 40},
            ]},
            "role": {"score": 88, "factors": []},
            "technology": {"score": 85, "factors": []},
            "timing": {"score": 80, "factors": []},
        },
        "intent": {
            "first_party": ["Demo or contact-sales request submitted."],
            "third_party": ["Company showing 340% surge in category research."],
            "timing": ["New leader started 6 weeks ago."],
        },
        "predictive": {
            "conversion_probability": 0.78,
            "timeline_days": [45, 60],
            "deal_size": [85000, 120000],
            "model_version": None,
            "thresholds": {"sales_ready": 0.5, "nurture": 0.03},
        },
        "rule_hits": [],
        "factors": {
            "positive": [
                {"feature": "surge_ratio", "contribution": 0.9,
                 "sentence": "Activity surge: 12 touchpoints in the past 7 days."},
            ],
            "negative": [
                {"feature": "email_domain_type", "contribution": -0.05,
                 "sentence": "Email domain type: corporate (lowers the likelihood)."},
            ],
        },
        "point_score": {"score": 95, "threshold": 100, "would_route": False},
        "recommended_action": "Route to Enterprise SDR with context brief.",
        "talking_points": ["Walk through the ROI model they explored."],
        "move_up": [],
    }  # fmt: skip
    brief.update(overrides)
    return brief


def assigned_lead(
    *,
    rep: SalesRep,
    account: Account | None = None,
    name: str = "",
    email: str | None = None,
    probability: float = 0.5,
    expected_value: float | None = None,
    sla_due_at: datetime | None = None,
    brief: dict[str, Any] | None = None,
    touchpoints: int = 1,
) -> Lead:
    """A lead owned by and assigned open (sales queue) to `rep`, qualified Sales Ready."""
    now = timezone.now()
    fields: dict[str, Any] = {"account": account, "owner": rep.user, "name": name}
    if email is not None:
        fields["email"] = email
    lead: Lead = LeadFactory(**fields)
    for i in range(touchpoints):
        TouchpointFactory(
            lead=lead,
            page_category=PageCategory.PRICING if i % 2 else PageCategory.BLOG,
            duration_seconds=120,
            occurred_at=now - timedelta(days=i * 3),
        )
    QualificationFactory(
        lead=lead,
        tier=Tier.SALES_READY,
        confidence=Confidence.HIGH,
        conversion_probability=probability,
        point_score=40,
        brief=brief if brief is not None else seed_brief(),
    )
    AssignmentFactory(
        lead=lead,
        rep=rep,
        queue=Queue.SALES,
        tier=Tier.SALES_READY,
        expected_value=Decimal(str(expected_value)) if expected_value is not None else None,
        sla_due_at=sla_due_at if sla_due_at is not None else now + timedelta(hours=5),
    )
    return lead


def busy_account(*, rep: SalesRep, people: int = 6) -> tuple[Account, list[Lead]]:
    """An account with several assigned leads, a committee, intent and events."""
    now = timezone.now()
    account = AccountFactory(name="Acme Manufacturing", employee_count=500, industry="Industrial")
    roles = [CommitteeRole.ECONOMIC_BUYER, CommitteeRole.CHAMPION, CommitteeRole.USER]
    leads = []
    for i in range(people):
        lead = assigned_lead(rep=rep, account=account, name=f"Person {i}", touchpoints=3,
                             probability=0.3 + i / 20)  # fmt: skip
        StakeholderFactory(account=account, lead=lead, committee_role=roles[i % len(roles)],
                           name=f"Person {i}")  # fmt: skip
        leads.append(lead)
    TouchpointFactory(lead=None, account=account, kind=TouchpointKind.PAGE_VIEW,
                      occurred_at=now - timedelta(days=1))  # fmt: skip
    for i in range(3):
        IntentSignalFactory(account=account, topic=f"topic {i}", surge_score=2.0 + i,
                            observed_at=now - timedelta(days=i))  # fmt: skip
        AccountEventFactory(account=account, title=f"New VP {i}",
                            occurred_at=now - timedelta(days=10 + i))  # fmt: skip
    return account, leads


def current(lead: Lead) -> Qualification:
    return Qualification.objects.get(lead=lead, is_current=True)


def open_assignment(lead: Lead) -> Assignment:
    return Assignment.objects.get(lead=lead, status="open")
