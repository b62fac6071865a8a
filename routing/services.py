"""Routing writes: place leads and persist the decisions, the SLA check, manager reassignment.

Every writer takes its row locks in one order, so that two workers can never deadlock: the
leads (by id), then the reps who could receive them (by id), then the round-robin clocks of the
pools and teams involved (by key). Every change of a lead's assignments holds that lead's lock;
every new assignment to a rep holds the rep's lock, taken before its load is counted; every
credit change holds its clock's lock. On SQLite select_for_update is a no-op and the IMMEDIATE
transaction mode (settings) serialises writers instead.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import NamedTuple
from zoneinfo import ZoneInfo

from django.contrib.auth.models import AbstractUser
from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from accounts.models import Lead
from routing import selectors
from routing.engine import (
    Decision,
    PoolClock,
    RepCredit,
    RepState,
    RoundRobinState,
    leaves_accepted_sales,
    pool_key,
    team_key,
)
from routing.models import (
    Assignment,
    AssignmentEvent,
    AssignmentEventKind,
    AssignmentStatus,
    Queue,
    RoundRobinClock,
    RoundRobinCredit,
    RoutingSettings,
    SalesRep,
)
from routing.path_services import webhook_deliveries_create
from routing.resurfacing_owners import resurfacings_routed
from routing.selectors import CURRENT_STATUSES, RoutableLead, RoutingSetup
from routing.sla import sla_deadline

logger = logging.getLogger(__name__)

DEFAULT_BATCH = 500
# Queues whose leads are watched rather than worked: no first-touch deadline there.
UNTIMED_QUEUES = frozenset({Queue.NURTURE, Queue.COMMUNITY, Queue.LOW_PRIORITY})

_NO_REPS: dict[int, RepState] = {}
_NO_STATE = RoundRobinState()
_MAX_MONEY = Decimal("999999999999.99")


class ReassignmentError(Exception):
    """A reassignment that cannot be made; the message says why, for the manager."""


class _Move(NamedTuple):
    """Move a lead off its current assignment, whatever the engine would say of it otherwise."""

    assignment_id: int
    exclude_rep_id: int | None
    reason: str
    by_user_id: int | None
    kind: str = AssignmentEventKind.REASSIGNED


class _Todo(NamedTuple):
    lead: RoutableLead
    held: Assignment | None
    move: _Move | None
    preview: Decision


@dataclass(frozen=True)
class SlaCheckResult:
    breached: list[int]  # assignments that breached in this run
    reassigned: list[int]  # the new assignments of the leads moved after a repeated breach


# --- routing -------------------------------------------------------------------------------


def assignments_route(
    *, lead_ids: Iterable[int], now: datetime | None = None, batch_size: int = DEFAULT_BATCH
) -> list[Assignment]:
    """Route these leads and persist where each goes; returns the assignments created.

    Idempotent: a lead already with a rep in the sales queue stays with them while it is Sales
    Ready, a lead in the queue its qualification sends it to stays there, an accepted lead is
    the rep's to work (a manager moves it, `assignment_reassign`), even when the model now
    says Nurture. A lead whose qualification now sends it elsewhere, or that waited unassigned
    and now finds a rep, gets a new assignment and its previous one is closed as reassigned.

    Disqualified leads leave the sales queue: a lead a hard disqualifier now catches
    (`engine.leaves_accepted_sales`: a competitor, a student, an existing customer with a
    support need...) goes to its path even when a rep had accepted it, with a "left the
    sales queue" event saying why; the rep's open count drops with it (counts are of current
    assignments). A lead handled on a path (accepted there) stays while its qualification
    keeps it on that path. An assignment to a path with a webhook destination is recorded for
    delivery in the same transaction and sent once it commits.

    Converted and closed leads are left alone. One transaction per batch of `batch_size` leads.
    """
    moment = now or timezone.now()
    ids = sorted(set(lead_ids))
    if not ids:
        return []
    setup = selectors.routing_setup()
    _ensure_clocks(setup.round_robin_keys())
    created: list[Assignment] = []
    for start in range(0, len(ids), batch_size):
        with transaction.atomic():
            created.extend(
                _route_batch(lead_ids=ids[start : start + batch_size], setup=setup, now=moment)
            )
    # TRIGGERS: a resurfaced lead now with a rep in the sales queue is "routed", to them.
    resurfacings_routed(lead_ids=ids)
    return created


def assignments_move(
    *,
    moves: Mapping[int, tuple[int, str]],
    now: datetime | None = None,
    batch_size: int = DEFAULT_BATCH,
) -> list[Assignment]:
    """Route these leads again off their current assignment, {lead id: (assignment id, why)},
    where routing alone would leave them (an open lead with a rep stays with them): an
    account play gathering its account's leads with the play's owner. The engine decides
    where each goes, as for any lead; one that would land where it is stays, and one whose
    assignment changed meanwhile is left alone. The old assignment is closed as reassigned
    with an event saying why. Returns the assignments created."""
    moment = now or timezone.now()
    ids = sorted(moves)
    if not ids:
        return []
    setup = selectors.routing_setup()
    _ensure_clocks(setup.round_robin_keys())
    created: list[Assignment] = []
    for start in range(0, len(ids), batch_size):
        chunk = ids[start : start + batch_size]
        with transaction.atomic():
            created.extend(
                _route_batch(
                    lead_ids=chunk,
                    setup=setup,
                    now=moment,
                    moves={
                        lead_id: _Move(moves[lead_id][0], None, moves[lead_id][1], None)
                        for lead_id in chunk
                    },
                )
            )
    resurfacings_routed(lead_ids=ids)
    return created


def _ensure_clocks(keys: set[str]) -> None:
    """Create the clock rows that are missing, so that there is a row to lock for every key."""
    if not keys:
        return
    existing = set(RoundRobinClock.objects.filter(key__in=keys).values_list("key", flat=True))
    missing = keys - existing
    if missing:
        RoundRobinClock.objects.bulk_create(
            [RoundRobinClock(key=key) for key in sorted(missing)], ignore_conflicts=True
        )


def _route_batch(
    *,
    lead_ids: Sequence[int],
    setup: RoutingSetup,
    now: datetime,
    moves: Mapping[int, _Move] | None = None,
) -> list[Assignment]:
    """Route one batch inside the caller's transaction: lock, count, decide, persist."""
    moves = moves or {}
    router = setup.router
    leads = selectors.routable_leads(
        lead_ids=lead_ids,
        disqualifiers=setup.disqualifiers,
        default_deal_size=(
            float(setup.settings.default_deal_size)
            if setup.settings.default_deal_size is not None
            else None
        ),
        lock=True,
    )
    if not leads:
        return []
    current = selectors.current_assignments(lead_ids=[lead.facts.lead_id for lead in leads])

    todo: list[_Todo] = []
    for lead in leads:
        held = current.get(lead.facts.lead_id)
        move = moves.get(lead.facts.lead_id)
        if move is not None:
            if held is None or held.pk != move.assignment_id:
                continue  # moved or closed by someone else meanwhile
        elif (
            held is not None and held.status != AssignmentStatus.OPEN and held.queue == Queue.SALES
        ):
            if not leaves_accepted_sales(lead.facts):
                continue  # accepted: the rep is working it
            move = _Move(
                held.pk,
                None,
                f"accepted by {_target(setup, held)}, but disqualifier "
                f"{_category(lead.facts.rule_category)} caught the lead: out of the sales queue",
                None,
                AssignmentEventKind.LEFT_SALES,
            )
        # Accepted on a path (handled there): it stays while the decision keeps it there.
        # Without reps the engine still says which queue, and which rule, the lead is for.
        preview = router.route(lead.facts, reps=_NO_REPS, rr_state=_NO_STATE, now=now)
        if (
            move is None
            and held is not None
            and held.rep_id is not None
            and held.queue == preview.queue == Queue.SALES
        ):
            continue  # a sales lead with its rep: routing again would only reshuffle
        todo.append(_Todo(lead, held, move, preview))
    if not todo:
        return []

    candidates, pool_ids = _candidates(todo, setup)
    reps = (
        selectors.rep_states(now=now, hours=setup.hours, rep_ids=sorted(candidates), lock=True)
        if candidates
        else {}
    )
    keys = {pool_key(pool_id) for pool_id in pool_ids}
    for item in todo:
        for rep_id in (item.lead.facts.preferred_rep_id, item.lead.facts.account_owner_rep_id):
            owner = reps.get(rep_id or 0)
            if owner is not None and owner.team:
                keys.add(team_key(owner.team))
    missing = keys - setup.round_robin_keys()
    if missing:  # a team named since the run started
        _ensure_clocks(missing)
    state = selectors.round_robin_state(keys=keys, lock=True) if keys else RoundRobinState()

    new: list[Assignment] = []
    replaced: list[tuple[Assignment, Assignment, _Move | None]] = []
    owners: dict[int, int | None] = {}
    credits: dict[tuple[str, int], RepCredit] = {}
    clocks: dict[str, PoolClock] = {}
    deadlines: dict[tuple[str, str], datetime | None] = {}
    for lead, held, move, preview in todo:
        if preview.queue != Queue.SALES:
            decision = preview
        else:
            view = reps
            if move is not None and move.exclude_rep_id in reps:
                view = {
                    rep_id: rep for rep_id, rep in reps.items() if rep_id != move.exclude_rep_id
                }
            decision = router.route(lead.facts, reps=view, rr_state=state, now=now)
        if held is not None and (decision.queue, decision.rep_id) == (held.queue, held.rep_id):
            continue
        rep_id = decision.rep_id
        if rep_id is not None:
            reps[rep_id] = reps[rep_id].with_assignment()
        update = decision.credit_update
        if update is not None:
            state.apply(update)
            credits[update.key, update.rep_id] = update.credit
            clocks[update.key] = update.clock

        deadline_key = (decision.tier, decision.queue)
        if deadline_key not in deadlines:
            deadlines[deadline_key] = _sla_due(setup, decision.tier, decision.queue, now)
        assignment = Assignment(
            lead_id=decision.lead_id,
            rep_id=rep_id,
            queue=decision.queue,
            tier=decision.tier,
            rule_id=decision.rule_id,
            pool_id=decision.pool_id,
            reason=decision.reason if move is None else f"{move.reason} → {decision.reason}",
            reason_code=decision.reason_code,
            expected_value=_money(decision.expected_value),
            assigned_at=now,
            sla_due_at=deadlines[deadline_key],
            status=AssignmentStatus.OPEN,
            reassigned_from_id=held.pk if held is not None else None,
        )
        new.append(assignment)

        owner_user: int | None = lead.owner_id
        if rep_id is not None:
            owner_user = reps[rep_id].user_id
        if held is not None:
            replaced.append((held, assignment, move))
            if held.rep_id is not None:
                if held.rep_id in reps:
                    old = reps[held.rep_id]
                    reps[held.rep_id] = dataclasses.replace(
                        old, open_leads=max(old.open_leads - 1, 0)
                    )
                # The lead has left that rep: they no longer own it.
                if rep_id is None and lead.owner_id == _user_of(setup, held.rep_id):
                    owner_user = None
        if owner_user != lead.owner_id:
            owners[decision.lead_id] = owner_user

    if not new:
        return []
    if replaced:
        # Closed before the new rows go in: assignment_one_current_per_lead.
        Assignment.objects.filter(pk__in=[held.pk for held, _, _ in replaced]).update(
            status=AssignmentStatus.REASSIGNED
        )
    Assignment.objects.bulk_create(new)
    if setup.webhook_paths:
        told = [assignment for assignment in new if assignment.queue in setup.webhook_paths]
        if told:
            webhook_deliveries_create(assignments=told, destinations=setup.webhook_paths, now=now)
    if replaced:
        AssignmentEvent.objects.bulk_create(
            [
                AssignmentEvent(
                    assignment=assignment,
                    kind=_event_kind(held, assignment, move),
                    created_at=now,
                    by_user_id=move.by_user_id if move is not None else None,
                    message=(
                        f"{_target(setup, held)} → {_target(setup, assignment)}: "
                        f"{assignment.reason}"
                    ),
                )
                for held, assignment, move in replaced
            ]
        )
    to_reps = [lead_id for lead_id, user in owners.items() if user is not None]
    if to_reps:
        # One statement, whatever the batch size (bulk_update's CASE costs more in Python than
        # the whole decision): each lead's owner is the user of its new assignment's rep.
        new_owner = Assignment.objects.filter(
            lead_id=OuterRef("pk"), status=AssignmentStatus.OPEN
        ).values("rep__user_id")[:1]
        Lead.objects.filter(pk__in=to_reps).update(owner_id=Subquery(new_owner), updated_at=now)
    released = [lead_id for lead_id, user in owners.items() if user is None]
    if released:
        Lead.objects.filter(pk__in=released).update(owner_id=None, updated_at=now)
    if credits:
        RoundRobinCredit.objects.bulk_create(
            [
                RoundRobinCredit(
                    key=key,
                    rep_id=rep_id,
                    credit=credit.credit,
                    leads=credit.leads,
                    value=credit.value,
                    last_seq=credit.last_seq,
                    updated_at=now,
                )
                for (key, rep_id), credit in credits.items()
            ],
            update_conflicts=True,
            unique_fields=["key", "rep"],
            update_fields=["credit", "leads", "value", "last_seq", "updated_at"],
        )
    if clocks:
        RoundRobinClock.objects.bulk_create(
            [
                RoundRobinClock(
                    key=key,
                    virtual_time=clock.virtual_time,
                    seq=clock.seq,
                    leads=clock.leads,
                    value=clock.value,
                    updated_at=now,
                )
                for key, clock in clocks.items()
            ],
            update_conflicts=True,
            unique_fields=["key"],
            update_fields=["virtual_time", "seq", "leads", "value", "updated_at"],
        )
    return new


