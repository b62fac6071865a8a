"""Re-qualification triggers' pure core: which leads resurface, by which trigger, and why."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from scoring import triggers as t
from scoring.triggers import (
    EvidenceFacts,
    Firing,
    LeadFacts,
    TouchFacts,
    TriggerSpec,
    change_line,
    merge_firings,
    on_account_evidence,
    on_activity,
    on_identity_change,
    on_new_contacts,
    on_revisit_due,
)

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
SPECS = {kind: TriggerSpec(kind=kind) for kind in t.TRIGGERS}


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def touch(lead_id: int, days: float = 0.1, **kw: str) -> TouchFacts:
    return TouchFacts(lead_id=lead_id, occurred_at=ago(days), **kw)


def test_a_lead_quiet_for_longer_than_the_dormant_window_resurfaces_on_its_first_touch() -> None:
    quiet = LeadFacts(lead_id=1, last_touch_at=ago(95), tier="nurture")
    busy = LeadFacts(lead_id=2, last_touch_at=ago(3), tier="nurture")
    firings = on_activity(
        leads=[quiet, busy],
        touches={1: [touch(1, page_category="pricing"), touch(1, 0.05)], 2: [touch(2)]},
        specs=SPECS,
        now=NOW,
    )
    assert [(f.lead_id, f.trigger) for f in firings] == [(1, t.DORMANT_ACTIVITY)]
    assert firings[0].evidence == (
        "First touch in 95 days: pricing page (2 h ago), 2 new touchpoints.",
    )


def test_a_closed_lead_that_acts_again_resurfaces_whatever_its_last_touch() -> None:
    closed = LeadFacts(lead_id=1, status="closed", last_touch_at=ago(2))
    [firing] = on_activity(
        leads=[closed], touches={1: [touch(1, form_type="demo_request")]}, specs=SPECS, now=NOW
    )
    assert firing.evidence[0].startswith("Closed lead active again: demo request")
    # A converted lead is a customer's deal, not a lead to resurface.
    converted = LeadFacts(lead_id=1, status="converted", last_touch_at=ago(200))
    assert on_activity(leads=[converted], touches={1: [touch(1)]}, specs=SPECS, now=NOW) == []


def test_a_recycled_lead_that_acts_again_resurfaces_whatever_its_last_touch() -> None:
    recycled = LeadFacts(lead_id=3, status="nurturing", last_touch_at=ago(4))
    [firing] = on_activity(
        leads=[recycled], touches={3: [touch(3, page_category="pricing")]}, specs=SPECS, now=NOW
    )
    assert firing.trigger == t.DORMANT_ACTIVITY
    assert firing.evidence[0].startswith("Recycled lead active again: pricing page")
    # The same touch of an open lead active four days ago is no return from dormancy.
    working = LeadFacts(lead_id=3, status="working", last_touch_at=ago(4))
    assert on_activity(leads=[working], touches={3: [touch(3)]}, specs=SPECS, now=NOW) == []


def test_a_cooldown_holds_a_trigger_back_and_an_inactive_trigger_never_fires() -> None:
    lead = LeadFacts(lead_id=1, last_touch_at=ago(60), last_fired={t.DORMANT_ACTIVITY: ago(5)})
    assert on_activity(leads=[lead], touches={1: [touch(1)]}, specs=SPECS, now=NOW) == []
    lead = LeadFacts(lead_id=1, last_touch_at=ago(60), last_fired={t.DORMANT_ACTIVITY: ago(20)})
    assert len(on_activity(leads=[lead], touches={1: [touch(1)]}, specs=SPECS, now=NOW)) == 1
    off = {**SPECS, t.DORMANT_ACTIVITY: TriggerSpec(kind=t.DORMANT_ACTIVITY, is_active=False)}
    assert on_activity(leads=[lead], touches={1: [touch(1)]}, specs=off, now=NOW) == []


def test_a_customer_on_the_support_path_who_evaluates_again_shows_expansion_intent() -> None:
    customer = LeadFacts(lead_id=5, path="support", rule_category="existing_customer_support",
                         last_touch_at=ago(2))  # fmt: skip
    firings = on_activity(
        leads=[customer],
        touches={5: [touch(5, page_category="support"), touch(5, 0.02, page_category="pricing")]},
        specs=SPECS,
        now=NOW,
    )
    assert [(f.trigger, f.evidence) for f in firings] == [
        (t.EXPANSION_INTENT, ("Customer on the support path: pricing page (just now).",))
    ]
    # Asking for help again is no expansion intent.
    assert (
        on_activity(
            leads=[customer], touches={5: [touch(5, page_category="support")]}, specs=SPECS, now=NOW
        )
        == []
    )


def _account_leads() -> dict[int, list[LeadFacts]]:
    return {
        9: [
            LeadFacts(lead_id=1, account_id=9, tier="nurture"),
            LeadFacts(lead_id=2, account_id=9, tier="sales_ready"),
            LeadFacts(lead_id=3, account_id=9, tier="disqualify", rule_category="student"),
            LeadFacts(lead_id=4, account_id=9, tier="disqualify", status="closed"),
            LeadFacts(lead_id=5, account_id=9, tier="nurture", status="converted"),
        ]
    }


def test_a_company_change_resurfaces_the_account_s_leads_that_it_could_move() -> None:
    evidence = [
        EvidenceFacts(9, "event", "funding", ago(0.5), "Funding round: Raised $20M Series B"),
        EvidenceFacts(9, "event", "job_posting", ago(0.5), "Job posting: RevOps analyst"),
        EvidenceFacts(9, "intent", "intent", ago(0.5), "Research surge"),
    ]
    firings = on_account_evidence(
        evidence=evidence, leads_by_account=_account_leads(), specs=SPECS, now=NOW
    )
    assert [(f.lead_id, f.trigger) for f in firings] == [
        (1, t.COMPANY_CHANGE),
        (4, t.COMPANY_CHANGE),
    ]
    assert firings[0].evidence == ("Funding round: Raised $20M Series B (12 h ago).",)


def test_a_competitor_in_the_news_is_its_own_trigger_with_the_vendor() -> None:
    evidence = [
        EvidenceFacts(9, "event", "competitor_news", ago(1), "Acme CRM raises prices", "Acme CRM")
    ]
    firings = on_account_evidence(
        evidence=evidence, leads_by_account=_account_leads(), specs=SPECS, now=NOW
    )
    assert {f.trigger for f in firings} == {t.COMPETITOR_NEWS}
    assert firings[0].evidence == ("Acme CRM raises prices (1 day ago).",)


def test_a_new_contact_at_an_engaged_company_resurfaces_it_and_its_engaged_colleagues() -> None:
    new = LeadFacts(lead_id=10, account_id=9)
    colleagues = {
        9: [
            LeadFacts(lead_id=1, account_id=9, last_touch_at=ago(10)),
            LeadFacts(lead_id=2, account_id=9, last_touch_at=ago(200)),  # not engaged
            LeadFacts(lead_id=3, account_id=9, last_touch_at=ago(5), rule_category="competitor"),
            new,
        ]
    }
    firings = on_new_contacts(
        new_leads=[new], colleagues_by_account=colleagues, specs=SPECS, now=NOW,
        names={10: "Dana Reyes"},
    )  # fmt: skip
    assert [f.lead_id for f in firings] == [10, 1]
    assert firings[0].evidence == (
        "New contact Dana Reyes at a company with 1 colleague active in 90 days.",
    )
    # A company no one engaged with is no trigger.
    assert (
        on_new_contacts(
            new_leads=[new], colleagues_by_account={9: [colleagues[9][1]]}, specs=SPECS, now=NOW
        )
        == []
    )


def test_a_revisit_date_resurfaces_the_lead_once_it_has_come() -> None:
    lead = LeadFacts(lead_id=7)
    due = [(lead, ago(0.2), "Sam Rivera")]
    [firing] = on_revisit_due(revisits=due, specs=SPECS, now=NOW)
    assert firing.trigger == t.TIMING_WINDOW
    assert firing.evidence == (
        "Sam Rivera said 'not buying now' and asked to revisit on 2026-06-01.",
    )
    assert (
        on_revisit_due(revisits=[(lead, NOW + timedelta(days=3), "Sam")], specs=SPECS, now=NOW)
        == []
    )


def test_a_student_now_at_a_company_domain_resurfaces() -> None:
    student = LeadFacts(lead_id=3, rule_category="student", email_domain_type="academic")
    [firing] = on_identity_change(
        changes=[(student, "ana@uni.edu", "ana@acme.com", "corporate")], specs=SPECS, now=NOW
    )
    assert firing.evidence == ("Was a student (ana@uni.edu); now writes from ana@acme.com.",)
    assert (
        on_identity_change(
            changes=[(student, "ana@uni.edu", "ana@gmail.com", "free_mail")], specs=SPECS, now=NOW
        )
        == []
    )


def test_firings_for_the_same_lead_and_trigger_merge_their_evidence() -> None:
    a = Firing(1, t.COMPANY_CHANGE, ("Funding.",), ago(1))
    b = Firing(1, t.COMPANY_CHANGE, ("New CFO.", "Funding."), NOW)
    c = Firing(1, t.DORMANT_ACTIVITY, ("Back.",), NOW)
    merged = merge_firings([c, a, b])
    assert [(f.trigger, f.evidence, f.at) for f in merged] == [
        (t.DORMANT_ACTIVITY, ("Back.",), NOW),
        (t.COMPANY_CHANGE, ("Funding.", "New CFO."), NOW),
    ]


def test_the_change_line_reads_before_and_after() -> None:
    labels = {"nurture": "Nurture", "sales_ready": "Sales Ready"}
    assert change_line(before=("nurture", 0.38), after=("sales_ready", 0.61), labels=labels) == (
        "Nurture 38% → Sales Ready 61%"
    )
    assert change_line(before=None, after=("nurture", None), labels=labels) == (
        "first assessment: Nurture"
    )


def test_a_spec_refuses_an_unknown_trigger_or_a_negative_cooldown() -> None:
    with pytest.raises(ValueError, match="Unknown trigger"):
        TriggerSpec(kind="moon_phase")
    with pytest.raises(ValueError, match="Cooldown"):
        TriggerSpec(kind=t.DORMANT_ACTIVITY, cooldown_days=-1)
