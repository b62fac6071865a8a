from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Account, Lead, Touchpoint
from dashboards.roles import SDR
from dashboards.selectors import home as selectors
from dashboards.selectors.home import home_overview, table_row_count
from routing.models import SalesRep
from tests.dashboards.conftest import client_for, leads_with_assignments

HOME = "/"


@pytest.mark.django_db
@pytest.mark.parametrize("username", ["sdr", "manager", "revops", "admin"])
def test_home_on_an_empty_database_shows_getting_started(
    demo_users: dict[str, User], username: str
) -> None:
    response = client_for(demo_users[username]).get(HOME)

    assert response.status_code == 200
    html = response.content.decode()
    assert "Getting started" in html
    assert "generate_demo_data" in html


@pytest.mark.django_db
def test_home_counts_leads_accounts_touchpoints_and_open_assignments(
    demo_users: dict[str, User],
) -> None:
    leads_with_assignments(count=6, rep=demo_users["sdr"].sales_rep)

    response = client_for(demo_users["manager"]).get(HOME)

    overview = response.context["overview"]
    assert (overview.leads, overview.accounts, overview.touchpoints.value) == (6, 1, 6)
    assert not overview.touchpoints.is_estimate
    assert overview.open_assignments == 6
    assert overview.overdue_assignments == 2  # buyers 0 and 3 are past their SLA
    by_status = {share.key: share.count for share in overview.leads_by_status}
    assert by_status["new"] == 3 and by_status["working"] == 3 and by_status["converted"] == 0
    tiers = {share.key: share for share in overview.tiers}
    assert tiers["sales_ready"].count == 6 and tiers["sales_ready"].percent == 100.0
    assert overview.unqualified_leads == 0
    html = response.content.decode()
    assert "Getting started" not in html
    assert "2 past their SLA" in html


@pytest.mark.django_db
def test_an_sdr_sees_their_own_open_leads_and_not_another_reps(
    demo_users: dict[str, User],
) -> None:
    leads_with_assignments(count=2, rep=demo_users["sdr"].sales_rep)
    other = SalesRep.objects.create(user=User.objects.create_user(username="other-rep"))
    leads_with_assignments(count=1, rep=other, start=100)

    response = client_for(demo_users["sdr"]).get(HOME)

    html = response.content.decode()
    assert "Your open leads" in html
    assert "buyer0@acme.com" in html and "buyer1@acme.com" in html
    assert "buyer100@acme.com" not in html
    assert response.context["overview"].my_open_assignments == 2


@pytest.mark.django_db
def test_an_sdr_without_a_rep_profile_is_told_how_to_get_one(db: None) -> None:
    user = User.objects.create_user(username="new-sdr")
    user.groups.add(Group.objects.get(name=SDR))

    html = client_for(user).get(HOME).content.decode()

    assert "not set up to receive leads yet" in html
    assert "Your open leads" not in html


@pytest.mark.django_db
def test_links_follow_the_role(demo_users: dict[str, User]) -> None:
    leads_with_assignments(count=1, rep=demo_users["sdr"].sales_rep)

    sdr = client_for(demo_users["sdr"]).get(HOME).content.decode()
    manager = client_for(demo_users["manager"]).get(HOME).content.decode()
    revops = client_for(demo_users["revops"]).get(HOME).content.decode()

    assert "/admin/" not in sdr
    assert "/admin/routing/routingrule/" in manager
    assert "/admin/scoring/modelversion/" not in manager
    assert "/admin/scoring/modelversion/" in revops
    assert "/admin/django_celery_beat/periodictask/" in revops
    assert "/admin/routing/routingrule/" not in revops


@pytest.mark.django_db
def test_a_user_without_a_role_is_told_to_ask_for_one(db: None) -> None:
    user = User.objects.create_user(username="nobody")

    html = client_for(user).get(HOME).content.decode()

    assert "No role yet" in html


@pytest.mark.django_db
def test_home_sets_the_csrf_header_for_htmx_once_on_body(demo_users: dict[str, User]) -> None:
    html = client_for(demo_users["sdr"]).get(HOME).content.decode()

    assert html.count("hx-headers=") == 1
    assert "<body" in html and '"X-CSRFToken": "' in html


@pytest.mark.django_db
@pytest.mark.parametrize("username", ["sdr", "manager", "revops", "admin"])
def test_home_queries_do_not_grow_with_the_data(demo_users: dict[str, User], username: str) -> None:
    client = client_for(demo_users[username])
    rep = demo_users["sdr"].sales_rep
    leads_with_assignments(count=1, rep=rep)
    client.get(HOME)  # Warm the session and content-type caches.
    with CaptureQueriesContext(connection) as one:
        assert client.get(HOME).status_code == 200

    leads_with_assignments(count=20, rep=rep, start=1)
    with CaptureQueriesContext(connection) as many:
        assert client.get(HOME).status_code == 200

    assert len(many) == len(one)
    assert len(many) <= 14


@pytest.mark.django_db
def test_table_row_count_is_exact_on_small_tables(db: None) -> None:
    Account.objects.create(name="Acme", domain="acme.com")

    assert table_row_count(model=Account) == selectors.RowCount(value=1, is_estimate=False)


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql", reason="planner estimates are PostgreSQL's")
def test_big_tables_are_counted_from_postgres_statistics(
    demo_users: dict[str, User], monkeypatch: pytest.MonkeyPatch
) -> None:
    leads_with_assignments(count=5, rep=demo_users["sdr"].sales_rep)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Touchpoint._meta.db_table}")
    monkeypatch.setattr(selectors, "EXACT_COUNT_BELOW", 1)

    count = home_overview(user=demo_users["sdr"]).touchpoints

    assert count == selectors.RowCount(value=5, is_estimate=True)
    assert Lead.objects.count() == 5
