"""Shared fixtures: people in each role, an account and a lead, Celery in eager or real mode.

Role groups ("SDR", "Sales manager", "RevOps") are normally created with their permissions by a
post_migrate hook; the fixtures use get_or_create so they work whether or not it has run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.db import connection
from django.test import Client, override_settings

from accounts.models import Account, Lead
from leadqual.celery import app as celery_app
from routing.models import RepRole
from tests.celery_worker import RunningWorker, celery_worker_running, database_url_for
from tests.factories import AccountFactory, LeadFactory, SalesRepFactory, UserFactory

ROLE_SDR = "SDR"
ROLE_MANAGER = "Sales manager"
ROLE_REVOPS = "RevOps"


@pytest.fixture(scope="session", autouse=True)
def _fast_password_hashing() -> Iterator[None]:
    # The real hasher is slow on purpose (a fraction of a second per hash); every UserFactory
    # user hashes a password, and tests log in a lot.
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


def _database_is_postgres() -> bool:
    from django.conf import settings

    return bool(settings.DATABASES["default"]["ENGINE"].endswith("postgresql"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip, with the reason, what this run's database or broker cannot serve."""
    on_postgres = _database_is_postgres()
    has_broker = bool(os.environ.get("CELERY_BROKER_URL"))
    no_postgres = pytest.mark.skip(
        reason="needs PostgreSQL: set DATABASE_URL=postgres://... (this run is on SQLite)"
    )
    no_worker = pytest.mark.skip(
        reason=(
            "needs a real Celery worker: set CELERY_BROKER_URL and a PostgreSQL DATABASE_URL"
            f" (broker set: {has_broker}; PostgreSQL: {on_postgres})"
        )
    )
    for item in items:
        if not on_postgres and item.get_closest_marker("postgres") is not None:
            item.add_marker(no_postgres)
        if not (on_postgres and has_broker) and item.get_closest_marker("celery_worker"):
            item.add_marker(no_worker)


def user_in_role(role: str, **fields: Any) -> User:
    """A new user who belongs to the named role group."""
    user: User = UserFactory(**fields)
    group, _ = Group.objects.get_or_create(name=role)
    user.groups.add(group)
    return user


@pytest.fixture
def sdr_user(db: None) -> User:
    """An SDR with a rep profile, as in the demo: only users with one can receive leads."""
    user = user_in_role(ROLE_SDR, username="sdr-test", first_name="Sam", last_name="Rivera")
    SalesRepFactory(user=user, role=RepRole.SDR)
    return user


@pytest.fixture
def manager_user(db: None) -> User:
    # Managers and RevOps work in the Django admin, which needs is_staff.
    return user_in_role(
        ROLE_MANAGER, username="manager-test", first_name="Morgan", last_name="Lee", is_staff=True
    )


@pytest.fixture
def revops_user(db: None) -> User:
    return user_in_role(
        ROLE_REVOPS, username="revops-test", first_name="Riley", last_name="Chen", is_staff=True
    )


def _client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def sdr_client(sdr_user: User) -> Client:
    return _client_for(sdr_user)


@pytest.fixture
def manager_client(manager_user: User) -> Client:
    return _client_for(manager_user)


@pytest.fixture
def revops_client(revops_user: User) -> Client:
    return _client_for(revops_user)


@pytest.fixture
def account(db: None) -> Account:
    return AccountFactory(name="Acme", domain="acme.com")


@pytest.fixture
def lead(account: Account) -> Lead:
    return LeadFactory(account=account, email=f"jordan.lee@{account.domain}", name="Jordan Lee")


# --- Celery ---------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _celery_eager_unless_real_worker(request: pytest.FixtureRequest) -> Iterator[None]:
    """Run tasks in-process for every test not marked celery_worker.

    CI sets CELERY_BROKER_URL so the worker tests have a broker, which turns eager mode off in
    settings; without this, any other test that enqueues a task would send it to a broker no
    worker listens on and silently skip the work.
    """
    if request.node.get_closest_marker("celery_worker") is not None:
        yield
        return
    conf = celery_app.conf
    saved = (conf.task_always_eager, conf.task_eager_propagates)
    conf.task_always_eager = True
    conf.task_eager_propagates = True
    try:
        yield
    finally:
        conf.task_always_eager, conf.task_eager_propagates = saved


@pytest.fixture
def celery_broker_url() -> str:
    """CELERY_BROKER_URL, or a skip: the real-worker tests need a broker."""
    url = os.environ.get("CELERY_BROKER_URL", "")
    if not url:
        pytest.skip("CELERY_BROKER_URL is not set: no broker for a real Celery worker")
    return url


@pytest.fixture
def live_celery_worker(
    request: pytest.FixtureRequest, celery_broker_url: str, transactional_db: None
) -> Iterator[RunningWorker]:
    """A real Celery worker subprocess on the broker, reading this test's database.

    Use with `@pytest.mark.celery_worker` and `@pytest.mark.django_db(transaction=True)`: the
    worker is another process, so it only sees committed rows. Send tasks with
    `live_celery_worker.send(task, *args)`, which routes them to this worker's own queue.
    """
    if request.node.get_closest_marker("celery_worker") is None:
        raise pytest.UsageError("live_celery_worker needs @pytest.mark.celery_worker")
    if connection.vendor != "postgresql":
        pytest.skip(
            f"the database is {connection.vendor}: a worker process cannot share pytest's test "
            "database; set DATABASE_URL to PostgreSQL"
        )
    conf = celery_app.conf
    saved = conf.task_always_eager
    conf.task_always_eager = False
    try:
        with celery_worker_running(
            broker_url=celery_broker_url,
            # Inside the test, NAME is the test database pytest-django created (test_<name>).
            database_url=database_url_for(connection.settings_dict),
        ) as worker:
            yield worker
    finally:
        conf.task_always_eager = saved
