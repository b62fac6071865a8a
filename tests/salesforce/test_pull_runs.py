"""Sync-run bookkeeping (services and selectors) and its read-only admin."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from accounts.models import SalesforceSyncRun, SalesforceSyncState, SyncDirection, SyncRunStatus
from accounts.salesforce.client import ApiUsage
from accounts.salesforce.pull import PullCounts
from accounts.selectors import salesforce_sync_runs_recent, salesforce_sync_states
from accounts.services import salesforce_sync_run_finish, salesforce_sync_run_start

pytestmark = pytest.mark.django_db


def test_a_run_is_recorded_from_start_to_finish_with_counts_errors_and_usage() -> None:
    run = salesforce_sync_run_start(direction=SyncDirection.PULL, dry_run=True)
    assert (run.status, run.dry_run, run.finished_at) == (SyncRunStatus.RUNNING, True, None)
    errors = [{"object": "Lead", "id": f"00Q{i:015d}", "message": "bad"} for i in range(150)]

    salesforce_sync_run_finish(
        run=run,
        status=SyncRunStatus.OK,
        counts={"Lead": PullCounts(created=3, unchanged=5), "User": {"updated": 1}},
        errors=errors,
        api_usage=ApiUsage(120, 15_000),
    )

    run.refresh_from_db()
    assert run.status == SyncRunStatus.OK and run.finished_at is not None
    assert run.counts["Lead"] == {
        "created": 3,
        "updated": 0,
        "unchanged": 5,
        "deleted": 0,
        "skipped": 0,
        "errors": 0,
    }
    assert run.counts["User"] == {"updated": 1}
    assert len(run.errors) == 100 and run.errors[0] == errors[0]
    assert (run.api_used, run.api_limit) == (120, 15_000)


def test_bad_direction_or_status_is_refused() -> None:
    with pytest.raises(ValueError, match="direction"):
        salesforce_sync_run_start(direction="sideways")
    run = salesforce_sync_run_start(direction=SyncDirection.PUSH)
    with pytest.raises(ValueError, match="ok, failed or stopped"):
        salesforce_sync_run_finish(
            run=run, status=SyncRunStatus.RUNNING, counts={}, errors=[], api_usage=None
        )


def test_selectors_list_recent_runs_newest_first_and_states_by_object() -> None:
    runs = [salesforce_sync_run_start(direction=SyncDirection.PULL) for _ in range(3)]
    SalesforceSyncState.objects.create(object_name="Lead")
    SalesforceSyncState.objects.create(object_name="Account")

    assert salesforce_sync_runs_recent(limit=2) == [runs[2], runs[1]]
    assert [s.object_name for s in salesforce_sync_states()] == ["Account", "Lead"]


def test_the_admin_shows_sync_rows_read_only() -> None:
    admin = User.objects.create_superuser("root", "root@example.com", "pw")
    client = Client()
    client.force_login(admin)
    run = salesforce_sync_run_start(direction=SyncDirection.PULL)
    state = SalesforceSyncState.objects.create(object_name="Lead")

    assert client.get(reverse("admin:accounts_salesforcesyncrun_changelist")).status_code == 200
    assert client.get(reverse("admin:accounts_salesforcesyncstate_changelist")).status_code == 200
    page = client.get(reverse("admin:accounts_salesforcesyncrun_change", args=[run.pk]))
    assert page.status_code == 200 and b'name="_save"' not in page.content
    assert client.get(reverse("admin:accounts_salesforcesyncrun_add")).status_code == 403
    client.post(
        reverse("admin:accounts_salesforcesyncstate_delete", args=[state.pk]), {"post": "yes"}
    )
    assert SalesforceSyncState.objects.filter(pk=state.pk).exists()
    assert SalesforceSyncRun.objects.count() == 1
