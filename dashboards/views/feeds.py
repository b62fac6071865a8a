"""The RevOps data page: each account feed with its freshness, volume and sources.

Open to whoever sees the RevOps pages (dashboards.views.revops.can_view). The table refreshes
itself every minute as an HTMX fragment of the same page.
"""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render
from django.urls import URLPattern, path
from django.views.decorators.http import require_GET

from dashboards.selectors.feeds import STALE_AFTER, feed_freshness
from dashboards.views.revops import HtmxHttpRequest, _forbidden, _vary, can_view

TEMPLATE = "dashboards/revops/data.html"


@require_GET
def revops_data(request: HtmxHttpRequest) -> HttpResponse:
    if not can_view(request.user):
        return _forbidden(request)
    context = {"feeds": feed_freshness(), "stale_days": STALE_AFTER.days}
    if request.htmx:
        return _vary(render(request, f"{TEMPLATE}#feeds", context))
    return _vary(render(request, TEMPLATE, context))


urlpatterns: list[URLPattern] = [
    path("revops/data/", revops_data, name="revops-data"),
]
