"""The admin pages RevOps and sales managers tune qualification with: the settings row, the model
registry (activation and rollback) and the disqualification rule dry run."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Lead
from scoring import selectors, services
from scoring.models import (
    DisqualificationRule,
    IdealCustomerProfile,
    ModelKind,
    ModelStatus,
    ModelVersion,
    PointRule,
    Qualification,
    RuleCategory,
    ScoringSettings,
)
from scoring.rules import RuleSpec
from tests.factories import (
    DisqualificationRuleFactory,
    IdealCustomerProfileFactory,
    LeadFactory,
    ModelVersionFactory,
    PointRuleFactory,
)

pytestmark = pytest.mark.django_db

ARTIFACT = b"PICKLED-MODEL-BYTES-NEVER-READ-BY-THE-ADMIN"

SETTINGS_CHANGELIST = reverse("admin:scoring_scoringsettings_changelist")
VERSIONS = reverse("admin:scoring_modelversion_changelist")
RULES = reverse("admin:scoring_disqualificationrule_changelist")
RULE_ADD = reverse("admin:scoring_disqualificationrule_add")


def settings_url() -> str:
    return reverse("admin:scoring_scoringsettings_change", args=[ScoringSettings.load().pk])


def version_url(version: ModelVersion) -> str:
    return reverse("admin:scoring_modelversion_change", args=[version.pk])


def activate_url(version: ModelVersion) -> str:
    return reverse("admin:scoring_modelversion_activate", args=[version.pk])


def rule_url(rule: DisqualificationRule) -> str:
    return reverse("admin:scoring_disqualificationrule_change", args=[rule.pk])


# --- settings --------------------------------------------------------------------------------


SETTINGS_FORM = {
    "threshold_mode": "fixed",
    "sales_ready_threshold": "0.5",
    "nurture_threshold": "0.05",
    "min_sales_ready_probability": "0.3",
    "capacity_leads_per_week": "",
    "min_outcomes_for_model": "200",
    "recency_half_life_days": "14",
    "point_route_threshold": "100",
    "review_min_committee_people": "3",
}


def test_settings_list_goes_straight_to_the_one_row_it_creates(revops_client: Client) -> None:
    assert not ScoringSettings.objects.exists()

    first = revops_client.get(SETTINGS_CHANGELIST)
    second = revops_client.get(SETTINGS_CHANGELIST)

    assert ScoringSettings.objects.count() == 1
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"] == settings_url()
    page = revops_client.get(settings_url())
    assert page.status_code == 200
    html = page.content.decode()
    for heading in ("Tiers", "Model", "Signals and review", "Traditional point score"):
        assert f">{heading}<" in html
    assert "expected weekly Sales Ready volume" in html  # threshold_mode's help text
    assert revops_client.get(reverse("admin:scoring_scoringsettings_add")).status_code == 403
    delete = reverse("admin:scoring_scoringsettings_delete", args=[ScoringSettings.load().pk])
    assert revops_client.post(delete, {"post": "yes"}).status_code == 403
    assert ScoringSettings.objects.count() == 1


def test_settings_reject_nurture_above_sales_ready_with_a_form_error(
    revops_client: Client,
) -> None:
    url = settings_url()

    response = revops_client.post(
        url, {**SETTINGS_FORM, "sales_ready_threshold": "0.4", "nurture_threshold": "0.6"}
    )

    assert response.status_code == 200
    form = response.context["adminform"].form
    assert form.errors["nurture_threshold"] == [
        "Must not be above the Sales Ready threshold (0.4)."
    ]
    # The field error explains it; the raw check constraint is not reported a second time.
    assert form.non_field_errors() == []
    stored = ScoringSettings.load()
    assert (stored.sales_ready_threshold, stored.nurture_threshold) == (0.5, 0.03)


def test_settings_reject_a_probability_above_one(revops_client: Client) -> None:
    response = revops_client.post(settings_url(), {**SETTINGS_FORM, "sales_ready_threshold": "2"})

    assert response.status_code == 200
    assert "sales_ready_threshold" in response.context["adminform"].form.errors
    assert ScoringSettings.load().sales_ready_threshold == 0.5


def test_revops_saves_settings(revops_client: Client) -> None:
    response = revops_client.post(
        settings_url(), {**SETTINGS_FORM, "sales_ready_threshold": "0.42", "_save": "Save"}
    )

    assert response.status_code == 302
    stored = ScoringSettings.load()
    assert stored.threshold_mode == "fixed"
    assert stored.sales_ready_threshold == 0.42
    assert stored.nurture_threshold == 0.05


def test_a_sales_manager_reads_the_settings_but_cannot_change_them(
    manager_client: Client,
) -> None:
    url = settings_url()

    page = manager_client.get(url)
    post = manager_client.post(url, {**SETTINGS_FORM, "sales_ready_threshold": "0.1"})

    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert post.status_code == 403
    assert ScoringSettings.load().sales_ready_threshold == 0.5


# --- model registry --------------------------------------------------------------------------


def conversion_metrics(auc: float) -> dict[str, Any]:
    """The shape `services.model_train` stores for a conversion model."""
    return {
        "rows": 2000,
        "positives": 240,
        "base_rate": 0.12,
        "auc": auc,
        "log_loss": 0.2871,
        "brier": 0.0812,
        "ece": 0.0143,
        "at_capacity": {
            "capacity": 0.1,
            "rows": 200,
            "precision": 0.55,
            "recall": 0.4583,
            "lift": 4.58,
        },
        "calibration_bins": [
            {
                "lower": 0.0,
                "upper": 0.1,
                "count": 1500,
                "mean_predicted": 0.04,
                "observed_rate": 0.05,
            },
            {"lower": 0.1, "upper": 0.2, "count": 0, "mean_predicted": None, "observed_rate": None},
        ],
        "segments": {
            "region": {
                "EMEA": {"rows": 800, "positives": 90, "auc": 0.88},
                "<script>alert(1)</script>": {
                    "rows": 12,
                    "positives": 1,
                    "auc": None,
                    "skipped": "fewer than 30 rows",
                },
            }
        },
        "holdout": {
            "method": "time",
            "reason": "dates available",
            "cutoff": "2024-05-01T00:00:00+00:00",
            "rows": 2000,
            "positives": 240,
            "training_rows": 8000,
            "fingerprint": "abc",
        },
        "baseline": {
            "auc": 0.71,
            "at_capacity": {"capacity": 0.1, "rows": 200, "precision": 0.32, "lift": 2.67},
        },
        "baseline_auc": 0.71,
        "lift_over_baseline_at_capacity": 1.71875,
        "training": {"rows": 8000, "positives": 960, "cv_auc": 0.9, "rounds": 120},
    }


def two_versions(user: User | None = None) -> tuple[ModelVersion, ModelVersion]:
    """An older retired version and a newer active one of the conversion model."""
    now = timezone.now()
    older = ModelVersionFactory(
        status=ModelStatus.RETIRED,
        trained_at=now - timedelta(days=30),
        training_rows=5000,
        metrics=conversion_metrics(0.874),
        artifact=ARTIFACT,
    )
    newer = ModelVersionFactory(
        status=ModelStatus.ACTIVE,
        trained_at=now - timedelta(days=1),
        training_rows=8000,
        metrics=conversion_metrics(0.912),
        artifact=ARTIFACT,
        activated_at=now - timedelta(days=1),
    )
    return older, newer


def status_of(version: ModelVersion) -> str:
    return ModelVersion.objects.values_list("status", flat=True).get(pk=version.pk)


def test_version_list_shows_headline_metrics_without_reading_the_artifact(
    revops_client: Client,
) -> None:
    two_versions()
    revops_client.get(VERSIONS)  # Warm the session and content-type caches.

    with CaptureQueriesContext(connection) as queries:
        response = revops_client.get(VERSIONS)

    assert response.status_code == 200
    html = response.content.decode()
    for shown in ("0.912", "0.874", "0.710", "1.72\N{MULTIPLICATION SIGN}", "0.0143"):
        assert shown in html
    for column in ("AUC", "Points AUC", "Lift over points @ capacity", "ECE"):
        assert f">{column}</" in html
    selects = [q["sql"] for q in queries.captured_queries if "scoring_modelversion" in q["sql"]]
    assert selects
    for sql in selects:
        # The database may measure the column; it never sends it.
        assert '"artifact"' not in re.sub(r'LENGTH\("scoring_modelversion"\."artifact"\)', "", sql)


def test_version_page_shows_the_holdout_metrics_as_tables_and_escapes_them(
    revops_client: Client,
) -> None:
    _, newer = two_versions()

    html = revops_client.get(version_url(newer)).content.decode()

    assert "Time-ordered holdout (the newest leads): 2,000 leads, 240 converted" in html
    assert "<strong>1.72\N{MULTIPLICATION SIGN}</strong>" in html
    assert "Precision at capacity (top 10%, 200 leads)" in html
    assert "Calibration: predicted against observed" in html
    assert "AUC per segment" in html
    assert "0.880" in html  # EMEA's AUC
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert ARTIFACT.decode() not in html


def test_a_cross_validated_version_says_so_and_shows_its_fixed_holdout(
    revops_client: Client,
) -> None:
    metrics = conversion_metrics(0.905)
    metrics["holdout"] = {
        "method": "cross-validated",
        "reason": "no creation dates; stratified random, seed 0; cross-validated over 5 folds",
        "cutoff": None,
        "rows": 9240,
        "positives": 3561,
        "training_rows": 7392,
        "folds": 5,
        "fold_auc": [0.8958, 0.9008, 0.9109, 0.9072, 0.9099],
        "fingerprint": "all",
    }
    metrics["promotion_holdout"] = {
        "auc": 0.8958,
        "log_loss": 0.3811,
        "holdout": {"method": "stratified", "rows": 1848, "fingerprint": "first"},
    }
    metrics["active_on_same_holdout"] = {"model_version": 7, "auc": 0.8801, "log_loss": 0.3902}
    version = ModelVersionFactory(status=ModelStatus.ACTIVE, metrics=metrics, artifact=ARTIFACT)

    html = revops_client.get(version_url(version)).content.decode()

    assert (
        "Cross-validated holdout (the data has no usable dates), every lead scored by a model "
        "trained without it: 9,240 leads, 3,561 converted, AUC 0.896 to 0.911 over its 5 folds"
    ) in html
    assert "On the fixed holdout (1,848 leads, the first fold" in html
    assert "AUC 0.896, log loss 0.3811" in html
    assert "The model active at training time (#7) on the same fixed holdout: AUC 0.880" in html


def test_activating_an_older_version_from_its_page_is_the_rollback(
    revops_client: Client, revops_user: User
) -> None:
    older, newer = two_versions()
    page = revops_client.get(version_url(older)).content.decode()
    assert "Activate this version" in page
    assert activate_url(older) in page

    response = revops_client.post(activate_url(older), follow=True)

    assert response.redirect_chain[0] == (version_url(older), 302)
    assert (status_of(older), status_of(newer)) == (ModelStatus.ACTIVE, ModelStatus.RETIRED)
    older.refresh_from_db(fields=["activated_by", "activated_at"])
    assert older.activated_by == revops_user
    assert older.activated_at is not None
    messages = [str(m) for m in response.context["messages"]]
    assert messages == [
        f"Conversion probability #{older.pk} is now the active version; #{newer.pk} retired."
    ]
    # An active version offers no button to activate it again.
    assert activate_url(older) not in response.content.decode()


def test_activation_is_a_post(revops_client: Client) -> None:
    older, newer = two_versions()

    response = revops_client.get(activate_url(older))

    assert response.status_code == 405
    assert (status_of(older), status_of(newer)) == (ModelStatus.RETIRED, ModelStatus.ACTIVE)


def test_activating_from_the_list_action_retires_the_active_version(
    revops_client: Client,
) -> None:
    older, newer = two_versions()
    other_kind = ModelVersionFactory(kind=ModelKind.TIMELINE, status=ModelStatus.ACTIVE)

    response = revops_client.post(
        VERSIONS, {"action": "activate_selected", "_selected_action": [older.pk], "index": 0}
    )

    assert response.status_code == 302
    assert (status_of(older), status_of(newer)) == (ModelStatus.ACTIVE, ModelStatus.RETIRED)
    assert status_of(other_kind) == ModelStatus.ACTIVE


def test_the_list_action_activates_one_version_at_a_time(revops_client: Client) -> None:
    older, newer = two_versions()
    third = ModelVersionFactory(status=ModelStatus.CANDIDATE)

    response = revops_client.post(
        VERSIONS,
        {"action": "activate_selected", "_selected_action": [older.pk, third.pk], "index": 0},
        follow=True,
    )

    assert [str(m) for m in response.context["messages"]] == [
        "Select exactly one version to activate."
    ]
    assert [status_of(v) for v in (older, newer, third)] == ["retired", "active", "candidate"]


def test_a_sales_manager_sees_versions_but_cannot_activate_one(manager_client: Client) -> None:
    older, newer = two_versions()

    page = manager_client.get(version_url(older))
    button = manager_client.post(activate_url(older))
    action = manager_client.post(
        VERSIONS, {"action": "activate_selected", "_selected_action": [older.pk], "index": 0}
    )

    assert page.status_code == 200
    assert activate_url(older) not in page.content.decode()
    assert button.status_code == 403
    # The action is not offered to them: the list says no action was chosen.
    assert action.status_code in (200, 302)
    assert (status_of(older), status_of(newer)) == (ModelStatus.RETIRED, ModelStatus.ACTIVE)


# --- disqualification rule dry run -------------------------------------------------------------


@pytest.fixture
def recent_leads(db: None) -> list[Lead]:
    """Three students and a buyer created this month, an old student, all qualified once."""
    now = timezone.now()
    leads: list[Lead] = [
        LeadFactory(email=f"s{i}@ox.ac.uk", created_at=now - timedelta(days=2)) for i in range(3)
    ]
    leads.append(LeadFactory(email="buyer@acme.com", created_at=now - timedelta(hours=12)))
    leads.append(LeadFactory(email="old@ox.ac.uk", created_at=now - timedelta(days=90)))
    services.leads_qualify(lead_ids=[lead.pk for lead in leads])
    return leads


def rule_form(rule: DisqualificationRule | None = None, **changes: Any) -> dict[str, Any]:
    data = {
        "name": rule.name if rule else "Students",
        "category": rule.category if rule else RuleCategory.STUDENT,
        "reason_code": rule.reason_code if rule else "student",
        "action": rule.action if rule else "disqualify",
        "priority": str(rule.priority if rule else 10),
        "parameters": "{}",
        "description": "",
    }
    if rule is None or rule.is_active:
        data["is_active"] = "on"
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def database_state() -> dict[str, Any]:
    """Everything a dry run must leave alone."""
    return {
        "rules": list(DisqualificationRule.objects.order_by("pk").values()),
        "qualifications": list(Qualification.objects.order_by("pk").values()),
        "leads": list(Lead.objects.order_by("pk").values("pk", "updated_at")),
        "log": LogEntry.objects.count(),
    }


def same_counts(shown: services.DryRunReport, direct: services.DryRunReport) -> None:
    assert (shown.days, shown.leads, shown.changed) == (direct.days, direct.leads, direct.changed)
    assert shown.transitions == direct.transitions
    assert shown.by_reason == direct.by_reason


def test_dry_run_of_an_edited_rule_reports_and_saves_nothing(
    revops_client: Client, recent_leads: list[Lead]
) -> None:
    competitor = DisqualificationRuleFactory(
        category=RuleCategory.COMPETITOR, parameters={"domains": ["rival.com"]}
    )
    student = DisqualificationRuleFactory(
        name="Students", category=RuleCategory.STUDENT, reason_code="student", is_active=False
    )
    before = database_state()

    response = revops_client.post(
        rule_url(student), {**rule_form(student, is_active="on"), "_dry_run": "Dry run"}
    )

    assert response.status_code == 200
    dry_run = response.context["dry_run"]
    report = dry_run["report"]
    assert (report.leads, report.changed) == (4, 3)
    assert report.by_reason == {"student": 3}
    direct = services.rules_dry_run(
        rules=[
            selectors.rules_active()[0],
            RuleSpec("student", "Students", RuleCategory.STUDENT, priority=student.priority),
        ],
        days=30,
    )
    assert [spec.reason_code for spec in selectors.rules_active()] == [competitor.reason_code]
    same_counts(report, direct)
    html = response.content.decode()
    assert "Dry run of this rule" in html
    assert report.transitions == {"nurture → disqualify": 3}
    assert dry_run["transitions"] == [{"before": "Nurture", "after": "Disqualify", "count": 3}]
    assert "<td>Nurture</td><td>Disqualify</td>" in html
    for lead in recent_leads[:3]:
        assert reverse("admin:accounts_lead_change", args=[lead.pk]) in html
    assert reverse("admin:accounts_lead_change", args=[recent_leads[4].pk]) not in html
    # The edited form is shown again, still unsaved, with its values.
    assert response.context["adminform"].form["is_active"].value() is True
    assert database_state() == before


def test_dry_run_of_an_unticked_rule_takes_it_out_of_the_set(
    revops_client: Client, recent_leads: list[Lead]
) -> None:
    student = DisqualificationRuleFactory(
        name="Students", category=RuleCategory.STUDENT, reason_code="student", priority=10
    )
    before = database_state()

    response = revops_client.post(
        rule_url(student), {**rule_form(student, is_active=None), "_dry_run": "Dry run"}
    )

    report = response.context["dry_run"]["report"]
    assert (report.leads, report.changed) == (4, 3)
    assert report.by_reason == {"(no rule)": 3}
    same_counts(report, services.rules_dry_run(rules=[], days=30))
    assert "inactive: it leaves the rule set" in response.content.decode()
    assert database_state() == before


def test_dry_run_of_a_renamed_reason_code_replaces_the_saved_rule(
    revops_client: Client, recent_leads: list[Lead]
) -> None:
    student = DisqualificationRuleFactory(
        name="Students", category=RuleCategory.STUDENT, reason_code="student"
    )
    before = database_state()

    response = revops_client.post(
        rule_url(student),
        {**rule_form(student, reason_code="academic"), "_dry_run": "Dry run"},
    )

    report = response.context["dry_run"]["report"]
    # Only the reason changes, for the three recent students; the old code is not kept too.
    assert report.by_reason == {"academic": 3}
    assert report.changed == 3
    assert database_state() == before


def test_dry_run_on_the_add_form_creates_no_rule(
    revops_client: Client, recent_leads: list[Lead]
) -> None:
    before = database_state()

    response = revops_client.post(
        RULE_ADD, {**rule_form(), "dry_run_days": "60", "_dry_run": "Dry run"}
    )

    assert response.status_code == 200
    report = response.context["dry_run"]["report"]
    assert report.days == 60
    assert (report.leads, report.changed) == (4, 3)
    same_counts(
        report,
        services.rules_dry_run(
            rules=[RuleSpec("student", "Students", "student", priority=10)], days=60
        ),
    )
    assert "Dry run of this new rule" in response.content.decode()
    assert database_state() == before
    assert not DisqualificationRule.objects.exists()


@pytest.mark.parametrize("days", ["0", "366", "abc", "-3"])
def test_dry_run_with_bad_days_shows_a_form_error_and_runs_nothing(
    revops_client: Client, recent_leads: list[Lead], days: str
) -> None:
    student = DisqualificationRuleFactory(category=RuleCategory.STUDENT, is_active=False)
    before = database_state()

    response = revops_client.post(
        rule_url(student),
        {**rule_form(student, is_active="on"), "dry_run_days": days, "_dry_run": "Dry run"},
    )

    assert response.status_code == 200
    assert "dry_run_days" in response.context["dry_run_days_form"].errors
    assert response.context["dry_run"]["error"].startswith("Days: ")
    assert "report" not in response.context["dry_run"]
    assert 'class="errorlist' in response.content.decode()
    assert database_state() == before


def test_dry_run_days_default_to_thirty_and_can_come_from_the_link(
    revops_client: Client, recent_leads: list[Lead]
) -> None:
    student = DisqualificationRuleFactory(category=RuleCategory.STUDENT)

    default = revops_client.post(rule_url(student), {**rule_form(student), "_dry_run": "Dry run"})
    linked = revops_client.post(
        rule_url(student) + "?dry_run_days=1", {**rule_form(student), "_dry_run": "Dry run"}
    )
    page = revops_client.get(rule_url(student) + "?dry_run_days=7").content.decode()

    assert default.context["dry_run"]["report"].days == 30
    assert linked.context["dry_run"]["report"].days == 1
    assert linked.context["dry_run"]["report"].leads == 1  # only the buyer of 12 hours ago
    assert 'name="dry_run_days"' in page and 'value="7"' in page
    assert 'name="_dry_run"' in page


def test_dry_run_of_an_invalid_rule_shows_the_form_errors_and_no_report(
    revops_client: Client, recent_leads: list[Lead]
) -> None:
    student = DisqualificationRuleFactory(category=RuleCategory.STUDENT)
    other = DisqualificationRuleFactory()
    before = database_state()

    response = revops_client.post(
        rule_url(student),
        {**rule_form(student, reason_code=other.reason_code), "_dry_run": "Dry run"},
    )

    assert response.status_code == 200
    assert response.context["dry_run"] is None
    assert "reason_code" in response.context["adminform"].form.errors
    assert database_state() == before


def test_dry_run_reports_a_rule_the_engine_cannot_evaluate(
    revops_client: Client, recent_leads: list[Lead]
) -> None:
    spam = DisqualificationRuleFactory(category=RuleCategory.SPAM, is_active=False)

    response = revops_client.post(
        rule_url(spam),
        {
            **rule_form(spam, is_active="on", parameters='{"name_patterns": ["(unclosed"]}'),
            "_dry_run": "Dry run",
        },
    )

    assert response.status_code == 200
    assert response.context["dry_run"]["error"].startswith("The rules could not be evaluated")
    assert not DisqualificationRule.objects.get(pk=spam.pk).is_active


@pytest.mark.parametrize("button", ["_dry_run", "_save"])
def test_rule_parameters_must_be_a_json_object(revops_client: Client, button: str) -> None:
    rule = DisqualificationRuleFactory(parameters={"domains": ["rival.com"]})

    response = revops_client.post(
        rule_url(rule), {**rule_form(rule, parameters='["rival.com"]'), button: "Go"}
    )

    assert response.status_code == 200
    assert "parameters" in response.context["adminform"].form.errors
    assert DisqualificationRule.objects.get(pk=rule.pk).parameters == {"domains": ["rival.com"]}


def test_save_still_saves_after_a_dry_run(revops_client: Client) -> None:
    student = DisqualificationRuleFactory(category=RuleCategory.STUDENT, is_active=False)

    response = revops_client.post(
        rule_url(student), {**rule_form(student, is_active="on"), "_save": "Save"}
    )

    assert response.status_code == 302
    assert DisqualificationRule.objects.get(pk=student.pk).is_active


def test_dry_run_action_disabling_rules_shows_the_report_and_saves_nothing(
    revops_client: Client, recent_leads: list[Lead]
) -> None:
    student = DisqualificationRuleFactory(
        name="Students", category=RuleCategory.STUDENT, reason_code="student"
    )
    competitor = DisqualificationRuleFactory(
        category=RuleCategory.COMPETITOR, parameters={"domains": ["rival.com"]}
    )
    before = database_state()

    response = revops_client.post(
        RULES, {"action": "dry_run_disable", "_selected_action": [student.pk], "index": 0}
    )

    assert response.status_code == 200
    assert response.templates[0].name == "admin/scoring/disqualificationrule/dry_run_disable.html"
    report = response.context["dry_run"]["report"]
    assert report.changed == 3
    same_counts(
        report,
        services.rules_dry_run(
            rules=[s for s in selectors.rules_active() if s.reason_code == competitor.reason_code],
            days=30,
        ),
    )
    html = response.content.decode()
    assert "Dry run: disable 1 rule(s)" in html
    assert reverse("admin:accounts_lead_change", args=[recent_leads[0].pk]) in html
    assert database_state() == before

    # The page's own form runs it again over another window, through the same action.
    again = revops_client.post(
        RULES,
        {"action": "dry_run_disable", "_selected_action": [student.pk], "dry_run_days": "1"},
    )
    assert again.context["dry_run"]["report"].days == 1
    assert again.context["dry_run"]["report"].changed == 0
    bad = revops_client.post(
        RULES,
        {"action": "dry_run_disable", "_selected_action": [student.pk], "dry_run_days": "999"},
    )
    assert bad.context["dry_run"] == {
        "title": "Dry run not run",
        "error": "Days: Ensure this value is less than or equal to 365.",
    }
    assert database_state() == before


def test_a_sales_manager_dry_runs_a_rule_but_cannot_add_one(
    manager_client: Client, recent_leads: list[Lead]
) -> None:
    student = DisqualificationRuleFactory(category=RuleCategory.STUDENT, is_active=False)
    before = database_state()

    dry_run = manager_client.post(
        rule_url(student), {**rule_form(student, is_active="on"), "_dry_run": "Dry run"}
    )
    add = manager_client.post(RULE_ADD, {**rule_form(), "_dry_run": "Dry run"})

    assert dry_run.status_code == 200
    assert dry_run.context["dry_run"]["report"].changed == 3
    assert add.status_code == 403
    assert database_state() == before


# --- point rules and the ideal customer profile --------------------------------------------------


def changelist_formset(rows: list[dict[str, Any]]) -> dict[str, Any]:
    data: dict[str, Any] = {
        "form-TOTAL_FORMS": str(len(rows)),
        "form-INITIAL_FORMS": str(len(rows)),
        "form-MIN_NUM_FORMS": "0",
        "form-MAX_NUM_FORMS": "1000",
        "_save": "Save",
    }
    for i, row in enumerate(rows):
        for key, value in row.items():
            if value is not None:
                data[f"form-{i}-{key}"] = value
    return data


def test_a_sales_manager_edits_points_in_the_list(manager_client: Client) -> None:
    pricing = PointRuleFactory(name="Pricing page", value="pricing", points=15)

    response = manager_client.post(
        reverse("admin:scoring_pointrule_changelist"),
        changelist_formset(
            [{"id": str(pricing.pk), "points": "25", "max_times": "2", "is_active": None}]
        ),
    )

    assert response.status_code == 302
    pricing.refresh_from_db()
    assert (pricing.points, pricing.max_times, pricing.is_active) == (25, 2, False)
    assert manager_client.get(reverse("admin:scoring_pointrule_add")).status_code == 403


def test_revops_adds_a_point_rule(revops_client: Client) -> None:
    response = revops_client.post(
        reverse("admin:scoring_pointrule_add"),
        {"name": "Demo request", "signal": "form_type", "value": "demo_request", "points": "30"},
    )

    assert response.status_code == 302
    assert PointRule.objects.get(name="Demo request").points == 30


def test_a_second_active_profile_is_a_form_error_in_the_list_and_the_form(
    revops_client: Client,
) -> None:
    active = IdealCustomerProfileFactory(name="Mid-market SaaS")
    spare = IdealCustomerProfileFactory(name="Enterprise", is_active=False)

    in_list = revops_client.post(
        reverse("admin:scoring_idealcustomerprofile_changelist"),
        changelist_formset(
            [
                {"id": str(active.pk), "is_active": "on"},
                {"id": str(spare.pk), "is_active": "on"},
            ]
        ),
    )
    in_form = revops_client.post(
        reverse("admin:scoring_idealcustomerprofile_change", args=[spare.pk]),
        {"name": "Enterprise", "is_active": "on"},
    )

    assert in_list.status_code == in_form.status_code == 200
    assert "“Mid-market SaaS” is the active profile" in in_list.content.decode()
    assert "“Mid-market SaaS” is the active profile" in in_form.content.decode()
    assert list(IdealCustomerProfile.objects.filter(is_active=True)) == [active]


# --- who may reach these pages -----------------------------------------------------------------


def test_an_sdr_reaches_none_of_the_tuning_pages(
    sdr_client: Client, recent_leads: list[Lead]
) -> None:
    older, newer = two_versions()
    rule = DisqualificationRuleFactory(category=RuleCategory.STUDENT, is_active=False)
    before = database_state()
    login = reverse("admin:login")

    responses = [
        sdr_client.get(SETTINGS_CHANGELIST),
        sdr_client.get(settings_url()),
        sdr_client.post(settings_url(), {**SETTINGS_FORM, "sales_ready_threshold": "0.1"}),
        sdr_client.get(VERSIONS),
        sdr_client.get(version_url(older)),
        sdr_client.post(activate_url(older)),
        sdr_client.post(
            VERSIONS, {"action": "activate_selected", "_selected_action": [older.pk], "index": 0}
        ),
        sdr_client.get(rule_url(rule)),
        sdr_client.post(rule_url(rule), {**rule_form(rule, is_active="on"), "_dry_run": "Go"}),
        sdr_client.post(
            RULES, {"action": "dry_run_disable", "_selected_action": [rule.pk], "index": 0}
        ),
        sdr_client.get(reverse("admin:scoring_pointrule_changelist")),
        sdr_client.get(reverse("admin:scoring_idealcustomerprofile_changelist")),
    ]

    for response in responses:
        assert response.status_code == 302, response.request["PATH_INFO"]
        assert response["Location"].startswith(login)
    assert (status_of(older), status_of(newer)) == (ModelStatus.RETIRED, ModelStatus.ACTIVE)
    assert ScoringSettings.load().sales_ready_threshold == 0.5
    assert database_state() == before
