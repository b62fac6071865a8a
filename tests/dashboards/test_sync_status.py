"""RevOps watches the Salesforce sync on one page: per-object watermarks, recent runs with their
counts, errors and API usage, what the push could not write; and starts a sync from it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from accounts.models import Lead, SalesforceSyncRun, SalesforceSyncState
from routing.models import SalesforcePushState
from tests.dashboards.conftest import client_for

pytestmark = pytest.mark.django_db

STATUS = "/revops/salesforce/"
SYNC_NOW = "/revops/salesforce/sync/"


def _history() -> None:
    now = timezone.now()
    SalesforceSyncState.objects.create(
        object_name="Lead", watermark=now - timedelta(minutes=5), last_run_at=now, last_status="ok"
    )
    SalesforceSyncState.objects.create(
        object_name="Opportunity",
        last_run_at=now,
        last_status="failed",
        last_error="INVALID_FIELD: Amount",
    )
    SalesforceSyncRun.objects.create(
        direction="pull",
        status="ok",
        started_at=now - timedelta(minutes=6),
        finished_at=now - timedelta(minutes=5),
        counts={"Lead": {"created": 12, "updated": 3, "unchanged": 0}},
        api_used=4_200,
        api_limit=15_000,
    )
    SalesforceSyncRun.objects.create(
        direction="push",
        status="stopped",
        started_at=now - timedelta(minutes=4),
        finished_at=now - timedelta(minutes=4),
        counts={"pushed": 7, "skipped": 1},
        errors=[
            {"object": "Lead", "id": "00Q000000000042", "message": "ENTITY_IS_LOCKED: try later"}
        ],
    )
    lead = Lead.objects.create(email="buyer@acme.com", name="Buyer")
    SalesforcePushState.objects.create(lead=lead, pushed_at=now, last_error="ENTITY_IS_LOCKED")


def test_revops_sees_watermarks_runs_counts_errors_and_api_usage(
    demo_users: dict[str, User],
) -> None:
    _history()

    html = client_for(demo_users["revops"]).get(STATUS).content.decode()

    assert "Opportunity" in html and "INVALID_FIELD: Amount" in html
    assert "created 12" in html and "updated 3" in html and "unchanged 0" not in html
    assert "ENTITY_IS_LOCKED: try later" in html
    assert "28.0%" in html  # 4,200 of 15,000 daily calls
    assert "Stopped" in html
    assert "Sync now" in html


def test_the_refresh_returns_only_the_body_partial(demo_users: dict[str, User]) -> None:
    _history()

    response = client_for(demo_users["revops"]).get(STATUS, HTTP_HX_REQUEST="true")

    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="sync-body"') and "<html" not in html
    assert "HX-Request" in response["Vary"]


@pytest.mark.parametrize("role", ["sdr", "manager"])
def test_the_page_is_closed_to_sdrs_and_managers(demo_users: dict[str, User], role: str) -> None:
    client = client_for(demo_users[role])

    assert client.get(STATUS).status_code == 403
    assert client.post(SYNC_NOW).status_code == 403


def test_sync_now_with_the_integration_off_says_so_and_enqueues_nothing(
    demo_users: dict[str, User], settings: Any
) -> None:
    settings.SALESFORCE_ENABLED = False

    response = client_for(demo_users["revops"]).post(SYNC_NOW, follow=True)

    assert "The Salesforce integration is off" in response.content.decode()
    assert not SalesforceSyncRun.objects.exists()


def test_sync_now_runs_a_sync_against_the_loopback_org(
    demo_users: dict[str, User], settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from accounts.salesforce.loopback import (
        DEFAULT_PASSWORD,
        DEFAULT_SECURITY_TOKEN,
        INTEGRATION_USERNAME,
        LoopbackServer,
    )
    from accounts.salesforce.loopback.seed import seed_org

    with LoopbackServer() as server:
        seed_org(server.store, leads=20, seed=3)
        settings.SALESFORCE_ENABLED = True
        settings.SALESFORCE_USERNAME = INTEGRATION_USERNAME
        settings.SALESFORCE_PASSWORD = DEFAULT_PASSWORD
        settings.SALESFORCE_SECURITY_TOKEN = DEFAULT_SECURITY_TOKEN
        settings.SALESFORCE_LOOPBACK_URL = server.url

        with django_capture_on_commit_callbacks(execute=True):
            response = client_for(demo_users["revops"]).post(SYNC_NOW, follow=True)

    assert "Sync started" in response.content.decode()
    directions = set(SalesforceSyncRun.objects.values_list("direction", flat=True))
    assert directions == {"pull", "push"}
    assert Lead.objects.filter(salesforce_id__isnull=False).count() == 20


def test_the_page_costs_a_fixed_number_of_queries(
    demo_users: dict[str, User], django_assert_max_num_queries: Any
) -> None:
    _history()
    client = client_for(demo_users["revops"])
    client.get(STATUS)

    with django_assert_max_num_queries(12):
        client.get(STATUS)
