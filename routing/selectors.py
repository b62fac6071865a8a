"""Reads of routing data."""

from __future__ import annotations

from django.db.models import Sum

from routing.models import RepRole, SalesRep

WORKDAYS_PER_WEEK = 5


def weekly_capacity() -> int:
    """New Sales Ready leads the active front-line reps can take in a week (per-day caps x 5)."""
    per_day = SalesRep.objects.filter(is_active=True, role__in=[RepRole.SDR, RepRole.AE]).aggregate(
        total=Sum("max_leads_per_day")
    )["total"]
    return int(per_day or 0) * WORKDAYS_PER_WEEK
