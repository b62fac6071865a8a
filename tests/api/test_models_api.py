"""The model registry endpoints: list with headline metrics, detail, and activation rights."""

from __future__ import annotations

import functools
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.models import ApiScope
from scoring.ml import artifact
from scoring.ml.conversion import ConversionParams, train_conversion_model
from scoring.models import ModelKind, ModelStatus, ModelVersion
from tests.api.test_leads_api import field_errors, token_client
from tests.factories import ModelVersionFactory
from tests.scoring.ml.conftest import make_leads

pytestmark = pytest.mark.django_db

MODELS = "/api/v1/models"

CONVERSION_METRICS: dict[str, Any] = {
    "auc": 0.81,
    "log_loss": 0.31,
    "brier": 0.09,
    "ece": 0.012,
    "base_rate": 0.11,
    "rows": 4000,
    "at_capacity": {"capacity": 0.1, "rows": 400, "precision": 0.42, "recall": 0.38, "lift": 3.8},
    "lift_over_baseline_at_capacity": 1.6,
    "calibration_bins": [{"low": 0.0, "high": 0.1, "mean": 0.05, "rate": 0.04}],
    "holdout": {"method": "time", "rows": 4000},
}


@pytest.fixture
def reader() -> Client:
    return token_client(ApiScope.READ)


@functools.cache
def real_artifact() -> bytes:
    """A small trained model's artifact: activation proves an artifact loads first."""
    X, y, _ = make_leads(n=400, seed=3)
    return artifact.dump(train_conversion_model(X, y, params=ConversionParams(seed=1)))


def loadable(**fields: Any) -> ModelVersion:
    version: ModelVersion = ModelVersionFactory(artifact=real_artifact(), **fields)
    return version


def test_model_list_shows_status_and_headline_metrics_newest_first(reader: Client) -> None:
    older = ModelVersionFactory(status=ModelStatus.RETIRED, metrics={"auc": 0.7})
    active = ModelVersionFactory(status=ModelStatus.ACTIVE, metrics=CONVERSION_METRICS)
    ModelVersion.objects.filter(pk=older.pk).update(trained_at=active.trained_at.replace(year=2020))

    response = reader.get(MODELS)

    assert response.status_code == 200
    rows = response.json()["results"]
    assert [row["id"] for row in rows] == [active.pk, older.pk]
    assert rows[0]["status"] == "active"
    assert rows[0]["kind"] == "conversion"
    headline = rows[0]["headline_metrics"]
    assert headline["auc"] == 0.81
    assert headline["precision_at_capacity"] == 0.42
    assert headline["lift_at_capacity"] == 3.8
    assert headline["lift_over_baseline_at_capacity"] == 1.6
    # The list stays small: calibration bins and the holdout description are in the detail.
    assert "calibration_bins" not in headline
    assert "metrics" not in rows[0]


def test_model_list_filters_by_kind_and_status(reader: Client) -> None:
    conversion = ModelVersionFactory(kind=ModelKind.CONVERSION)
    timeline = ModelVersionFactory(kind=ModelKind.TIMELINE, status=ModelStatus.ACTIVE)

    assert [r["id"] for r in reader.get(MODELS, {"kind": "timeline"}).json()["results"]] == [
        timeline.pk
    ]
    assert [r["id"] for r in reader.get(MODELS, {"status": "candidate"}).json()["results"]] == [
        conversion.pk
    ]
    response = reader.get(MODELS, {"kind": "neural"})
    assert response.status_code == 400
    assert "kind" in field_errors(response)


def test_model_list_queries_do_not_grow_with_the_page_size(reader: Client) -> None:
    for _ in range(10):
        ModelVersionFactory(metrics=CONVERSION_METRICS)

    reader.get(MODELS)  # stamps the token's last_used_at, once a minute: not part of the read
    counts = []
    for size in (2, 10):
        with CaptureQueriesContext(connection) as captured:
            assert reader.get(MODELS, {"page_size": size}).status_code == 200
        counts.append(len(captured))
        # The artifact (megabytes in production) is never read to list models.
        assert not any('"artifact"' in q["sql"] for q in captured.captured_queries)

    assert counts[0] == counts[1]


