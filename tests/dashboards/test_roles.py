from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.core.management import call_command

from dashboards.roles import (
    REVOPS,
    ROLE_NAMES,
    SALES_MANAGER,
    SDR,
    role_permission_names,
    roles_ensure,
)
from dashboards.services import DEMO_PASSWORD, demo_users_ensure
from routing.models import SalesRep


def _group_permission_names(group: Group) -> set[str]:
    return {
        f"{app}.{codename}"
        for app, codename in group.permissions.values_list("content_type__app_label", "codename")
    }


def _user_in(role: str, username: str) -> User:
    user = User.objects.create_user(username=username)
    user.groups.add(Group.objects.get(name=role))
    # A fresh instance: has_perm caches permissions on the object it first asks.
    return User.objects.get(pk=user.pk)


@pytest.mark.django_db
def test_migrate_leaves_the_three_role_groups_with_exactly_their_permissions() -> None:
    # No setup: the test database was built by migrate, whose post_migrate hook made them.
    for role in ROLE_NAMES:
        group = Group.objects.get(name=role)
        assert _group_permission_names(group) == role_permission_names(role=role), role


@pytest.mark.django_db
def test_an_sdr_reads_leads_and_records_feedback_but_cannot_change_routing() -> None:
    sdr = _user_in(SDR, "sam")

    assert sdr.has_perm("accounts.view_lead")
    assert sdr.has_perm("scoring.view_qualification")
    assert sdr.has_perm("scoring.add_feedback")
    assert not sdr.has_perm("accounts.change_lead")
    assert not sdr.has_perm("routing.change_routingrule")
    assert not sdr.has_perm("routing.change_assignment")
    assert not sdr.has_perm("scoring.change_modelversion")


@pytest.mark.django_db
def test_a_sales_manager_runs_routing_but_does_not_touch_models() -> None:
    manager = _user_in(SALES_MANAGER, "morgan")

    for perm in (
        "routing.change_routingrule",
        "routing.add_salesrep",
        "routing.change_territory",
        "routing.change_routingpool",
        "routing.change_assignment",
        "accounts.change_lead",
        "scoring.change_disqualificationrule",
        "scoring.change_idealcustomerprofile",
        "scoring.view_modelversion",
        "accounts.view_touchpoint",
    ):
        assert manager.has_perm(perm), perm
    assert not manager.has_perm("scoring.change_modelversion")
    assert not manager.has_perm("django_celery_beat.change_periodictask")
    assert not manager.has_perm("accounts.delete_lead")


@pytest.mark.django_db
def test_revops_owns_models_configuration_and_schedules_but_not_routing() -> None:
    revops = _user_in(REVOPS, "riley")

    for perm in (
        "scoring.change_modelversion",
        "scoring.add_idealcustomerprofile",
        "scoring.change_disqualificationrule",
        "scoring.change_pointrule",
        "django_celery_beat.change_periodictask",
        "accounts.view_touchpoint",
        "routing.view_routingrule",
        "scoring.view_feedback",
    ):
        assert revops.has_perm(perm), perm
    assert not revops.has_perm("routing.change_routingrule")
    assert not revops.has_perm("accounts.change_lead")
    assert not revops.has_perm("django_celery_beat.delete_periodictask")


@pytest.mark.django_db
def test_roles_ensure_is_idempotent_and_undoes_drift() -> None:
    sdr = Group.objects.get(name=SDR)
    sdr.permissions.remove(Permission.objects.get(codename="view_lead"))
    sdr.permissions.add(Permission.objects.get(codename="delete_account"))
    groups_before = Group.objects.count()

    roles_ensure()
    roles_ensure()

    assert Group.objects.count() == groups_before
    assert _group_permission_names(sdr) == role_permission_names(role=SDR)


@pytest.mark.django_db
def test_roles_ensure_recreates_a_deleted_group() -> None:
    Group.objects.filter(name=REVOPS).delete()

    roles_ensure()

    assert _group_permission_names(Group.objects.get(name=REVOPS)) == role_permission_names(
        role=REVOPS
    )


# --- demo users ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_demo_users_have_their_role_staff_flag_and_sdr_rep_profile() -> None:
    logins = demo_users_ensure()

    assert [(login.username, login.role) for login in logins] == [
        ("sdr", SDR),
        ("manager", SALES_MANAGER),
        ("revops", REVOPS),
        ("admin", "Superuser"),
    ]
    users = {u.username: u for u in User.objects.prefetch_related("groups")}
    assert [g.name for g in users["sdr"].groups.all()] == [SDR]
    assert [g.name for g in users["manager"].groups.all()] == [SALES_MANAGER]
    assert [g.name for g in users["revops"].groups.all()] == [REVOPS]
    assert not users["sdr"].is_staff
    assert users["manager"].is_staff and users["revops"].is_staff
    assert users["admin"].is_superuser and users["admin"].is_staff
    assert not users["manager"].is_superuser
    assert SalesRep.objects.filter(user=users["sdr"]).exists()
    assert all(users[name].check_password(DEMO_PASSWORD) for name in users)


@pytest.mark.django_db
def test_create_demo_users_twice_changes_nothing_the_second_time() -> None:
    first = StringIO()
    call_command("create_demo_users", stdout=first)
    hashes = dict(User.objects.values_list("username", "password"))
    second = StringIO()

    call_command("create_demo_users", stdout=second)

    assert User.objects.count() == 4
    assert SalesRep.objects.count() == 1
    # Unchanged hashes: sessions opened before the re-run stay valid.
    assert dict(User.objects.values_list("username", "password")) == hashes
    assert first.getvalue() == second.getvalue()
    output = second.getvalue()
    for expected in ("username", "sdr", "manager", "revops", "admin", DEMO_PASSWORD, "Sam Rivera"):
        assert expected in output


@pytest.mark.django_db
def test_create_demo_users_repairs_a_changed_password_and_role() -> None:
    demo_users_ensure()
    manager = User.objects.get(username="manager")
    manager.set_password("something-else")
    manager.is_staff = False
    manager.save()
    manager.groups.set([Group.objects.get(name=SDR)])

    call_command("create_demo_users", stdout=StringIO())

    manager.refresh_from_db()
    assert manager.check_password(DEMO_PASSWORD)
    assert manager.is_staff
    assert [g.name for g in manager.groups.all()] == [SALES_MANAGER]


@pytest.mark.django_db
def test_demo_users_keep_an_existing_rep_profile() -> None:
    user = User.objects.create_user(username="sdr")
    SalesRep.objects.create(user=user, team="EMEA", max_open_leads=12)

    demo_users_ensure()

    rep = SalesRep.objects.get(user=user)
    assert (rep.team, rep.max_open_leads) == ("EMEA", 12)
