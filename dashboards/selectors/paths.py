"""Reads for the alternative paths' pages: who holds each path, and the leads waiting on it.

Who sees what: a path whose destination is a team is seen by its members; managers and RevOps
(whoever may view path destinations, `routing.view_pathdestination`) see every path, configured
or not; anyone else gets the 404 the rest of the app gives. Marking a lead handled is for the
members and for whoever may change assignments (managers). Each read is a fixed number of
queries whatever the number of leads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db.models import Count, Q, QuerySet

from dashboards.access import has_permission
from routing.account_play_selectors import account_nurture_tracks
from routing.models import (
    ALTERNATIVE_PATHS,
    SALESFORCE_OWNER_PREFIXES,
    Assignment,
    AssignmentStatus,
    PathDestination,
    PathDestinationKind,
    Queue,
    WebhookDelivery,
)
from routing.selectors import CURRENT_STATUSES
from scoring.briefs import TIER_LABELS
from scoring.models import DisqualificationRule, Qualification

User = AbstractBaseUser | AnonymousUser

PATH_PAGE_SIZE = 25
STATE_WAITING = "waiting"
STATE_HANDLED = "handled"
STATE_ALL = "all"
SORT_NEWEST = "newest"
SORT_OLDEST = "oldest"
NO_RULE = "-"  # the reason filter's value for leads the tier alone sent here


class PathNotVisible(Exception):
    """No such path, or not one this user may see: the view answers 404 either way."""


def _user_id(user: User) -> int:
    pk: int = user.pk or 0
    return pk


def _display(user: Any) -> str:
    return str(user.get_full_name() or user.get_username())


def sees_every_path(user: User) -> bool:
    return has_permission(user, "routing.view_pathdestination")


def handles_every_path(user: User) -> bool:
    return has_permission(user, "routing.change_assignment")


# --- who holds a path ----------------------------------------------------------------------


@dataclass(frozen=True)
class PathHolder:
    """A path's destination as a person reads it."""

    path: str
    label: str
    kind: str  # a PathDestinationKind, or "" for none
    text: str
    members: tuple[str, ...] = ()

    @property
    def has_page(self) -> bool:
        return self.kind == PathDestinationKind.TEAM


def _holder(path: str, destination: PathDestination | None) -> PathHolder:
    label = str(Queue(path).label)
    if destination is None:
        return PathHolder(
            path, label, "", f"no one yet: its leads wait in the {label.lower()} queue, unowned"
        )
    if destination.kind == PathDestinationKind.TEAM:
        names = tuple(_display(user) for user in destination.members.all())
        who = ", ".join(names) if names else "no members yet"
        return PathHolder(path, label, destination.kind, f"the {label.lower()} team: {who}", names)
    if destination.kind == PathDestinationKind.SALESFORCE:
        owner = destination.salesforce_owner_id
        what = SALESFORCE_OWNER_PREFIXES.get(owner[:3], "owner")
        return PathHolder(
            path, label, destination.kind, f"Salesforce {what} {owner}, set as the lead's owner"
        )
    host = urlsplit(destination.webhook_url).netloc or destination.webhook_url
    return PathHolder(path, label, destination.kind, f"the webhook at {host}")


def _destinations() -> dict[str, PathDestination]:
    return {
        destination.path: destination
        for destination in PathDestination.objects.prefetch_related("members")
    }


def _member_paths(user: User) -> set[str]:
    if not user.is_authenticated:
        return set()
    return set(
        PathDestination.objects.filter(
            kind=PathDestinationKind.TEAM, members=_user_id(user)
        ).values_list("path", flat=True)
    )


# --- the paths index -------------------------------------------------------------------------


@dataclass(frozen=True)
class PathSummary:
    holder: PathHolder
    waiting: int
    handled: int

    @property
    def path(self) -> str:
        return self.holder.path


def paths_for_user(*, user: User) -> list[PathSummary]:
    """The paths this user may open, with how many leads wait on each (three queries)."""
    every = sees_every_path(user)
    mine = _member_paths(user)
    visible = [path for path in ALTERNATIVE_PATHS if every or path in mine]
    if not visible:
        return []
    counts: dict[tuple[str, str], int] = {
        (queue, status): n
        for queue, status, n in Assignment.objects.filter(
            queue__in=visible, status__in=CURRENT_STATUSES
        )
        .order_by()
        .values_list("queue", "status")
        .annotate(n=Count("pk"))
    }
    destinations = _destinations()
    return [
        PathSummary(
            holder=_holder(path, destinations.get(path)),
            waiting=counts.get((path, AssignmentStatus.OPEN), 0),
            handled=counts.get((path, AssignmentStatus.ACCEPTED), 0),
        )
        for path in visible
    ]


# --- one path --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PathScope:
    holder: PathHolder
    is_member: bool
    can_handle: bool
    # Staff open any account page; a member's access stops at the leads on their path.
    links_accounts: bool = False

    @property
    def path(self) -> str:
        return self.holder.path

    @property
    def label(self) -> str:
        return self.holder.label


