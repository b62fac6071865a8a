from __future__ import annotations

from typing import Any

from django.apps import AppConfig, apps
from django.db.models.signals import post_migrate


def _roles_ensure_after_migrate(sender: AppConfig, using: str, **kwargs: Any) -> None:
    # post_migrate is sent once per app that has models (so never for this one), in
    # INSTALLED_APPS order, and auth creates each app's permissions as that app's signal goes
    # out. Only after the last one do all the permissions the roles name exist.
    with_models = [config for config in apps.get_app_configs() if config.models_module]
    if not with_models or sender.label != with_models[-1].label:
        return
    from dashboards.roles import roles_ensure

    roles_ensure(using=using)


class DashboardsConfig(AppConfig):
    name = "dashboards"
    verbose_name = "Dashboards"

    def ready(self) -> None:
        from django.contrib import admin

        admin.site.site_header = "leadqual administration"
        admin.site.site_title = "leadqual admin"
        admin.site.index_title = "Records and configuration"
        # Every migrate, and the test database's creation and flushes, leave the role groups
        # in place.
        post_migrate.connect(_roles_ensure_after_migrate, dispatch_uid="dashboards.roles_ensure")
