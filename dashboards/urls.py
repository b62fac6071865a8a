from __future__ import annotations

from django.urls import path

from dashboards.views import feeds, home, manager, paths, revops, sdr, sync

app_name = "dashboards"

urlpatterns = [
    path("", home.home, name="home"),
    *sdr.urlpatterns,
    *manager.urlpatterns,
    *paths.urlpatterns,
    *revops.urlpatterns,
    *sync.urlpatterns,
    *feeds.urlpatterns,
]
