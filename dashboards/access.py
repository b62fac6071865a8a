"""The one permission check the pages share: `request.user` may be anonymous, or a custom user
without PermissionsMixin, and `has_perm` is False for inactive users and True for active
superusers."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, PermissionsMixin

User = AbstractBaseUser | AnonymousUser


def has_permission(user: User, perm: str) -> bool:
    return isinstance(user, PermissionsMixin) and user.has_perm(perm)