def _candidates(todo: Sequence[_Todo], setup: RoutingSetup) -> tuple[set[int], set[int]]:
    """The reps the batch's sales leads could reach, and the pools it could use.

    Owner, owner's team, the first matching rule's pool and the fallback pool: the rule does
    not depend on the reps, so the preview (routed without reps) names it.
    """
    candidates: set[int] = set()
    pool_ids: set[int] = set()
    fallback = setup.router.fallback
    for item in todo:
        if item.preview.queue != Queue.SALES:
            continue
        # The preferred rep (a resurfaced lead's previous owner, a play's owner), then the
        # account owner: each with their team, where the engine falls back to.
        for owner in (item.lead.facts.preferred_rep_id, item.lead.facts.account_owner_rep_id):
            if owner is not None:
                candidates.add(owner)
                team = setup.rep_teams.get(owner, "")
                if team:
                    candidates.update(setup.team_members.get(team, ()))
        rule = setup.rules.get(item.preview.rule_id or 0)
        if rule is not None:
            pool_ids.add(rule.pool_id)
        if fallback is not None:
            pool_ids.add(fallback.pool_id)
    for pool_id in pool_ids:
        pool = setup.pools.get(pool_id)
        if pool is not None:
            candidates.update(pool.rep_ids)
    return candidates, pool_ids


