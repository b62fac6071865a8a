"""The previous owner of a resurfaced lead, for routing: a lead that came back (a trigger
fired, scoring.models.Resurfacing) goes to the rep who had it when that rep is available;
the engine falls back to their team, then to the usual order (routing.engine, step 2).

Also the thin hook after routing that marks those resurfacings routed.
"""

from __future__ import annotations

from collections.abc import Collection

from routing.models import Assignment, AssignmentStatus, Queue
from scoring.models import Resurfacing, ResurfacingStatus
from scoring.trigger_services import resurfacings_mark_routed

PREVIOUS_OWNER = "previous owner"


def resurfacing_owners(*, lead_ids: Collection[int]) -> dict[int, tuple[int, str]]:
    """{lead id: (rep id, "previous owner")} for the leads with a pending resurfacing whose
    previous owner has a sales rep profile; the latest resurfacing wins. One query."""
    owners: dict[int, tuple[int, str]] = {}
    if not lead_ids:
        return owners
    rows = (
        Resurfacing.objects.filter(
            lead_id__in=list(lead_ids),
            status=ResurfacingStatus.PENDING,
            previous_owner__sales_rep__isnull=False,
        )
        .order_by("lead_id", "-fired_at", "-pk")
        .values_list("lead_id", "previous_owner__sales_rep__id")
    )
    for lead_id, rep_id in rows:
        owners.setdefault(lead_id, (rep_id, PREVIOUS_OWNER))
    return owners


def resurfacings_routed(*, lead_ids: Collection[int]) -> int:
    """After routing these leads: their pending resurfacings that now sit with a rep in the
    sales queue are routed, to that rep's user (two queries; none without a pending one)."""
    pending = set(
        Resurfacing.objects.filter(
            lead_id__in=list(lead_ids), status=ResurfacingStatus.PENDING
        ).values_list("lead_id", flat=True)
    )
    if not pending:
        return 0
    placed = dict(
        Assignment.objects.filter(
            lead_id__in=sorted(pending),
            status__in=(AssignmentStatus.OPEN, AssignmentStatus.ACCEPTED),
            queue=Queue.SALES,
            rep__isnull=False,
        ).values_list("lead_id", "rep__user_id")
    )
    return resurfacings_mark_routed(routed=placed) if placed else 0
