"""The three roles as Django groups, and the permissions each one's work needs.

The mapping is data so that a reviewer can read who may do what in one place; `roles_ensure`
makes the database match it and runs after every `migrate` (see `DashboardsConfig.ready`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from django.contrib.auth.models import Group, Permission
from django.db import DEFAULT_DB_ALIAS, transaction

SDR = "SDR"
SALES_MANAGER = "Sales manager"
REVOPS = "RevOps"

ROLE_NAMES: tuple[str, ...] = (SDR, SALES_MANAGER, REVOPS)

# Roles that work in the Django admin: their users need is_staff.
STAFF_ROLES: frozenset[str] = frozenset({SALES_MANAGER, REVOPS})

Grants = Mapping[str, tuple[str, ...]]

# "app_label.model" -> actions. An SDR reads everything about the leads they work and records
# a verdict on each; nothing else.
_SDR: Grants = {
    "accounts.account": ("view",),
    "accounts.lead": ("view",),
    "accounts.stakeholder": ("view",),
    "accounts.touchpoint": ("view",),
    "accounts.intentsignal": ("view",),
    "accounts.accountevent": ("view",),
    "accounts.opportunity": ("view",),
    "scoring.qualification": ("view",),
    "scoring.feedback": ("view", "add"),
    "routing.assignment": ("view",),
}

# A sales manager runs the team: reps, territories, pools, rules and (re)assignment; sets lead
# and account owners; tunes disqualifiers and the ICP; sees which model is live.
_SALES_MANAGER: Grants = {
    **_SDR,
    # Picking the user behind a new rep, or a lead's owner, needs to see users.
    "auth.user": ("view",),
    "accounts.account": ("view", "change"),
    "accounts.lead": ("view", "change"),
    "routing.salesrep": ("view", "add", "change", "delete"),
    "routing.territory": ("view", "add", "change", "delete"),
    "routing.routingpool": ("view", "add", "change", "delete"),
    "routing.routingrule": ("view", "add", "change", "delete"),
    "routing.assignment": ("view", "add", "change", "delete"),
    # Where each alternative path's leads go, and the webhook log ("deliver again" changes it).
    "routing.pathdestination": ("view", "add", "change", "delete"),
    "routing.webhookdelivery": ("view", "change"),
    "scoring.disqualificationrule": ("view", "change"),
    "scoring.idealcustomerprofile": ("view", "change"),
    "scoring.pointrule": ("view", "change"),
    "scoring.modelversion": ("view",),
    "scoring.scoringsettings": ("view",),
    # Overrides (docs/overrides.md): positive rules and per-lead overrides are the managers'
    # call; an override is revoked (a change), never deleted, and the audit trail is read-only.
    "scoring.positiverule": ("view", "add", "change", "delete"),
    "scoring.leadoverride": ("view", "add", "change"),
    "scoring.auditevent": ("view",),
}

_PROJECT_MODELS: tuple[str, ...] = (
    "accounts.account",
    "accounts.lead",
    "accounts.stakeholder",
    "accounts.touchpoint",
    "accounts.intentsignal",
    "accounts.accountevent",
    "accounts.opportunity",
    "scoring.idealcustomerprofile",
    "scoring.disqualificationrule",
    "scoring.pointrule",
    "scoring.modelversion",
    "scoring.qualification",
    "scoring.feedback",
    "scoring.scoringsettings",
    "routing.territory",
    "routing.salesrep",
    "routing.routingpool",
    "routing.routingrule",
    "routing.assignment",
    "routing.pathdestination",
    "routing.webhookdelivery",
    "scoring.positiverule",
    "scoring.leadoverride",
    "scoring.auditevent",
)

# RevOps watches everything, owns the scoring configuration and the model registry, and
# pauses or retimes the scheduled jobs (retiming may need a new interval or crontab).
_REVOPS: Grants = {
    **dict.fromkeys(_PROJECT_MODELS, ("view",)),
    "auth.user": ("view",),
    "scoring.idealcustomerprofile": ("view", "add", "change", "delete"),
    "scoring.disqualificationrule": ("view", "add", "change", "delete"),
    "scoring.pointrule": ("view", "add", "change", "delete"),
    "scoring.modelversion": ("view", "add", "change"),
    "scoring.scoringsettings": ("view", "add", "change"),
    # The Salesforce sync status page, and its "sync now" button.
    "accounts.salesforcesyncrun": ("view", "run"),
    "accounts.salesforcesyncstate": ("view",),
    "routing.salesforcepushstate": ("view",),
    "django_celery_beat.periodictask": ("view", "change"),
    "django_celery_beat.intervalschedule": ("view", "add"),
    "django_celery_beat.crontabschedule": ("view", "add"),
    "django_celery_beat.solarschedule": ("view",),
    "django_celery_beat.clockedschedule": ("view",),
    # The RevOps pages open to whoever may read the snapshots (and superusers).
    "dashboards.metricssnapshot": ("view",),
    "dashboards.trainingrun": ("view",),
}

ROLE_PERMISSIONS: Mapping[str, Grants] = {
    SDR: _SDR,
    SALES_MANAGER: _SALES_MANAGER,
    REVOPS: _REVOPS,
}


def role_permission_names(*, role: str) -> frozenset[str]:
    """The role's permissions as "app_label.codename", the form `user.has_perm` takes."""
    return frozenset(
        f"{model.split('.', 1)[0]}.{action}_{model.split('.', 1)[1]}"
        for model, actions in ROLE_PERMISSIONS[role].items()
        for action in actions
    )


def _permissions(*, names: Iterable[str], using: str) -> list[Permission]:
    wanted = {tuple(name.split(".", 1)) for name in names}
    found = {
        (p.content_type.app_label, p.codename): p
        for p in Permission.objects.using(using)
        .select_related("content_type")
        .filter(
            content_type__app_label__in={app for app, _ in wanted},
            codename__in={codename for _, codename in wanted},
        )
    }
    missing = sorted(f"{app}.{codename}" for app, codename in wanted - found.keys())
    if missing:
        # A renamed model or an app left out of INSTALLED_APPS: fail loudly rather than hand
        # out a role that silently lacks part of its work.
        raise LookupError(f"Permissions not found: {', '.join(missing)}")
    return list(found.values())


def roles_ensure(*, using: str = DEFAULT_DB_ALIAS) -> None:
    """Create the role groups, and set each one's permissions to exactly the mapping's."""
    with transaction.atomic(using=using):
        for role in ROLE_NAMES:
            group, _ = Group.objects.using(using).get_or_create(name=role)
            group.permissions.set(_permissions(names=role_permission_names(role=role), using=using))