def _sla_due(setup: RoutingSetup, tier: str, queue: str, start: datetime) -> datetime | None:
    if queue in UNTIMED_QUEUES:
        return None
    duration = setup.settings.sla_duration(tier)
    return sla_deadline(start, duration, setup.hours) if duration is not None else None


def _money(value: float) -> Decimal:
    return min(Decimal(f"{value:.2f}"), _MAX_MONEY)


def _user_of(setup: RoutingSetup, rep_id: int) -> int | None:
    known = setup.rep_users.get(rep_id)
    return known[0] if known is not None else None


def _category(code: str) -> str:
    return code.replace("_", " ") if code else "rule"


def _event_kind(held: Assignment, new: Assignment, move: _Move | None) -> str:
    """A lead a disqualifier took out of the sales queue "left" it; any other move (a drop to
    Nurture by the model included) is a reassignment."""
    if move is not None:
        return move.kind
    if held.queue == Queue.SALES and new.queue != Queue.SALES and new.reason_code:
        return AssignmentEventKind.LEFT_SALES
    return AssignmentEventKind.REASSIGNED


def _target(setup: RoutingSetup, assignment: Assignment) -> str:
    if assignment.rep_id is not None:
        known = setup.rep_users.get(assignment.rep_id)
        return known[1] if known is not None else f"rep #{assignment.rep_id}"
    if assignment.queue == Queue.SALES:
        return "the sales queue (unassigned)"
    return f"the {Queue(assignment.queue).label.lower()} queue"