def path_scope(*, user: User, path: str) -> PathScope:
    """The path as this user may see it. Raises PathNotVisible (unknown or not theirs)."""
    if path not in ALTERNATIVE_PATHS or not user.is_authenticated:
        raise PathNotVisible(path)
    destination = PathDestination.objects.prefetch_related("members").filter(path=path).first()
    is_member = (
        destination is not None
        and destination.kind == PathDestinationKind.TEAM
        and any(member.pk == user.pk for member in destination.members.all())
    )
    if not (is_member or sees_every_path(user)):
        raise PathNotVisible(path)
    return PathScope(
        holder=_holder(path, destination),
        is_member=is_member,
        can_handle=is_member or handles_every_path(user),
        links_accounts=bool(
            getattr(user, "is_staff", False) or getattr(user, "is_superuser", False)
        ),
    )


def path_reason_choices(*, path: str) -> list[tuple[str, str]]:
    """The rules that sent the leads now on this path, for the reason filter (two queries)."""
    codes = set(
        Assignment.objects.filter(queue=path, status__in=CURRENT_STATUSES)
        .order_by()
        .values_list("reason_code", flat=True)
        .distinct()
    )
    names = dict(
        DisqualificationRule.objects.filter(reason_code__in=codes - {""}).values_list(
            "reason_code", "name"
        )
    )
    choices = sorted(
        ((code, names.get(code, code)) for code in codes if code), key=lambda c: c[1].casefold()
    )
    if "" in codes:
        choices.append((NO_RULE, "No rule (the tier alone)"))
    return choices


@dataclass(frozen=True)
class PathFilters:
    q: str = ""
    reason: str = ""
    state: str = STATE_WAITING
    sort: str = SORT_NEWEST
    page: int = 1


@dataclass(frozen=True)
class PathRow:
    assignment_id: int
    lead_id: int
    lead_name: str
    lead_email: str
    lead_title: str
    account_id: int | None
    account_name: str
    tier: str
    tier_label: str
    assigned_at: datetime
    reason: str
    reason_code: str
    rule_name: str
    evidence: str
    handled_by: str
    handled_at: datetime | None
    # On the nurture path, a lead of a Medium account: its account's targeted nurture track
    # (routing/account_plays.py), the account and why.
    track_account: str = ""
    track_reason: str = ""

    @property
    def is_handled(self) -> bool:
        return self.handled_at is not None


@dataclass(frozen=True)
class PathPage:
    rows: list[PathRow]
    total: int
    waiting: int
    handled: int
    page: int
    pages: int
    page_size: int

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def first_index(self) -> int:
        return (self.page - 1) * self.page_size + 1 if self.total else 0

    @property
    def last_index(self) -> int:
        return (self.page - 1) * self.page_size + len(self.rows)


