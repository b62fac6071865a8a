"""What the snapshot sets beside outcomes (only live leads), what the pages say about it, and
how every RevOps page labels the active model."""

from __future__ import annotations

import importlib
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.apps import apps
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import Account, Lead
from dashboards import services as dashboard_services
from dashboards.metrics import Metric
from dashboards.models import MetricsSnapshot
from dashboards.selectors.revops import revops_lead_frame
from scoring import replay, services
from scoring.models import Confidence, ModelStatus, ModelVersion, Qualification, Tier
from tests.dashboards.conftest import client_for
from tests.dashboards.revops_world import revops_world
from tests.scoring.test_services import FAST, _history

pytestmark = pytest.mark.django_db


@pytest.fixture
def revops(demo_users: dict[str, User]) -> Client:
    return client_for(demo_users["revops"])


def _metric(snapshot: MetricsSnapshot, group: str, key: str) -> Metric:
    return next(Metric.from_dict(x) for x in snapshot.report[group] if x["key"] == key)


def test_scores_given_after_the_outcome_are_never_set_beside_it(
    demo_users: dict[str, User], revops: Client
) -> None:
    world = revops_world(rep_user=demo_users["sdr"])
    now = timezone.now()
    account = Account.objects.create(name="Late Co", domain="late.example")
    # 20 converted leads that were Nurture, but only ever scored after they converted: as
    # false negatives they would give the metric a sample (10 + 20) and a value.
    for i in range(20):
        lead = Lead.objects.create(
            account=account, email=f"late{i}@late.example", converted_at=now - timedelta(days=3)
        )
        Qualification.objects.create(
            lead=lead,
            model_version=world.current,
            tier=Tier.NURTURE,
            confidence=Confidence.MEDIUM,
            conversion_probability=0.05,
        )

    snapshot = dashboard_services.metrics_snapshot_take()

    false_negative = _metric(snapshot, "secondary", "false_negative_rate")
    assert false_negative.value is None and false_negative.note == "10 qualified leads converted"
    live = snapshot.report["live"]
    assert (live["leads"], live["with_outcome"], live["left_out"]) == (26, 46, 20)
    assert (live["replayed"], live["scored_live"]) == (0, 26)
    assert snapshot.report["outcomes"]["rows"] == 26
    for name in ("revops", "revops-models"):
        html = revops.get(reverse(f"dashboards:{name}")).content.decode()
        assert "26 live leads" in html, name
        assert "The other 20 leads with an outcome are not counted" in html, name


def test_a_replayed_holdout_gives_the_live_figures_the_models_holdout(revops: Client) -> None:
    _history()
    version = services.model_train(params=FAST).version
    services.leads_qualify(lead_ids=list(Lead.objects.values_list("pk", flat=True)), notify=False)
    holdout = version.metrics["holdout"]

    before = dashboard_services.metrics_snapshot_take()
    replay.holdout_replay()
    after = dashboard_services.metrics_snapshot_take()

    # Scored now, after every outcome, by a model trained on most of them: nothing is live.
    assert before.report["live"]["leads"] == 0 and before.report["outcomes"]["rows"] == 0
    assert _metric(before, "secondary", "prediction_accuracy").value is None
    live = after.report["live"]
    assert live["leads"] == live["replayed"] == holdout["rows"]
    assert live["positives"] == holdout["positives"]
    assert live["replayed_model_versions"] == [version.pk]
    assert after.report["outcomes"]["rows"] == holdout["rows"]
    assert after.report["outcomes"]["lift"]["model"]
    prediction = _metric(after, "secondary", "prediction_accuracy")
    assert prediction.sample == holdout["rows"]
    html = revops.get(reverse("dashboards:revops-models")).content.decode()
    assert 'id="lift-chart"' in html and "<td>Live</td>" in html
    assert f"are the holdout of model\n  #{version.pk}," in html
    assert "Not enough data: no live lead" not in html


