"""The handoff package: pure builders on hand-made briefs, the text renderings, and the read of
one lead's package from the database in a bounded number of queries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from accounts.models import AccountEventKind, CommitteeRole, FormType, TouchpointKind
from routing import handoff
from routing.handoff import (
    ALERT_ACTIVITY_SURGE,
    ALERT_COLLEAGUE_REQUEST,
    ALERT_CONTACT_SALES,
    ALERT_DEMO_REQUEST,
    ALERT_FUNDING,
    ALERT_INTENT_SURGE,
    ALERT_LEADERSHIP_CHANGE,
    ALERT_SLA,
    CHANNEL_EMAIL_THEN_PHONE,
    CHANNEL_NONE,
    CHANNEL_PHONE,
    CHANNEL_REVIEW,
    HIGH,
    MEDIUM,
    Activity,
    AssignmentInfo,
    EventFacts,
    HandoffPackage,
    IntentFacts,
    LeadCard,
    PersonFacts,
    build_handoff,
    to_dict,
    to_summary,
    to_text,
)
from routing.handoff_service import handoff_for_lead
from routing.models import AssignmentStatus, Queue
from scoring.models import Confidence, Tier
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

NOW = datetime(2025, 6, 2, 10, 0, tzinfo=UTC)


def sales_ready_brief(**overrides: Any) -> dict[str, Any]:
    """The seed's assessment card (Jennifer Martinez at Acme Manufacturing) as a stored brief."""
    brief: dict[str, Any] = {
        "lead": {
            "name": "Jennifer Martinez",
            "title": "Director of Operations",
            "email": "jennifer@acme-mfg.com",
        },
        "status": "Sales Ready",
        "tier": "sales_ready",
        "needs_review": False,
        "confidence": "high",
        "confidence_note": "",
        "behaviour": [
            "Activity: 12 touchpoints in past 7 days (vs. 2 the month before), 14 in all.",
            "Content pattern: progressed from educational to evaluation content.",
            "Page focus: ROI calculator (8 min), Implementation guide (12 min).",
            "Multi-stakeholder: 1 other people from the company active recently.",
            "Pattern matches active buyers in evaluation.",
        ],
        "content": [
            {"category": "implementation", "visits": 3, "minutes": 12.0},
            {"category": "roi_calculator", "visits": 2, "minutes": 8.0},
            {"category": "pricing", "visits": 1, "minutes": 2.5},
        ],
        "fit": {
            "company": {"score": 92, "factors": []},
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
            "model_version": 3,
            "thresholds": {"sales_ready": 0.5, "nurture": 0.03},
        },
        "rule_hits": [],
        "factors": {
            "positive": [
                {
                    "feature": "surge_ratio",
                    "contribution": 0.9,
                    "sentence": "Activity surge: 12 touchpoints in the past 7 days "
                    "(vs. 2 the month before).",
                },
                {
                    "feature": "demo_requests",
                    "contribution": 0.7,
                    "sentence": "First-party: demo or contact-sales request submitted.",
                },
                {
                    "feature": "intent_surge_max_30d",
                    "contribution": 0.4,
                    "sentence": "Third-party: company showing 340% surge in category research.",
                },
            ],
            "negative": [
                {
                    "feature": "email_domain_type",
                    "contribution": -0.05,
                    "sentence": "Email domain type: corporate (lowers the likelihood).",
                }
            ],
        },
        "point_score": {"score": 85, "threshold": 100, "would_route": False},
        "recommended_action": (
            "Route to Enterprise SDR with context brief. High-priority demo scheduling within "
            "24 hours. Consider executive sponsorship given deal size estimate."
        ),
        "talking_points": [
            "Address implementation timeline and resourcing: they read the guide.",
            "Walk through the ROI model they explored; bring numbers for their size.",
            "Be ready to discuss pricing tiers and packaging.",
        ],
        "move_up": [],
    }
    brief.update(overrides)
    return brief


def jennifer(**overrides: Any) -> LeadCard:
    fields: dict[str, Any] = {
        "lead_id": 1,
        "name": "Jennifer Martinez",
        "title": "Director of Operations",
        "email": "jennifer@acme-mfg.com",
        "company": "Acme Manufacturing",
        "account_id": 10,
        "employees": 500,
        "industry": "Industrial",
        "region": "North America",
    }
    fields.update(overrides)
    return LeadCard(**fields)


