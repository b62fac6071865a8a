"""Records of the dashboards app: the hourly metrics snapshots the pipeline's health is read
from over time."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from scoring.models import ModelVersion


class MetricsSnapshot(models.Model):
    """The state of the funnel at one moment, taken hourly by beat (`metrics-snapshot`).

    Counts over the current qualifications, so a row is one cheap aggregate query; the series
    shows drift (tiers moving, probability falling) and a stuck pipeline (dirty leads piling
    up, no re-qualifications in the last hour).
    """

    taken_at = models.DateTimeField(default=timezone.now, db_index=True)
    leads = models.PositiveIntegerField(default=0)
    qualified = models.PositiveIntegerField(
        default=0, help_text="Leads with a current qualification."
    )
    sales_ready = models.PositiveIntegerField(default=0)
    nurture = models.PositiveIntegerField(default=0)
    disqualified = models.PositiveIntegerField(default=0)
    needs_review = models.PositiveIntegerField(default=0)
    requalified_last_hour = models.PositiveIntegerField(
        default=0, help_text="Leads whose current qualification was computed in the hour before."
    )
    mean_conversion_probability = models.FloatField(null=True, blank=True)
    leads_dirty = models.PositiveIntegerField(
        default=0, help_text="Leads with new evidence waiting for re-qualification."
    )
    assignments_open = models.PositiveIntegerField(default=0)
    assignments_overdue = models.PositiveIntegerField(
        default=0, help_text="Open, untouched assignments past their SLA."
    )
    active_model_version = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-taken_at"]
        get_latest_by = "taken_at"

    def __str__(self) -> str:
        return f"Metrics at {self.taken_at:%Y-%m-%d %H:%M}"