def test_a_replay_is_not_taken_for_the_moment_a_lead_was_first_qualified() -> None:
    now = timezone.now()
    version = ModelVersion.objects.create(kind="conversion", status=ModelStatus.ACTIVE)
    lead = Lead.objects.create(
        email="new@acme.example", created_at=now - timedelta(days=10), closed_at=now - timedelta(2)
    )
    Qualification.objects.create(
        lead=lead,
        model_version=version,
        is_current=False,
        computed_at=now - timedelta(days=2, minutes=1),
        tier=Tier.NURTURE,
        confidence=Confidence.LOW,
    )
    current = Qualification.objects.create(
        lead=lead, model_version=version, tier=Tier.NURTURE, confidence=Confidence.LOW
    )

    frame = revops_lead_frame(now=now).set_index("lead_id")

    assert frame.loc[lead.pk, "first_qualified_at"] == current.computed_at
    # ... while the replay is the assessment from before the outcome.
    assert frame.loc[lead.pk, "before_at"] == now - timedelta(days=2, minutes=1)


def test_the_first_model_reads_active_and_says_why_on_every_page_that_names_it(
    revops: Client, demo_users: dict[str, User]
) -> None:
    _history()
    version = services.model_train(params=FAST).version
    # Leads of this month, for the drift page to compare with the training window.
    for i in range(3):
        Lead.objects.create(email=f"new{i}@northwind.com")
    dashboard_services.metrics_snapshot_take()

    models = revops.get(reverse("dashboards:revops-models")).content.decode()
    drift = revops.get(reverse("dashboards:revops-drift")).content.decode()
    fairness = revops.get(reverse("dashboards:revops-fairness")).content.decode()
    home = revops.get(reverse("dashboards:home")).content.decode()

    row = models[models.index(f'id="version-{version.pk}"') :].split("</tr>", 1)[0]
    assert ">Active</span>" in row
    assert "the first model, promoted because none was active" in row
    for html in (models, drift, fairness, home):
        assert "no active model" not in html
    assert f"The active model, #{version.pk}:" in drift
    assert f"the active model #{version.pk}" in fairness
    listed = home[home.index(f"Conversion probability #{version.pk}</a>") :].split("</li>")[0]
    assert '<span class="model-state">Active</span>' in listed


def test_drift_says_when_the_snapshots_model_is_no_longer_the_active_one(
    demo_users: dict[str, User], revops: Client
) -> None:
    world = revops_world(rep_user=demo_users["sdr"])
    services.model_activate(model_version=world.old)

    html = revops.get(reverse("dashboards:revops-drift")).content.decode()

    assert (
        f"Model #{world.current.pk}, active when the snapshot was taken "
        f"(#{world.old.pk} is active now)"
    ) in html


def test_the_migration_rewrites_only_the_first_models_untouched_note() -> None:
    migration = importlib.import_module("scoring.migrations.0006_first_model_note")
    first = ModelVersion.objects.create(
        kind="conversion", notes="no active model", activated_at=timezone.now()
    )
    never = ModelVersion.objects.create(kind="conversion", notes="no active model")
    edited = ModelVersion.objects.create(
        kind="timeline", notes="no active model, says Riley", activated_at=timezone.now()
    )

    migration.forwards(apps, None)

    notes = dict(ModelVersion.objects.values_list("pk", "notes"))
    assert notes[first.pk] == "the first model, promoted because none was active"
    assert notes[never.pk] == "no active model"
    assert notes[edited.pk] == "no active model, says Riley"


def test_the_command_takes_a_snapshot_and_says_what_its_outcome_figures_are_over(
    demo_users: dict[str, User],
) -> None:
    revops_world(rep_user=demo_users["sdr"])
    out = StringIO()

    call_command("take_metrics_snapshot", stdout=out)

    snapshot = MetricsSnapshot.objects.order_by("-pk").first()
    assert snapshot is not None and snapshot.report["live"]["leads"] == 24 + 2
    assert f"Snapshot #{snapshot.pk} taken at" in out.getvalue()
    assert "60 leads, 60 qualified (30 Sales Ready)" in out.getvalue()
    assert "outcome figures over 26 live leads" in out.getvalue()


def test_the_command_fails_when_the_report_does_not_compute(monkeypatch: Any) -> None:
    def broken(**_: Any) -> dict[str, Any]:
        raise RuntimeError("the frame would not build")

    monkeypatch.setattr(dashboard_services, "revops_report_compute", broken)

    with pytest.raises(CommandError, match="the RevOps report failed"):
        call_command("take_metrics_snapshot", stdout=StringIO())
    # The counts are still stored, as the hourly job stores them.
    assert MetricsSnapshot.objects.filter(report={}).count() == 1
