"""Writes owned by the web front: the demo logins and the metrics snapshots."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth.models import Group, User
from django.db import transaction
from django.db.models import Avg, Count, Q
from django.utils import timezone

from accounts.models import Lead
from dashboards.models import MetricsSnapshot
from dashboards.roles import REVOPS, SALES_MANAGER, SDR, STAFF_ROLES, roles_ensure
from routing.models import Assignment, AssignmentStatus, Queue, RepRole, SalesRep
from routing.selectors import CURRENT_STATUSES
from routing.services import assignment_reassign
from scoring.models import ModelKind, ModelStatus, ModelVersion, Qualification, Tier

DEMO_PASSWORD = "leadqual-demo"


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    role: str
    full_name: str


@dataclass(frozen=True)
class _DemoUser:
    username: str
    first_name: str
    last_name: str
    role: str  # a group name, or "" for the superuser
    is_superuser: bool = False


_DEMO_USERS: tuple[_DemoUser, ...] = (
    _DemoUser("sdr", "Sam", "Rivera", SDR),
    _DemoUser("manager", "Morgan", "Lee", SALES_MANAGER),
    _DemoUser("revops", "Riley", "Chen", REVOPS),
    _DemoUser("admin", "Alex", "Admin", "", is_superuser=True),
)


def _demo_user_ensure(*, spec: _DemoUser, groups: dict[str, Group]) -> User:
    user, created = User.objects.get_or_create(username=spec.username)
    wanted = {
        "first_name": spec.first_name,
        "last_name": spec.last_name,
        "email": f"{spec.username}@leadqual.example",
        "is_active": True,
        "is_staff": spec.is_superuser or spec.role in STAFF_ROLES,
        "is_superuser": spec.is_superuser,
    }
    changed = [field for field, value in wanted.items() if getattr(user, field) != value]
    for field in changed:
        setattr(user, field, wanted[field])
    # Re-hashing an unchanged password would end the demo users' open sessions on every
    # `make demo`, so the hash is only replaced when the password no longer matches.
    if created or not user.check_password(DEMO_PASSWORD):
        user.set_password(DEMO_PASSWORD)
        changed.append("password")
    if created:
        user.save()
    elif changed:
        user.save(update_fields=changed)
    user.groups.set([groups[spec.role]] if spec.role else [])
    return user


# Enough Sales Ready leads for the demo SDR's queue to show priorities, filters and SLAs.
DEMO_QUEUE_LEADS = 12


def _demo_queue_fill(*, rep: SalesRep) -> None:
    """Give the demo SDR login a queue to work: the login is created after the demo world was
    routed, so it would otherwise open an empty queue. It joins the pools and territories of
    the busiest demo SDR, so routing sends it new leads too, and takes over some of that rep's
    open Sales Ready leads through the reassignment service (recorded like a manager's move).
    Does nothing once the login has leads, or before there is a routed world."""
    if Assignment.objects.filter(rep=rep, status__in=CURRENT_STATUSES).exists():
        return
    busiest = (
        SalesRep.objects.exclude(pk=rep.pk)
        .filter(role=RepRole.SDR, is_active=True)
        .annotate(
            open_sales=Count(
                "assignments",
                filter=Q(
                    assignments__status=AssignmentStatus.OPEN,
                    assignments__queue=Queue.SALES,
                    assignments__tier=Tier.SALES_READY,
                ),
            )
        )
        .filter(open_sales__gt=0)
        .order_by("-open_sales", "pk")
        .first()
    )
    if busiest is None:
        return
    rep.territories.add(*busiest.territories.all())
    for pool in busiest.pools.all():
        pool.reps.add(rep)
    handover = Assignment.objects.filter(
        rep=busiest,
        status=AssignmentStatus.OPEN,
        queue=Queue.SALES,
        tier=Tier.SALES_READY,
    ).order_by("-expected_value", "pk")[:DEMO_QUEUE_LEADS]
    for assignment in handover:
        assignment_reassign(
            assignment=assignment,
            reason="Demo: handed to the sdr login so its queue has leads to work",
            to_rep=rep,
        )


def demo_users_ensure() -> list[DemoLogin]:
    """One login per role plus a superuser, all with the demo password. Safe to run again."""
    roles_ensure()
    with transaction.atomic():
        groups = {
            group.name: group
            for group in Group.objects.filter(name__in=[SDR, SALES_MANAGER, REVOPS])
        }
        logins = []
        for spec in _DEMO_USERS:
            user = _demo_user_ensure(spec=spec, groups=groups)
            if spec.role == SDR:
                # The SDR works a queue, and only users with a rep profile can receive leads.
                rep, _ = SalesRep.objects.get_or_create(user=user, defaults={"role": RepRole.SDR})
                _demo_queue_fill(rep=rep)
            logins.append(
                DemoLogin(
                    username=spec.username,
                    password=DEMO_PASSWORD,
                    role=spec.role or "Superuser",
                    full_name=user.get_full_name(),
                )
            )
    return logins


def metrics_snapshot_take(*, now: datetime | None = None) -> MetricsSnapshot:
    """Store the funnel's state as of now: a handful of aggregate queries, one row."""
    now = now or timezone.now()
    current = Qualification.objects.filter(is_current=True).aggregate(
        qualified=Count("pk"),
        sales_ready=Count("pk", filter=Q(tier=Tier.SALES_READY)),
        nurture=Count("pk", filter=Q(tier=Tier.NURTURE)),
        disqualified=Count("pk", filter=Q(tier=Tier.DISQUALIFY)),
        needs_review=Count("pk", filter=Q(needs_review=True)),
        requalified_last_hour=Count("pk", filter=Q(computed_at__gte=now - timedelta(hours=1))),
        mean_conversion_probability=Avg("conversion_probability"),
    )
    leads = Lead.objects.aggregate(
        leads=Count("pk"), leads_dirty=Count("pk", filter=Q(requalify_requested_at__isnull=False))
    )
    assignments = Assignment.objects.filter(status=AssignmentStatus.OPEN).aggregate(
        assignments_open=Count("pk"),
        assignments_overdue=Count("pk", filter=Q(first_touch_at__isnull=True, sla_due_at__lt=now)),
    )
    active = (
        ModelVersion.objects.filter(kind=ModelKind.CONVERSION, status=ModelStatus.ACTIVE)
        .values_list("pk", flat=True)
        .first()
    )
    return MetricsSnapshot.objects.create(
        taken_at=now, active_model_version_id=active, **current, **leads, **assignments
    )