# --- SLA -------------------------------------------------------------------------------------


def assignments_check_sla(*, now: datetime | None = None, batch_size: int = 200) -> SlaCheckResult:
    """Alert on open assignments past their deadline with no first touch; move repeat breaches.

    Each breach adds one to `sla_breaches`, logs a warning and records an SLA event, and starts
    a fresh deadline from now (the alert is what the rep answers). At the configured breach
    (`RoutingSettings.reassign_after_breaches`, the second by default) a lead in the sales
    queue is reassigned by the engine to anyone but the rep who let it wait. Safe to run
    twice: a breach moves the deadline into the future.
    """
    moment = now or timezone.now()
    overdue = selectors.assignments_past_sla(now=moment)
    if not overdue:
        return SlaCheckResult(breached=[], reassigned=[])
    setup = selectors.routing_setup()
    _ensure_clocks(setup.round_robin_keys())
    breached: list[int] = []
    reassigned: list[int] = []
    for start in range(0, len(overdue), batch_size):
        with transaction.atomic():
            batch_breached, batch_moved = _check_sla_batch(
                overdue[start : start + batch_size], setup=setup, now=moment
            )
        breached += batch_breached
        reassigned += batch_moved
    return SlaCheckResult(breached=breached, reassigned=reassigned)


def _check_sla_batch(
    overdue: Sequence[tuple[int, int]], *, setup: RoutingSetup, now: datetime
) -> tuple[list[int], list[int]]:
    _lock_leads(sorted({lead_id for _, lead_id in overdue}))
    # Read again under the lock: another checker or a first touch may have got there first.
    rows = list(
        Assignment.objects.filter(
            pk__in=[assignment_id for assignment_id, _ in overdue],
            status=AssignmentStatus.OPEN,
            first_touch_at__isnull=True,
            sla_due_at__lt=now,
        ).order_by("lead_id", "pk")
    )
    threshold = setup.settings.reassign_after_breaches
    events: list[AssignmentEvent] = []
    moves: dict[int, _Move] = {}
    for assignment in rows:
        assignment.sla_breaches += 1
        who = _target(setup, assignment)
        due = assignment.sla_due_at
        assert due is not None  # the filter above
        message = (
            f"SLA breach {assignment.sla_breaches}: not touched by "
            f"{due.astimezone(ZoneInfo(setup.hours.timezone)):%Y-%m-%d %H:%M %Z} ({who})"
        )
        logger.warning(
            "SLA breach %s of assignment %s (lead %s, %s)",
            assignment.sla_breaches,
            assignment.pk,
            assignment.lead_id,
            who,
        )
        events.append(
            AssignmentEvent(
                assignment=assignment,
                kind=AssignmentEventKind.SLA_BREACH,
                created_at=now,
                message=message,
            )
        )
        if assignment.sla_breaches >= threshold and assignment.queue == Queue.SALES:
            moves[assignment.lead_id] = _Move(
                assignment_id=assignment.pk,
                exclude_rep_id=assignment.rep_id,
                reason=(
                    f"SLA breached {assignment.sla_breaches} times by {who}"
                    if assignment.rep_id is not None
                    else f"SLA breached {assignment.sla_breaches} times unassigned"
                ),
                by_user_id=None,
            )
        # A fresh window from the alert; a lead that finds no one else keeps waiting under it.
        assignment.sla_due_at = _sla_due(setup, assignment.tier, assignment.queue, now)
    if rows:
        Assignment.objects.bulk_update(rows, ["sla_breaches", "sla_due_at"])
        AssignmentEvent.objects.bulk_create(events)
    created = (
        _route_batch(lead_ids=sorted(moves), setup=setup, now=now, moves=moves) if moves else []
    )
    for assignment in created:
        logger.warning(
            "Lead %s reassigned after repeated SLA breaches: %s",
            assignment.lead_id,
            assignment.reason,
        )
    return [assignment.pk for assignment in rows], [assignment.pk for assignment in created]


