"""Trained models to bytes and back, for ``ModelVersion.artifact``, without pickle.

The artifact is a zip archive:

- ``manifest.json``: ``format`` ("leadqual-model"), ``version``, ``kind`` ("conversion",
  "timeline", "deal_size", ...), ``model`` ("conversion" or "range"), the feature schema (names,
  kinds, category levels in code order), the calibrator's parameters, the training params and
  the metrics, and the names of the booster members;
- ``booster-<i>.ubj``: each XGBoost booster in XGBoost's own UBJSON format
  (``Booster.save_raw("ubj")``).

Loading reads only JSON and XGBoost's format: nothing in an artifact can run code. Predictions are
bit-identical after a round trip (floats go through JSON with their exact repr).
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import xgboost as xgb

from scoring.ml.calibration import calibrator_from_dict
from scoring.ml.conversion import TrainedConversionModel
from scoring.ml.dataset import FeatureSchema
from scoring.ml.ranges import TrainedRangeModel

FORMAT = "leadqual-model"
VERSION = 1
MANIFEST = "manifest.json"
# A real artifact is a few MB; refuse anything that would inflate far beyond that.
MAX_MEMBER_BYTES = 512 * 1024 * 1024

Model = TrainedConversionModel | TrainedRangeModel


class ArtifactError(ValueError):
    """The bytes are not a model artifact this code can read."""


def _booster_bytes(booster: xgb.Booster) -> bytes:
    return bytes(booster.save_raw(raw_format="ubj"))


def dump(model: Model) -> bytes:
    """Serialise a trained model (see the module docstring)."""
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "kind": model.kind,
        "schema": model.schema.to_dict(),
        "params": model.params,
        "metrics": model.metrics,
        "xgboost": xgb.__version__,
    }
    if isinstance(model, TrainedConversionModel):
        manifest["model"] = "conversion"
        manifest["calibrator"] = model.calibrator.to_dict()
    else:
        manifest["model"] = "range"
    # A list, so that a later version can store an ensemble without a new format.
    boosters = [model.booster]
    manifest["boosters"] = [f"booster-{i}.ubj" for i in range(len(boosters))]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(MANIFEST, json.dumps(manifest, allow_nan=False, sort_keys=True))
        for name, booster in zip(manifest["boosters"], boosters, strict=True):
            archive.writestr(name, _booster_bytes(booster))
    return buffer.getvalue()


def _read(archive: zipfile.ZipFile, name: str) -> bytes:
    try:
        info = archive.getinfo(name)
    except KeyError as exc:
        raise ArtifactError(f"artifact lacks {name}") from exc
    if info.file_size > MAX_MEMBER_BYTES:
        raise ArtifactError(f"{name} is implausibly large ({info.file_size} bytes)")
    return archive.read(name)


def load(data: bytes | memoryview, *, threads: int | None = None) -> Model:
    """Rebuild a model from ``dump``'s bytes; ``ArtifactError`` if they are not an artifact.

    ``threads``: how many threads its predictions use (default: as trained)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(bytes(data)))
    except zipfile.BadZipFile as exc:
        raise ArtifactError("not a model artifact (not a zip archive)") from exc
    with archive:
        try:
            manifest = json.loads(_read(archive, MANIFEST))
        except json.JSONDecodeError as exc:
            raise ArtifactError("the manifest is not JSON") from exc
        if manifest.get("format") != FORMAT:
            raise ArtifactError(f"unknown artifact format {manifest.get('format')!r}")
        if manifest.get("version") != VERSION:
            raise ArtifactError(f"unsupported artifact version {manifest.get('version')!r}")
        boosters = []
        for name in manifest["boosters"]:
            booster = xgb.Booster()
            booster.load_model(bytearray(_read(archive, name)))
            boosters.append(booster)
    if len(boosters) != 1:
        raise ArtifactError(f"expected one booster, found {len(boosters)}")
    schema = FeatureSchema.from_dict(manifest["schema"])
    nthread = threads or int(manifest["params"].get("nthread", 2))
    for booster in boosters:
        # The thread count is a run-time setting, not part of the saved model.
        booster.set_param({"nthread": nthread})
    params = {**manifest["params"], "nthread": nthread}
    if manifest["model"] == "conversion":
        return TrainedConversionModel(
            booster=boosters[0],
            calibrator=calibrator_from_dict(manifest["calibrator"]),
            schema=schema,
            params=params,
            metrics=manifest["metrics"],
            kind=manifest["kind"],
        )
    if manifest["model"] == "range":
        return TrainedRangeModel(
            booster=boosters[0],
            schema=schema,
            params=params,
            metrics=manifest["metrics"],
            kind=manifest["kind"],
        )
    raise ArtifactError(f"unknown model type {manifest['model']!r}")


def load_conversion(data: bytes | memoryview) -> TrainedConversionModel:
    """``load``, insisting on a conversion model."""
    model = load(data)
    if not isinstance(model, TrainedConversionModel):
        raise ArtifactError(f"expected a conversion model, found {model.kind!r}")
    return model


def load_range(data: bytes | memoryview) -> TrainedRangeModel:
    """``load``, insisting on a range model (timeline or deal size)."""
    model = load(data)
    if not isinstance(model, TrainedRangeModel):
        raise ArtifactError(f"expected a range model, found {model.kind!r}")
    return model
