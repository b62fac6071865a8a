"""Account plays: the account's stored priority decides what happens (the seed's flowchart).

- **High: orchestrated outreach.** The account gets one owner: its account owner when that
  rep can take leads, otherwise routing's choice (the engine's own order for the account:
  the owner's team, the first matching rule's pool, the fallback pool). Every engaged lead
  of the account (a touchpoint in the account score's activity window) that routing sends
  to sales goes to that owner, or their pod (team) when they cannot take it: routing prefers
  the play's owner for each lead of the account (`routing.engine.LeadFacts.preferred_rep_id`,
  read in `routing.selectors.routable_leads`), and an engaged lead waiting open with a rep
  outside the pod is moved to them. A lead a rep has accepted stays with that rep: they are
  working it. The play lists the buying-committee roles no one at the account plays yet,
  to reach next.
- **Medium: targeted nurture.** The account's leads on the nurture path are its nurture
  track (the nurture path's page shows the account and why), with the roles to reach.
- **Low: passive monitoring.** No owner, no sales task; the triggers watch the account.

A Sales Ready lead still goes to sales whatever its account's priority (its own bar already
moved with the account: `scoring.account_threshold`), and a lead a disqualifier caught still
goes to its path.

The pure core (`play_decide`, `play_owner_choose`) has no ORM; `account_plays_apply` stores
the plays and routes the leads. It runs from scoring's LEADQUAL_AFTER_ACCOUNT_QUALIFY hook
(`routing.tasks.account_plays_start`), once an account's new qualification has committed,
in real time when evidence arrives and in the nightly run. Idempotent: an account whose
play already matches its qualification is left alone (nothing saved, nothing routed).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from accounts.models import Account
from routing import selectors
from routing.account_play_selectors import engaged_lead_ids
from routing.engine import (
    SALES_READY,
    VIA_OWNER,
    LeadFacts,
    RepState,
    RoundRobinState,
    Router,
)
from routing.models import AccountPlay, AccountPlayStatus, Assignment, AssignmentStatus, Queue
from routing.services import assignments_move, assignments_route
from scoring.account_scoring import BUYING_ROLES, PRIORITY_ACTIONS, PRIORITY_LABELS
from scoring.account_selectors import account_qualifications_current, account_scoring_config
from scoring.models import AccountQualification

STATUS_BY_PRIORITY = {
    "high": AccountPlayStatus.OUTREACH.value,
    "medium": AccountPlayStatus.NURTURE.value,
    "low": AccountPlayStatus.MONITORING.value,
}

CREATE = "create"
UPDATE = "update"  # the priority (so the status) changed
REFRESH = "refresh"  # same priority; its roles to reach changed
UNCHANGED = "unchanged"


# --- the pure core ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PlayFacts:
    """What the account's current qualification says."""

    priority: str
    score: int
    roles_missing: tuple[str, ...] = ()
    steps: tuple[str, ...] = ()  # AccountQualification.play: the roles to find and re-engage


@dataclass(frozen=True)
class StoredPlay:
    priority: str
    status: str
    owner_rep_id: int | None = None
    roles_to_reach: tuple[str, ...] = ()
    steps: tuple[str, ...] = ()


@dataclass(frozen=True)
class PlayDecision:
    action: str  # CREATE, UPDATE, REFRESH or UNCHANGED
    priority: str
    status: str
    roles_to_reach: tuple[str, ...]
    steps: tuple[str, ...]
    reason: str
    # Outreach starting (or still without an owner): ask routing for the owner.
    choose_owner: bool = False