def fresh_demo_request(hours_ago: float = 2) -> Activity:
    return Activity(
        touchpoints_7d=12,
        touchpoints_30d=14,
        touchpoints_prev_30d=2,
        last_seen_at=NOW - timedelta(hours=1),
        last_request_at=NOW - timedelta(hours=hours_ago),
        last_request_form=FormType.DEMO_REQUEST.value,
    )


def committee() -> list[PersonFacts]:
    return [
        PersonFacts(
            name="Jennifer Martinez",
            title="Director of Operations",
            email="jennifer@acme-mfg.com",
            committee_role=CommitteeRole.CHAMPION,
            lead_id=1,
            activity=fresh_demo_request(),
        ),
        PersonFacts(
            name="Carl Finch",
            title="CFO",
            email="carl@acme-mfg.com",
            committee_role=CommitteeRole.ECONOMIC_BUYER,
            role_inferred=False,
            lead_id=2,
            activity=Activity(touchpoints_30d=3, last_seen_at=NOW - timedelta(days=1)),
        ),
        # A CRM contact with no lead: on the committee, never seen on the website.
        PersonFacts(name="Ida Quill", title="IT Manager", committee_role=CommitteeRole.USER),
    ]


def _package(**overrides: Any) -> HandoffPackage:
    inputs: dict[str, Any] = {
        "lead": jennifer(),
        "brief": sales_ready_brief(),
        "people": committee(),
        "now": NOW,
    }
    inputs.update(overrides)
    return build_handoff(**inputs)


# --- pure: labels agree with the models -----------------------------------------------------


def test_pure_constants_agree_with_the_model_choices():
    assert tuple(CommitteeRole.values) == (*handoff.COMMITTEE_ROLES, "")
    assert {v: str(label) for v, label in CommitteeRole.choices} == handoff.ROLE_LABELS
    assert {v: str(label) for v, label in Confidence.choices} == handoff.CONFIDENCE_LABELS
    assert tuple(Tier.values) == (handoff.SALES_READY, handoff.NURTURE, handoff.DISQUALIFY)
    assert handoff.REQUEST_FORMS == (FormType.DEMO_REQUEST, FormType.CONTACT_SALES)
    assert {handoff.EVENT_FUNDING, handoff.EVENT_LEADERSHIP_CHANGE, handoff.EVENT_INITIATIVE} <= (
        set(AccountEventKind.values)
    )


# --- pure: the qualification summary and score ----------------------------------------------


def test_summary_gives_three_to_five_key_signals_one_per_topic_positive_factors_first():
    package = _package()

    assert 3 <= len(package.summary) <= 5
    assert package.summary[0].startswith("Activity surge: 12 touchpoints")
    # The behaviour line and the intent line restate factors already chosen: not repeated.
    assert not any(line.startswith("Activity: 12") for line in package.summary)
    assert sum("demo or contact-sales" in line.lower() for line in package.summary) == 1
    assert sum("340% surge" in line for line in package.summary) == 1
    assert "New leader started 6 weeks ago." in package.summary


def test_sales_ready_summary_leaves_out_lines_that_argue_against_the_lead():
    brief = sales_ready_brief(
        intent={
            "first_party": ["Demo or contact-sales request submitted."],
            "third_party": [],
            "timing": ["Company shows no signs of an active buying initiative."],
        }
    )
    package = _package(brief=brief)

    assert not any("no signs" in line for line in package.summary)


def test_score_keeps_the_point_score_beside_the_ai_decision():
    score = _package().score

    assert score.tier == "sales_ready"
    assert score.status == "Sales Ready"
    assert score.probability == pytest.approx(0.78)
    assert score.confidence_label == "High"
    assert score.deal_size == (85000, 120000)
    assert score.timeline_days == (45, 60)
    assert dict(score.fit) == {"company": 92, "role": 88, "technology": 85, "timing": 80}
    assert (score.point_score, score.point_threshold, score.point_would_route) == (85, 100, False)
    assert score.points_agree is False


# --- pure: recommended approach and alerts for a fresh demo request -------------------------


