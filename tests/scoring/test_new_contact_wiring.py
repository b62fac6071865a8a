"""TRIGGERS, new contact: a new person at a known account, from the event ingest or a history
import, arrives as account evidence and re-qualifies the engaged colleagues."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.test import override_settings
from django.utils import timezone

from accounts.evidence_arrival import KIND_NEW_CONTACT
from accounts.importers import history_import, mapping_load
from accounts.ingest import events_ingest
from accounts.models import Lead
from scoring import services
from scoring.models import Resurfacing, TriggerKind
from tests.accounts.test_importers import DEALS_MAPPING
from tests.api.test_events_api import event
from tests.factories import AccountFactory, LeadFactory, TouchpointFactory

pytestmark = pytest.mark.django_db

sent_arrivals: list[dict[str, Any]] = []


def record(arrivals: list[dict[str, Any]]) -> None:
    sent_arrivals.extend(arrivals)


RECORDING = override_settings(LEADQUAL_AFTER_ACCOUNT_EVIDENCE=[f"{__name__}.record"])


def _engaged_colleague(domain: str, days_ago: float = 5) -> Lead:
    account = AccountFactory(domain=domain, country="DE", employee_count=500)
    lead = LeadFactory(account=account, email=f"first@{domain}", title="VP Operations")
    TouchpointFactory(
        lead=lead, page_category="pricing", occurred_at=timezone.now() - timedelta(days=days_ago)
    )
    services.leads_qualify(lead_ids=[lead.pk], notify=False)
    return lead


def test_a_new_person_at_an_engaged_account_re_qualifies_the_colleague(
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    colleague = _engaged_colleague("hausbau.de")

    with django_capture_on_commit_callbacks(execute=True):
        result = events_ingest(events=[event("nc-1", "sam@hausbau.de", person={"name": "Sam Neu"})])

    new = Lead.objects.get(email="sam@hausbau.de")
    assert result.leads_created == 1
    item = Resurfacing.objects.get(lead=colleague)
    assert item.trigger == TriggerKind.NEW_CONTACT
    assert item.sentences[0].startswith("New contact Sam Neu at a company with 1 colleague")
    assert item.evidence["records"] == [{"kind": KIND_NEW_CONTACT, "id": new.pk}]
    assert item.qualification is not None and item.change  # re-qualified, with its change


@RECORDING
def test_only_a_new_person_at_an_account_is_announced_and_a_known_one_is_not(
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    sent_arrivals.clear()
    account = AccountFactory(domain="initech.io")
    LeadFactory(account=account, email="known@initech.io")

    with django_capture_on_commit_callbacks(execute=True):
        events_ingest(
            events=[
                event("a", "known@initech.io"),  # known: no new contact
                event("b", "new@initech.io"),
                event("c", "someone@gmail.com"),  # free mail: no account
            ]
        )

    new = Lead.objects.get(email="new@initech.io")
    assert sent_arrivals == [
        {"account_id": account.pk, "kind": KIND_NEW_CONTACT, "record_id": new.pk, "detail": ""}
    ]


def test_a_colleague_quiet_for_longer_than_the_engaged_window_is_left_alone(
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    colleague = _engaged_colleague("globex.com", days_ago=200)

    with django_capture_on_commit_callbacks(execute=True):
        events_ingest(events=[event("g-1", "new@globex.com")])

    assert not Resurfacing.objects.filter(lead=colleague).exists()


IMPORT_CSV = """
Deal,Email,Name,Company,Website,Product,Stage,Created,Closed,Value
D1,ann@globex.com,Ann,Globex,globex.com,Pro,Won,2017-01-02,2017-02-01,"1,500"
D2,bo@globex.com,Bo,Globex,globex.com,Basic,Open,2024-01-05,,
"""


@RECORDING
@pytest.mark.parametrize("dry_run", [False, True])
def test_an_import_announces_its_new_open_leads_at_accounts_and_a_dry_run_nothing(
    dry_run: bool,
    tmp_path: Path,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    sent_arrivals.clear()
    account = AccountFactory(domain="globex.com")
    path = tmp_path / "deals.csv"
    path.write_text(IMPORT_CSV.strip() + "\n", encoding="utf-8")
    (tmp_path / "deals.toml").write_text(DEALS_MAPPING, encoding="utf-8")

    with django_capture_on_commit_callbacks(execute=True):
        report = history_import(
            path=path, mapping=mapping_load(tmp_path / "deals.toml"), dry_run=dry_run
        )

    assert report.created == 2
    if dry_run:
        assert sent_arrivals == []
        return
    bo = Lead.objects.get(email="bo@globex.com")
    # Ann's lead is a won deal of 2017: history, not a new contact.
    assert sent_arrivals == [
        {"account_id": account.pk, "kind": KIND_NEW_CONTACT, "record_id": bo.pk, "detail": ""}
    ]
