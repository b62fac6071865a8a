"""Admin for scoring: the configuration RevOps tunes, the model registry and the decisions.

Qualifications are an append-only history written by the qualification service, and model
versions come from training: both are read here, never typed in.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef, QuerySet, Subquery
from django.db.models.functions import Length
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
)
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.decorators import method_decorator
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.csrf import csrf_protect

from accounts.admin import (
    DryRunChangeFormMixin,
    DryRunSizeFormBase,
    LeadAdmin,
    ListField,
    PerLeadAdmin,
    SingletonAdmin,
    choice_list_field,
    upper,
)
from accounts.models import Department, FundingStage, Lead, Region, Seniority
from scoring import selectors, services
from scoring.models import (
    DisqualificationRule,
    Feedback,
    IdealCustomerProfile,
    ModelKind,
    ModelStatus,
    ModelVersion,
    PointRule,
    Qualification,
    ScoringSettings,
    Tier,
)
from scoring.rules import RuleSpec
from scoring.services import DryRunReport


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


class OneActiveProfileMixin(forms.ModelForm):
    """At most one profile is active (icp_one_active): say so on the field, not as a 500 or
    as the bare constraint name."""

    def clean_is_active(self) -> bool:
        is_active = bool(self.cleaned_data.get("is_active"))
        if is_active:
            other = (
                IdealCustomerProfile.objects.filter(is_active=True)
                .exclude(pk=self.instance.pk)
                .first()
            )
            if other is not None:
                raise forms.ValidationError(
                    f"“{other}” is the active profile and only one can be: "
                    "save it as inactive first, then activate this one."
                )
        return is_active


class IdealCustomerProfileForm(OneActiveProfileMixin):
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
            "fiscal_year_start_month",
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
    list_display_links = ("name",)
    list_editable = ("is_active",)
    list_filter = ("is_active",)
    search_fields = ("name",)
    readonly_fields = ("updated_at",)
    fieldsets = (
        (
            None,
            {
                "fields": ("name", "is_active"),
                "description": "Fit scores are measured against the one active profile.",
            },
        ),
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
        (
            "Timing",
            {
                "fields": ("fiscal_year_start_month",),
                "description": (
                    "The budget cycle of accounts whose own fiscal-year start the CRM does "
                    "not give: the timing fit counts the months before it."
                ),
            },
        ),
        (None, {"fields": ("updated_at",)}),
    )

    def get_changelist_form(self, request: HttpRequest, **kwargs: Any) -> type[forms.ModelForm]:
        # The list's own form, not `form`: it must carry the one-active check to the checkbox.
        kwargs.setdefault("form", OneActiveProfileMixin)
        return super().get_changelist_form(request, **kwargs)

    @admin.display(description="employees")
    def employees(self, obj: IdealCustomerProfile) -> str:
        low, high = obj.min_employees, obj.max_employees
        if high is not None:
            return f"{low or 0:,} to {high:,}"
        return f"{low:,}+" if low is not None else "any"


# --- disqualification rules and their dry run ------------------------------------------------

DRY_RUN = "_dry_run"
DRY_RUN_DAYS = "dry_run_days"
DRY_RUN_DEFAULT_DAYS = 30
DRY_RUN_MAX_DAYS = 365


class DryRunDaysForm(DryRunSizeFormBase):
    field_name = DRY_RUN_DAYS
    default = DRY_RUN_DEFAULT_DAYS
    error_label = "Days"

    dry_run_days = forms.IntegerField(
        label="Leads of the last",
        required=False,
        min_value=1,
        max_value=DRY_RUN_MAX_DAYS,
        # Text, not a number input: a browser would refuse to submit the whole rule form (the
        # Save button included) over a bad value here, where the server explains it instead.
        widget=forms.TextInput(attrs={"size": 4, "inputmode": "numeric", "placeholder": "30"}),
        help_text=f"days (1 to {DRY_RUN_MAX_DAYS})",
    )

    @property
    def days(self) -> int:
        return self.value


def rules_with_edit(*, edited: DisqualificationRule, replaces: str | None) -> list[RuleSpec]:
    """The active rules as they would be if `edited` were saved in place of the rule whose
    reason code was `replaces` (None: a new rule); an inactive edit leaves the set."""
    rules = [spec for spec in selectors.rules_active() if spec.reason_code != replaces]
    if edited.is_active:
        rules.append(selectors.rule_spec(edited))
    return rules


def _tier_label(value: Any) -> str:
    return str(Tier(value).label) if value in Tier.values else str(value)


def dry_run_context(
    report: DryRunReport, *, extra_names: dict[str, str] | None = None
) -> dict[str, Any]:
    """The report shaped for `admin/scoring/dry_run_report.html`."""
    names = dict(DisqualificationRule.objects.values_list("reason_code", "name"))
    names.update(extra_names or {})
    transitions = []
    for key, count in report.transitions.items():
        before, _, after = key.partition(" → ")
        transitions.append(
            {"before": _tier_label(before), "after": _tier_label(after), "count": count}
        )
    by_reason = [
        {"code": code, "name": names.get(code, ""), "count": count}
        for code, count in report.by_reason.items()
    ]
    examples = [
        {
            **example,
            "url": reverse("admin:accounts_lead_change", args=[example["lead_id"]]),
            "before_label": _tier_label(example["before"]),
            "after_label": _tier_label(example["after"]),
        }
        for example in report.examples
    ]
    return {
        "report": report,
        "unchanged": report.leads - report.changed,
        "transitions": transitions,
        "by_reason": by_reason,
        "examples": examples,
    }


def dry_run(
    *, rules: list[RuleSpec], days: int, extra_names: dict[str, str] | None = None
) -> dict[str, Any]:
    """Run the dry run for the admin: the report's context, or the error that stopped it."""
    try:
        report = services.rules_dry_run(rules=rules, days=days)
    except (ValueError, TypeError, KeyError, re.error) as exc:
        # A rule's parameters are free JSON; a dry run is where a bad one should show up,
        # before it is saved and breaks qualification.
        return {"error": f"The rules could not be evaluated: {exc}"}
    return dry_run_context(report, extra_names=extra_names)