def test_sales_ready_lead_with_a_fresh_demo_request_gets_a_call_within_the_hour():
    package = _package()

    assert package.approach.channel == CHANNEL_PHONE
    assert package.approach.timing.startswith("Call within the hour")
    assert "requested a demo 2 h ago" in package.approach.timing
    assert package.approach.action.startswith("Route to Enterprise SDR")
    alert = package.alerts[0]
    assert (alert.kind, alert.severity) == (ALERT_DEMO_REQUEST, HIGH)
    assert "call within the hour" in alert.message
    assert alert.at == NOW - timedelta(hours=2)
    assert package.is_urgent


def test_request_a_day_old_says_call_today_at_medium_severity():
    people = committee()
    people[0] = PersonFacts(
        name="Jennifer Martinez",
        lead_id=1,
        committee_role=CommitteeRole.CHAMPION,
        activity=Activity(
            last_request_at=NOW - timedelta(hours=30),
            last_request_form=FormType.CONTACT_SALES.value,
        ),
    )
    package = _package(people=people)

    assert package.approach.timing == "Call today: they asked to talk to sales 30 h ago."
    [alert] = [a for a in package.alerts if a.kind == ALERT_CONTACT_SALES]
    assert alert.severity == MEDIUM


def test_request_older_than_two_days_raises_no_alert_and_no_request_means_email_first():
    people = committee()
    people[0] = PersonFacts(
        name="Jennifer Martinez",
        lead_id=1,
        activity=Activity(
            last_request_at=NOW - timedelta(days=3), last_request_form="demo_request"
        ),
    )
    stale = _package(people=people)
    assert not [a for a in stale.alerts if a.kind == ALERT_DEMO_REQUEST]
    assert stale.approach.timing == "Call within 24 hours: they requested a demo 3 days ago."

    quiet = _package(people=[PersonFacts(name="Jennifer Martinez", lead_id=1)])
    assert quiet.approach.channel == CHANNEL_EMAIL_THEN_PHONE


def test_alerts_cover_intent_surge_new_leader_funding_activity_surge_and_colleague_request():
    people = committee()
    people[1] = PersonFacts(
        name="Carl Finch",
        committee_role=CommitteeRole.ECONOMIC_BUYER,
        lead_id=2,
        activity=Activity(
            touchpoints_30d=1,
            last_request_at=NOW - timedelta(hours=5),
            last_request_form="demo_request",
        ),
    )
    package = _package(
        people=people,
        intent=[
            IntentFacts(topic="lead scoring", surge_score=3.4, observed_at=NOW - timedelta(days=2)),
            IntentFacts(topic="crm", surge_score=1.5, observed_at=NOW - timedelta(days=1)),
            # Strong but stale: outside the 30-day window.
            IntentFacts(topic="old", surge_score=9.0, observed_at=NOW - timedelta(days=60)),
        ],
        events=[
            EventFacts(
                kind="leadership_change",
                title="New VP Manufacturing",
                occurred_at=NOW - timedelta(weeks=6),
            ),
            EventFacts(kind="funding", title="Series C", occurred_at=NOW - timedelta(days=30)),
            EventFacts(kind="funding", title="Series A", occurred_at=NOW - timedelta(days=400)),
            EventFacts(kind="job_posting", title="Ops analyst", occurred_at=NOW),
        ],
    )
    by_kind = {a.kind: a for a in package.alerts}

    assert set(by_kind) == {
        ALERT_DEMO_REQUEST,
        ALERT_COLLEAGUE_REQUEST,
        ALERT_ACTIVITY_SURGE,
        ALERT_INTENT_SURGE,
        ALERT_LEADERSHIP_CHANGE,
        ALERT_FUNDING,
    }
    assert '340% surge in research on "lead scoring"' in by_kind[ALERT_INTENT_SURGE].message
    assert (
        by_kind[ALERT_LEADERSHIP_CHANGE].message == "New leader 6 weeks ago: New VP Manufacturing."
    )
    assert "Series C" in by_kind[ALERT_FUNDING].message
    assert "Carl Finch (economic buyer) requested a demo 5 h ago" in (
        by_kind[ALERT_COLLEAGUE_REQUEST].message
    )
    assert "12 touchpoints this week (vs. 2" in by_kind[ALERT_ACTIVITY_SURGE].message
    # High severity first; the rest in a fixed order.
    assert [a.severity for a in package.alerts] == [HIGH] + [MEDIUM] * 5


