from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pandas as pd
import pytest

from scoring.ml import artifact
from scoring.ml.conversion import (
    ConversionParams,
    TrainedConversionModel,
    train_conversion_model,
)
from scoring.ml.ranges import train_range_model
from tests.scoring.ml.conftest import make_leads


def test_conversion_model_round_trip_gives_identical_predictions(trained, leads):
    X, _, _ = leads
    data = artifact.dump(trained)
    assert isinstance(data, bytes)
    again = artifact.load_conversion(data)
    assert np.array_equal(again.predict_proba(X), trained.predict_proba(X))
    pd.testing.assert_frame_equal(
        again.contributions(X.iloc[:20]), trained.contributions(X.iloc[:20])
    )
    assert again.schema == trained.schema
    assert again.metrics == json.loads(json.dumps(trained.metrics))
    assert again.params == trained.params
    assert again.split is None


def test_isotonic_calibrated_model_round_trips_too(leads):
    X, y, _ = leads
    model = train_conversion_model(X, y, params=ConversionParams(calibration="isotonic", folds=3))
    assert model.calibrator.method == "isotonic"
    again = artifact.load_conversion(artifact.dump(model))
    assert np.array_equal(again.predict_proba(X), model.predict_proba(X))


def test_range_model_round_trip_gives_identical_ranges():
    X, _, _ = make_leads(300, seed=4)
    days = pd.Series(np.exp(3 + 0.2 * X["pricing_visits"]), index=X.index)
    model = train_range_model(X, days, kind="timeline").model
    assert model is not None
    again = artifact.load_range(artifact.dump(model))
    assert again.kind == "timeline"
    pd.testing.assert_frame_equal(again.predict_range(X), model.predict_range(X))


def test_the_artifact_is_a_zip_of_json_and_xgboost_boosters_only(trained):
    with zipfile.ZipFile(io.BytesIO(artifact.dump(trained))) as archive:
        names = archive.namelist()
        manifest = json.loads(archive.read("manifest.json"))
    assert names == ["manifest.json", *manifest["boosters"]]
    assert all(name.endswith(".ubj") for name in manifest["boosters"])
    assert manifest["calibrator"]["method"] in {"isotonic", "platt"}
    assert manifest["schema"]["features"][2] == {
        "name": "source",
        "kind": "categorical",
        "levels": ["ads", "event", "organic", "partner", "referral"],
    }


def test_typed_loaders_refuse_the_other_kind_of_model(trained):
    with pytest.raises(artifact.ArtifactError, match="expected a range model"):
        artifact.load_range(artifact.dump(trained))


def test_loading_anything_else_fails_cleanly():
    with pytest.raises(artifact.ArtifactError, match="not a zip"):
        artifact.load(b"\x80\x04pickled")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("manifest.json", json.dumps({"format": "other"}))
    with pytest.raises(artifact.ArtifactError, match="unknown artifact format"):
        artifact.load(buffer.getvalue())


def _booster_threads(model: artifact.Model) -> int:
    config = json.loads(model.booster.save_config())
    return int(config["learner"]["generic_param"]["nthread"])


def test_a_loaded_model_predicts_with_the_threads_asked_for(trained, leads):
    X, _, _ = leads
    data = artifact.dump(trained)

    as_trained = artifact.load_conversion(data)
    one = artifact.load(data, threads=1)
    assert isinstance(one, TrainedConversionModel)

    assert _booster_threads(as_trained) == as_trained.params["nthread"] == 2
    assert _booster_threads(one) == one.params["nthread"] == 1
    np.testing.assert_array_equal(one.predict_proba(X), as_trained.predict_proba(X))