class DisqualificationRuleForm(forms.ModelForm):
    class Meta:
        model = DisqualificationRule
        fields = (
            "name",
            "category",
            "reason_code",
            "action",
            "priority",
            "is_active",
            "parameters",
            "description",
        )

    def clean_parameters(self) -> dict[str, Any]:
        # The engine reads the parameters as a mapping; any other JSON would break every
        # qualification, not just this rule.
        value = self.cleaned_data.get("parameters")
        if value in (None, ""):
            return {}
        if not isinstance(value, dict):
            raise forms.ValidationError(
                'A JSON object of settings, e.g. {"domains": ["rival.com"]}; use {} for none.'
            )
        return value


@admin.register(DisqualificationRule)
class DisqualificationRuleAdmin(DryRunChangeFormMixin):
    form = DisqualificationRuleForm
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
    actions = ("dry_run_disable",)
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
        days_form = DryRunDaysForm.for_request(request)
        if not days_form.is_valid():
            days_form = DryRunDaysForm.unbound_default()
        return super().changeform_view(
            request, object_id, form_url, {**(extra_context or {}), "dry_run_days_form": days_form}
        )

    def dry_run_report(
        self, request: HttpRequest, form: forms.ModelForm, *, add: bool, saved: Any
    ) -> dict[str, Any]:
        days_form = DryRunDaysForm.for_request(request)
        outcome: dict[str, Any] | None = None
        rule_valid = form.is_valid()
        if not days_form.is_valid():
            outcome = days_form.error_outcome()
        elif rule_valid:
            edited: DisqualificationRule = form.instance
            outcome = dry_run(
                rules=rules_with_edit(
                    edited=edited, replaces=saved.reason_code if saved is not None else None
                ),
                days=days_form.days,
                extra_names={edited.reason_code: edited.name},
            )
            outcome["title"] = f"Dry run of this {'new ' if add else ''}rule" + (
                "" if edited.is_active else " (inactive: it leaves the rule set)"
            )
        return {"dry_run_days_form": days_form, "dry_run": outcome}

    @admin.action(description="Dry run: disable the selected rules", permissions=["change"])
    def dry_run_disable(
        self, request: HttpRequest, queryset: QuerySet[DisqualificationRule]
    ) -> TemplateResponse:
        selected = list(queryset.order_by("priority", "name"))
        days_form = DryRunDaysForm.for_request(request)
        outcome = days_form.error_outcome()
        if days_form.is_valid():
            codes = {rule.reason_code for rule in selected}
            outcome = dry_run(
                rules=[spec for spec in selectors.rules_active() if spec.reason_code not in codes],
                days=days_form.days,
            )
            outcome["title"] = f"Dry run: disable {len(selected)} rule(s)"
        return self.dry_run_page(
            request,
            template="admin/scoring/disqualificationrule/dry_run_disable.html",
            title="Dry run: disable the selected rules",
            selected=selected,
            dry_run_days_form=days_form,
            dry_run=outcome,
        )


