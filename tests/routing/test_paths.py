"""Negative qualification that goes somewhere: disqualified leads leave the sales queue (even an
accepted one, when a hard disqualifier catches it), the community path, what an assignment on a
path keeps (the rule's reason code, who handled it), and the webhook deliveries routing records.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User

from accounts.models import Lead
from routing import selectors
from routing.engine import (
    ACTION_DISQUALIFY,
    ACTION_NURTURE,
    ACTION_ROUTE_COMMUNITY,
    HARD_DISQUALIFIER_CATEGORIES,
    QUEUE_COMMUNITY,
    LeadFacts,
    RoundRobinState,
    Router,
    leaves_accepted_sales,
)
from routing.models import (
    ALTERNATIVE_PATHS,
    Assignment,
    AssignmentEvent,
    AssignmentEventKind,
    AssignmentStatus,
    PathDestination,
    PathDestinationKind,
    Queue,
    SalesRep,
    WebhookDelivery,
    WebhookDeliveryStatus,
)
from routing.path_services import PathError, path_assignment_handle
from routing.services import assignments_route
from scoring.models import DisqualificationRule, Qualification, RuleAction, RuleCategory, Tier
from tests.factories import UserFactory
from tests.routing.test_services import NOW, World, build_world, qualified_lead, route

pytestmark = pytest.mark.django_db

STUDENT_RULE = "student-email"


def requalify(lead: Lead, tier: str, **fields: Any) -> Qualification:
    """A new current qualification, as a re-qualification run stores it."""
    Qualification.objects.filter(lead=lead).update(is_current=False)
    return Qualification.objects.create(lead=lead, tier=tier, confidence="high", **fields)


def rule(code: str, category: str, action: str, name: str = "") -> DisqualificationRule:
    found: DisqualificationRule = DisqualificationRule.objects.create(
        name=name or category.replace("_", " ").title(),
        category=category,
        reason_code=code,
        action=action,
    )
    return found


def accepted_sales_lead(world: World) -> tuple[Lead, Assignment]:
    """A Sales Ready lead routed to a rep, who accepted it."""
    lead = qualified_lead(world.account)
    (assignment,) = route(lead)
    assert assignment.rep_id is not None and assignment.queue == Queue.SALES
    Assignment.objects.filter(pk=assignment.pk).update(status=AssignmentStatus.ACCEPTED)
    return lead, assignment


def open_leads(rep_id: int) -> int:
    return selectors.rep_states(now=NOW, hours=selectors.routing_setup().hours, rep_ids=[rep_id])[
        rep_id
    ].open_leads


def current(lead: Lead) -> Assignment:
    return Assignment.objects.get(
        lead=lead, status__in=[AssignmentStatus.OPEN, AssignmentStatus.ACCEPTED]
    )


# --- the engine --------------------------------------------------------------------------------


def test_a_route_community_rule_sends_the_lead_to_the_community_path_with_its_reason_code() -> None:
    router = Router(rules=[], pools=[])
    lead = LeadFacts(
        lead_id=1,
        tier=Tier.DISQUALIFY,
        rule_category="student",
        rule_action=ACTION_ROUTE_COMMUNITY,
        rule_reason_code=STUDENT_RULE,
        account_owner_rep_id=7,
    )

    decision = router.route(lead, reps={}, rr_state=RoundRobinState(), now=NOW)

    assert (decision.queue, decision.rep_id, decision.reason) == (
        QUEUE_COMMUNITY,
        None,
        "rule student → community",
    )
    assert decision.reason_code == STUDENT_RULE


def test_a_decision_by_tier_alone_carries_no_reason_code() -> None:
    lead = LeadFacts(lead_id=1, tier=Tier.DISQUALIFY, rule_reason_code="stale-code")

    decision = Router(rules=[], pools=[]).route(lead, reps={}, rr_state=RoundRobinState(), now=NOW)

    assert (decision.queue, decision.reason_code) == (Queue.LOW_PRIORITY, "")


@pytest.mark.parametrize("category", sorted(HARD_DISQUALIFIER_CATEGORIES))
def test_every_hard_disqualifier_takes_an_accepted_lead_out_of_sales(category: str) -> None:
    lead = LeadFacts(lead_id=1, tier=Tier.DISQUALIFY, rule_category=category, rule_action="x")
    assert leaves_accepted_sales(lead)


@pytest.mark.parametrize(
    ("facts", "why"),
    [
        (LeadFacts(lead_id=1, tier=Tier.NURTURE), "the model dropped it to Nurture"),
        (LeadFacts(lead_id=1, tier=Tier.DISQUALIFY), "the model dropped it to Disqualify"),
        (
            LeadFacts(
                lead_id=1,
                tier=Tier.DISQUALIFY,
                rule_category=RuleCategory.MINIMUM_FIT,
                rule_action=ACTION_DISQUALIFY,
            ),
            "below minimum fit is a judgement the rep may know better",
        ),
        (
            LeadFacts(
                lead_id=1,
                tier=Tier.NURTURE,
                rule_category=RuleCategory.NON_DECISION_MAKER,
                rule_action=ACTION_NURTURE,
            ),
            "a non-decision-maker at a customer",
        ),
        (
            LeadFacts(
                lead_id=1,
                tier=Tier.DISQUALIFY,
                rule_category="competitor",
                rule_action=ACTION_DISQUALIFY,
                needs_review=True,
            ),
            "flagged for review: the rep working it is the review",
        ),
    ],
)
def test_an_accepted_lead_stays_with_its_rep_unless_a_hard_disqualifier_catches_it(
    facts: LeadFacts, why: str
) -> None:
    assert not leaves_accepted_sales(facts), why


def test_the_alternative_paths_are_the_queues_other_than_sales_and_review() -> None:
    assert set(ALTERNATIVE_PATHS) == set(Queue.values) - {Queue.SALES, Queue.REVIEW}


# --- disqualified leads leave the sales queue ------------------------------------------------


def test_an_accepted_lead_a_student_rule_now_catches_leaves_sales_for_the_community_path() -> None:
    world = build_world()
    rule(STUDENT_RULE, "student", RuleAction.ROUTE_COMMUNITY, name="Student or academic")
    lead, accepted = accepted_sales_lead(world)
    rep_id = accepted.rep_id
    assert rep_id is not None
    assert open_leads(rep_id) == 1
    Lead.objects.filter(pk=lead.pk).update(owner=SalesRep.objects.get(pk=rep_id).user)
    requalify(lead, Tier.DISQUALIFY, disqualification_reason=STUDENT_RULE)

    (moved,) = route(lead, now=NOW + timedelta(hours=2))

    accepted.refresh_from_db()
    assert accepted.status == AssignmentStatus.REASSIGNED
    assert (moved.queue, moved.rep_id, moved.reason_code, moved.reassigned_from_id) == (
        Queue.COMMUNITY,
        None,
        STUDENT_RULE,
        accepted.pk,
    )
    rep_name = str(SalesRep.objects.get(pk=rep_id))
    assert moved.reason == (
        f"accepted by {rep_name}, but disqualifier student caught the lead: out of the sales "
        "queue → rule student → community"
    )
    event = AssignmentEvent.objects.get(assignment=moved)
    assert event.kind == AssignmentEventKind.LEFT_SALES
    assert event.message == f"{rep_name} → the community queue: {moved.reason}"
    assert open_leads(rep_id) == 0
    lead.refresh_from_db()
    assert lead.owner_id is None  # the rep no longer holds it
    assert moved.sla_due_at is None  # community is watched, not worked


def test_an_accepted_lead_the_model_drops_to_nurture_stays_with_the_rep_who_accepted_it() -> None:
    world = build_world()
    lead, accepted = accepted_sales_lead(world)
    requalify(lead, Tier.NURTURE, conversion_probability=0.08)

    assert route(lead, now=NOW + timedelta(hours=2)) == []

    accepted.refresh_from_db()
    assert (accepted.status, accepted.queue) == (AssignmentStatus.ACCEPTED, Queue.SALES)
    assert accepted.rep_id is not None and open_leads(accepted.rep_id) == 1
    assert not AssignmentEvent.objects.filter(assignment__lead=lead).exists()


def test_an_accepted_lead_below_minimum_fit_stays_with_its_rep() -> None:
    world = build_world()
    rule("below_minimum_fit", RuleCategory.MINIMUM_FIT, RuleAction.DISQUALIFY)
    lead, accepted = accepted_sales_lead(world)
    requalify(lead, Tier.DISQUALIFY, disqualification_reason="below_minimum_fit")

    assert route(lead) == []
    assert current(lead).pk == accepted.pk


@pytest.mark.parametrize(
    ("category", "action", "queue"),
    [
        ("competitor", RuleAction.DISQUALIFY, Queue.LOW_PRIORITY),
        ("analyst", RuleAction.DISQUALIFY, Queue.LOW_PRIORITY),
        ("spam", RuleAction.DISQUALIFY, Queue.LOW_PRIORITY),
        ("job_seeker", RuleAction.DISQUALIFY, Queue.LOW_PRIORITY),
        ("existing_customer_support", RuleAction.ROUTE_SUCCESS, Queue.SUCCESS),
        ("existing_customer_support", RuleAction.ROUTE_SUPPORT, Queue.SUPPORT),
    ],
)
def test_each_hard_disqualifier_takes_an_accepted_lead_to_its_path(
    category: str, action: str, queue: str
) -> None:
    world = build_world()
    rule(f"{category}-rule", category, action)
    lead, _accepted = accepted_sales_lead(world)
    requalify(lead, Tier.DISQUALIFY, disqualification_reason=f"{category}-rule")

    (moved,) = route(lead)

    assert (moved.queue, moved.reason_code) == (queue, f"{category}-rule")
    assert AssignmentEvent.objects.get(assignment=moved).kind == AssignmentEventKind.LEFT_SALES


def test_an_open_sales_lead_a_competitor_rule_catches_leaves_with_a_left_sales_event() -> None:
    world = build_world()
    rule("competitor", "competitor", RuleAction.DISQUALIFY)
    lead = qualified_lead(world.account)
    (_first,) = route(lead)
    requalify(lead, Tier.DISQUALIFY, disqualification_reason="competitor")

    (moved,) = route(lead)

    assert (moved.queue, moved.reason, moved.reason_code) == (
        Queue.LOW_PRIORITY,
        "disqualified (competitor) → low-priority pool",
        "competitor",
    )
    event = AssignmentEvent.objects.get(assignment=moved)
    assert event.kind == AssignmentEventKind.LEFT_SALES
    assert event.message.endswith(": disqualified (competitor) → low-priority pool")


def test_routing_twice_after_a_lead_left_sales_changes_nothing() -> None:
    world = build_world()
    rule(STUDENT_RULE, "student", RuleAction.ROUTE_COMMUNITY)
    lead, _ = accepted_sales_lead(world)
    requalify(lead, Tier.DISQUALIFY, disqualification_reason=STUDENT_RULE)
    route(lead)

    assert route(lead) == []
    assert AssignmentEvent.objects.filter(kind=AssignmentEventKind.LEFT_SALES).count() == 1


# --- a lead on a path ------------------------------------------------------------------------


def on_community_path(world: World | None = None) -> tuple[Lead, Assignment]:
    DisqualificationRule.objects.get_or_create(
        reason_code=STUDENT_RULE,
        defaults={"name": "Students", "category": "student", "action": RuleAction.ROUTE_COMMUNITY},
    )
    lead = qualified_lead(
        world.account if world else None, Tier.DISQUALIFY, disqualification_reason=STUDENT_RULE
    )
    (assignment,) = route(lead)
    assert assignment.queue == Queue.COMMUNITY
    return lead, assignment


def test_a_path_team_member_marks_a_lead_handled_and_it_stays_on_the_path() -> None:
    lead, assignment = on_community_path()
    ana: User = UserFactory(username="ana", first_name="Ana", last_name="Ruiz")
    moment = NOW + timedelta(minutes=5)

    handled = path_assignment_handle(assignment_id=assignment.pk, user=ana, now=moment)

    assert (handled.status, handled.accepted_by_id, handled.accepted_at) == (
        AssignmentStatus.ACCEPTED,
        ana.pk,
        moment,
    )
    assert handled.first_touch_at == moment
    event = AssignmentEvent.objects.get(assignment=assignment, kind=AssignmentEventKind.HANDLED)
    assert (event.by_user_id, event.message) == (
        ana.pk,
        "Handled by Ana Ruiz on the community path.",
    )
    # Routing again leaves a handled lead where it is while it belongs on the path.
    assert route(lead) == []
    assert current(lead).pk == assignment.pk


def test_a_lead_cannot_be_marked_handled_twice_or_off_a_path() -> None:
    _lead, assignment = on_community_path()
    ana: User = UserFactory(first_name="Ana", last_name="Ruiz")
    ben: User = UserFactory()
    path_assignment_handle(assignment_id=assignment.pk, user=ana)
    world = build_world()
    (sales,) = route(qualified_lead(world.account))

    with pytest.raises(PathError, match="Already handled by Ana Ruiz"):
        path_assignment_handle(assignment_id=assignment.pk, user=ben)
    with pytest.raises(PathError, match="not on an alternative path"):
        path_assignment_handle(assignment_id=sales.pk, user=ben)
    with pytest.raises(PathError, match="does not exist"):
        path_assignment_handle(assignment_id=999_999, user=ben)


def test_a_handled_lead_that_becomes_sales_ready_goes_to_a_rep_with_its_history() -> None:
    world = build_world()
    lead, assignment = on_community_path(world)
    path_assignment_handle(assignment_id=assignment.pk, user=UserFactory())
    requalify(lead, Tier.SALES_READY, conversion_probability=0.6)

    (back,) = route(lead)

    assert back.queue == Queue.SALES and back.rep_id is not None
    assert back.reassigned_from_id == assignment.pk
    history = list(
        Assignment.objects.filter(lead=lead).order_by("pk").values_list("queue", flat=True)
    )
    assert history == [Queue.COMMUNITY, Queue.SALES]


def test_the_paths_a_lead_is_on_are_queryable_by_path_and_reason_code() -> None:
    on_community_path()
    on_community_path()
    world = build_world()
    route(qualified_lead(world.account))

    students = selectors.path_assignments(path=Queue.COMMUNITY, reason_codes=[STUDENT_RULE])

    assert students.count() == 2
    assert selectors.path_assignments(path=Queue.COMMUNITY, reason_codes=["other"]).count() == 0
    assert selectors.path_assignments(path=Queue.SALES).count() == 1


# --- webhook deliveries are recorded with the assignment ---------------------------------------


def test_an_assignment_to_a_webhook_path_records_one_delivery_and_sends_it_after_commit(
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    destination = PathDestination.objects.create(
        path=Queue.COMMUNITY, kind=PathDestinationKind.WEBHOOK, webhook_url="http://127.0.0.1:9/x"
    )
    world = build_world()
    DisqualificationRule.objects.create(
        name="Students", category="student", reason_code=STUDENT_RULE, action="route_community"
    )
    student = qualified_lead(None, Tier.DISQUALIFY, disqualification_reason=STUDENT_RULE)
    buyer = qualified_lead(world.account)

    with django_capture_on_commit_callbacks() as callbacks:
        assignments_route(lead_ids=[student.pk, buyer.pk], now=NOW)

    (delivery,) = WebhookDelivery.objects.all()
    assert delivery.assignment.lead_id == student.pk
    assert (delivery.destination_id, delivery.path, delivery.status, delivery.attempts) == (
        destination.pk,
        Queue.COMMUNITY,
        WebhookDeliveryStatus.PENDING,
        0,
    )
    assert delivery.body == ""  # fixed at the first attempt
    assert len(callbacks) == 1


def test_paths_without_a_webhook_record_no_delivery() -> None:
    PathDestination.objects.create(
        path=Queue.SUCCESS, kind=PathDestinationKind.WEBHOOK, webhook_url="http://127.0.0.1:9/x"
    )
    on_community_path()

    assert not WebhookDelivery.objects.exists()
