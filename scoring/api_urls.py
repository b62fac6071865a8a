"""Qualification's REST endpoints, mounted under /api/v1/ by leadqual/api_urls.py."""

from __future__ import annotations

from django.urls import path

from scoring import account_apis, apis

urlpatterns = [
    path("leads", apis.LeadListApi.as_view(), name="lead-list"),
    path("leads/<int:lead_id>", apis.LeadDetailApi.as_view(), name="lead-detail"),
    path(
        "leads/<int:lead_id>/qualifications",
        apis.LeadQualificationListApi.as_view(),
        name="lead-qualification-list",
    ),
    path(
        "leads/<int:lead_id>/feedback",
        apis.LeadFeedbackCreateApi.as_view(),
        name="lead-feedback-create",
    ),
    path("accounts", account_apis.AccountListApi.as_view(), name="account-list"),
    path(
        "accounts/<int:account_id>", account_apis.AccountDetailApi.as_view(), name="account-detail"
    ),
    path("models", apis.ModelListApi.as_view(), name="model-list"),
    path("models/<int:model_id>", apis.ModelDetailApi.as_view(), name="model-detail"),
    path("models/<int:model_id>/activate", apis.ModelActivateApi.as_view(), name="model-activate"),
]
