"""Admin for routing: where sales managers run the team.

Reps, territories, pools and rules are small tables edited by hand; assignments are a big
table, listed with its foreign keys joined and searched by lead.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import Count, ForeignKey, OuterRef, QuerySet, Subquery
from django.forms import ModelChoiceField
from django.http import HttpRequest
from django.utils import timezone

from accounts.admin import (
    ListField,
    PerLeadAdmin,
    SingletonAdmin,
    choice_list_field,
    lower,
    upper,
)
from accounts.models import Region
from routing.models import (
    Assignment,
    AssignmentEvent,
    AssignmentStatus,
    RoundRobinClock,
    RoundRobinCredit,
    RoutingPool,
    RoutingRule,
    RoutingSettings,
    SalesRep,
    Territory,
)
from scoring.models import Tier


def _joined(values: list[Any] | None) -> str:
    return ", ".join(map(str, values)) if values else "—"


class RepQuerysetMixin:
    """Rep choices are listed by name, which lives on the user: join it, one query per list."""

    def formfield_for_foreignkey(
        self, db_field: ForeignKey[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> ModelChoiceField[Any] | None:
        if db_field.related_model is SalesRep:
            kwargs.setdefault("queryset", SalesRep.objects.select_related("user"))
            kwargs.setdefault("label", "Rep")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)  # type: ignore[misc]


# --- territories ---------------------------------------------------------------------------


class TerritoryForm(forms.ModelForm):
    regions = choice_list_field(Region.choices)
    countries = ListField(normalise=upper, help_text="ISO codes separated by commas, e.g. DE, AT.")
    states = ListField(help_text="States or provinces separated by commas.")

    class Meta:
        model = Territory
        fields = ("name", "regions", "countries", "states", "description")


@admin.register(Territory)
class TerritoryAdmin(admin.ModelAdmin):
    form = TerritoryForm
    list_display = ("name", "region_list", "country_list", "state_list", "rep_count")
    search_fields = ("name", "description")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Territory]:
        return super().get_queryset(request).annotate(_reps=Count("reps"))

    @admin.display(description="regions")
    def region_list(self, obj: Territory) -> str:
        return _joined(obj.regions)

    @admin.display(description="countries")
    def country_list(self, obj: Territory) -> str:
        return _joined(obj.countries)

    @admin.display(description="states")
    def state_list(self, obj: Territory) -> str:
        return _joined(obj.states)

    @admin.display(description="reps", ordering="_reps")
    def rep_count(self, obj: Territory) -> int:
        return getattr(obj, "_reps", 0)


# --- reps ----------------------------------------------------------------------------------


class SalesRepForm(forms.ModelForm):
    skills = ListField(normalise=lower, help_text="e.g. enterprise, fintech. Separate by commas.")
    languages = ListField(normalise=lower, help_text="Language codes, e.g. en, de.")

    class Meta:
        model = SalesRep
        fields = (
            "user",
            "role",
            "team",
            "is_active",
            "territories",
            "skills",
            "languages",
            "weight",
            "max_open_leads",
            "max_leads_per_day",
            "out_of_office_from",
            "out_of_office_until",
            "salesforce_user_id",
        )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        starts, ends = cleaned.get("out_of_office_from"), cleaned.get("out_of_office_until")
        if starts is not None and ends is not None and ends <= starts:
            self.add_error("out_of_office_until", "Must be after the start.")
        return cleaned


@admin.register(SalesRep)
class SalesRepAdmin(admin.ModelAdmin):
    form = SalesRepForm
    list_display = (
        "__str__",
        "user",
        "team",
        "role",
        "territory_list",
        "open_leads",
        "max_open_leads",
        "max_leads_per_day",
        "weight",
        "availability",
    )
    list_select_related = ("user",)
    list_filter = ("role", "is_active", "team", "territories")
    search_fields = ("user__username", "user__first_name", "user__last_name", "user__email", "team")
    autocomplete_fields = ("user",)
    filter_horizontal = ("territories",)
    fieldsets = (
        (None, {"fields": ("user", "role", "team", "is_active")}),
        ("Routing", {"fields": ("territories", "skills", "languages", "weight")}),
        ("Capacity", {"fields": (("max_open_leads", "max_leads_per_day"),)}),
        ("Out of office", {"fields": (("out_of_office_from", "out_of_office_until"),)}),
        ("Salesforce", {"fields": ("salesforce_user_id",)}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[SalesRep]:
        open_assignments = (
            Assignment.objects.filter(rep=OuterRef("pk"), status=AssignmentStatus.OPEN)
            .order_by()
            .values("rep")
            .annotate(n=Count("pk"))
            .values("n")
        )
        return (
            super()
            .get_queryset(request)
            .prefetch_related("territories")
            .annotate(_open=Subquery(open_assignments))
        )

    @admin.display(description="territories")
    def territory_list(self, obj: SalesRep) -> str:
        return _joined([t.name for t in obj.territories.all()])

    @admin.display(description="open leads", ordering="_open")
    def open_leads(self, obj: SalesRep) -> int:
        return getattr(obj, "_open", None) or 0

    @admin.display(description="availability")
    def availability(self, obj: SalesRep) -> str:
        if not obj.is_active:
            return "inactive"
        if obj.is_out_of_office(timezone.now()):
            return "out of office"
        return "available"


# --- pools ---------------------------------------------------------------------------------


def _membership_str(membership: Any) -> str:
    return f"{membership.salesrep} in {membership.routingpool}"


# The auto-created through model has nowhere to declare __str__, and the inline prints each
# row's str() above it (and the admin log records it): name the rep and the pool, not
# "RoutingPool_reps object (1)".
RoutingPool.reps.through.__str__ = _membership_str  # type: ignore[method-assign]


class PoolRepInline(RepQuerysetMixin, admin.TabularInline):
    model = RoutingPool.reps.through
    verbose_name = "rep"
    verbose_name_plural = "reps in this pool"
    fields = ("salesrep", "rep_team", "rep_role", "rep_capacity")
    readonly_fields = ("rep_team", "rep_role", "rep_capacity")
    autocomplete_fields = ("salesrep",)
    extra = 0

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).select_related("salesrep__user", "routingpool")

    @admin.display(description="team")
    def rep_team(self, obj: Any) -> str:
        return str(obj.salesrep.team or "—") if obj.salesrep_id else ""

    @admin.display(description="role")
    def rep_role(self, obj: Any) -> str:
        return str(obj.salesrep.get_role_display()) if obj.salesrep_id else ""

    @admin.display(description="capacity")
    def rep_capacity(self, obj: Any) -> str:
        if not obj.salesrep_id:
            return ""
        rep = obj.salesrep
        return f"{rep.max_open_leads} open, {rep.max_leads_per_day}/day, weight {rep.weight}"


@admin.register(RoutingPool)
class RoutingPoolAdmin(admin.ModelAdmin):
    list_display = ("name", "is_fallback", "rep_count", "rule_count", "description")
    list_filter = ("is_fallback",)
    search_fields = ("name", "description")
    fields = ("name", "is_fallback", "description")
    inlines = (PoolRepInline,)

    def get_queryset(self, request: HttpRequest) -> QuerySet[RoutingPool]:
        # Pools and their rules are a handful of rows: a plain GROUP BY is fine here.
        return (
            super()
            .get_queryset(request)
            .annotate(_reps=Count("reps", distinct=True), _rules=Count("rules", distinct=True))
        )

    @admin.display(description="reps", ordering="_reps")
    def rep_count(self, obj: RoutingPool) -> int:
        return getattr(obj, "_reps", None) or 0

    @admin.display(description="rules", ordering="_rules")
    def rule_count(self, obj: RoutingPool) -> int:
        return getattr(obj, "_rules", None) or 0


# --- rules ---------------------------------------------------------------------------------


class RoutingRuleForm(forms.ModelForm):
    tiers = choice_list_field(Tier.choices)
    industries = ListField()
    lead_sources = ListField(help_text="Lead sources separated by commas; empty: any.")
    languages = ListField(normalise=lower, help_text="Language codes, e.g. en, de; empty: any.")

    class Meta:
        model = RoutingRule
        fields = (
            "name",
            "priority",
            "is_active",
            "tiers",
            "territory",
            "industries",
            "min_employees",
            "max_employees",
            "min_deal_size",
            "lead_sources",
            "languages",
            "required_skill",
            "pool",
            "strategy",
        )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        low, high = cleaned.get("min_employees"), cleaned.get("max_employees")
        if low is not None and high is not None and low > high:
            self.add_error("max_employees", "Must be at least the minimum.")
        return cleaned


@admin.register(RoutingRule)
class RoutingRuleAdmin(admin.ModelAdmin):
    form = RoutingRuleForm
    list_display = ("priority", "name", "is_active", "conditions", "pool", "strategy")
    list_display_links = ("name",)
    list_editable = ("priority", "is_active")
    list_select_related = ("territory", "pool")
    list_filter = ("is_active", "strategy", "pool")
    search_fields = ("name",)
    autocomplete_fields = ("territory", "pool")
    fieldsets = (
        (None, {"fields": ("name", ("priority", "is_active"))}),
        (
            "Conditions",
            {
                "description": "Every filled-in condition must hold; empty ones match any lead.",
                "fields": (
                    "tiers",
                    "territory",
                    "industries",
                    ("min_employees", "max_employees"),
                    "min_deal_size",
                    "lead_sources",
                    "languages",
                    "required_skill",
                ),
            },
        ),
        ("Target", {"fields": ("pool", "strategy")}),
    )

    @admin.display(description="conditions")
    def conditions(self, obj: RoutingRule) -> str:
        parts = []
        if obj.tiers:
            parts.append(
                "tier "
                + " or ".join(str(Tier(t).label) if t in Tier.values else t for t in obj.tiers)
            )
        if obj.territory_id:
            parts.append(f"in {obj.territory}")
        if obj.industries:
            parts.append("industry " + _joined(obj.industries))
        if obj.min_employees is not None or obj.max_employees is not None:
            low = f"{obj.min_employees:,}" if obj.min_employees is not None else "0"
            high = f"{obj.max_employees:,}" if obj.max_employees is not None else "∞"
            parts.append(f"{low} to {high} employees")
        if obj.min_deal_size is not None:
            parts.append(f"deal ≥ {obj.min_deal_size:,.0f}")
        if obj.lead_sources:
            parts.append("source " + _joined(obj.lead_sources))
        if obj.languages:
            parts.append("language " + _joined(obj.languages))
        if obj.required_skill:
            parts.append(f"skill {obj.required_skill}")
        return "; ".join(parts) if parts else "any lead"


# --- assignments ---------------------------------------------------------------------------


class RepListFilter(admin.SimpleListFilter):
    """By rep, with the names in one query (the stock filter would fetch each rep's user)."""

    title = "rep"
    parameter_name = "rep"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        reps = SalesRep.objects.select_related("user").order_by("user__username")
        return [(str(rep.pk), str(rep)) for rep in reps]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        return queryset.filter(rep_id=value) if value and value.isdigit() else queryset


class SlaListFilter(admin.SimpleListFilter):
    title = "SLA"
    parameter_name = "sla"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("overdue", "Overdue, not touched"), ("touched", "Touched")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "overdue":
            # The shape of the partial index on open, untouched assignments.
            return queryset.filter(
                status=AssignmentStatus.OPEN,
                first_touch_at__isnull=True,
                sla_due_at__lt=timezone.now(),
            )
        if self.value() == "touched":
            return queryset.filter(first_touch_at__isnull=False)
        return queryset


class AssignmentEventInline(admin.TabularInline):
    """The assignment's history (SLA alerts, reassignments), as the services recorded it."""

    model = AssignmentEvent
    fields = ("created_at", "kind", "message", "by_user")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[AssignmentEvent]:
        return super().get_queryset(request).select_related("by_user")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Assignment)