def test_steady_activity_is_not_a_surge_and_a_weak_intent_signal_is_not_an_alert():
    people = [
        PersonFacts(
            name="Jennifer Martinez",
            lead_id=1,
            activity=Activity(touchpoints_7d=4, touchpoints_prev_30d=20),
        )
    ]
    package = _package(
        people=people,
        intent=[IntentFacts(topic="crm", surge_score=1.9, observed_at=NOW)],
    )

    assert package.alerts == ()


def test_sla_deadline_alerts_until_the_first_touch_and_is_not_repeated_as_a_step():
    def assignment(due_in: timedelta, touched: bool = False) -> AssignmentInfo:
        return AssignmentInfo(
            assignment_id=7,
            queue="sales",
            queue_label="Sales",
            reason="rule NA Enterprise → pool Enterprise → least recently assigned of 3",
            assigned_at=NOW - timedelta(minutes=20),
            rep_name="Sam Rivera",
            sla_due_at=NOW + due_in,
            first_touch_at=NOW if touched else None,
        )

    soon = _package(assignment=assignment(timedelta(minutes=40)))
    [alert] = [a for a in soon.alerts if a.kind == ALERT_SLA]
    assert alert.severity == HIGH
    assert alert.message == "SLA: first touch due 2025-06-02 10:40 UTC (in 40 min)."
    assert not [step for step in soon.approach.steps if "SLA" in step or "due" in step]
    assert soon.reason.startswith("rule NA Enterprise")
    assert soon.sla_due_at == NOW + timedelta(minutes=40)
    # The SLA alert comes first among the high ones.
    assert soon.alerts[0].kind == ALERT_SLA

    later = _package(assignment=assignment(timedelta(hours=5)))
    assert [a.severity for a in later.alerts if a.kind == ALERT_SLA] == [MEDIUM]

    breached = _package(assignment=assignment(-timedelta(minutes=30)))
    [alert] = [a for a in breached.alerts if a.kind == ALERT_SLA]
    assert alert.message.startswith("SLA breached: first touch was due 2025-06-02 09:30 UTC")

    touched = _package(assignment=assignment(-timedelta(minutes=30), touched=True))
    assert not [a for a in touched.alerts if a.kind == ALERT_SLA]


# --- pure: the stakeholder map --------------------------------------------------------------


def test_stakeholder_map_lists_the_lead_first_and_marks_missing_committee_roles():
    sm = _package().stakeholders

    assert [m.name for m in sm.people] == ["Jennifer Martinez", "Carl Finch", "Ida Quill"]
    assert sm.people[0].is_this_lead
    assert sm.covered == ("economic_buyer", "champion", "user")
    assert sm.missing == ("technical_evaluator", "blocker")
    # Ida is on the committee but has not been active: her role is covered, not engaged.
    assert sm.engaged == ("economic_buyer", "champion")
    assert sm.others_active_30d == 1
    assert not sm.single_contact
    carl = sm.people[1]
    assert (carl.role_label, carl.touchpoints_30d) == ("Economic buyer", 3)
    assert carl.last_seen_at == NOW - timedelta(days=1)


def test_missing_economic_buyer_and_an_active_blocker_shape_the_approach():
    people = [
        PersonFacts(name="Jennifer Martinez", lead_id=1, activity=fresh_demo_request()),
        PersonFacts(
            name="Bo Block",
            committee_role=CommitteeRole.BLOCKER,
            lead_id=3,
            activity=Activity(touchpoints_30d=2),
        ),
    ]
    package = _package(people=people)

    assert "economic_buyer" in package.stakeholders.missing
    steps = package.approach.steps
    assert "Find the economic buyer: no one in that role is mapped yet." in steps
    assert "Bo Block (blocker) is active: surface objections early." in steps
    assert any(step.startswith("Multi-thread: Bo Block (blocker)") for step in steps)