def play_decide(facts: PlayFacts, stored: StoredPlay | None) -> PlayDecision:
    """What the account's play should be now, and what that changes.

    Outreach and nurture list the buying roles no one plays yet, most decisive first
    (`BUYING_ROLES` order), with the qualification's steps; monitoring lists none (no sales
    task). The same priority with the same roles is UNCHANGED: nothing is saved or routed."""
    if facts.priority not in STATUS_BY_PRIORITY:
        raise ValueError(
            f"play_decide: unknown account priority {facts.priority!r}; one of "
            f"{', '.join(STATUS_BY_PRIORITY)}"
        )
    status = STATUS_BY_PRIORITY[facts.priority]
    if status == AccountPlayStatus.MONITORING:
        roles: tuple[str, ...] = ()
        steps: tuple[str, ...] = ()
    else:
        missing = set(facts.roles_missing)
        roles = tuple(role for role in BUYING_ROLES if role in missing)
        steps = tuple(facts.steps)
    reason = (
        f"Account priority {PRIORITY_LABELS[facts.priority]} (score {facts.score}): "
        f"{PRIORITY_ACTIONS[facts.priority]}"
    )[:200]
    outreach = status == AccountPlayStatus.OUTREACH
    if stored is None:
        action = CREATE
    elif stored.priority != facts.priority or stored.status != status:
        action = UPDATE
    elif stored.roles_to_reach != roles or stored.steps != steps:
        action = REFRESH
    else:
        action = UNCHANGED
    # An outreach left without an owner (no one could take it) tries again on its next change.
    ownerless = stored is not None and stored.owner_rep_id is None
    choose_owner = outreach and (action in (CREATE, UPDATE) or (action == REFRESH and ownerless))
    return PlayDecision(action, facts.priority, status, roles, steps, reason, choose_owner)


def play_owner_choose(
    *,
    router: Router,
    account: LeadFacts,
    reps: Mapping[int, RepState],
    rr_state: RoundRobinState,
    now: datetime,
) -> tuple[int | None, str, RepState | None]:
    """The outreach owner, why, and the rep after taking the account (None: no one).

    The account is routed as a Sales Ready lead of its own (`account`: its place, industry,
    size and owner): the account owner when available, else routing's choice in the usual
    order (owner's team, first matching rule's pool, fallback pool)."""
    decision = router.route(account, reps=reps, rr_state=rr_state, now=now)
    if decision.credit_update is not None:
        rr_state.apply(decision.credit_update)
    if decision.rep_id is None:
        return (
            None,
            f"no rep can take the account now ({decision.reason}); its leads are routed as usual",
            None,
        )
    after = reps[decision.rep_id].with_assignment()
    if decision.via == VIA_OWNER:
        return decision.rep_id, "account owner", after
    return decision.rep_id, f"routing's choice: {decision.reason}", after


# --- the service -----------------------------------------------------------------------------


@dataclass
class AccountPlaysResult:
    created: list[int] = field(default_factory=list)  # account ids
    updated: list[int] = field(default_factory=list)
    refreshed: list[int] = field(default_factory=list)
    unchanged: list[int] = field(default_factory=list)
    routed: int = 0  # assignments made for outreach accounts' engaged leads
    moved: int = 0  # of them, leads moved from a rep outside the owner's pod


def _facts(q: AccountQualification) -> PlayFacts:
    return PlayFacts(
        priority=q.priority,
        score=int(q.score),
        roles_missing=tuple(q.roles_missing or ()),
        steps=tuple(str(step) for step in q.play or ()),
    )


def _stored(play: AccountPlay) -> StoredPlay:
    return StoredPlay(
        priority=play.priority,
        status=play.status,
        owner_rep_id=play.owner_id,
        roles_to_reach=tuple(play.roles_to_reach or ()),
        steps=tuple(play.steps or ()),
    )


def _account_facts(account_ids: Collection[int]) -> dict[int, LeadFacts]:
    """Each account as a Sales Ready lead of its own, for routing's choice of owner."""
    rows = Account.objects.filter(pk__in=list(account_ids)).values_list(
        "pk", "country", "state", "region", "industry", "employee_count", "owner__sales_rep__id"
    )
    return {
        pk: LeadFacts(
            lead_id=0,
            tier=SALES_READY,
            account_id=pk,
            account_owner_rep_id=owner_rep,
            country=country or "",
            state=state or "",
            region=region or "",
            industry=industry or "",
            employee_count=employees,
        )
        for pk, country, state, region, industry, employees, owner_rep in rows
    }


