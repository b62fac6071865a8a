"""The live population: leads with a known outcome, as a model scored them before it, and only
where that model had not trained on them. Pure: plain frames in, frames and dicts out.

Every outcome figure of the RevOps pages (qualification accuracy, lift over point scoring,
false negatives, prediction accuracy, the live calibration and lift charts) is computed over
this population, never over the current qualifications: a lead is re-qualified after its
outcome (every night), by a model that may have trained on that very outcome, and such a
score measures the training set, not the model.

A lead is live when its latest assessment from before its outcome was made by a conversion
model that cannot have trained on it: either the lead's label did not exist yet when the
model was trained (its outcome, and any rep rejection, came after `trained_at`), or the lead
was created at or after the model's time-ordered holdout cutoff (training used only the leads
created before it). An assessment as of a moment before its model was trained is a replay of
the model's holdout (`scoring.replay`); it counts, and is counted apart.

The frame's columns (`dashboards.selectors.revops.revops_lead_frame`): `created_at`,
`outcome_at`, `first_rejected_at`, and the latest assessment from before the outcome:
`before_at`, `before_model`, `before_tier`, `before_probability`, `before_point_score`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd


@dataclass(frozen=True)
class VersionFacts:
    """What decides whether a conversion model trained on a lead."""

    trained_at: datetime
    # The time-ordered holdout's cutoff; None when the holdout was not time-ordered.
    holdout_cutoff: datetime | None = None


def _utc(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values, utc=True)


def _per_lead(models: pd.Series, versions: Mapping[int, VersionFacts], attr: str) -> pd.Series:
    """A version's fact for each lead's model (NaT where the model is unknown)."""
    facts = {pk: getattr(v, attr) for pk, v in versions.items()}
    return _utc(models.map(lambda pk: facts.get(int(pk)) if pd.notna(pk) else None))


def live_flags(frame: pd.DataFrame, versions: Mapping[int, VersionFacts]) -> pd.DataFrame:
    """Per lead: `assessed` (has an assessment from before its outcome by a known conversion
    model, with a probability), `live` (and that model had not trained on it), `replayed`
    (live, and assessed as of a moment before its model was trained)."""
    trained_at = _per_lead(frame["before_model"], versions, "trained_at")
    cutoff = _per_lead(frame["before_model"], versions, "holdout_cutoff")
    outcome_at = _utc(frame["outcome_at"])
    rejected_at = _utc(frame["first_rejected_at"])
    # The first moment a label existed for training to read.
    label_at = outcome_at.where(rejected_at.isna() | (outcome_at <= rejected_at), rejected_at)
    assessed = (
        outcome_at.notna()
        & _utc(frame["before_at"]).notna()
        & trained_at.notna()
        & pd.to_numeric(frame["before_probability"], errors="coerce").notna()
    )
    unseen = (label_at > trained_at) | (cutoff.notna() & (_utc(frame["created_at"]) >= cutoff))
    live = assessed & unseen
    return pd.DataFrame(
        {
            "assessed": assessed,
            "live": live,
            "replayed": live & (_utc(frame["before_at"]) < trained_at),
        },
        index=frame.index,
    )


def live_frame(frame: pd.DataFrame, flags: pd.DataFrame) -> pd.DataFrame:
    """The live leads, with `tier`, `probability` and `point_score` those of their assessment
    from before the outcome: what `dashboards.metrics`' outcome functions read."""
    live = frame[flags["live"]]
    return live.assign(
        tier=live["before_tier"],
        probability=pd.to_numeric(live["before_probability"], errors="coerce"),
        point_score=pd.to_numeric(live["before_point_score"], errors="coerce"),
    )


def live_summary(frame: pd.DataFrame, flags: pd.DataFrame) -> dict[str, Any]:
    """What the live figures are computed over, for the pages to say (JSON-ready)."""
    resolved = _utc(frame["outcome_at"]).notna()
    live = flags["live"]
    replayed = flags["replayed"]
    models = frame.loc[live, "before_model"].dropna().astype(int)
    converted = frame["converted_at"].notna()
    if "has_opportunity" in frame:
        converted |= frame["has_opportunity"].fillna(False).astype(bool)
    return {
        "leads": int(live.sum()),
        "positives": int((live & converted).sum()),
        "replayed": int(replayed.sum()),
        "scored_live": int((live & ~replayed).sum()),
        "with_outcome": int(resolved.sum()),
        "left_out": int((resolved & ~live).sum()),
        # Assessed before the outcome, but by a model that may have trained on the lead.
        "seen_in_training": int((flags["assessed"] & ~live).sum()),
        "model_versions": sorted({int(m) for m in models}),
        "replayed_model_versions": sorted(
            {int(m) for m in frame.loc[replayed, "before_model"].dropna()}
        ),
    }
