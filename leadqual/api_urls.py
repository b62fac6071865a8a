"""Everything under /api/v1/: the OpenAPI schema, its docs page, and each app's endpoints.

Each app keeps its endpoints in its own `api_urls.py`, included here with one line.
"""

from __future__ import annotations

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # Swagger UI from drf-spectacular-sidecar's static files: no CDN.
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("", include("accounts.api_urls")),
    path("", include("scoring.api_urls")),
]