class _Owners:
    """Routing's view for choosing owners, read once per run and only when needed."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.setup = selectors.routing_setup()
        self.reps = dict(selectors.rep_states(now=now, hours=self.setup.hours))
        self.state = selectors.round_robin_state()

    def choose(self, account: LeadFacts) -> tuple[int | None, str]:
        rep_id, why, after = play_owner_choose(
            router=self.setup.router,
            account=account,
            reps=self.reps,
            rr_state=self.state,
            now=self.now,
        )
        if rep_id is not None and after is not None:
            # The next account of this run sees this one's owner as a little busier.
            self.reps[rep_id] = after
        return rep_id, why


def account_plays_apply(
    *, account_ids: Sequence[int], now: datetime | None = None
) -> AccountPlaysResult:
    """Bring these accounts' plays in line with their current qualifications, then route the
    engaged leads of the accounts whose outreach started or changed owner.

    Accounts never scored are skipped. Safe to run twice: the second run finds every play
    UNCHANGED and routes nothing."""
    moment = now or timezone.now()
    result = AccountPlaysResult()
    ids = sorted({int(i) for i in account_ids})
    if not ids:
        return result
    owners: _Owners | None = None
    gather: dict[int, int] = {}  # outreach account -> owner rep: route its engaged leads
    with transaction.atomic():
        # The accounts' row locks, in id order: two runs for one account (evidence and the
        # nightly run) serialise here rather than both creating its play.
        list(
            Account.objects.select_for_update()
            .filter(pk__in=ids)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        qualifications = account_qualifications_current(account_ids=ids)
        plays = {play.account_id: play for play in AccountPlay.objects.filter(account_id__in=ids)}
        decisions = {
            account_id: play_decide(
                _facts(q), _stored(plays[account_id]) if account_id in plays else None
            )
            for account_id, q in sorted(qualifications.items())
        }
        needs_owner = [a for a, d in decisions.items() if d.choose_owner]
        accounts = _account_facts(needs_owner) if needs_owner else {}
        for account_id, decision in decisions.items():
            if decision.action == UNCHANGED:
                result.unchanged.append(account_id)
                continue
            play = plays.get(account_id) or AccountPlay(account_id=account_id, created_at=moment)
            before_owner = play.owner_id
            play.priority = decision.priority
            play.status = decision.status
            play.qualification = qualifications[account_id]
            play.roles_to_reach = list(decision.roles_to_reach)
            play.steps = list(decision.steps)
            play.reason = decision.reason
            play.updated_at = moment
            if decision.status != AccountPlayStatus.OUTREACH:
                play.owner_id, play.owner_reason = None, ""
            elif decision.choose_owner and account_id in accounts:
                owners = owners or _Owners(moment)
                play.owner_id, play.owner_reason = owners.choose(accounts[account_id])
            if play.pk is None:
                play.save()
                result.created.append(account_id)
            else:
                play.save(
                    update_fields=[
                        "priority",
                        "status",
                        "qualification",
                        "owner",
                        "owner_reason",
                        "roles_to_reach",
                        "steps",
                        "reason",
                        "updated_at",
                    ]
                )
                (result.refreshed if decision.action == REFRESH else result.updated).append(
                    account_id
                )
            if play.owner_id is not None and play.owner_id != before_owner:
                gather[account_id] = play.owner_id
    if gather:
        _gather(gather, now=moment, result=result)
    return result


def _gather(owners: Mapping[int, int], *, now: datetime, result: AccountPlaysResult) -> None:
    """Route the engaged leads of these outreach accounts ({account: owner rep}) after the
    plays committed, so routing reads the owners: each goes to its owner or their pod; one
    waiting open with a rep outside the pod is moved there."""
    days = account_scoring_config().activity_days
    engaged = engaged_lead_ids(account_ids=list(owners), now=now, days=days)
    lead_ids = sorted(lead_id for ids in engaged.values() for lead_id in ids)
    if not lead_ids:
        return
    result.routed += len(assignments_route(lead_ids=lead_ids, now=now))
    setup = selectors.routing_setup()
    account_of = {lead_id: account_id for account_id, ids in engaged.items() for lead_id in ids}
    moves: dict[int, tuple[int, str]] = {}
    held = Assignment.objects.filter(
        lead_id__in=lead_ids,
        status=AssignmentStatus.OPEN,
        queue=Queue.SALES,
        rep__isnull=False,
    ).values_list("pk", "lead_id", "rep_id", "lead__account__name")
    for assignment_id, lead_id, rep_id, account_name in held:
        owner = owners[account_of[lead_id]]
        pod = setup.rep_teams.get(owner, "")
        if rep_id == owner or (pod and setup.rep_teams.get(rep_id, "") == pod):
            continue
        name = setup.rep_users.get(owner, (0, f"rep #{owner}"))[1]
        moves[lead_id] = (
            assignment_id,
            f"account play: {account_name} is High priority, one owner ({name}) for its outreach",
        )
    if moves:
        moved = assignments_move(moves=moves, now=now)
        result.moved += len(moved)
        result.routed += len(moved)
