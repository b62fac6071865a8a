"""The Salesforce sync status page for RevOps: last runs, counts, errors and API usage, and a
"sync now" button.

Viewing needs `accounts.view_salesforcesyncrun` and starting a sync
`accounts.run_salesforcesyncrun`, as `dashboards.roles` grants them to RevOps.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import URLPattern, path, reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_POST

from dashboards.access import has_permission
from dashboards.selectors.sync import sync_status

TEMPLATE = "dashboards/sync/status.html"


@require_GET
def salesforce_status(request: HttpRequest) -> HttpResponse:
    if not has_permission(request.user, "accounts.view_salesforcesyncrun"):
        raise PermissionDenied("The Salesforce sync status is for RevOps.")
    context = {
        "status": sync_status(),
        "can_run": has_permission(request.user, "accounts.run_salesforcesyncrun"),
    }
    template = f"{TEMPLATE}#sync-body" if getattr(request, "htmx", False) else TEMPLATE
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


@require_POST
def salesforce_sync_now(request: HttpRequest) -> HttpResponse:
    if not has_permission(request.user, "accounts.run_salesforcesyncrun"):
        raise PermissionDenied("Only RevOps starts a Salesforce sync.")
    if not settings.SALESFORCE_ENABLED:
        messages.error(request, "The Salesforce integration is off (SALESFORCE_ENABLED).")
    else:
        # Imported here: routing.tasks loads nothing heavy, but the view module stays light.
        from routing.tasks import salesforce_sync_task

        transaction.on_commit(salesforce_sync_task.delay)
        messages.success(
            request,
            "Sync started: a pull, then a push. This page refreshes as the runs finish.",
        )
    return HttpResponseRedirect(reverse("dashboards:salesforce_status"))


urlpatterns: list[URLPattern] = [
    path("revops/salesforce/", salesforce_status, name="salesforce_status"),
    path("revops/salesforce/sync/", salesforce_sync_now, name="salesforce_sync_now"),
]