class AssignmentAdmin(RepQuerysetMixin, PerLeadAdmin):
    list_display = (
        "lead",
        "rep",
        "queue",
        "tier",
        "status",
        "rule",
        "assigned_at",
        "sla_due_at",
        "first_touch_at",
        "sla_breaches",
    )
    list_select_related = ("lead", "rep__user", "rule")
    list_filter = ("status", "queue", "tier", RepListFilter, SlaListFilter, "pool")
    raw_id_fields = ("lead", "reassigned_from")
    ordering = ("-pk",)
    fieldsets = (
        (None, {"fields": ("lead", "status", "tier")}),
        ("Target", {"fields": ("queue", "rep", "pool", "rule", "reason", "expected_value")}),
        (
            "Timing",
            {"fields": ("assigned_at", "sla_due_at", "first_touch_at", "sla_breaches")},
        ),
        ("History", {"fields": ("reassigned_from",)}),
    )
    inlines = (AssignmentEventInline,)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows the services write and operators only read."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AssignmentEvent)
class AssignmentEventAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "kind", "assignment", "message", "by_user")
    list_select_related = ("assignment", "assignment__rep__user", "by_user")
    list_filter = ("kind",)
    date_hierarchy = "created_at"
    raw_id_fields = ("assignment",)
    search_fields = ("message",)
    list_per_page = 50
    # The events table grows with every breach; the "N of M" line would count it twice.
    show_full_result_count = False