@admin.register(PointRule)
class PointRuleAdmin(admin.ModelAdmin):
    list_display = ("name", "signal", "value", "points", "max_times", "is_active")
    list_display_links = ("name",)
    list_editable = ("points", "max_times", "is_active")
    list_filter = ("signal", "is_active")
    search_fields = ("name", "value")
    fieldsets = (
        (
            None,
            {
                "fields": ("name", ("signal", "value"), ("points", "max_times"), "is_active"),
                "description": (
                    "The traditional point score, kept beside the AI decision so the dashboards "
                    "can show the lift over it. A lead at the routing threshold (Scoring "
                    "settings) would be routed by points alone."
                ),
            },
        ),
    )


# --- settings --------------------------------------------------------------------------------


def _probability_field(label: str, help_text: str) -> forms.FloatField:
    return forms.FloatField(
        label=label,
        min_value=0.0,
        max_value=1.0,
        help_text=help_text,
        widget=forms.NumberInput(attrs={"step": "any", "class": "vIntegerField"}),
    )


class ScoringSettingsForm(forms.ModelForm):
    sales_ready_threshold = _probability_field(
        "Sales Ready threshold",
        "Conversion probability (0 to 1) at or above which a lead is Sales Ready. Capacity mode "
        "recomputes it after every model activation; fixed mode uses it as typed.",
    )
    nurture_threshold = _probability_field(
        "Nurture threshold",
        "Below this probability a lead goes to the low-priority pool (passive monitoring); "
        "from it up to the Sales Ready threshold, to nurture. At most the Sales Ready threshold.",
    )
    min_sales_ready_probability = _probability_field(
        "Lowest Sales Ready threshold",
        "Capacity mode never sets the Sales Ready threshold below this: spare rep capacity is "
        "no reason to route leads that will not convert.",
    )

    class Meta:
        model = ScoringSettings
        fields = (
            "threshold_mode",
            "sales_ready_threshold",
            "nurture_threshold",
            "min_sales_ready_probability",
            "capacity_leads_per_week",
            "min_outcomes_for_model",
            "recency_half_life_days",
            "point_route_threshold",
            "review_min_committee_people",
        )
        labels = {
            "threshold_mode": "Thresholds",
            "capacity_leads_per_week": "Capacity override (leads per week)",
            "min_outcomes_for_model": "Outcomes needed before the model decides",
            "recency_half_life_days": "Recency half-life (days)",
            "point_route_threshold": "Point score routing threshold",
            "review_min_committee_people": "Review: buying committee size",
        }
        help_texts = {
            "threshold_mode": (
                "From rep capacity: the Sales Ready bar is set so the expected weekly Sales Ready "
                "volume matches what the reps can work. Fixed: RevOps sets both thresholds."
            ),
            "capacity_leads_per_week": (
                "Used instead of the reps' summed weekly capacity in capacity mode; empty: sum "
                "the reps' capacities."
            ),
            "min_outcomes_for_model": (
                "Below this many leads with a known outcome (converted or closed), qualification "
                "runs on rules, fit and intent priors, and every brief says “not enough data "
                "yet”."
            ),
            "recency_half_life_days": (
                "An activity this many days old counts half as much as one today."
            ),
            "point_route_threshold": (
                "The traditional score at which a lead would be routed (the seed's 100 points); "
                "kept to measure the model's lift over it."
            ),
            "review_min_committee_people": (
                "A lead caught by a disqualifying rule goes to a person instead when at least "
                "this many people at its account are active and it is evaluating."
            ),
        }

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        sales_ready = cleaned.get("sales_ready_threshold")
        nurture = cleaned.get("nurture_threshold")
        if sales_ready is not None and nurture is not None and nurture > sales_ready:
            # Also a check constraint; as a field error it is explained, not a 500 or a
            # constraint name.
            self.add_error(
                "nurture_threshold",
                f"Must not be above the Sales Ready threshold ({sales_ready:g}).",
            )
        half_life = cleaned.get("recency_half_life_days")
        if half_life is not None and half_life <= 0:
            self.add_error("recency_half_life_days", "Must be more than 0 days.")
        return cleaned


