"""The next step for the rep who holds a lead: how and when, what to open with, who to reach,
and the deadline."""

from __future__ import annotations

from datetime import timedelta

from accounts.models import CommitteeRole
from routing.handoff import Activity, AssignmentInfo, PersonFacts, build_handoff
from routing.next_step import next_step, stakeholder_to_reach
from tests.routing.test_handoff import NOW, committee, jennifer, sales_ready_brief


def _assignment(**overrides: object) -> AssignmentInfo:
    fields: dict[str, object] = {
        "assignment_id": 7,
        "queue": "sales",
        "queue_label": "Sales",
        "reason": "rule NA Enterprise",
        "assigned_at": NOW - timedelta(minutes=20),
        "rep_name": "Sam Rivera",
        "sla_due_at": NOW + timedelta(minutes=40),
    }
    fields.update(overrides)
    return AssignmentInfo(**fields)  # type: ignore[arg-type]


def test_a_fresh_demo_request_is_a_call_within_the_hour_opening_on_the_first_talking_point():
    package = build_handoff(
        lead=jennifer(),
        brief=sales_ready_brief(),
        people=committee(),
        assignment=_assignment(),
        now=NOW,
    )
    step = next_step(package)
    assert step.do == "Call within the hour: they requested a demo 2 h ago."
    assert step.open_with == "Address implementation timeline and resourcing: they read the guide."
    # Jennifer is the champion: the economic buyer is the one to bring in.
    assert step.reach == "Bring in Carl Finch (economic buyer): active this month."
    assert step.due_at == NOW + timedelta(minutes=40)
    # Once the lead is touched the deadline is met and no longer shown.
    touched = build_handoff(
        lead=jennifer(),
        brief=sales_ready_brief(),
        people=committee(),
        assignment=_assignment(first_touch_at=NOW - timedelta(minutes=5)),
        now=NOW,
    )
    assert next_step(touched).due_at is None


def test_a_quiet_sales_ready_lead_is_re_engaged_by_email_first():
    quiet = PersonFacts(
        name="Jennifer Martinez",
        email="jennifer@acme-mfg.com",
        committee_role=CommitteeRole.CHAMPION,
        lead_id=1,
        activity=Activity(touchpoints_30d=9, last_seen_at=NOW - timedelta(days=12)),
    )
    package = build_handoff(
        lead=jennifer(), brief=sales_ready_brief(), people=[quiet, *committee()[1:]], now=NOW
    )
    assert next_step(package).do == (
        "Within 24 hours: re-engage (no touch since 12 days ago) with a personalised email on "
        "what they read, then a call."
    )


def test_who_to_reach_follows_the_committee():
    me = committee()[0]
    cfo = committee()[1]
    quiet_cfo = PersonFacts(name="Carl Finch", committee_role=CommitteeRole.ECONOMIC_BUYER,
                            lead_id=2, activity=Activity())  # fmt: skip
    evaluator = PersonFacts(name="Tess Byte", committee_role=CommitteeRole.TECHNICAL_EVALUATOR,
                            lead_id=3, activity=Activity(touchpoints_30d=2))  # fmt: skip

    def reach(people: list[PersonFacts], **lead: object) -> str:
        brief = sales_ready_brief()
        return stakeholder_to_reach(
            build_handoff(lead=jennifer(**lead), brief=brief, people=people, now=NOW)
        )

    assert reach([me, cfo]) == "Bring in Carl Finch (economic buyer): active this month."
    assert reach([me, quiet_cfo]) == "Re-engage Carl Finch (economic buyer): quiet this month."
    assert reach([me, evaluator]) == "Find the economic buyer: no one in that role is mapped yet."
    # The lead is the economic buyer: the champion's role is next, then the evaluator's.
    buyer = PersonFacts(name="Jennifer Martinez", committee_role=CommitteeRole.ECONOMIC_BUYER,
                        lead_id=1, activity=me.activity)  # fmt: skip
    assert reach([buyer, evaluator]) == (
        "Bring in Tess Byte (technical evaluator): active this month."
    )
    assert reach([me]) == "Ask Jennifer who else is involved: the only known contact."
    assert reach([me, cfo], account_id=None) == (
        "Ask Jennifer who else is involved: the only known contact."
    )


def test_nurture_and_review_leads_get_no_outreach_step():
    nurture = build_handoff(
        lead=jennifer(),
        brief=sales_ready_brief(tier="nurture", status="Nurture"),
        people=committee(),
        now=NOW,
    )
    step = next_step(nurture)
    assert step.do == "No direct sales outreach now: marketing nurture."
    assert (step.open_with, step.reach) == ("", "")
    review = build_handoff(
        lead=jennifer(), brief=sales_ready_brief(needs_review=True), people=committee(), now=NOW
    )
    assert next_step(review).do == "Review before any outreach."
    assert next_step(review).reach == ""
