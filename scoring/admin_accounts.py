"""Admin of account qualification (ACCOUNTS, issue 13): the "Account priority" settings row
and the stored account qualifications, read-only (the service writes them)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html_join
from django.utils.safestring import SafeString

from accounts.admin import SingletonAdmin
from scoring.models import AccountQualification, AccountScoringSettings


class AccountScoringSettingsForm(forms.ModelForm):
    class Meta:
        model = AccountScoringSettings
        fields = (
            "high_threshold",
            "medium_threshold",
            "high_factor",
            "medium_factor",
            "low_factor",
        )
        labels = {
            "high_threshold": "High from score",
            "medium_threshold": "Medium from score",
            "high_factor": "High: factor on the Sales Ready threshold",
            "medium_factor": "Medium: factor on the Sales Ready threshold",
            "low_factor": "Low: factor on the Sales Ready threshold",
        }

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        high, medium = cleaned.get("high_threshold"), cleaned.get("medium_threshold")
        if high is not None and medium is not None and medium > high:
            # Also a check constraint; as a field error it is explained, not a 500.
            self.add_error("medium_threshold", f"Must not be above the High threshold ({high}).")
        return cleaned


@admin.register(AccountScoringSettings)
class AccountScoringSettingsAdmin(SingletonAdmin):
    form = AccountScoringSettingsForm
    list_display = ("__str__", "high_threshold", "medium_threshold", "high_factor", "updated_at")
    readonly_fields = ("updated_at",)
    fieldsets = (
        (
            "Account priority",
            {
                "fields": (("high_threshold", "medium_threshold"),),
                "description": (
                    "An account's score (0-100) is the sum of its parts: combined engagement "
                    "(30), committee coverage (25), cross-functional interest (15), company "
                    "intent (20) and displacement timing (10). High starts orchestrated "
                    "outreach, Medium a targeted nurture track, Low passive monitoring. "
                    "Changes apply from each account's next scoring (new evidence, or the "
                    "nightly run); `manage.py qualify_accounts` applies them at once."
                ),
            },
        ),
        (
            "Account priority and the lead decision",
            {
                "fields": ("high_factor", "medium_factor", "low_factor"),
                "description": (
                    "A lead is Sales Ready when its conversion probability reaches the Sales "
                    "Ready threshold times its account's factor: with a 0.42 threshold and "
                    "a High factor of 0.85, a lead at a High account is Sales Ready from 0.36. The "
                    "brief says so whenever the factor changed the threshold."
                ),
            },
        ),
        (None, {"fields": ("updated_at",)}),
    )


@admin.register(AccountQualification)
class AccountQualificationAdmin(admin.ModelAdmin):
    list_display = ("account", "priority", "score", "reason", "is_current", "computed_at")
    list_filter = ("is_current", "priority", "reason")
    list_select_related = ("account",)
    search_fields = ("account__name", "account__domain")
    raw_id_fields = ("account",)
    ordering = ("-pk",)
    readonly_fields = (
        "account",
        "is_current",
        "computed_at",
        "score",
        "priority",
        "parts_table",
        "roles_engaged",
        "roles_quiet",
        "roles_missing",
        "departments",
        "play",
        "reason",
        "reason_detail",
    )
    exclude = ("parts",)

    @admin.display(description="Parts")
    def parts_table(self, obj: AccountQualification) -> SafeString:
        return format_html_join(
            "\n",
            "<div><strong>{}</strong> {} / {}: {}</div>",
            ((p["label"], p["points"], p["max"], p["detail"]) for p in obj.parts or []),
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
