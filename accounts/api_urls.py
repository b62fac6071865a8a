"""accounts' endpoints under /api/v1/."""

from __future__ import annotations

from django.urls import path

from accounts import apis, feed_apis

urlpatterns = [
    path("events", apis.EventCreateApi.as_view(), name="api-events-create"),
    path("events/batch", apis.EventBatchCreateApi.as_view(), name="api-events-batch"),
    # The account feeds (accounts.feed_apis, docs/feeds.md).
    path("account-events", feed_apis.AccountEventCreateApi.as_view(), name="api-account-events"),
    path(
        "account-events/batch",
        feed_apis.AccountEventBatchCreateApi.as_view(),
        name="api-account-events-batch",
    ),
    path("intent-signals", feed_apis.IntentSignalCreateApi.as_view(), name="api-intent-signals"),
    path(
        "intent-signals/batch",
        feed_apis.IntentSignalBatchCreateApi.as_view(),
        name="api-intent-signals-batch",
    ),
    path("technologies", feed_apis.TechnologyCreateApi.as_view(), name="api-technologies"),
    path(
        "technologies/batch",
        feed_apis.TechnologyBatchCreateApi.as_view(),
        name="api-technologies-batch",
    ),
]
