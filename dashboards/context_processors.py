from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group
from django.db.models import CharField, Value
from django.http import HttpRequest

from dashboards.selectors.paths import nav_paths
from routing.models import PathDestination, PathDestinationKind

_ROLE = "role"
_PATH = "path"


def navigation(request: HttpRequest) -> dict[str, Any]:
    """The role names the base template uses to show only the links a user may follow, and the
    team paths (success, community...) whose page the user works, for a link to each."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"user_roles": frozenset(), "user_paths": []}
    # One query on every page: the role groups and the team paths together.
    rows = (
        Group.objects.filter(user=user.pk)
        .order_by()
        .annotate(entry=Value(_ROLE, output_field=CharField()))
        .values_list("entry", "name")
        .union(
            PathDestination.objects.filter(kind=PathDestinationKind.TEAM, members=user.pk)
            .order_by()
            .annotate(entry=Value(_PATH, output_field=CharField()))
            .values_list("entry", "path"),
            all=True,
        )
    )
    roles: set[str] = set()
    paths: set[str] = set()
    for entry, name in rows:
        (roles if entry == _ROLE else paths).add(name)
    return {"user_roles": frozenset(roles), "user_paths": nav_paths(member_of=paths)}
