"""accounts' endpoints under /api/v1/."""

from __future__ import annotations

from django.urls import path

from accounts import apis

urlpatterns = [
    path("events", apis.EventCreateApi.as_view(), name="api-events-create"),
    path("events/batch", apis.EventBatchCreateApi.as_view(), name="api-events-batch"),
]
