"""Admin for scoring: the configuration RevOps tunes, the model registry and the decisions.

Qualifications are an append-only history written by the qualification service, and model
versions come from training: both are read here, never typed in.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import OuterRef, QuerySet, Subquery
from django.db.models.functions import Length
from django.http import HttpRequest
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from accounts.admin import (
    LeadAdmin,
    ListField,
    PerLeadAdmin,
    choice_list_field,
    upper,
)
from accounts.models import Department, FundingStage, Lead, Region, Seniority
from scoring.models import (
    DisqualificationRule,
    Feedback,
    IdealCustomerProfile,
    ModelVersion,
    PointRule,
    Qualification,
    ScoringSettings,
    Tier,
)


def pretty_json(value: Any) -> SafeString:
    if value in (None, {}, []):
        return format_html('<span class="quiet">{}</span>', "—")
    text = json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)
    return format_html('<pre style="margin:0;white-space:pre-wrap">{}</pre>', text)


# --- leads, seen with their qualification ---------------------------------------------------


class QualifiedLeadAdmin(LeadAdmin):
    """The lead admin plus its current tier.

    Registered from here so that accounts never imports scoring; `accounts.admin` registers
    the plain LeadAdmin first and this replaces it.
    """

    def get_list_display(self, request: HttpRequest) -> list[Any]:
        display = list(super().get_list_display(request))
        display.insert(display.index("status") + 1, "current_tier")
        return display

    def get_readonly_fields(self, request: HttpRequest, obj: Lead | None = None) -> tuple[str, ...]:
        return (*super().get_readonly_fields(request, obj), "current_qualification")

    def get_fieldsets(self, request: HttpRequest, obj: Lead | None = None) -> Any:
        fieldsets = list(super().get_fieldsets(request, obj))
        fieldsets.insert(2, ("Qualification", {"fields": ("current_qualification",)}))
        return fieldsets

    def get_queryset(self, request: HttpRequest) -> QuerySet[Lead]:
        current = Qualification.objects.filter(lead=OuterRef("pk"), is_current=True)
        # One subquery per shown row, answered by the one-current-per-lead unique index.
        return (
            super()
            .get_queryset(request)
            .annotate(_current_tier=Subquery(current.values("tier")[:1]))
        )

    @admin.display(description="tier")
    def current_tier(self, obj: Lead) -> str:
        tier = getattr(obj, "_current_tier", None)
        return Tier(tier).label if tier else "—"

    @admin.display(description="current qualification")
    def current_qualification(self, obj: Lead) -> str | SafeString:
        if obj.pk is None:
            return "—"
        qualification = (
            Qualification.objects.filter(lead=obj, is_current=True)
            .only("pk", "lead_id", "tier", "conversion_probability", "computed_at", "confidence")
            .first()
        )
        if qualification is None:
            return "Not qualified yet"
        probability = qualification.conversion_probability
        chance = f", {probability:.0%} likely to convert" if probability is not None else ""
        history = reverse("admin:scoring_qualification_changelist") + f"?lead__id__exact={obj.pk}"
        return format_html(
            '<a href="{}">{}{}</a>, {} confidence, as of {} · <a href="{}">history</a>',
            reverse("admin:scoring_qualification_change", args=[qualification.pk]),
            qualification.get_tier_display(),
            chance,
            qualification.get_confidence_display().lower(),
            f"{qualification.computed_at:%Y-%m-%d %H:%M}",
            history,
        )


admin.site.unregister(Lead)
admin.site.register(Lead, QualifiedLeadAdmin)


# --- configuration -------------------------------------------------------------------------


class IdealCustomerProfileForm(forms.ModelForm):
    industries = ListField()
    countries = ListField(normalise=upper, help_text="ISO codes separated by commas; empty: any.")
    regions = choice_list_field(Region.choices)
    technologies = ListField(help_text="Technologies the product integrates with, by commas.")
    funding_stages = choice_list_field(FundingStage.choices)
    seniorities = choice_list_field(Seniority.choices)
    departments = choice_list_field(Department.choices)
    title_keywords = ListField(help_text='Words in a good title, e.g. "revenue, marketing ops".')

    class Meta:
        model = IdealCustomerProfile
        fields = (
            "name",
            "is_active",
            "industries",
            "min_employees",
            "max_employees",
            "regions",
            "countries",
            "technologies",
            "funding_stages",
            "seniorities",
            "departments",
            "title_keywords",
        )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        low, high = cleaned.get("min_employees"), cleaned.get("max_employees")
        if low is not None and high is not None and low > high:
            self.add_error("max_employees", "Must be at least the minimum.")
        return cleaned


@admin.register(IdealCustomerProfile)
class IdealCustomerProfileAdmin(admin.ModelAdmin):
    form = IdealCustomerProfileForm
    list_display = ("name", "is_active", "industries", "employees", "regions", "updated_at")
    list_filter = ("is_active",)
    search_fields = ("name",)
    readonly_fields = ("updated_at",)
    fieldsets = (
        (None, {"fields": ("name", "is_active")}),
        (
            "Company",
            {
                "fields": (
                    "industries",
                    ("min_employees", "max_employees"),
                    "regions",
                    "countries",
                    "technologies",
                    "funding_stages",
                )
            },
        ),
        ("Person", {"fields": ("seniorities", "departments", "title_keywords")}),
        (None, {"fields": ("updated_at",)}),
    )

    @admin.display(description="employees")
    def employees(self, obj: IdealCustomerProfile) -> str:
        low, high = obj.min_employees, obj.max_employees
        if high is not None:
            return f"{low or 0:,} to {high:,}"
        return f"{low:,}+" if low is not None else "any"


@admin.register(DisqualificationRule)
class DisqualificationRuleAdmin(admin.ModelAdmin):
    list_display = (
        "priority",
        "name",
        "category",
        "reason_code",
        "action",
        "is_active",
        "updated_at",
    )
    list_display_links = ("name",)
    list_editable = ("priority", "is_active")
    list_filter = ("category", "action", "is_active")
    search_fields = ("name", "reason_code", "description")
    readonly_fields = ("updated_at",)
    fieldsets = (
        (None, {"fields": ("name", "category", "reason_code", "action", "priority", "is_active")}),
        (
            "Settings",
            {
                "fields": ("parameters", "description"),
                "description": (
                    "Category-specific settings as JSON, e.g. "
                    '{"domains": ["rival.com"]} or {"title_keywords": ["student", "intern"]}.'
                ),
            },
        ),
        (None, {"fields": ("updated_at",)}),
    )


@admin.register(PointRule)
class PointRuleAdmin(admin.ModelAdmin):
    list_display = ("name", "signal", "value", "points", "max_times", "is_active")
    list_editable = ("points", "max_times", "is_active")
    list_filter = ("signal", "is_active")
    search_fields = ("name", "value")


@admin.register(ScoringSettings)
class ScoringSettingsAdmin(admin.ModelAdmin):
    list_display = (
        "__str__",
        "threshold_mode",
        "sales_ready_threshold",
        "nurture_threshold",
        "min_outcomes_for_model",
        "updated_at",
    )
    readonly_fields = ("updated_at",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        # One row holds the settings; qualification reads it with ScoringSettings.load().
        return super().has_add_permission(request) and not ScoringSettings.objects.exists()

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# --- model registry ------------------------------------------------------------------------


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = (
        "__str__",
        "kind",
        "status",
        "trained_at",
        "training_rows",
        "auc",
        "artifact_size",
        "activated_at",
        "activated_by",
    )
    list_select_related = ("activated_by",)
    list_filter = ("kind", "status")
    search_fields = ("notes",)
    date_hierarchy = "trained_at"
    # Everything but the notes is a record of training or of an activation; those change
    # through the training and activation services, which validate them.
    readonly_fields = (
        "kind",
        "status",
        "trained_at",
        "data_from",
        "data_to",
        "training_rows",
        "artifact_size",
        "activated_at",
        "activated_by",
        "feature_list",
        "params_pretty",
        "metrics_pretty",
    )
    fieldsets = (
        (None, {"fields": ("kind", "status", "notes")}),
        (
            "Training",
            {"fields": ("trained_at", ("data_from", "data_to"), "training_rows", "artifact_size")},
        ),
        ("Activation", {"fields": ("activated_at", "activated_by")}),
        ("Holdout metrics", {"fields": ("metrics_pretty",)}),
        ("Features and parameters", {"fields": ("feature_list", "params_pretty")}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[ModelVersion]:
        # The artifact can be megabytes: the database measures it, the admin never loads it.
        return (
            super()
            .get_queryset(request)
            .defer("artifact")
            .annotate(_artifact_bytes=Length("artifact"))
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description="AUC")
    def auc(self, obj: ModelVersion) -> str:
        value = (obj.metrics or {}).get("auc")
        return f"{value:.3f}" if isinstance(value, int | float) else "—"

    @admin.display(description="artifact")
    def artifact_size(self, obj: ModelVersion) -> str:
        size = getattr(obj, "_artifact_bytes", None)
        return filesizeformat(size) if size else "—"

    @admin.display(description="features")
    def feature_list(self, obj: ModelVersion) -> str:
        names = obj.feature_names or []
        return f"{len(names)}: {', '.join(map(str, names))}" if names else "—"

    @admin.display(description="parameters")
    def params_pretty(self, obj: ModelVersion) -> SafeString:
        return pretty_json(obj.params)

    @admin.display(description="metrics")
    def metrics_pretty(self, obj: ModelVersion) -> SafeString:
        return pretty_json(obj.metrics)


# --- decisions -----------------------------------------------------------------------------


@admin.register(Qualification)
class QualificationAdmin(PerLeadAdmin):
    list_display = (
        "lead",
        "tier",
        "probability",
        "confidence",
        "point_score",
        "disqualification_reason",
        "needs_review",
        "is_current",
        "computed_at",
        "model_version",
    )
    list_filter = ("is_current", "tier", "confidence", "needs_review")
    ordering = ("-pk",)
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "lead",
                    ("tier", "confidence", "is_current"),
                    "conversion_probability",
                    ("disqualification_reason", "needs_review"),
                    "recommended_action",
                    "point_score",
                    ("computed_at", "model_version"),
                )
            },
        ),
        (
            "Forecast",
            {
                "fields": (
                    ("timeline_days_low", "timeline_days_high"),
                    ("deal_size_low", "deal_size_high"),
                )
            },
        ),
        ("Fit", {"fields": (("fit_company", "fit_role", "fit_technology", "fit_timing"),)}),
        (
            "Evidence",
            {
                "fields": (
                    "contributions_pretty",
                    "behaviour_pretty",
                    "intent_pretty",
                    "brief_pretty",
                )
            },
        ),
    )
    readonly_fields = ("contributions_pretty", "behaviour_pretty", "intent_pretty", "brief_pretty")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Qualification]:
        # Joined here rather than in list_select_related, which the changelist ignores once the
        # queryset has any select_related; the artifact stays in the database.
        return (
            super()
            .get_queryset(request)
            .select_related("lead", "model_version")
            .defer("model_version__artifact")
        )

    # Append-only history, written by the qualification service.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="probability", ordering="conversion_probability")
    def probability(self, obj: Qualification) -> str:
        value = obj.conversion_probability
        return f"{value:.0%}" if value is not None else "—"

    @admin.display(description="contributions")
    def contributions_pretty(self, obj: Qualification) -> SafeString:
        return pretty_json(obj.contributions)

    @admin.display(description="behaviour")
    def behaviour_pretty(self, obj: Qualification) -> SafeString:
        return pretty_json(obj.behaviour)

    @admin.display(description="intent")
    def intent_pretty(self, obj: Qualification) -> SafeString:
        return pretty_json(obj.intent)

    @admin.display(description="brief")
    def brief_pretty(self, obj: Qualification) -> SafeString:
        return pretty_json(obj.brief)


@admin.register(Feedback)
class FeedbackAdmin(PerLeadAdmin):
    list_display = ("lead", "verdict", "reason", "user", "created_at", "qualification_id")
    list_select_related = ("lead", "user")
    list_filter = ("verdict", "reason", "created_at")
    raw_id_fields = ("lead", "qualification")
    autocomplete_fields = ("user",)
    ordering = ("-pk",)
