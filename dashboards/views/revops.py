"""The RevOps pages: the seed's metrics with tier history, models (calibration, lift, versions
side by side, activate, roll back, train now), segment fairness and drift.

Open to RevOps and superusers (the `dashboards.view_metricssnapshot` permission); anyone
else signed in gets a 403 page that says whose pages these are. Acting on the registry also
needs `scoring.change_modelversion`. Every number comes from the latest hourly snapshot or
the registry, never from a pass over the leads, so each page costs a few queries.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_POST
from django_htmx.middleware import HtmxDetails

from dashboards import services
from dashboards.access import User, has_permission
from dashboards.charts import render as render_chart
from dashboards.charts import revops as charts
from dashboards.models import TrainingRun
from dashboards.selectors import revops as selectors
from dashboards.selectors.schedule import snapshot_schedule
from scoring.models import ModelVersion

OVERVIEW_TEMPLATE = "dashboards/revops/overview.html"
MODELS_TEMPLATE = "dashboards/revops/models.html"
FAIRNESS_TEMPLATE = "dashboards/revops/fairness.html"
DRIFT_TEMPLATE = "dashboards/revops/drift.html"
FORBIDDEN_TEMPLATE = "dashboards/revops/forbidden.html"

VIEW_PERMISSION = "dashboards.view_metricssnapshot"
MANAGE_PERMISSION = "scoring.change_modelversion"


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


def can_view(user: User) -> bool:
    return has_permission(user, VIEW_PERMISSION)


def can_manage_models(user: User) -> bool:
    return can_view(user) and has_permission(user, MANAGE_PERMISSION)


def _forbidden(request: HttpRequest) -> HttpResponse:
    return render(request, FORBIDDEN_TEMPLATE, status=403)


def _vary(response: HttpResponse) -> HttpResponse:
    # One URL answers with a page or a fragment: caches must key on both headers.
    patch_vary_headers(response, ("HX-Request", "HX-Target"))
    return response


class HistoryForm(forms.Form):
    days = forms.TypedChoiceField(
        label="Period",
        coerce=int,
        choices=[
            (d, "Last 24 hours" if d == 1 else f"Last {d} days") for d in selectors.HISTORY_DAYS
        ],
        required=False,
        empty_value=None,
    )

    def days_or_default(self) -> int:
        if self.is_valid() and self.cleaned_data["days"]:
            return int(self.cleaned_data["days"])
        return selectors.DEFAULT_HISTORY_DAYS


def _tier_history_context(request: HttpRequest) -> dict[str, Any]:
    form = HistoryForm(request.GET)
    days = form.days_or_default()
    points = selectors.tier_history(days=days)
    return {
        "history_form": form,
        "days": days,
        "points": points,
        "history_chart": render_chart(charts.tier_history(points), element_id="tier-history-chart")
        if points
        else "",
    }


@require_GET
def overview(request: HtmxHttpRequest) -> HttpResponse:
    if not can_view(request.user):
        return _forbidden(request)
    context = _tier_history_context(request)
    if request.htmx and request.htmx.target == "tier-history":
        return _vary(render(request, f"{OVERVIEW_TEMPLATE}#tier-history", context))
    context["report"] = selectors.revops_report()
    context["can_manage"] = can_manage_models(request.user)
    context["schedule"] = snapshot_schedule()
    return _vary(render(request, OVERVIEW_TEMPLATE, context))


def _models_context(request: HttpRequest) -> dict[str, Any]:
    registry = selectors.model_registry()
    report = selectors.revops_report()
    active = registry.active
    metrics = active.metrics if active is not None and isinstance(active.metrics, dict) else {}
    holdout_bins = metrics.get("calibration_bins") or []
    outcomes = report.outcomes or {}
    outcome_bins = outcomes.get("calibration_bins") or []
    lift = outcomes.get("lift") or {}
    baseline = metrics.get("baseline") if isinstance(metrics.get("baseline"), dict) else {}
    return {
        "registry": registry,
        "report": report,
        "holdout_bins": [b for b in holdout_bins if b.get("count")],
        "outcome_bins": [b for b in outcome_bins if b.get("count")],
        "lift_model": lift.get("model") or [],
        "lift_points": lift.get("points") or [],
        "holdout_at_capacity": metrics.get("at_capacity") or {},
        "baseline_at_capacity": (baseline or {}).get("at_capacity") or {},
        "lift_over_baseline": metrics.get("lift_over_baseline_at_capacity"),
        "calibration_chart": render_chart(
            charts.calibration(holdout=holdout_bins, outcomes=outcome_bins),
            element_id="calibration-chart",
        )
        if holdout_bins or outcome_bins
        else "",
        "lift_chart": render_chart(
            charts.lift(model=lift.get("model") or [], points=lift.get("points") or []),
            element_id="lift-chart",
        )
        if lift.get("model")
        else "",
        "live": report.live,
        "can_manage": can_manage_models(request.user),
        "schedule": snapshot_schedule(),
        "training": _training_status(),
    }


def _training_status() -> selectors.TrainingStatus | None:
    run = selectors.training_run_latest()
    return selectors.training_status(run=run) if run else None


@require_GET
def models(request: HtmxHttpRequest) -> HttpResponse:
    if not can_view(request.user):
        return _forbidden(request)
    if request.htmx and request.htmx.target == "registry":
        context = {
            "registry": selectors.model_registry(),
            "can_manage": can_manage_models(request.user),
        }
        return _vary(render(request, f"{MODELS_TEMPLATE}#registry", context))
    return _vary(render(request, MODELS_TEMPLATE, _models_context(request)))


def _back_to_models(request: HtmxHttpRequest) -> HttpResponse:
    if request.htmx:
        context = {
            "registry": selectors.model_registry(),
            "can_manage": can_manage_models(request.user),
        }
        return _vary(render(request, f"{MODELS_TEMPLATE}#registry", context))
    return HttpResponseRedirect(reverse("dashboards:revops-models"))


def _report(request: HtmxHttpRequest, action: Callable[[], str]) -> None:
    """Run a model action; its success text, or the reason it was refused, as a message."""
    try:
        done = action()
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, done)


@require_POST
def model_activate(request: HtmxHttpRequest, model_version_id: int) -> HttpResponse:
    if not can_manage_models(request.user):
        return _forbidden(request)
    try:
        version = selectors.model_version_for_activation(model_version_id=model_version_id)
    except ModelVersion.DoesNotExist as exc:
        raise Http404("No such model version.") from exc

    def activate() -> str:
        services.model_version_activate(model_version=version, user=request.user)
        return f"Model #{version.pk} is now active."

    _report(request, activate)
    return _back_to_models(request)


@require_POST
def model_rollback(request: HtmxHttpRequest) -> HttpResponse:
    if not can_manage_models(request.user):
        return _forbidden(request)

    def rollback() -> str:
        version = services.model_rollback(user=request.user)
        return f"Rolled back: model #{version.pk} is active again."

    _report(request, rollback)
    return _back_to_models(request)


@require_POST
def train(request: HtmxHttpRequest) -> HttpResponse:
    if not can_manage_models(request.user):
        return _forbidden(request)
    try:
        run = services.training_run_start(user=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return HttpResponseRedirect(reverse("dashboards:revops-models") + "#train")
    if request.htmx:
        # The run's row exists; the task is enqueued once this response's transaction commits.
        status = selectors.training_status(run=run)
        return _vary(render(request, f"{MODELS_TEMPLATE}#train-status", {"training": status}))
    messages.success(request, "Training started.")
    return HttpResponseRedirect(reverse("dashboards:revops-models") + "#train")


@require_GET
def train_status(request: HtmxHttpRequest, task_id: str) -> HttpResponse:
    if not can_view(request.user):
        return _forbidden(request)
    try:
        run = selectors.training_run_get(task_id=task_id)
    except TrainingRun.DoesNotExist as exc:
        raise Http404("No such training run.") from exc
    status = selectors.training_status(run=run, now=timezone.now())
    context = {"training": status, "can_manage": can_manage_models(request.user)}
    if request.htmx:
        return _vary(render(request, f"{MODELS_TEMPLATE}#train-status", context))
    return HttpResponseRedirect(reverse("dashboards:revops-models") + "#train")


@require_POST
def snapshot_refresh(request: HtmxHttpRequest) -> HttpResponse:
    if not can_manage_models(request.user):
        return _forbidden(request)
    services.metrics_snapshot_refresh()
    messages.success(request, "A new snapshot is being taken; reload in a minute.")
    return HttpResponseRedirect(reverse("dashboards:revops"))


@require_GET
def fairness(request: HtmxHttpRequest) -> HttpResponse:
    if not can_view(request.user):
        return _forbidden(request)
    report = selectors.revops_report()
    active = selectors.model_version_active_conversion()
    context = {
        "report": report,
        "active": active,
        "segment_auc": selectors.segment_auc_rows(active) if active else [],
        "can_manage": can_manage_models(request.user),
        "schedule": snapshot_schedule(),
    }
    return _vary(render(request, FAIRNESS_TEMPLATE, context))


@require_GET
def drift(request: HtmxHttpRequest) -> HttpResponse:
    if not can_view(request.user):
        return _forbidden(request)
    report = selectors.revops_report()
    features = report.drift.get("features", []) if report.drift else []
    wanted = request.GET.get("feature", "")
    selected = next(
        (f for f in features if f["column"] == wanted), features[0] if features else None
    )
    context: dict[str, Any] = {
        "report": report,
        "features": features,
        "selected": selected,
        "distribution_chart": render_chart(
            charts.distribution(selected), element_id="distribution-chart"
        )
        if selected
        else "",
    }
    if request.htmx and request.htmx.target == "feature-detail":
        return _vary(render(request, f"{DRIFT_TEMPLATE}#feature-detail", context))
    # The PSI chart only on the whole page: a fragment computes only what it shows.
    context["active"] = selectors.model_version_active_conversion()
    context["can_manage"] = can_manage_models(request.user)
    context["schedule"] = snapshot_schedule()
    context["psi_chart"] = (
        render_chart(charts.psi_bars(features), element_id="psi-chart") if features else ""
    )
    return _vary(render(request, DRIFT_TEMPLATE, context))


urlpatterns: list[URLPattern] = [
    path("revops/", overview, name="revops"),
    path("revops/models/", models, name="revops-models"),
    path(
        "revops/models/<int:model_version_id>/activate/",
        model_activate,
        name="revops-model-activate",
    ),
    path("revops/models/rollback/", model_rollback, name="revops-model-rollback"),
    path("revops/train/", train, name="revops-train"),
    path("revops/train/<str:task_id>/", train_status, name="revops-train-status"),
    path("revops/snapshot/", snapshot_refresh, name="revops-snapshot-refresh"),
    path("revops/fairness/", fairness, name="revops-fairness"),
    path("revops/drift/", drift, name="revops-drift"),
]
