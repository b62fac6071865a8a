"""Admin for routing: where sales managers run the team.

Reps, territories, pools and rules are small tables edited by hand; assignments are a big
table, listed with its foreign keys joined and searched by lead.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Count, ForeignKey, OuterRef, QuerySet, Subquery
from django.forms import ModelChoiceField
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_protect

from accounts.admin import (
    DryRunChangeFormMixin,
    DryRunSizeFormBase,
    ListField,
    PerLeadAdmin,
    ReadOnlyAdmin,
    SingletonAdmin,
    SyncRecordAdmin,
    choice_list_field,
    lower,
    upper,
)
from accounts.models import Lead, Region
from routing import selectors
from routing.dry_run import DEFAULT_LAST_N, MAX_LAST_N, DryRunError, RoutingDryRun, routing_dry_run
from routing.engine import RuleSpec
from routing.models import (
    AccountPlay,
    Assignment,
    AssignmentEvent,
    AssignmentStatus,
    RoundRobinClock,
    RoundRobinCredit,
    RoutingPool,
    RoutingRule,
    RoutingSettings,
    SalesforcePushState,
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


# --- rules and their dry run ----------------------------------------------------------------

DRY_RUN = "_dry_run"
DRY_RUN_LAST_N = "dry_run_last_n"


class DryRunSizeForm(DryRunSizeFormBase):
    field_name = DRY_RUN_LAST_N
    default = DEFAULT_LAST_N
    error_label = "Leads"

    dry_run_last_n = forms.IntegerField(
        label="Replay the last",
        required=False,
        min_value=1,
        max_value=MAX_LAST_N,
        # Text, not a number input: a browser would refuse to submit the whole rule form (the
        # Save button included) over a bad value here, where the server explains it instead.
        widget=forms.TextInput(
            attrs={"size": 5, "inputmode": "numeric", "placeholder": str(DEFAULT_LAST_N)}
        ),
        help_text=f"qualified leads (1 to {MAX_LAST_N})",
    )

    @property
    def last_n(self) -> int:
        return self.value


def rules_with_edit(*, edited: RoutingRule) -> list[RuleSpec]:
    """The saved rules as they would be if `edited` were saved: it replaces the saved rule of
    the same id, or is added when new; an inactive edit leaves the set."""
    rules = [spec for spec in selectors.rule_specs() if spec.rule_id != edited.pk]
    if edited.is_active:
        rules.append(selectors.rule_spec(edited))
    return rules


def dry_run_context(report: RoutingDryRun) -> dict[str, Any]:
    """The report shaped for `admin/routing/dry_run_report.html`."""
    ids = [lead.lead_id for lead in report.changed_sample]
    emails = dict(Lead.objects.filter(pk__in=ids).values_list("pk", "email")) if ids else {}
    return {
        "report": report,
        "now_total": sum(row.now_value for row in report.reps),
        "dry_total": sum(row.dry_value for row in report.reps),
        "sample": [
            {
                "lead": lead,
                "email": emails.get(lead.lead_id, ""),
                "url": reverse("admin:accounts_lead_change", args=[lead.lead_id]),
            }
            for lead in report.changed_sample
        ],
    }


def dry_run(*, rules: list[RuleSpec] | None, last_n: int) -> dict[str, Any]:
    """Run the dry run for the admin: the report's context, or the error that stopped it."""
    try:
        report = routing_dry_run(rules=rules, last_n=last_n)
    except DryRunError as exc:
        return {"error": str(exc)}
    return dry_run_context(report)


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
class RoutingRuleAdmin(DryRunChangeFormMixin):
    form = RoutingRuleForm
    # The dry run reads every rep's load and every lead's place: managers who may change
    # rules, not whoever may view them.
    dry_run_requires_change = True
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
    actions = ("dry_run_disable",)

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "dry-run/",
                self.admin_site.admin_view(self.dry_run_view),
                name="routing_routingrule_dry_run",
            ),
            *super().get_urls(),
        ]

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        context = {**(extra_context or {}), "can_dry_run": self.has_change_permission(request)}
        return super().changelist_view(request, context)

    @method_decorator(csrf_protect)
    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        if request.method == "POST" and DRY_RUN in request.POST:
            return self.dry_run_changeform(request, object_id, form_url, extra_context)
        size_form = DryRunSizeForm.for_request(request)
        if not size_form.is_valid():
            size_form = DryRunSizeForm.unbound_default()
        context = {**(extra_context or {})}
        if self.has_change_permission(request):
            context["dry_run_size_form"] = size_form
        return super().changeform_view(request, object_id, form_url, context)

    def dry_run_report(
        self, request: HttpRequest, form: forms.ModelForm, *, add: bool, saved: Any
    ) -> dict[str, Any]:
        size_form = DryRunSizeForm.for_request(request)
        outcome: dict[str, Any] | None = None
        rule_valid = form.is_valid()
        if not size_form.is_valid():
            outcome = size_form.error_outcome()
        elif rule_valid:
            edited: RoutingRule = form.instance
            outcome = dry_run(rules=rules_with_edit(edited=edited), last_n=size_form.last_n)
            outcome["title"] = f"Dry run of the rules with this {'new ' if add else ''}rule" + (
                "" if edited.is_active else " (inactive: it leaves the rule set)"
            )
        return {"dry_run_size_form": size_form, "dry_run": outcome}

    def dry_run_view(self, request: HttpRequest) -> TemplateResponse:
        """The saved rules replayed over recent leads: where they are against where the rules
        would send them (leads left where they are, reps' changed loads)."""
        if not self.has_change_permission(request):
            raise PermissionDenied
        size_form = DryRunSizeForm.for_request(request)
        outcome = size_form.error_outcome()
        if size_form.is_valid():
            outcome = dry_run(rules=None, last_n=size_form.last_n)
            outcome["title"] = "Dry run of the current rules"
        return self._dry_run_page(
            request,
            title="Dry run the current rules",
            intro=(
                "Recent qualified leads replayed through the saved, active rules, from the "
                "reps' current loads. Nothing is saved."
            ),
            size_form=size_form,
            outcome=outcome,
        )

    @admin.action(description="Dry run: disable the selected rules", permissions=["change"])
    def dry_run_disable(
        self, request: HttpRequest, queryset: QuerySet[RoutingRule]
    ) -> TemplateResponse:
        selected = list(queryset.order_by("priority", "name"))
        size_form = DryRunSizeForm.for_request(request)
        outcome = size_form.error_outcome()
        if size_form.is_valid():
            ids = {rule.pk for rule in selected}
            outcome = dry_run(
                rules=[spec for spec in selectors.rule_specs() if spec.rule_id not in ids],
                last_n=size_form.last_n,
            )
            outcome["title"] = f"Dry run: disable {len(selected)} rule{'s' * (len(selected) != 1)}"
        return self._dry_run_page(
            request,
            title="Dry run: disable the selected rules",
            intro=(
                "Where recent qualified leads would go if these rules were disabled. Nothing is "
                "saved: to disable them, untick “is active” in the list."
            ),
            size_form=size_form,
            outcome=outcome,
            selected=selected,
        )

    def _dry_run_page(
        self,
        request: HttpRequest,
        *,
        title: str,
        intro: str,
        size_form: DryRunSizeForm,
        outcome: dict[str, Any] | None,
        selected: list[RoutingRule] | None = None,
    ) -> TemplateResponse:
        return self.dry_run_page(
            request,
            template="admin/routing/routingrule/dry_run.html",
            title=title,
            selected=selected,
            intro=intro,
            dry_run_size_form=size_form,
            dry_run=outcome,
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


@admin.register(SalesforcePushState)
class SalesforcePushStateAdmin(SyncRecordAdmin):
    """What the Salesforce push last wrote per lead: refused records and converted leads show
    here, with Salesforce's error, for an operator asking why a lead's tier is stale there."""

    list_display = (
        "lead",
        "pushed_tier",
        "pushed_owner_salesforce_id",
        "pushed_at",
        "converted_at",
        "last_error_at",
    )
    list_select_related = ("lead",)
    list_filter = ("pushed_tier",)
    search_fields = ("lead__email", "lead__salesforce_id")
    raw_id_fields = ("lead", "pushed_qualification")
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


# The alternative paths' destinations and the webhook log: their own module, registered here.
from routing import admin_paths  # noqa: E402, F401


@admin.register(AccountPlay)
class AccountPlayAdmin(admin.ModelAdmin):
    """Read-only: a play follows the account's stored qualification (routing/account_plays.py)."""

    list_display = ("account", "priority", "owner", "status", "updated_at")
    list_select_related = ("account", "owner")
    raw_id_fields = ("account",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