def test_lead_without_an_account_gets_a_single_contact_map():
    lead = jennifer(company="gmail.com", account_id=None, employees=None, industry="", region="")
    package = build_handoff(lead=lead, brief=sales_ready_brief(), now=NOW)

    sm = package.stakeholders
    assert [m.name for m in sm.people] == ["Jennifer Martinez"]
    assert sm.people[0].is_this_lead
    assert sm.single_contact
    assert sm.covered == ()
    assert sm.missing == handoff.COMMITTEE_ROLES
    assert sm.note.startswith("No account matched")
    assert "Single contact: ask Jennifer who else is involved in the decision." in (
        package.approach.steps
    )
    # With no account there is nothing to ask about an economic buyer yet.
    assert not any("economic buyer" in step for step in package.approach.steps)


def test_map_shows_at_most_fifteen_people_and_counts_the_rest():
    people = [PersonFacts(name=f"Person {i:02d}", lead_id=100 + i) for i in range(20)]
    sm = _package(people=people).stakeholders

    assert len(sm.people) == handoff.PEOPLE_MAX
    assert sm.hidden == 6  # 20 others plus the lead, 15 shown
    assert sm.people[0].is_this_lead


# --- pure: review cases and other tiers -----------------------------------------------------


def test_review_case_shows_the_rule_hit_and_asks_for_review_before_outreach():
    brief = sales_ready_brief(
        tier="disqualify",
        status="Disqualify",
        needs_review=True,
        recommended_action="Human review: a disqualifying rule matched ...",
        rule_hits=[
            {
                "reason_code": "non-decision-maker",
                "category": "non_decision_maker",
                "rule": "Non-decision-maker at a customer",
                "action": "route_success",
                "needs_review": True,
                "evidence": "Title 'Analyst' at an existing customer.",
            }
        ],
    )
    package = _package(brief=brief)

    assert package.approach.channel == CHANNEL_REVIEW
    assert package.rule_hits[0].reason_code == "non-decision-maker"
    assert package.summary[0] == "Rule: Title 'Analyst' at an existing customer."
    text = to_text(package)
    assert "RULE HITS" in text
    assert "[non-decision-maker]: Title 'Analyst' at an existing customer." in text
    assert "Needs human review." in text


def test_disqualified_lead_gets_no_outreach_and_an_unqualified_lead_a_sensible_package():
    disqualified = _package(
        brief=sales_ready_brief(tier="disqualify", status="Disqualify"),
        people=[PersonFacts(name="Jennifer Martinez", lead_id=1)],
    )
    assert disqualified.approach.channel == CHANNEL_NONE

    blank = build_handoff(lead=jennifer(), brief={}, now=NOW)
    assert blank.score.status == "Not qualified yet"
    assert blank.summary == ()
    assert blank.approach.channel == CHANNEL_NONE
    assert "LEAD HANDOFF: Jennifer Martinez" in to_text(blank)


def test_naive_now_is_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        build_handoff(lead=jennifer(), brief={}, now=datetime(2025, 6, 2, 10, 0))


# --- rendering ------------------------------------------------------------------------------


def test_text_rendering_has_the_key_sections_in_order():
    text = to_text(_package())

    sections = [
        "LEAD HANDOFF: Jennifer Martinez, Director of Operations",
        "Company: Acme Manufacturing (500 employees, Industrial, North America)",
        "Status: SALES READY | conversion 78% | confidence high",
        "Point score: 85 (threshold 100: would not route) | AI decision: Sales Ready",
        "URGENT",
        "WHY THIS LEAD",
        "RECOMMENDED APPROACH",
        "TALKING POINTS",
        "STAKEHOLDER MAP",
    ]
    positions = [text.index(s) for s in sections]
    assert positions == sorted(positions)
    assert "Predicted: deal size $85,000-$120,000, timeline 45-60 days" in text
    assert "- Walk through the ROI model they explored" in text
    assert "Content consumed: Implementation guide (3 visits, 12 min)" in text
    assert "Missing: Technical evaluator, Blocker." in text
    assert "- Carl Finch, CFO: Economic buyer; 3 touchpoints in 30 days" in text
    assert "RULE HITS" not in text
    assert text.endswith("Generated 2025-06-02 10:00 UTC.")