@admin.register(ScoringSettings)
class ScoringSettingsAdmin(SingletonAdmin):
    form = ScoringSettingsForm
    list_display = (
        "__str__",
        "threshold_mode",
        "sales_ready_threshold",
        "nurture_threshold",
        "min_outcomes_for_model",
        "updated_at",
    )
    readonly_fields = ("updated_at",)
    fieldsets = (
        (
            "Tiers",
            {
                "fields": (
                    "threshold_mode",
                    ("sales_ready_threshold", "nurture_threshold"),
                    "min_sales_ready_probability",
                    "capacity_leads_per_week",
                ),
                "description": (
                    "Changes apply from the next qualification of each lead (on new activity, "
                    "or the scheduled run over the whole database)."
                ),
            },
        ),
        ("Model", {"fields": ("min_outcomes_for_model",)}),
        (
            "Signals and review",
            {"fields": ("recency_half_life_days", "review_min_committee_people")},
        ),
        ("Traditional point score", {"fields": ("point_route_threshold",)}),
        (None, {"fields": ("updated_at",)}),
    )


# --- model registry ------------------------------------------------------------------------


def _number(value: Any, spec: str = ".3f") -> str:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        return "—"
    return format(value, spec)


def _share(value: Any) -> str:
    return _number(value, ".1%")


def _times(value: Any) -> str:
    text = _number(value, ".2f")
    return f"{text}\N{MULTIPLICATION SIGN}" if text != "—" else text


# A constant attribute, never built from data.
_NUMERIC = mark_safe(' class="num"')


def _table(
    head: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    caption: str = "",
    numeric: frozenset[int] = frozenset(),
) -> SafeString:
    """A small escaped HTML table: every cell goes through format_html. `numeric` holds the
    indexes of the right-aligned columns."""

    def cells(row: Sequence[Any]) -> SafeString:
        return format_html_join(
            "",
            "<td{}>{}</td>",
            ((_NUMERIC if i in numeric else "", cell) for i, cell in enumerate(row)),
        )

    return format_html(
        '<table class="metrics-table">{}<thead><tr>{}</tr></thead><tbody>{}</tbody></table>',
        format_html("<caption>{}</caption>", caption) if caption else "",
        format_html_join(
            "",
            "<th{}>{}</th>",
            ((_NUMERIC if i in numeric else "", h) for i, h in enumerate(head)),
        ),
        format_html_join("", "<tr>{}</tr>", ((cells(row),) for row in rows)),
    )