def test_model_detail_has_every_metric(reader: Client) -> None:
    version = ModelVersionFactory(
        metrics=CONVERSION_METRICS, feature_names=["pricing_views_30d"], params={"eta": 0.05}
    )

    body = reader.get(f"{MODELS}/{version.pk}").json()

    assert body["metrics"] == CONVERSION_METRICS
    assert body["feature_names"] == ["pricing_views_30d"]
    assert body["params"] == {"eta": 0.05}


def test_a_missing_model_is_404(reader: Client) -> None:
    response = reader.get(f"{MODELS}/999999")

    assert response.status_code == 404
    assert response.json()["error"]["status"] == 404


def test_an_sdr_cannot_read_the_registry(sdr_client: Client) -> None:
    assert sdr_client.get(MODELS).status_code == 403


def test_a_manager_reads_the_registry(manager_client: Client) -> None:
    ModelVersionFactory()

    assert manager_client.get(MODELS).status_code == 200


# --- activation -----------------------------------------------------------------------------


def test_revops_activates_a_candidate_and_the_old_version_retires(
    revops_client: Client, revops_user: User
) -> None:
    old = ModelVersionFactory(status=ModelStatus.ACTIVE)
    candidate = loadable()
    other_kind = ModelVersionFactory(kind=ModelKind.TIMELINE, status=ModelStatus.ACTIVE)

    response = revops_client.post(f"{MODELS}/{candidate.pk}/activate")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "active"
    assert body["activated_by"]["id"] == revops_user.pk
    candidate.refresh_from_db()
    old.refresh_from_db()
    other_kind.refresh_from_db()
    assert candidate.status == ModelStatus.ACTIVE
    assert candidate.activated_by_id == revops_user.pk
    assert old.status == ModelStatus.RETIRED
    assert other_kind.status == ModelStatus.ACTIVE  # one active per kind, not overall


def test_activating_a_retired_version_rolls_back_to_it(revops_client: Client) -> None:
    retired = loadable(status=ModelStatus.RETIRED)
    current = ModelVersionFactory(status=ModelStatus.ACTIVE)

    assert revops_client.post(f"{MODELS}/{retired.pk}/activate").status_code == 200

    current.refresh_from_db()
    assert current.status == ModelStatus.RETIRED


@pytest.mark.parametrize("who", ["manager", "sdr", "read token", "ingest token", "nobody"])
def test_only_a_user_who_may_change_models_activates_one(
    who: str, manager_client: Client, sdr_client: Client
) -> None:
    clients = {
        "manager": manager_client,
        "sdr": sdr_client,
        "read token": token_client(ApiScope.READ),
        "ingest token": token_client(ApiScope.INGEST),
        "nobody": Client(),
    }
    candidate = loadable()

    response = clients[who].post(f"{MODELS}/{candidate.pk}/activate")

    assert response.status_code in (401, 403)
    assert response.json()["error"]["status"] == response.status_code
    candidate.refresh_from_db()
    assert candidate.status == ModelStatus.CANDIDATE


def test_activating_a_missing_model_is_404(revops_client: Client) -> None:
    assert revops_client.post(f"{MODELS}/999999/activate").status_code == 404


@pytest.mark.parametrize(
    "data", [b"", b"not a zip", b"PK\x03\x04 truncated"], ids=["empty", "text", "broken zip"]
)
def test_a_version_whose_artifact_cannot_load_is_not_activated(
    revops_client: Client, data: bytes
) -> None:
    active = loadable(status=ModelStatus.ACTIVE)
    broken = ModelVersionFactory(artifact=data)

    response = revops_client.post(f"{MODELS}/{broken.pk}/activate")

    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "conflict"
    assert "cannot be loaded" in error["message"]
    broken.refresh_from_db()
    active.refresh_from_db()
    assert (broken.status, active.status) == (ModelStatus.CANDIDATE, ModelStatus.ACTIVE)
