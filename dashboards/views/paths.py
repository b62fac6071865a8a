"""The alternative paths' pages: the paths a user may open, and one path's leads.

A path whose destination is a team has its own page: the leads waiting on it, newest first,
with why each is there (the rule and its evidence), filters like the SDR queue's, and a
"Mark handled" button that accepts the assignment for the person who pressed it. Members see
their paths; managers and RevOps see every path; anyone else gets 404. One template per page;
an HTMX request gets the results fragment, or, after "handled", the one row.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import URLPattern, path, reverse
from django.utils.cache import patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST
from django_htmx.middleware import HtmxDetails

from dashboards.path_forms import PathFilterForm
from dashboards.selectors import paths as selectors
from dashboards.selectors.paths import PathFilters, PathNotVisible, PathScope
from routing.models import Assignment
from routing.path_services import PathError, path_assignment_handle

INDEX_TEMPLATE = "dashboards/paths/index.html"
PATH_TEMPLATE = "dashboards/paths/path.html"


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


def _vary(response: HttpResponse) -> HttpResponse:
    patch_vary_headers(response, ("HX-Request", "HX-Target"))
    return response


def _scope(request: HttpRequest, path_code: str) -> PathScope:
    try:
        return selectors.path_scope(user=request.user, path=path_code)
    except PathNotVisible as exc:
        raise Http404("No such path.") from exc


@require_GET
def paths_index(request: HttpRequest) -> HttpResponse:
    summaries = selectors.paths_for_user(user=request.user)
    if not summaries:
        raise Http404("No path to show.")
    return render(request, INDEX_TEMPLATE, {"summaries": summaries})


@require_GET
def path_leads(request: HtmxHttpRequest, path_code: str) -> HttpResponse:
    scope = _scope(request, path_code)
    form = PathFilterForm(request.GET, reasons=selectors.path_reason_choices(path=scope.path))
    filters = PathFilters(
        q=form.value("q", ""),
        reason=form.value("reason", ""),
        state=form.value("state", selectors.STATE_WAITING),
        sort=form.value("sort", selectors.SORT_NEWEST),
        page=form.value("page", 1),
    )
    page = selectors.path_page(path=scope.path, filters=filters)
    context = {"scope": scope, "form": form, "filters": filters, "page": page}
    template = f"{PATH_TEMPLATE}#path-results" if request.htmx else PATH_TEMPLATE
    return _vary(render(request, template, context))


@require_POST
def path_lead_handle(request: HtmxHttpRequest, path_code: str, assignment_id: int) -> HttpResponse:
    scope = _scope(request, path_code)
    if not scope.can_handle:
        raise Http404("No such lead on this path.")
    try:
        selectors.path_assignment_for_user(scope=scope, assignment_id=assignment_id)
    except Assignment.DoesNotExist as exc:
        raise Http404("No such lead on this path.") from exc
    error = ""
    try:
        path_assignment_handle(
            assignment_id=assignment_id,
            user=request.user,  # type: ignore[arg-type]
        )
    except PathError as exc:
        error = str(exc)
    back = reverse("dashboards:path_leads", args=[scope.path])
    if request.htmx:
        row = selectors.path_row(path=scope.path, assignment_id=assignment_id)
        context = {"scope": scope, "row": row, "row_error": error}
        return _vary(render(request, f"{PATH_TEMPLATE}#path-row", context))
    if error:
        messages.error(request, error)
    else:
        messages.success(
            request, "Marked handled: the lead stays on the path, with you as its holder."
        )
    # Back where the person was (filters and page kept), if that is a page of this site.
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = back
    return HttpResponseRedirect(target)


urlpatterns: list[URLPattern] = [
    path("paths/", paths_index, name="paths"),
    path("paths/<slug:path_code>/", path_leads, name="path_leads"),
    path(
        "paths/<slug:path_code>/<int:assignment_id>/handled/",
        path_lead_handle,
        name="path_lead_handle",
    ),
]