def _rule_hits(lead_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """The current qualification's rule hits per lead (one query, only that part of the brief)."""
    if not lead_ids:
        return {}
    rows = Qualification.objects.filter(lead_id__in=lead_ids, is_current=True).values_list(
        "lead_id", "brief__rule_hits"
    )
    return {
        lead_id: [hit for hit in hits if isinstance(hit, dict)]
        for lead_id, hits in rows
        if isinstance(hits, list)
    }


def _path_base(path: str, filters: PathFilters) -> QuerySet[Assignment]:
    assignments = Assignment.objects.filter(queue=path, status__in=CURRENT_STATUSES)
    if filters.q:
        term = filters.q
        assignments = assignments.filter(
            Q(lead__name__icontains=term)
            | Q(lead__email__icontains=term)
            | Q(lead__account__name__icontains=term)
        )
    if filters.reason:
        assignments = assignments.filter(
            reason_code="" if filters.reason == NO_RULE else filters.reason
        )
    return assignments


def path_page(*, path: str, filters: PathFilters) -> PathPage:
    """One page of the leads on a path, newest first by default (three queries)."""
    assignments = _path_base(path, filters)
    counts = assignments.aggregate(
        waiting=Count("pk", filter=Q(status=AssignmentStatus.OPEN)),
        handled=Count("pk", filter=Q(status=AssignmentStatus.ACCEPTED)),
    )
    if filters.state == STATE_HANDLED:
        assignments = assignments.filter(status=AssignmentStatus.ACCEPTED)
        total = counts["handled"]
    elif filters.state == STATE_ALL:
        total = counts["waiting"] + counts["handled"]
    else:
        assignments = assignments.filter(status=AssignmentStatus.OPEN)
        total = counts["waiting"]
    order = "assigned_at" if filters.sort == SORT_OLDEST else "-assigned_at"
    pages = max((total + PATH_PAGE_SIZE - 1) // PATH_PAGE_SIZE, 1)
    page = min(max(filters.page, 1), pages)
    start = (page - 1) * PATH_PAGE_SIZE
    chosen = list(
        assignments.select_related("lead__account", "accepted_by").order_by(
            order, "-pk" if order.startswith("-") else "pk"
        )[start : start + PATH_PAGE_SIZE]
    )
    return PathPage(
        rows=_rows(chosen),
        total=total,
        waiting=counts["waiting"],
        handled=counts["handled"],
        page=page,
        pages=pages,
        page_size=PATH_PAGE_SIZE,
    )


def _rows(chosen: list[Assignment]) -> list[PathRow]:
    hits = _rule_hits([a.lead_id for a in chosen])
    nurtured = [a.lead_id for a in chosen if a.queue == Queue.NURTURE]
    tracks = account_nurture_tracks(lead_ids=nurtured) if nurtured else {}
    rows = []
    for a in chosen:
        lead = a.lead
        track = tracks.get(a.lead_id)
        lead_hits = hits.get(a.lead_id, [])
        hit = next((h for h in lead_hits if h.get("reason_code") == a.reason_code), None) or (
            lead_hits[0] if lead_hits and a.reason_code else None
        )
        rows.append(
            PathRow(
                assignment_id=a.pk,
                lead_id=lead.pk,
                lead_name=lead.name or lead.email,
                lead_email=lead.email,
                lead_title=lead.title,
                account_id=lead.account_id,
                account_name=lead.account.name if lead.account else lead.email_domain,
                tier=a.tier,
                tier_label=TIER_LABELS.get(a.tier, a.tier or "—"),
                assigned_at=a.assigned_at,
                reason=a.reason,
                reason_code=a.reason_code,
                rule_name=str(hit.get("rule") or "") if hit else "",
                evidence=str(hit.get("evidence") or "") if hit else "",
                handled_by=_display(a.accepted_by) if a.accepted_by else "",
                handled_at=a.accepted_at if a.status == AssignmentStatus.ACCEPTED else None,
                track_account=track.account_name if track else "",
                track_reason=track.reason if track else "",
            )
        )
    return rows


def path_row(*, path: str, assignment_id: int) -> PathRow | None:
    """One row of the path's page (after "handled", the row the page swaps in)."""
    chosen = list(
        Assignment.objects.filter(
            pk=assignment_id, queue=path, status__in=CURRENT_STATUSES
        ).select_related("lead__account", "accepted_by")
    )
    rows = _rows(chosen)
    return rows[0] if rows else None


def path_assignment_for_user(*, scope: PathScope, assignment_id: int) -> Assignment:
    """A current assignment on this path. Raises Assignment.DoesNotExist otherwise."""
    return Assignment.objects.get(pk=assignment_id, queue=scope.path, status__in=CURRENT_STATUSES)


# --- a lead's path, for its brief ---------------------------------------------------------


@dataclass(frozen=True)
class LeadPath:
    """Which path a lead is on and who holds it, for the brief's handoff panel."""

    holder: PathHolder
    handled_by: str = ""
    handled_at: datetime | None = None
    delivery: str = ""  # a webhook path: where its delivery stands


def lead_path(*, assignment_id: int | None, queue: str) -> LeadPath | None:
    """The path of the lead's current assignment, or None when it is not on one."""
    if assignment_id is None or queue not in ALTERNATIVE_PATHS:
        return None
    destination = PathDestination.objects.prefetch_related("members").filter(path=queue).first()
    assignment = Assignment.objects.select_related("accepted_by").filter(pk=assignment_id).first()
    delivery = ""
    if destination is not None and destination.kind == PathDestinationKind.WEBHOOK:
        sent = WebhookDelivery.objects.filter(assignment_id=assignment_id).first()
        delivery = sent.get_status_display().lower() if sent is not None else "not recorded"
    handled = assignment is not None and assignment.status == AssignmentStatus.ACCEPTED
    return LeadPath(
        holder=_holder(queue, destination),
        handled_by=_display(assignment.accepted_by)
        if handled and assignment and assignment.accepted_by
        else "",
        handled_at=assignment.accepted_at if handled and assignment else None,
        delivery=delivery,
    )


def lead_on_users_path(*, user: User, lead_id: int) -> bool:
    """Whether the lead is on a path whose team the user belongs to (they may read its brief)."""
    if not user.is_authenticated:
        return False
    return (
        Assignment.objects.filter(
            lead_id=lead_id,
            status__in=CURRENT_STATUSES,
            queue__in=PathDestination.objects.filter(
                kind=PathDestinationKind.TEAM, members=_user_id(user)
            ).values("path"),
        )
        .order_by()
        .exists()
    )


def nav_paths(*, member_of: set[str]) -> list[tuple[str, str]]:
    """(path, label) of the team paths a user belongs to, in the paths' order."""
    return [(path, str(Queue(path).label)) for path in ALTERNATIVE_PATHS if path in member_of]