def test_renderings_are_deterministic_and_respect_their_length_limits():
    huge = AssignmentInfo(
        assignment_id=1,
        queue="sales",
        queue_label="Sales",
        reason="very long reason " * 5000,
        assigned_at=NOW,
    )
    package = _package(assignment=huge)

    text = to_text(package)
    assert len(text) <= handoff.TEXT_LIMIT
    assert text.endswith("…")
    assert to_text(package) == text
    assert len(to_text(package, limit=500)) <= 500

    summary = to_summary(package)
    assert len(summary) <= 255
    assert summary.startswith(
        "Sales Ready 78% | Call within the hour: they requested a demo 2 h ago | Activity surge"
    )
    assert "\n" not in summary
    assert len(to_summary(package, limit=80)) <= 80
    assert to_summary(package) == summary


def test_to_dict_is_json_ready():
    import json

    data = to_dict(_package())

    assert data["score"]["points_agree"] is False
    assert data["is_urgent"] is True
    assert data["alerts"][0]["at"] == "2025-06-02T08:00:00+00:00"
    json.dumps(data)


# --- the database read ----------------------------------------------------------------------


@pytest.mark.django_db
def test_handoff_for_lead_reads_the_account_committee_activity_and_assignment(
    django_assert_max_num_queries: Any,
):
    now = datetime.now(UTC).replace(microsecond=0)
    account = AccountFactory(
        name="Acme Manufacturing",
        domain="acme-mfg.com",
        employee_count=500,
        industry="Industrial",
        region="NA",
    )
    lead = LeadFactory(
        account=account,
        email="jennifer@acme-mfg.com",
        name="Jennifer Martinez",
        title="Director of Operations",
    )
    cfo = LeadFactory(account=account, email="carl@acme-mfg.com", name="Carl Finch", title="CFO")
    browsing = LeadFactory(account=account, email="dana@acme-mfg.com", name="Dana Lee")
    StakeholderFactory(account=account, lead=lead, committee_role=CommitteeRole.CHAMPION)
    StakeholderFactory(
        account=account, lead=cfo, committee_role=CommitteeRole.ECONOMIC_BUYER, role_inferred=False
    )
    StakeholderFactory(account=account, name="Ida Quill", committee_role=CommitteeRole.USER)
    QualificationFactory(lead=lead, tier=Tier.SALES_READY, brief=sales_ready_brief())
    for hours in (1, 3, 20, 30, 50):
        TouchpointFactory(lead=lead, occurred_at=now - timedelta(hours=hours))
    TouchpointFactory(
        lead=lead,
        kind=TouchpointKind.FORM_SUBMIT,
        form_type=FormType.DEMO_REQUEST,
        occurred_at=now - timedelta(hours=2),
    )
    TouchpointFactory(lead=lead, occurred_at=now - timedelta(days=20))
    for days in (1, 2):
        TouchpointFactory(lead=cfo, occurred_at=now - timedelta(days=days))
    TouchpointFactory(lead=browsing, occurred_at=now - timedelta(days=3))
    # Another company's activity, and activity too old to count, stay out.
    TouchpointFactory(occurred_at=now)
    TouchpointFactory(lead=cfo, occurred_at=now - timedelta(days=200))
    IntentSignalFactory(account=account, topic="lead scoring", surge_score=3.4, observed_at=now)
    AccountEventFactory(
        account=account,
        kind=AccountEventKind.LEADERSHIP_CHANGE,
        title="New VP Manufacturing",
        occurred_at=now - timedelta(weeks=6),
    )
    AccountEventFactory(account=account, kind=AccountEventKind.FUNDING, title="Series A",
                        occurred_at=now - timedelta(days=200))  # fmt: skip
    rep = SalesRepFactory(user=UserFactory(first_name="Sam", last_name="Rivera"))
    AssignmentFactory(
        lead=lead, status=AssignmentStatus.REASSIGNED, reason="old", assigned_at=now - timedelta(1)
    )
    AssignmentFactory(
        lead=lead,
        rep=rep,
        queue=Queue.SALES,
        reason="rule NA Enterprise → pool → least recently assigned of 3 eligible reps",
        assigned_at=now - timedelta(minutes=10),
        sla_due_at=now + timedelta(minutes=50),
        expected_value=70000,
    )

    with django_assert_max_num_queries(7):
        package = handoff_for_lead(lead_id=lead.pk, now=now)

    assert package.lead.company == "Acme Manufacturing"
    assert package.lead.region == "North America"
    assert package.lead.employees == 500
    assert package.score.tier == "sales_ready"
    assert package.approach.timing.startswith("Call within the hour")
    people = {m.name: m for m in package.stakeholders.people}
    assert list(people) == ["Jennifer Martinez", "Carl Finch", "Ida Quill", "Dana Lee"]
    me = people["Jennifer Martinez"]
    assert me.is_this_lead
    assert me.touchpoints_30d == 7
    assert me.last_seen_at == now - timedelta(hours=1)
    assert (people["Carl Finch"].touchpoints_30d, people["Carl Finch"].role_inferred) == (2, False)
    assert people["Ida Quill"].touchpoints_30d == 0
    assert people["Dana Lee"].committee_role == ""
    assert package.stakeholders.missing == ("technical_evaluator", "blocker")
    kinds = [a.kind for a in package.alerts]
    assert kinds[:2] == [ALERT_SLA, ALERT_DEMO_REQUEST]
    assert ALERT_INTENT_SURGE in kinds
    assert ALERT_LEADERSHIP_CHANGE in kinds
    assert ALERT_FUNDING not in kinds  # 200 days ago
    assert ALERT_ACTIVITY_SURGE in kinds  # 6 this week vs. 1 in the 30 days before
    assert package.assignment is not None
    assert package.assignment.rep_name == "Sam Rivera"
    assert package.assignment.expected_value == 70000.0
    assert package.reason.startswith("rule NA Enterprise")
    assert "Assigned: Sam Rivera (Sales)" in to_text(package)