def _holdout_sentence(holdout: Any) -> str:
    if not isinstance(holdout, dict) or not holdout:
        return "No holdout: every row trained the model."
    method = holdout.get("method")
    how = {
        "time": "Time-ordered holdout (the newest leads)",
        "stratified": "Stratified random holdout (the data has no usable dates)",
        "cross-validated": (
            "Cross-validated holdout (the data has no usable dates), every lead scored by a "
            "model trained without it"
        ),
    }.get(str(method), "Holdout")
    rows = holdout.get("rows")
    parts = [f"{how}: {rows:,} leads" if isinstance(rows, int) else how]
    if isinstance(holdout.get("positives"), int):
        parts.append(f"{holdout['positives']:,} converted")
    if holdout.get("cutoff"):
        parts.append(f"created from {str(holdout['cutoff'])[:10]}")
    fold_aucs = [a for a in holdout.get("fold_auc") or [] if isinstance(a, int | float)]
    if fold_aucs:
        parts.append(
            f"AUC {min(fold_aucs):.3f} to {max(fold_aucs):.3f} over its {len(fold_aucs)} folds"
        )
    if isinstance(holdout.get("training_rows"), int):
        parts.append(f"{holdout['training_rows']:,} trained the model")
    return ", ".join(parts) + "."


def conversion_metrics_html(metrics: dict[str, Any]) -> SafeString:
    at_capacity = metrics.get("at_capacity") or {}
    baseline = metrics.get("baseline") or {}
    baseline_capacity = baseline.get("at_capacity") or {}
    capacity = at_capacity.get("capacity")
    top = f"top {_number(capacity, '.0%')}" if capacity is not None else "top slice"
    if isinstance(at_capacity.get("rows"), int):
        top += f", {at_capacity['rows']:,} leads"
    headline = format_html(
        "<p>{} Base rate {}. At capacity ({}) the model's leads convert <strong>{}</strong> "
        "as often as the point score's.</p>",
        _holdout_sentence(metrics.get("holdout")),
        _share(metrics.get("base_rate")),
        top,
        _times(metrics.get("lift_over_baseline_at_capacity")),
    )
    summary = _table(
        ("Holdout metric", "Model", "Point score"),
        [
            ("AUC", _number(metrics.get("auc")), _number(metrics.get("baseline_auc"))),
            (
                f"Precision at capacity ({top})",
                _share(at_capacity.get("precision")),
                _share(baseline_capacity.get("precision")),
            ),
            (
                "Recall at capacity",
                _share(at_capacity.get("recall")),
                _share(baseline_capacity.get("recall")),
            ),
            (
                "Lift over the base rate at capacity",
                _times(at_capacity.get("lift")),
                _times(baseline_capacity.get("lift")),
            ),
            ("Log loss", _number(metrics.get("log_loss"), ".4f"), "—"),
            ("Brier score", _number(metrics.get("brier"), ".4f"), "—"),
            ("Expected calibration error", _number(metrics.get("ece"), ".4f"), "—"),
        ],
        numeric=frozenset({1, 2}),
    )
    parts = [headline, summary]
    fixed = metrics.get("promotion_holdout")
    if isinstance(fixed, dict):
        fixed_rows = (fixed.get("holdout") or {}).get("rows")
        parts.append(
            format_html(
                "<p>On the fixed holdout ({} leads, the first fold, which every version of "
                "this data is compared on): AUC {}, log loss {}.</p>",
                _number(fixed_rows, ","),
                _number(fixed.get("auc")),
                _number(fixed.get("log_loss"), ".4f"),
            )
        )
    compared = metrics.get("active_on_same_holdout")
    if isinstance(compared, dict):
        parts.append(
            format_html(
                "<p>The model active at training time (#{}) on the same {}holdout: AUC {}, "
                "log loss {}.</p>",
                compared.get("model_version", "?"),
                "fixed " if isinstance(fixed, dict) else "",
                _number(compared.get("auc")),
                _number(compared.get("log_loss"), ".4f"),
            )
        )
    bins = [b for b in metrics.get("calibration_bins") or [] if isinstance(b, dict)]
    if bins:
        parts.append(
            _table(
                ("Predicted probability", "Leads", "Mean predicted", "Observed rate"),
                [
                    (
                        f"{_number(b.get('lower'), '.0%')} to {_number(b.get('upper'), '.0%')}",
                        _number(b.get("count"), ","),
                        _share(b.get("mean_predicted")),
                        _share(b.get("observed_rate")),
                    )
                    for b in bins
                ],
                caption="Calibration: predicted against observed, per probability bin",
                numeric=frozenset({1, 2, 3}),
            )
        )
    segments = metrics.get("segments") or {}
    baseline_segments = baseline.get("segments") or {}
    segment_rows = []
    for column, levels in segments.items():
        if not isinstance(levels, dict):
            continue
        ordered = sorted(levels.items(), key=lambda kv: -int((kv[1] or {}).get("rows") or 0))
        for level, entry in ordered:
            entry = entry or {}
            point = (baseline_segments.get(column) or {}).get(level) or {}
            segment_rows.append(
                (
                    column.replace("_", " "),
                    level,
                    _number(entry.get("rows"), ","),
                    _number(entry.get("positives"), ","),
                    _number(entry.get("auc")),
                    _number(point.get("auc")),
                    entry.get("skipped", ""),
                )
            )
    if segment_rows:
        parts.append(
            _table(
                ("Segment", "Level", "Leads", "Converted", "AUC", "Point score AUC", "Note"),
                segment_rows,
                caption="AUC per segment (fairness and drift)",
                numeric=frozenset({2, 3, 4, 5}),
            )
        )
    training = metrics.get("training")
    if isinstance(training, dict):
        parts.append(
            format_html(
                "<p>Training: {} leads ({} converted), cross-validated AUC {}, {} boosting "
                "rounds, {} calibration, {} s.</p>",
                _number(training.get("rows"), ","),
                _number(training.get("positives"), ","),
                _number(training.get("cv_auc")),
                _number(training.get("rounds"), ",.0f"),
                training.get("calibration", "—"),
                _number(training.get("seconds"), ".1f"),
            )
        )
    return format_html_join("", "{}", ((part,) for part in parts))


