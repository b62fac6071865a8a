"""Records of the dashboards app: the hourly metrics snapshots the pipeline's health is read
from over time."""

from __future__ import annotations

from django.conf import settings
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
    # What the RevOps pages show (the seed's metrics, fairness, drift, outcome calibration
    # and lift), computed here once an hour because each needs a pass over every lead;
    # `dashboards.services.revops_report_compute` documents its shape. Lists that read only
    # the counts above defer it.
    report = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-taken_at"]
        get_latest_by = "taken_at"

    def __str__(self) -> str:
        return f"Metrics at {self.taken_at:%Y-%m-%d %H:%M}"


class TrainingRun(models.Model):
    """A "train now" RevOps started: the Celery task id its progress bar polls."""

    task_id = models.CharField(max_length=64, unique=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_at = models.DateTimeField(default=timezone.now, db_index=True)
    # Set only when the task ran inline (CELERY_TASK_ALWAYS_EAGER): eager results are not
    # stored in a result backend, so the poll would otherwise see PENDING for ever.
    inline_state = models.CharField(max_length=20, blank=True)
    inline_result = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at"]
        get_latest_by = "requested_at"

    def __str__(self) -> str:
        return f"Training {self.task_id} at {self.requested_at:%Y-%m-%d %H:%M}"
