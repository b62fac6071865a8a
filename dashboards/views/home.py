from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from dashboards.selectors.home import home_overview


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "dashboards/home.html", {"overview": home_overview(user=request.user)})
