"""The SDR pages: my queue, the lead brief (with accept / reject) and the account view.

One template per page; an HTMX request gets one of the page's `{% partialdef %}` fragments
(the queue's results, a chart panel, the feedback panel), so every response varies on
HX-Request and HX-Target.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_POST
from django_htmx.middleware import HtmxDetails

from accounts.models import Account, Lead
from dashboards.charts import render as render_chart
from dashboards.charts.lead import account_engagement, behaviour_timeline
from dashboards.forms import FeedbackForm, QueueFilterForm, RepParamForm, WeeksForm
from dashboards.selectors import account as account_selectors
from dashboards.selectors import sdr as selectors
from dashboards.selectors.account import Engagement
from dashboards.selectors.paths import lead_path
from dashboards.selectors.sdr import LeadBrief, QueueFilters, Timeline
from routing.models import SalesRep
from scoring.services import feedback_create

QUEUE_TEMPLATE = "dashboards/sdr/queue.html"
BRIEF_TEMPLATE = "dashboards/sdr/lead_brief.html"
ACCOUNT_TEMPLATE = "dashboards/sdr/account.html"


class HtmxHttpRequest(HttpRequest):
    # Set by django_htmx's middleware (django-htmx's documented typing pattern).
    htmx: HtmxDetails


def _vary(response: HttpResponse) -> HttpResponse:
    # The same URL answers with a whole page or a fragment: caches must key on both headers.
    patch_vary_headers(response, ("HX-Request", "HX-Target"))
    return response


@require_GET
def queue(request: HtmxHttpRequest) -> HttpResponse:
    # First the rep (the choices of the account filter depend on it), then the whole form.
    try:
        scope = selectors.queue_scope(user=request.user, rep_id=RepParamForm(request.GET).rep_id())
    except SalesRep.DoesNotExist as exc:
        raise Http404("No such rep.") from exc
    form = QueueFilterForm(
        request.GET,
        accounts=selectors.queue_account_choices(scope=scope) if scope.has_queue else [],
        reps=selectors.queue_rep_choices() if scope.can_choose_rep else None,
    )
    filters = QueueFilters(
        q=form.value("q", ""),
        sla=form.value("sla", ""),
        account_id=form.value("account"),
        sort=form.value("sort", ""),
        rep_id=form.value("rep") if scope.can_choose_rep else None,
        page=form.value("page", 1),
    )
    page = selectors.queue_page(scope=scope, filters=filters) if scope.has_queue else None
    context = {"form": form, "scope": scope, "page": page, "filters": filters}
    template = f"{QUEUE_TEMPLATE}#queue-results" if request.htmx else QUEUE_TEMPLATE
    return _vary(render(request, template, context))


def _brief_context(
    brief: LeadBrief, *, weeks_form: WeeksForm, form: FeedbackForm | None
) -> dict[str, Any]:
    weeks = weeks_form.weeks_or_default()
    timeline = selectors.lead_timeline(lead_id=brief.lead.pk, weeks=weeks, now=brief.generated_at)
    qualification_id = brief.qualification.pk if brief.qualification else None
    held = brief.handoff.assignment
    return {
        # Which alternative path the lead is on, and who holds it (None in sales or review).
        "path": lead_path(
            assignment_id=held.assignment_id if held else None, queue=held.queue if held else ""
        ),
        "b": brief,
        "lead": brief.lead,
        "timeline": timeline,
        "timeline_chart": _timeline_chart(timeline),
        "weeks_form": weeks_form,
        "feedback_form": form or FeedbackForm(initial={"qualification_id": qualification_id}),
        "feedback": brief.feedback,
    }


def _timeline_chart(timeline: Timeline) -> str:
    if not timeline.total:
        return ""
    return render_chart(
        behaviour_timeline(weeks=timeline.weeks, series=timeline.series, labels=timeline.labels),
        element_id="behaviour-timeline-chart",
    )


def _get_lead_brief(request: HtmxHttpRequest, lead_id: int) -> LeadBrief:
    try:
        return selectors.lead_brief(user=request.user, lead_id=lead_id)
    except Lead.DoesNotExist as exc:
        # Missing and not yours look the same: ids of colleagues' leads are not disclosed.
        raise Http404("No such lead.") from exc


@require_GET
def lead_brief(request: HtmxHttpRequest, lead_id: int) -> HttpResponse:
    weeks_form = WeeksForm(request.GET)
    htmx = request.htmx
    if htmx and htmx.target == "behaviour-timeline":
        # The chart panel alone (its range changed): no need to build the whole brief.
        try:
            lead = selectors.lead_for_user(user=request.user, lead_id=lead_id)
        except Lead.DoesNotExist as exc:
            raise Http404("No such lead.") from exc
        timeline = selectors.lead_timeline(
            lead_id=lead.pk, weeks=weeks_form.weeks_or_default(), now=timezone.now()
        )
        context = {"lead": lead, "timeline": timeline, "timeline_chart": _timeline_chart(timeline),
                   "weeks_form": weeks_form}  # fmt: skip
        return _vary(render(request, f"{BRIEF_TEMPLATE}#behaviour-timeline", context))
    brief = _get_lead_brief(request, lead_id)
    context = _brief_context(brief, weeks_form=weeks_form, form=None)
    template = f"{BRIEF_TEMPLATE}#brief-content" if htmx else BRIEF_TEMPLATE
    return _vary(render(request, template, context))


@require_POST
def lead_feedback(request: HtmxHttpRequest, lead_id: int) -> HttpResponse:
    try:
        lead = selectors.lead_for_user(user=request.user, lead_id=lead_id)
    except Lead.DoesNotExist as exc:
        raise Http404("No such lead.") from exc
    form = FeedbackForm(request.POST)
    saved = None
    if form.is_valid():
        try:
            saved = feedback_create(
                lead=lead,
                user=request.user,  # type: ignore[arg-type]
                verdict=form.cleaned_data["verdict"],
                reason=form.cleaned_data["reason"],
                comment=form.cleaned_data["comment"],
                qualification_id=form.cleaned_data.get("qualification_id"),
                revisit_on=form.cleaned_data.get("revisit_on"),
            )
        except ValidationError as exc:
            for name, errors in exc.message_dict.items():
                form.add_error(name if name in form.fields else None, errors)
    htmx = request.htmx
    if saved is not None and not htmx:
        messages.success(
            request, f"Recorded: {saved.get_verdict_display()} ({saved.get_reason_display()})."
        )
        return HttpResponseRedirect(reverse("dashboards:lead_brief", args=[lead.pk]))
    if htmx:
        qualification_id = form.data.get("qualification_id") or None
        context = {
            "lead": lead,
            "feedback_form": FeedbackForm(initial={"qualification_id": qualification_id})
            if saved is not None
            else form,
            "feedback": selectors.lead_feedback_recent(lead_id=lead.pk),
            "just_saved": saved,
        }
        return _vary(render(request, f"{BRIEF_TEMPLATE}#feedback-panel", context))
    # Without JavaScript a bad form comes back on the whole page, with its errors.
    brief = _get_lead_brief(request, lead_id)
    context = _brief_context(brief, weeks_form=WeeksForm({}), form=form)
    return _vary(render(request, BRIEF_TEMPLATE, context, status=400))


@require_GET
def account_detail(request: HtmxHttpRequest, account_id: int) -> HttpResponse:
    weeks_form = WeeksForm(request.GET)
    htmx = request.htmx
    if htmx and htmx.target == "account-engagement":
        # The chart panel alone (its range changed).
        try:
            account = selectors.account_for_user(user=request.user, account_id=account_id)
        except Account.DoesNotExist as exc:
            raise Http404("No such account.") from exc
        engagement = account_selectors.account_engagement(
            account_id=account.pk, weeks=weeks_form.weeks_or_default(), now=timezone.now()
        )
        context = {
            "account": account,
            "engagement": engagement,
            "engagement_chart": _engagement_chart(engagement),
            "weeks_form": weeks_form,
        }
        return _vary(render(request, f"{ACCOUNT_TEMPLATE}#account-engagement", context))
    try:
        detail = account_selectors.account_detail(
            user=request.user, account_id=account_id, weeks=weeks_form.weeks_or_default()
        )
    except Account.DoesNotExist as exc:
        raise Http404("No such account.") from exc
    context = {"d": detail, "q": detail.qualification, "account": detail.account,
               "engagement": detail.engagement,
               "engagement_chart": _engagement_chart(detail.engagement),
               "weeks_form": weeks_form}  # fmt: skip
    template = f"{ACCOUNT_TEMPLATE}#account-content" if htmx else ACCOUNT_TEMPLATE
    return _vary(render(request, template, context))


def _engagement_chart(engagement: Engagement) -> str:
    if not engagement.total:
        return ""
    return render_chart(
        account_engagement(
            weeks=engagement.weeks,
            known=engagement.known,
            anonymous=engagement.anonymous,
            people=engagement.people,
        ),
        element_id="account-engagement-chart",
    )


urlpatterns: list[URLPattern] = [
    path("queue/", queue, name="queue"),
    path("leads/<int:lead_id>/", lead_brief, name="lead_brief"),
    path("leads/<int:lead_id>/feedback/", lead_feedback, name="lead_feedback"),
    path("accounts/<int:account_id>/", account_detail, name="account_detail"),
]
