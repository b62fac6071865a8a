"""The sales manager's team page: load against capacity, SLA breaches, assignments by rule,
and reassignment.

Sales managers (and superusers) see it and reassign; RevOps sees it read-only, since routing
health is part of what they watch; SDRs and users without a role get 403. Access goes by
permission rather than group name: viewing the reps (`routing.view_salesrep`) and changing
assignments (`routing.change_assignment`), as `dashboards.roles` grants them.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.models import AbstractUser
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.http import reswap, retarget
from django_htmx.middleware import HtmxDetails

from dashboards.access import User, has_permission
from dashboards.selectors.manager import (
    DEFAULT_PERIOD_DAYS,
    PERIOD_DAYS,
    assignment_get_for_reassign,
    assignments_by_rule,
    sla_breach_count,
    sla_breaches,
    team_load,
)
from routing.models import SalesRep
from routing.services import ReassignmentError
from routing.services import assignment_reassign as reassign_service

TEMPLATE = "dashboards/manager/team.html"
# HX-Target (the id of the element htmx swaps) → the fragment that renders it.
TEAM_FRAGMENTS = frozenset({"rep-load", "sla-breaches", "by-rule"})
# An htmx request for anything else on the page gets every panel.
TEAM_BODY = "team-body"


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


def can_view_team(user: User) -> bool:
    return has_permission(user, "routing.view_salesrep")


def can_reassign(user: User) -> bool:
    return has_permission(user, "routing.change_assignment")


class TeamPeriodForm(forms.Form):
    days = forms.TypedChoiceField(
        label="Period",
        coerce=int,
        choices=[(d, "Today" if d == 1 else f"Last {d} days") for d in PERIOD_DAYS],
        required=False,
        empty_value=None,
    )


class ReassignForm(forms.Form):
    to_rep = forms.ModelChoiceField(
        label="Move to",
        queryset=SalesRep.objects.filter(is_active=True).select_related("user"),
        required=False,
        empty_label="Let routing choose",
        error_messages={"invalid_choice": "Pick an active rep from the list."},
    )
    reason = forms.CharField(
        label="Why",
        max_length=500,
        error_messages={"required": "Say why the lead is reassigned."},
    )


def _vary(response: HttpResponse) -> HttpResponse:
    # The same URL answers with a page or a fragment; caches must keep them apart.
    patch_vary_headers(response, ("HX-Request", "HX-Target"))
    return response


@require_GET
def team(request: HtmxHttpRequest) -> HttpResponse:
    if not can_view_team(request.user):
        raise PermissionDenied("The team page is for sales managers.")
    period = TeamPeriodForm(request.GET)
    days = (period.cleaned_data["days"] if period.is_valid() else None) or DEFAULT_PERIOD_DAYS
    fragment: str | None = None
    if request.htmx:
        target = request.htmx.target or ""
        fragment = target if target in TEAM_FRAGMENTS else TEAM_BODY
    now = timezone.now()
    context: dict[str, Any] = {
        "period": period,
        "days": days,
        "can_reassign": can_reassign(request.user),
        "now": now,
    }
    # A fragment computes only what it shows.
    if fragment in (None, TEAM_BODY, "rep-load", "sla-breaches"):
        context["load"] = team_load(now=now)
    if fragment in (None, TEAM_BODY, "sla-breaches"):
        context["breaches"] = sla_breaches(now=now)
    if fragment in (None, TEAM_BODY, "by-rule"):
        context["by_rule"] = assignments_by_rule(days=days, now=now)
    template = f"{TEMPLATE}#{fragment}" if fragment else TEMPLATE
    return _vary(render(request, template, context))


@require_http_methods(["GET", "POST"])
def assignment_reassign(request: HtmxHttpRequest, assignment_id: int) -> HttpResponse:
    if not can_reassign(request.user):
        raise PermissionDenied("Only sales managers reassign leads.")
    assignment = assignment_get_for_reassign(assignment_id=assignment_id)
    if assignment is None:
        raise Http404("No such assignment.")
    now = timezone.now()
    form = ReassignForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            moved = reassign_service(
                assignment=assignment,
                reason=form.cleaned_data["reason"],
                to_rep=form.cleaned_data["to_rep"],
                by_user=request.user if isinstance(request.user, AbstractUser) else None,
                now=now,
            )
        except ReassignmentError as error:
            form.add_error(None, str(error))
        else:
            to = str(moved.rep) if moved.rep_id else moved.get_queue_display()
            lead = assignment.lead.name or assignment.lead.email
            if request.htmx:
                return _vary(
                    render(
                        request,
                        f"{TEMPLATE}#reassigned",
                        {
                            "old": assignment,
                            "moved": moved,
                            "to": to,
                            "lead_name": lead,
                            # Out of band: the loads and the breach count change with the move.
                            "load": team_load(now=now),
                            "breaches_total": sla_breach_count(now=now),
                            "can_reassign": True,
                        },
                    )
                )
            messages.success(request, f"{lead} moved to {to}.")
            return HttpResponseRedirect(reverse("dashboards:team") + "#sla-breaches")

    context: dict[str, Any] = {
        "assignment": assignment,
        # What the form fragment is drawn from, on the team page and here alike.
        "assignment_id": assignment.pk,
        "current_rep_id": assignment.rep_id,
        "form": form,
        "targets": team_load(now=now).targets,
        "now": now,
    }
    if request.htmx:
        response = render(request, f"{TEMPLATE}#reassign-form", context)
        if request.method == "POST":
            # The form again with its errors, in place of the one that was sent; the row stays.
            reswap(response, "outerHTML")
            retarget(response, f"#reassign-form-{assignment.pk}")
        return _vary(response)
    return _vary(render(request, "dashboards/manager/reassign.html", context))


urlpatterns: list[URLPattern] = [
    path("team/", team, name="team"),
    path(
        "assignments/<int:assignment_id>/reassign/",
        assignment_reassign,
        name="assignment_reassign",
    ),
]