def _lock_leads(lead_ids: Sequence[int]) -> None:
    list(
        Lead.objects.select_for_update()
        .filter(pk__in=list(lead_ids))
        .order_by("pk")
        .values_list("pk", flat=True)
    )


# --- manager reassignment ------------------------------------------------------------------


def _display(user: AbstractUser | None) -> str:
    if user is None:
        return "a manager"
    return user.get_full_name() or user.get_username()


def assignment_reassign(
    *,
    assignment: Assignment,
    reason: str,
    to_rep: SalesRep | None = None,
    by_user: AbstractUser | None = None,
    now: datetime | None = None,
) -> Assignment:
    """A manager moves a lead: to `to_rep`, or (None) wherever the engine sends it next,
    excluding its current rep. The old assignment is closed as reassigned, the new one points
    back to it, and an event records who did it and why.

    A named rep takes the lead even over their caps (a manager's call) but must be active;
    such a pick moves no round-robin credit, like an account owner's lead.
    """
    why = reason.strip()
    if not why:
        raise ReassignmentError("Say why the lead is reassigned.")
    if to_rep is not None and not to_rep.is_active:
        raise ReassignmentError(f"{to_rep} is not active.")
    moment = now or timezone.now()
    text = f"reassigned by {_display(by_user)}: {why}"
    by_user_id = by_user.pk if by_user is not None else None

    setup = selectors.routing_setup() if to_rep is None else None
    if setup is not None:
        _ensure_clocks(setup.round_robin_keys())
    with transaction.atomic():
        _lock_leads([assignment.lead_id])
        held = Assignment.objects.filter(pk=assignment.pk, status__in=CURRENT_STATUSES).first()
        if held is None:
            raise ReassignmentError("This assignment is no longer the lead's current one.")
        if setup is not None:
            move = _Move(held.pk, held.rep_id, text, by_user_id)
            created = _route_batch(
                lead_ids=[held.lead_id], setup=setup, now=moment, moves={held.lead_id: move}
            )
            if not created:
                raise ReassignmentError(
                    "Routing finds no other place for this lead; it stays where it is."
                )
            return created[0]

        assert to_rep is not None
        if held.rep_id == to_rep.pk:
            raise ReassignmentError(f"The lead is already with {to_rep}.")
        # The rep's row lock: routing counts a rep's load under it.
        list(SalesRep.objects.select_for_update().filter(pk=to_rep.pk).values_list("pk"))
        routing_settings = RoutingSettings.load()
        duration = routing_settings.sla_duration(held.tier)
        held.status = AssignmentStatus.REASSIGNED
        held.save(update_fields=["status"])
        new = Assignment.objects.create(
            lead_id=held.lead_id,
            rep=to_rep,
            queue=Queue.SALES,
            tier=held.tier,
            reason=f"{text} → {to_rep}",
            expected_value=held.expected_value,
            assigned_at=moment,
            sla_due_at=(
                sla_deadline(moment, duration, routing_settings.business_hours())
                if duration is not None
                else None
            ),
            reassigned_from=held,
        )
        previous = (
            str(held.rep)
            if held.rep is not None
            else f"the {Queue(held.queue).label.lower()} queue"
        )
        AssignmentEvent.objects.create(
            assignment=new,
            kind=AssignmentEventKind.REASSIGNED,
            created_at=moment,
            by_user_id=by_user_id,
            message=f"{previous} → {to_rep}: {new.reason}",
        )
        Lead.objects.filter(pk=held.lead_id).update(owner_id=to_rep.user_id, updated_at=moment)
    return new