@pytest.mark.django_db
def test_handoff_for_a_lead_without_account_or_qualification(
    django_assert_max_num_queries: Any,
):
    now = datetime.now(UTC)
    lead = LeadFactory(email="pat@gmail.com", name="Pat Doe")
    TouchpointFactory(lead=lead, occurred_at=now - timedelta(days=2))

    with django_assert_max_num_queries(5):
        package = handoff_for_lead(lead_id=lead.pk, now=now)

    assert package.lead.company == "gmail.com"
    assert package.score.status == "Not qualified yet"
    assert package.stakeholders.single_contact
    assert [m.touchpoints_30d for m in package.stakeholders.people] == [1]
    assert package.assignment is None


@pytest.mark.django_db
def test_handoff_query_count_does_not_grow_with_the_committee(
    django_assert_max_num_queries: Any,
):
    now = datetime.now(UTC)
    account = AccountFactory()
    lead = LeadFactory(account=account)
    QualificationFactory(lead=lead, brief=sales_ready_brief())
    for i in range(12):
        colleague = LeadFactory(account=account)
        StakeholderFactory(account=account, lead=colleague, committee_role=CommitteeRole.USER)
        TouchpointFactory(lead=colleague, occurred_at=now - timedelta(days=i))

    with django_assert_max_num_queries(7):
        package = handoff_for_lead(lead_id=lead.pk, now=now)

    assert package.stakeholders.others_active_30d == 12


@pytest.mark.django_db
def test_handoff_reads_a_brief_written_by_qualification():
    """The package works on a brief as `lead_qualify` stores it, not only on hand-made ones."""
    from scoring.services import lead_qualify

    now = datetime.now(UTC)
    account = AccountFactory(domain="northwind.com", employee_count=400, industry="software")
    lead = LeadFactory(account=account, email="ana@northwind.com", name="Ana", title="COO")
    for i, page in enumerate(["pricing", "roi_calculator", "implementation", "case_study"]):
        TouchpointFactory(
            lead=lead,
            page_category=page,
            duration_seconds=300,
            occurred_at=now - timedelta(days=3 - i * 0.5),
        )
    TouchpointFactory(
        lead=lead,
        kind=TouchpointKind.FORM_SUBMIT,
        form_type=FormType.DEMO_REQUEST,
        occurred_at=now - timedelta(hours=3),
    )
    lead_qualify(lead_id=lead.pk, now=now)

    package = handoff_for_lead(lead_id=lead.pk, now=now)

    assert package.score.tier in Tier.values
    assert package.score.confidence in Confidence.values
    assert package.summary
    assert package.approach.action
    assert package.talking_points
    assert [a.kind for a in package.alerts if a.kind == ALERT_DEMO_REQUEST] == [ALERT_DEMO_REQUEST]
    assert len(to_text(package)) <= handoff.TEXT_LIMIT
