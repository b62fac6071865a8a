"""The qualification issue's acceptance, end to end through the product's own commands.

Real data goes in through `import_history` with the shipped mappings, exactly as a customer's
CRM export would, and the figures are read from `train_model --json`: the holdout AUC is
measured on rows the model never trained on.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from scoring.models import ModelVersion

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
DATASETS = Path(os.environ.get("LEADQUAL_DATASETS_DIR", REPO.parent / "shared" / "datasets"))


def _train_json(*, seed: int = 0) -> dict[str, Any]:
    out = io.StringIO()
    call_command("train_model", "--json", "--seed", str(seed), stdout=out)
    metrics: dict[str, Any] = json.loads(out.getvalue())
    return metrics


def _assert_cross_validated(metrics: dict[str, Any], rows: int) -> None:
    """No dates: every lead scored by one of five models trained without it."""
    holdout = metrics["holdout"]
    assert holdout["method"] == "cross-validated"
    assert holdout["rows"] == rows and holdout["folds"] == 5
    assert len(holdout["fold_auc"]) == 5
    fixed = metrics["promotion_holdout"]
    assert fixed["holdout"]["method"] == "stratified"
    assert fixed["holdout"]["rows"] == round(rows * 0.2)
    assert fixed["auc"] == holdout["fold_auc"][0]


def _import(relative: str, mapping: str) -> None:
    path = DATASETS / relative
    if not path.exists():
        pytest.skip(f"dataset not found at {path} (set LEADQUAL_DATASETS_DIR)")
    call_command(
        "import_history",
        str(path),
        "--mapping",
        str(REPO / "docs" / "mappings" / mapping),
        "--no-progress",
        stdout=io.StringIO(),
    )


def test_x_education_leads_reach_a_holdout_auc_of_090_without_the_leaky_columns():
    _import("x_education_leads/Leads.csv", "x_education_leads.toml")
    metrics = _train_json()
    _assert_cross_validated(metrics, 9240)
    assert metrics["auc"] >= 0.90, metrics["holdout"]
    assert metrics["ece"] <= 0.03, metrics["ece"]
    # Not one lucky seed: another seed's folds give the same figure within a few thousandths.
    other = _train_json(seed=1)
    assert other["auc"] >= 0.90 and abs(other["auc"] - metrics["auc"]) < 0.005, other["holdout"]
    features = ModelVersion.objects.get(pk=metrics["model_version"]).feature_names
    leaky = ("tags", "lead_quality", "lead_profile", "asymmetrique", "last_notable_activity")
    assert not [f for f in features if any(word in f for word in leaky)]
    assert any(f.startswith("attr__") for f in features)


def test_online_shoppers_reach_a_holdout_auc_of_093():
    _import("uci_online_shoppers_intention/online_shoppers_intention.csv",
            "uci_online_shoppers_intention.toml")  # fmt: skip
    metrics = _train_json()
    _assert_cross_validated(metrics, 12330)
    assert metrics["auc"] >= 0.93, metrics["holdout"]
    assert metrics["ece"] <= 0.03, metrics["ece"]
    other = _train_json(seed=1)
    assert other["auc"] >= 0.93 and abs(other["auc"] - metrics["auc"]) < 0.005, other["holdout"]


def test_on_the_demo_world_the_model_beats_point_scoring_at_capacity_and_is_calibrated():
    call_command("generate_demo_data", "--leads", "20000", "--seed", "42",
                 "--anchor", "2026-06-01", stdout=io.StringIO())  # fmt: skip
    metrics = _train_json()
    assert metrics["holdout"]["method"] == "time"
    # At a capacity of the top 10%, the model's picks convert at least 1.5x as often as the
    # top 10% by the traditional point score, on the same holdout.
    assert metrics["at_capacity"]["capacity"] == pytest.approx(0.1)
    assert metrics["lift_over_baseline_at_capacity"] >= 1.5, metrics
    assert metrics["ece"] <= 0.03, metrics["ece"]
    # Both do far better than chance, and the model better than the points.
    assert metrics["baseline_auc"] > 0.6
    assert metrics["auc"] > metrics["baseline_auc"] + 0.03
