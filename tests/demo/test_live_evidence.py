"""After `make demo`: accounts of every priority, and leads resurfaced by each trigger with
their reasons, routed back to their previous owners (leadqual.demo.live_evidence), on a small
world through the demo's own commands."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from accounts.models import Lead, LeadStatus
from leadqual.demo.live_evidence import DemoWorldMissing, demo_live_evidence_send
from routing.models import Assignment, AssignmentStatus, Queue
from scoring.models import AccountQualification, Resurfacing, ResurfacingStatus, Tier, TriggerKind

# Committed for real: the ingest and the feeds hand their evidence on once they commit.
pytestmark = pytest.mark.django_db(transaction=True)
LEADS = 400
SEED = 42
TRIGGERS = {
    TriggerKind.DORMANT_ACTIVITY,
    TriggerKind.COMPANY_CHANGE,
    TriggerKind.TIMING_WINDOW,
    TriggerKind.COMPETITOR_NEWS,
    TriggerKind.NEW_CONTACT,
}


def _demo(*, live: bool = True) -> str:
    """The `make demo` steps up to the live evidence, anchored now (the demo's clock)."""
    out = StringIO()
    for args in (
        ("generate_demo_data", "--leads", str(LEADS), "--seed", str(SEED)),
        ("train_model", "--if-missing"),
        # Scores the accounts first, as `make demo` relies on.
        ("qualify_leads", "--unqualified"),
    ):
        call_command(*args, stdout=out, stderr=StringIO())
    if live:
        call_command("demo_live_evidence", stdout=out, stderr=StringIO())
    return out.getvalue()


def test_the_demo_world_has_accounts_of_every_priority() -> None:
    _demo(live=False)
    priorities = set(
        AccountQualification.objects.filter(is_current=True).values_list("priority", flat=True)
    )
    assert priorities == {"high", "medium", "low"}
    # High by its own evidence: a live committee and its timing, not written in.
    high = AccountQualification.objects.filter(is_current=True, priority="high").first()
    assert high is not None
    points = {part["part"]: part["points"] for part in high.parts}
    assert points["engagement"] > 0 and points["coverage"] > 0


def test_leads_resurface_by_each_trigger_with_their_reason_and_go_back_to_their_owner() -> None:
    output = _demo()
    resurfaced = list(Resurfacing.objects.select_related("lead"))
    by_trigger = {r.trigger for r in resurfaced}
    assert by_trigger >= TRIGGERS
    for item in resurfaced:
        # Why it came back: the evidence in words, what arrived, the change in qualification.
        assert item.evidence["sentences"], item
        # "before → after", or "first assessment: ..." for a colleague never qualified before
        # (the ingest announces a new contact itself now, so such colleagues can come along).
        assert item.qualification_id is not None, item
        assert "→" in item.change or item.change.startswith("first assessment: "), item
        # Routed or settled: nothing waits for routing.
        assert item.status in (ResurfacingStatus.ROUTED, ResurfacingStatus.NO_CHANGE), item
        if item.status == ResurfacingStatus.ROUTED:
            assert item.qualification is not None
            assert item.qualification.tier == Tier.SALES_READY
            placed = Assignment.objects.get(
                lead=item.lead, status=AssignmentStatus.OPEN, queue=Queue.SALES
            )
            assert placed.rep is not None and placed.rep.user_id == item.routed_to_id
    back = [r for r in resurfaced if r.status == ResurfacingStatus.ROUTED]
    assert {r.trigger for r in back} >= {
        TriggerKind.DORMANT_ACTIVITY, TriggerKind.TIMING_WINDOW,
    }  # fmt: skip
    assert all(r.routed_to_id == r.previous_owner_id for r in back if r.previous_owner_id)
    # The closed lead that evaluated again was reopened.
    reopened = [r for r in resurfaced if r.previous_status == LeadStatus.CLOSED]
    assert reopened and all(r.lead.status != LeadStatus.CLOSED for r in reopened)
    sentences = " ".join(s for r in resurfaced for s in r.evidence["sentences"])
    for words in ("Closed lead active again", "Funding round", "in the news",
                  "New contact", "not buying now"):  # fmt: skip
        assert words in sentences
    assert "routed back to their previous owner" in output


def test_sending_twice_changes_nothing_and_without_a_world_it_says_so() -> None:
    with pytest.raises(DemoWorldMissing):
        demo_live_evidence_send()
    _demo()
    before = (Resurfacing.objects.count(), Lead.objects.count())
    again = demo_live_evidence_send()
    assert not again.sent
    assert (Resurfacing.objects.count(), Lead.objects.count()) == before
