"""Account qualification stored: thresholds from the admin row, history of changes only, the
evidence step, the renewal read from an event's details, and the command."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.evidence_arrival import KIND_ACCOUNT_EVENT, EvidenceArrival
from accounts.models import Account, AccountEventKind, CommitteeRole, Department, Lead
from scoring.account_services import accounts_qualify, accounts_qualify_for_evidence
from scoring.models import (
    AccountQualification,
    AccountQualificationReason,
    AccountScoringSettings,
)
from tests.factories import (
    AccountEventFactory,
    AccountFactory,
    IntentSignalFactory,
    LeadFactory,
    StakeholderFactory,
    TouchpointFactory,
)

pytestmark = pytest.mark.django_db
NIGHTLY = AccountQualificationReason.NIGHTLY


def engaged_account(
    roles: list[tuple[str, str]], *, touches_each: int = 10, now: Any = None
) -> Account:
    """An account whose people (role, department) were each active `touches_each` times."""
    now = now or timezone.now()
    account: Account = AccountFactory()
    for role, department in roles:
        lead: Lead = LeadFactory(account=account, department=department)
        StakeholderFactory(account=account, lead=lead, committee_role=role)
        for day in range(touches_each):
            TouchpointFactory(lead=lead, occurred_at=now - timedelta(days=day % 20, hours=1))
    return account


def medium_account() -> Account:
    # Two people in two departments, two buying roles: 17 + 12 + 10 = 39 points.
    return engaged_account(
        [
            (CommitteeRole.CHAMPION, Department.OPERATIONS),
            (CommitteeRole.USER, Department.ENGINEERING),
        ],
        touches_each=5,
    )


def current(account: Account) -> AccountQualification:
    return AccountQualification.objects.get(account=account, is_current=True)


def test_an_account_without_evidence_is_stored_low_with_every_role_missing() -> None:
    account = AccountFactory()
    result = accounts_qualify(account_ids=[account.pk], reason=NIGHTLY)
    stored = current(account)
    assert (result.accounts, result.stored) == (1, 1)
    assert (stored.score, stored.priority) == (0, "low")
    assert stored.roles_missing == ["economic_buyer", "champion", "technical_evaluator", "user"]
    assert [p["part"] for p in stored.parts] == [
        "engagement",
        "coverage",
        "cross_functional",
        "intent",
        "timing",
    ]
    assert stored.play[0].startswith("Find the economic buyer")


def test_the_priority_follows_the_thresholds_set_in_the_admin_row() -> None:
    account = medium_account()
    accounts_qualify(account_ids=[account.pk], reason=NIGHTLY)
    score = current(account).score
    assert 30 <= score < 60
    assert current(account).priority == "medium"

    row = AccountScoringSettings.load()
    row.high_threshold, row.medium_threshold = score, score - 5
    row.save(update_fields=["high_threshold", "medium_threshold"])
    result = accounts_qualify(account_ids=[account.pk], reason=AccountQualificationReason.MANUAL)
    assert current(account).priority == "high"
    assert result.priority_changes == {account.pk: ("medium", "high")}

    row.high_threshold, row.medium_threshold = 100, score + 1
    row.save(update_fields=["high_threshold", "medium_threshold"])
    accounts_qualify(account_ids=[account.pk], reason=AccountQualificationReason.MANUAL)
    assert current(account).priority == "low"


def test_the_thresholds_must_be_ordered_in_the_database() -> None:
    row = AccountScoringSettings.load()
    row.high_threshold, row.medium_threshold = 20, 40
    with pytest.raises(IntegrityError), transaction.atomic():
        row.save(update_fields=["high_threshold", "medium_threshold"])


def test_an_unchanged_account_stores_nothing_and_a_change_stores_a_new_current_row() -> None:
    account = medium_account()
    first = accounts_qualify(account_ids=[account.pk], reason=NIGHTLY)
    again = accounts_qualify(account_ids=[account.pk], reason=NIGHTLY)
    assert (first.stored, again.stored) == (1, 0)
    assert AccountQualification.objects.filter(account=account).count() == 1

    IntentSignalFactory(account=account, topic="lead scoring", surge_score=3.0)
    changed = accounts_qualify(
        account_ids=[account.pk], reason=AccountQualificationReason.INTENT, reason_detail="surge"
    )
    rows = list(AccountQualification.objects.filter(account=account).order_by("computed_at"))
    assert changed.stored == 1
    assert [r.is_current for r in rows] == [False, True]
    assert rows[1].score == rows[0].score + 20  # the full intent points for a 300% surge
    assert rows[1].reason == "intent" and rows[1].reason_detail == "surge"
    assert "300% research surge" in rows[1].parts[3]["detail"]


def test_a_renewal_is_read_from_the_events_details_as_the_demo_world_stores_it() -> None:
    account = AccountFactory()
    renews = (timezone.now() + timedelta(days=60)).date().isoformat()
    AccountEventFactory(
        account=account,
        kind=AccountEventKind.CONTRACT_RENEWAL,
        occurred_at=timezone.now() - timedelta(days=100),
        title="Acme CRM contract",
        details={"renews_at": renews, "vendor": "Acme CRM"},
    )
    accounts_qualify(account_ids=[account.pk], reason=NIGHTLY)
    timing = current(account).parts[4]
    assert timing["points"] == 6
    assert "Contract with Acme CRM renews in" in timing["detail"]


def test_a_priority_change_marks_the_leads_dirty_and_enqueues_their_requalification(
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    account = medium_account()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        accounts_qualify(account_ids=[account.pk], reason=NIGHTLY)
    assert callbacks  # the enqueue waits for the commit
    assert all(
        at is not None
        for at in Lead.objects.filter(account=account).values_list(
            "requalify_requested_at", flat=True
        )
    )


def test_the_nightly_run_leaves_the_leads_to_the_lead_run_that_follows() -> None:
    account = medium_account()
    accounts_qualify(account_ids=[account.pk], reason=NIGHTLY, requalify_leads=False)
    assert not Lead.objects.filter(account=account, requalify_requested_at__isnull=False).exists()


def test_the_evidence_step_scores_the_accounts_with_the_evidence_as_reason() -> None:
    account = AccountFactory()
    other = AccountFactory()
    event = AccountEventFactory(account=account, kind=AccountEventKind.FUNDING, title="Series B")
    stored = accounts_qualify_for_evidence(
        [EvidenceArrival(account.pk, KIND_ACCOUNT_EVENT, event.pk, "funding")]
    )
    row = current(account)
    assert stored == 1
    assert (row.reason, row.reason_detail) == ("account_event", "funding")
    assert "Series B" in row.parts[4]["detail"]
    assert not AccountQualification.objects.filter(account=other).exists()
    # Run twice (a redelivered message): nothing more.
    assert accounts_qualify_for_evidence([EvidenceArrival(account.pk, KIND_ACCOUNT_EVENT)]) == 0


def test_an_unknown_reason_is_refused_with_the_reasons_it_knows() -> None:
    with pytest.raises(ValueError, match=r"unknown reason 'whim'.*nightly"):
        accounts_qualify(account_ids=[], reason="whim")


def test_the_command_scores_one_account_and_reports_the_change() -> None:
    account = medium_account()
    out = StringIO()
    call_command("qualify_accounts", "--account", str(account.pk), stdout=out)
    assert current(account).reason == "manual"
    assert "1 accounts scored" in out.getvalue()
    assert f"account {account.pk}: not scored -> Medium" in out.getvalue()


def test_the_command_names_an_account_that_does_not_exist() -> None:
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="No account with id 999999"):
        call_command("qualify_accounts", "--account", "999999", stdout=StringIO())


def test_the_scoring_reads_a_fixed_number_of_queries_whatever_the_accounts(
    django_assert_max_num_queries: Callable[..., Any],
) -> None:
    accounts = [medium_account() for _ in range(6)]
    AccountScoringSettings.load()
    with django_assert_max_num_queries(14):
        accounts_qualify(
            account_ids=[a.pk for a in accounts], reason=NIGHTLY, requalify_leads=False
        )
