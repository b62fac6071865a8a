"""Admin for the dashboards app: the metrics snapshots and the "train now" runs, read-only
(beat and the RevOps pages write them)."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from dashboards.models import MetricsSnapshot, TrainingRun


@admin.register(MetricsSnapshot)
class MetricsSnapshotAdmin(admin.ModelAdmin):
    list_display = (
        "taken_at",
        "leads",
        "qualified",
        "sales_ready",
        "nurture",
        "disqualified",
        "needs_review",
        "requalified_last_hour",
        "mean_conversion_probability",
        "leads_dirty",
        "assignments_open",
        "assignments_overdue",
        "active_model",
    )
    date_hierarchy = "taken_at"
    show_full_result_count = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[MetricsSnapshot]:
        # The list never shows the RevOps report, which can be tens of kilobytes a row.
        # The detail page loads it on first access.
        qs: QuerySet[MetricsSnapshot] = super().get_queryset(request)
        return qs.defer("report")

    @admin.display(description="active model", ordering="active_model_version_id")
    def active_model(self, obj: MetricsSnapshot) -> str:
        # The id, not the row: a ModelVersion carries its artifact (megabytes) in the row.
        return f"#{obj.active_model_version_id}" if obj.active_model_version_id else "-"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(
        self, request: HttpRequest, obj: MetricsSnapshot | None = None
    ) -> bool:
        return False

    def has_delete_permission(
        self, request: HttpRequest, obj: MetricsSnapshot | None = None
    ) -> bool:
        return bool(request.user.is_superuser)


@admin.register(TrainingRun)
class TrainingRunAdmin(admin.ModelAdmin):
    list_display = ("requested_at", "task_id", "requested_by", "inline_state")
    list_select_related = ("requested_by",)
    date_hierarchy = "requested_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: TrainingRun | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: TrainingRun | None = None) -> bool:
        return bool(request.user.is_superuser)