def range_metrics_html(metrics: dict[str, Any]) -> SafeString:
    pinball = metrics.get("pinball") or {}
    rows = [
        ("Leads in the holdout", _number(metrics.get("rows"), ",")),
        (
            "Interval coverage (expected)",
            f"{_share(metrics.get('coverage'))} ({_share(metrics.get('expected_coverage'))})",
        ),
        (
            "Median absolute error of the middle",
            _number(metrics.get("median_absolute_error"), ",.1f"),
        ),
        ("Mean interval width", _number(metrics.get("mean_width"), ",.1f")),
        *((f"Pinball loss at {q}", _number(v, ",.2f")) for q, v in pinball.items()),
    ]
    return format_html(
        "<p>{}{}</p>{}",
        _holdout_sentence(metrics.get("holdout")),
        format_html(" {}", metrics["reason"]) if metrics.get("reason") else "",
        _table(("Holdout metric", "Value"), rows, numeric=frozenset({1})),
    )


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = (
        "__str__",
        "kind",
        "status",
        "trained_at",
        "training_rows",
        "auc",
        "baseline_auc",
        "lift_at_capacity",
        "ece",
        "artifact_size",
        "activated_at",
        "activated_by",
    )
    list_select_related = ("activated_by",)
    list_filter = ("kind", "status")
    search_fields = ("notes",)
    date_hierarchy = "trained_at"
    actions = ("activate_selected",)
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
        "metrics_summary",
        "metrics_pretty",
    )
    fieldsets = (
        (None, {"fields": ("kind", "status", "notes")}),
        (
            "Training",
            {"fields": ("trained_at", ("data_from", "data_to"), "training_rows", "artifact_size")},
        ),
        (
            "Activation",
            {
                "fields": ("activated_at", "activated_by"),
                "description": (
                    "“Activate this version” makes it the one qualification uses and retires "
                    "the active version of its kind; activating an earlier version is the "
                    "rollback."
                ),
            },
        ),
        ("Holdout metrics", {"fields": ("metrics_summary",)}),
        ("All metrics (JSON)", {"fields": ("metrics_pretty",), "classes": ("collapse",)}),
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

    def get_urls(self) -> list[URLPattern]:
        name = f"{self.opts.app_label}_{self.opts.model_name}_activate"
        return [
            path(
                "<path:object_id>/activate/",
                self.admin_site.admin_view(self.activate_view),
                name=name,
            ),
            *super().get_urls(),
        ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        obj = self.get_object(request, unquote(object_id))
        can_activate = (
            obj is not None
            and obj.status != ModelStatus.ACTIVE
            and self.has_change_permission(request, obj)
        )
        return super().change_view(
            request, object_id, form_url, {**(extra_context or {}), "can_activate": can_activate}
        )

    def _activate(self, request: HttpRequest, version: ModelVersion) -> None:
        retired = list(
            ModelVersion.objects.filter(kind=version.kind, status=ModelStatus.ACTIVE)
            .exclude(pk=version.pk)
            .values_list("pk", flat=True)
        )
        services.model_activate(model_version=version, user=request.user)
        replaced = f"; #{', #'.join(map(str, retired))} retired" if retired else ""
        self.message_user(
            request,
            f"{version.get_kind_display()} #{version.pk} is now the active version{replaced}.",
            messages.SUCCESS,
        )

    def activate_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        version = self.get_object(request, unquote(object_id))
        if version is None:
            raise Http404(f"No {self.opts.verbose_name} with the id {object_id}.")
        if not self.has_change_permission(request, version):
            raise PermissionDenied
        if version.status == ModelStatus.ACTIVE:
            self.message_user(request, f"{version} is already active.", messages.INFO)
        else:
            self._activate(request, version)
        return HttpResponseRedirect(
            reverse(
                f"admin:{self.opts.app_label}_{self.opts.model_name}_change",
                args=[version.pk],
                current_app=self.admin_site.name,
            )
        )

    @admin.action(description="Activate the selected version", permissions=["change"])
    def activate_selected(self, request: HttpRequest, queryset: QuerySet[ModelVersion]) -> None:
        versions = list(queryset[:2])
        if len(versions) != 1:
            self.message_user(request, "Select exactly one version to activate.", messages.WARNING)
            return
        if versions[0].status == ModelStatus.ACTIVE:
            self.message_user(request, f"{versions[0]} is already active.", messages.INFO)
            return
        self._activate(request, versions[0])

    @admin.display(description="AUC")
    def auc(self, obj: ModelVersion) -> str:
        return _number((obj.metrics or {}).get("auc"))

    @admin.display(description="points AUC")
    def baseline_auc(self, obj: ModelVersion) -> str:
        return _number((obj.metrics or {}).get("baseline_auc"))

    @admin.display(description="lift over points @ capacity")
    def lift_at_capacity(self, obj: ModelVersion) -> str:
        return _times((obj.metrics or {}).get("lift_over_baseline_at_capacity"))

    @admin.display(description="ECE")
    def ece(self, obj: ModelVersion) -> str:
        return _number((obj.metrics or {}).get("ece"), ".4f")

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

    @admin.display(description="summary")
    def metrics_summary(self, obj: ModelVersion) -> SafeString:
        metrics = obj.metrics if isinstance(obj.metrics, dict) else {}
        if not metrics:
            return format_html('<span class="quiet">{}</span>', "No metrics recorded.")
        if obj.kind == ModelKind.CONVERSION:
            return conversion_metrics_html(metrics)
        return range_metrics_html(metrics)

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


from scoring import admin_accounts, admin_overrides, admin_triggers  # noqa: E402, F401