@admin.register(RoundRobinClock)
class RoundRobinClockAdmin(ReadOnlyAdmin):
    """Each pool's round-robin position, for a manager asking "why did she get that lead?"."""

    list_display = ("key", "virtual_time", "leads", "value", "updated_at")
    search_fields = ("key",)


@admin.register(RoundRobinCredit)
class RoundRobinCreditAdmin(RepQuerysetMixin, ReadOnlyAdmin):
    list_display = ("key", "rep", "credit", "leads", "value", "updated_at")
    list_select_related = ("rep__user",)
    list_filter = ("key", RepListFilter)
    search_fields = ("key",)


# --- settings ------------------------------------------------------------------------------

WEEKDAYS = [
    (0, "Monday"),
    (1, "Tuesday"),
    (2, "Wednesday"),
    (3, "Thursday"),
    (4, "Friday"),
    (5, "Saturday"),
    (6, "Sunday"),
]


class RoutingSettingsForm(forms.ModelForm):
    workdays = forms.TypedMultipleChoiceField(
        choices=WEEKDAYS, coerce=int, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = RoutingSettings
        fields = (
            "timezone",
            "opens_at",
            "closes_at",
            "workdays",
            "sales_ready_sla_minutes",
            "nurture_sla_minutes",
            "disqualify_sla_minutes",
            "reassign_after_breaches",
            "value_share",
            "max_value_ratio",
            "default_deal_size",
        )


@admin.register(RoutingSettings)
class RoutingSettingsAdmin(SingletonAdmin):
    form = RoutingSettingsForm
    list_display = ("__str__", "sales_ready_sla_minutes", "reassign_after_breaches", "updated_at")
    readonly_fields = ("updated_at",)
    fieldsets = (
        (
            "Business hours",
            {
                "fields": ("timezone", ("opens_at", "closes_at"), "workdays"),
                "description": "SLA deadlines count only these hours.",
            },
        ),
        (
            "SLA",
            {
                "fields": (
                    "sales_ready_sla_minutes",
                    ("nurture_sla_minutes", "disqualify_sla_minutes"),
                    "reassign_after_breaches",
                )
            },
        ),
        (
            "Round-robin",
            {
                "fields": ("value_share", "max_value_ratio", "default_deal_size"),
                "description": (
                    "Value share 0 shares leads by count only, 1 by expected deal value only."
                ),
            },
        ),
        (None, {"fields": ("updated_at",)}),
    )
