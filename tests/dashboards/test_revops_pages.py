"""The RevOps pages: full pages and HTMX fragments, what the snapshot computed, who may see
them, and their query counts."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from dashboards.metrics import Metric
from dashboards.models import MetricsSnapshot
from tests.dashboards.conftest import client_for
from tests.dashboards.revops_world import RevopsWorld, revops_world

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}
PAGES = ("revops", "revops-models", "revops-fairness", "revops-drift")


@pytest.fixture
def world(demo_users: dict[str, User]) -> RevopsWorld:
    return revops_world(rep_user=demo_users["sdr"])


@pytest.fixture
def revops(demo_users: dict[str, User]) -> Client:
    return client_for(demo_users["revops"])


def _metric(snapshot: MetricsSnapshot, group: str, key: str) -> Metric:
    return next(Metric.from_dict(x) for x in snapshot.report[group] if x["key"] == key)


def test_the_snapshot_computes_the_seed_metrics_from_stored_data(world: RevopsWorld) -> None:
    snapshot = world.snapshot

    assert snapshot.report["leads"] == 60
    assert _metric(snapshot, "primary", "qualification_accuracy").value == pytest.approx(1 / 3)
    assert _metric(snapshot, "primary", "sales_acceptance_rate").value == pytest.approx(0.85)
    # Only 8 leads reach the 100-point routing bar: too few to compare with.
    assert _metric(snapshot, "primary", "lift_over_point_scoring").value is None
    # No cost configured: said so, not invented.
    cost = _metric(snapshot, "primary", "cost_per_qualified_lead")
    assert cost.value is None and "LEADQUAL_QUALIFICATION_MONTHLY_COST" in cost.note
    assert _metric(snapshot, "secondary", "false_positive_rate").value == pytest.approx(0.1)
    # 10 converted leads are below the metric's sample of 20.
    false_negative = _metric(snapshot, "secondary", "false_negative_rate")
    assert false_negative.value is None and false_negative.note == "10 qualified leads converted"
    # 24 x 0.55 + 2 x 0.05 = 13.3 predicted against 10 conversions.
    prediction = _metric(snapshot, "secondary", "prediction_accuracy")
    assert prediction.value == pytest.approx(3.3 / 13.3)
    assert len(snapshot.report["diagnostic"]) == 5


def test_the_snapshot_flags_the_region_that_fails_the_80_percent_rule(world: RevopsWorld) -> None:
    region = next(g for g in world.snapshot.report["fairness"] if g["column"] == "region")
    levels = {row["level"]: row for row in region["levels"]}

    assert levels["EMEA"]["rate"] == 1.0 and not levels["EMEA"]["flagged"]
    assert levels["NA"]["rate"] == 0.0 and levels["NA"]["flagged"]


def test_the_snapshot_compares_recent_leads_with_the_training_window(world: RevopsWorld) -> None:
    drift = world.snapshot.report["drift"]

    assert drift["model_version"] == world.current.pk
    # Leads created 90 days ago fall in the window; those of 10 days ago are "now".
    assert drift["training_rows"] == 30
    assert drift["current_rows"] == 30
    features = {f["column"]: f for f in drift["features"]}
    assert features["region"]["psi"] == pytest.approx(0.0)
    assert {"industry", "email_domain_type", "company_size", "log_employees"} <= set(features)


def test_overview_shows_the_metrics_tier_history_and_vendored_plotly(
    world: RevopsWorld, revops: Client
) -> None:
    response = revops.get(reverse("dashboards:revops"))

    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" in html
    for text in ("Primary metrics", "Qualification accuracy", "33%", "Diagnostic metrics"):
        assert text in html
    assert "/static/vendor/plotly-basic.min.js" in html
    assert "cdn" not in html.lower()
    assert 'id="tier-history-chart"' in html
    # The chart's numbers, readable without JavaScript.
    assert "<summary>The numbers (1 snapshot)</summary>" in html
    assert response["Vary"].count("HX-Request") == 1


def test_overview_tier_history_fragment(world: RevopsWorld, revops: Client) -> None:
    response = revops.get(
        reverse("dashboards:revops"), {"days": 7}, headers={**HTMX, "HX-Target": "tier-history"}
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert html.lstrip().startswith('<section id="tier-history"')
    assert '<option value="7" selected>' in html
    assert "Primary metrics" not in html


def test_pages_before_the_first_snapshot_say_so(
    demo_users: dict[str, User], revops: Client
) -> None:
    for name in PAGES[:1] + PAGES[2:]:
        response = revops.get(reverse(f"dashboards:{name}"))
        assert response.status_code == 200
        assert "No metrics snapshot yet" in response.content.decode(), name
    models = revops.get(reverse("dashboards:revops-models")).content.decode()
    assert "No conversion model trained yet" in models


def test_models_page_shows_versions_calibration_and_lift(
    world: RevopsWorld, revops: Client
) -> None:
    response = revops.get(reverse("dashboards:revops-models"))

    html = response.content.decode()
    assert response.status_code == 200
    assert f'id="version-{world.current.pk}"' in html
    assert f'id="version-{world.old.pk}"' in html
    assert f"Roll back to #{world.old.pk}" in html
    assert 'id="calibration-chart"' in html
    assert 'id="lift-chart"' in html
    # The calibration table: the holdout bins with leads, empty bins left out.
    assert html.count("<td>Holdout</td>") == 2
    assert "0.420" in html  # holdout precision at capacity
    assert "Train now" in html


def test_models_registry_fragment(world: RevopsWorld, revops: Client) -> None:
    response = revops.get(
        reverse("dashboards:revops-models"), headers={**HTMX, "HX-Target": "registry"}
    )

    html = response.content.decode()
    assert "<html" not in html
    assert html.lstrip().startswith('<section id="registry"')
    assert "calibration-chart" not in html


def test_fairness_page_flags_the_segment(world: RevopsWorld, revops: Client) -> None:
    response = revops.get(reverse("dashboards:revops-fairness"))

    html = response.content.decode()
    assert response.status_code == 200
    assert "Below 80%" in html
    assert 'class="fair-flagged"' in html
    for label in ("Region", "Company size", "Industry", "Email domain"):
        assert f">{label}</h2>" in html
    # The active model's holdout AUC per segment, as stored at training.
    assert "<caption>Region</caption>" in html
    assert "0.830" in html
    assert "fewer than 30 rows" in html


def test_drift_page_and_feature_fragment(world: RevopsWorld, revops: Client) -> None:
    page = revops.get(reverse("dashboards:revops-drift"))
    fragment = revops.get(
        reverse("dashboards:revops-drift"),
        {"feature": "industry"},
        headers={**HTMX, "HX-Target": "feature-detail"},
    )

    assert page.status_code == 200
    assert 'id="psi-chart"' in page.content.decode()
    html = fragment.content.decode()
    assert "<html" not in html
    assert html.lstrip().startswith('<section id="feature-detail"')
    assert "Industry" in html and "software" in html


@pytest.mark.parametrize("role", ["sdr", "manager"])
def test_sdrs_and_managers_get_a_clear_403_on_every_revops_page(
    world: RevopsWorld, demo_users: dict[str, User], role: str
) -> None:
    client = client_for(demo_users[role])

    for name in PAGES:
        response = client.get(reverse(f"dashboards:{name}"))
        assert response.status_code == 403, name
        assert "RevOps only" in response.content.decode()
    response = client.post(reverse("dashboards:revops-model-activate", args=[world.old.pk]))
    assert response.status_code == 403
    world.old.refresh_from_db()
    assert world.old.status == "retired"


def test_a_superuser_sees_the_pages(world: RevopsWorld, demo_users: dict[str, User]) -> None:
    client = client_for(demo_users["admin"])

    for name in PAGES:
        assert client.get(reverse(f"dashboards:{name}")).status_code == 200, name


def test_signed_out_visitors_are_sent_to_log_in(world: RevopsWorld) -> None:
    response = Client().get(reverse("dashboards:revops"))

    assert response.status_code == 302
    assert "login" in response["Location"]


@pytest.mark.parametrize(
    ("name", "headers", "most"),
    [
        ("revops", {}, 8),
        ("revops", {**HTMX, "HX-Target": "tier-history"}, 6),
        ("revops-models", {}, 10),
        ("revops-models", {**HTMX, "HX-Target": "registry"}, 8),
        ("revops-fairness", {}, 7),
        # The active model, to say whether the snapshot's model is still the active one.
        ("revops-drift", {}, 7),
    ],
)
def test_query_count_is_bounded_whatever_the_number_of_leads(
    demo_users: dict[str, User], revops: Client, name: str, headers: dict[str, str], most: int
) -> None:
    revops_world(rep_user=demo_users["sdr"], extra_leads=40)
    revops.get(reverse(f"dashboards:{name}"), headers=headers)  # session, permission caches

    with CaptureQueriesContext(connection) as queries:
        response = revops.get(reverse(f"dashboards:{name}"), headers=headers)

    assert response.status_code == 200
    assert len(queries) <= most, [q["sql"][:120] for q in queries.captured_queries]
