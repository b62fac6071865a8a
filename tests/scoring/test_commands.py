"""train_model and qualify_leads as an operator uses them."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command

from scoring.models import AccountQualification, ModelVersion, Qualification
from tests.factories import LeadFactory
from tests.scoring.test_services import _history

pytestmark = pytest.mark.django_db


def _run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_train_model_json_reports_holdout_and_point_score_auc():
    _history()
    payload = json.loads(_run("train_model", "--json"))
    assert 0.5 < payload["auc"] <= 1.0
    assert payload["baseline_auc"] is not None
    assert payload["holdout"]["method"] == "time"
    assert payload["activated"] is True
    assert ModelVersion.objects.filter(pk=payload["model_version"], status="active").exists()


def test_train_model_prints_a_metrics_table_and_if_missing_skips_retraining():
    _history()
    table = _run("train_model")
    assert "AUC, point score (same holdout)" in table
    assert "Lift over point score at capacity" in table
    assert "already active" in _run("train_model", "--if-missing")
    assert ModelVersion.objects.filter(kind="conversion").count() == 1


def test_train_model_without_outcomes_fails_with_a_clear_message():
    LeadFactory()
    with pytest.raises(CommandError, match="Not enough data to train"):
        _run("train_model")


def test_qualify_leads_all_and_unqualified():
    leads = [LeadFactory() for _ in range(3)]
    output = _run("qualify_leads", "--all")
    assert "Qualified 3 leads" in output
    assert Qualification.objects.filter(is_current=True).count() == 3
    LeadFactory()
    assert "Qualified 1 leads" in _run("qualify_leads", "--unqualified")
    assert Qualification.objects.filter(lead=leads[0]).count() == 1


def test_qualify_leads_scores_the_accounts_first_unless_told_not_to(lead):
    _run("qualify_leads", "--all", "--no-accounts")
    assert not AccountQualification.objects.exists()
    assert Qualification.objects.get(lead=lead, is_current=True).account_priority == ""

    output = _run("qualify_leads", "--all")
    assert "Scored 1 accounts" in output
    stored = AccountQualification.objects.get(account=lead.account, is_current=True)
    # The lead's new qualification read the priority just stored, not an empty one.
    current = Qualification.objects.get(lead=lead, is_current=True)
    assert current.account_priority == stored.priority != ""


@pytest.mark.parametrize(
    ("value", "message"),
    [("yesterday", "is not a date or time"), ("2026-11-01T00:00:00", "needs a time zone")],
)
def test_qualify_leads_rejects_a_bad_since(value, message):
    with pytest.raises(CommandError, match=message):
        _run("qualify_leads", "--since", value)


@pytest.mark.parametrize(
    ("option", "message"),
    [("--processes", "--processes must be at least 1"), ("--chunk-size", "--chunk-size must be")],
)
def test_qualify_leads_rejects_a_count_below_one(option, message):
    LeadFactory()
    with pytest.raises(CommandError, match=message):
        _run("qualify_leads", "--all", option, "0")
    assert not Qualification.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_qualify_leads_spreads_its_chunks_over_processes_on_postgres():
    leads = [LeadFactory() for _ in range(5)]
    output = _run("qualify_leads", "--all", "--chunk-size", "2", "--processes", "2")
    assert "3 chunks over 2 processes" in output
    assert "Qualified 5 leads" in output
    current = Qualification.objects.filter(is_current=True)
    assert sorted(current.values_list("lead_id", flat=True)) == sorted(lead.pk for lead in leads)
