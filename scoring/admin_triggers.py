"""Admin of the re-qualification triggers (TRIGGERS): one row per trigger, edited by a sales
manager, and the resurfacings, read-only (they are the record of why a lead came back)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from scoring.models import Resurfacing, TriggerRule


@admin.register(TriggerRule)
class TriggerRuleAdmin(admin.ModelAdmin):
    list_display = ("kind", "is_active", "cooldown_days", "updated_at")
    list_editable = ("is_active", "cooldown_days")
    readonly_fields = ("kind", "updated_at")
    fieldsets = (
        (None, {"fields": ("kind", "is_active", "cooldown_days")}),
        (
            "Parameters (each applies to the triggers its help names)",
            {
                "fields": (
                    "dormant_days",
                    "engaged_days",
                    "event_kinds",
                    "intent_topics",
                    "min_surge",
                    "revisit_days",
                )
            },
        ),
        (None, {"fields": ("updated_at",)}),
    )

    # The migration seeds one row per trigger; turn one off rather than delete it.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Resurfacing)
class ResurfacingAdmin(admin.ModelAdmin):
    list_display = ("lead", "trigger", "fired_at", "change", "status", "routed_to")
    list_filter = ("trigger", "status")
    search_fields = ("lead__email", "lead__name")
    list_select_related = ("lead", "routed_to")
    raw_id_fields = ("lead", "previous_qualification", "qualification")
    date_hierarchy = "fired_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
