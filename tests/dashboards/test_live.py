"""The live population (`dashboards.live`): which leads' scores may be set beside their
outcome. Pure: frames built by hand, one lead per case."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from dashboards import live

T0 = datetime(2026, 6, 1, tzinfo=UTC)
DAY = timedelta(days=1)
# #1 trained at T0 on leads created before T0 - 30 days (its time-ordered holdout's cutoff);
# #2 trained at T0 + 40 days with a stratified holdout (no cutoff).
VERSIONS = {
    1: live.VersionFacts(trained_at=T0, holdout_cutoff=T0 - 30 * DAY),
    2: live.VersionFacts(trained_at=T0 + 40 * DAY),
}

# name: (created, outcome, converted, first rejection, scored at, by model)
CASES: dict[str, tuple[datetime, datetime | None, bool, datetime | None, datetime, int | None]] = {
    # Scored by #1 after its training, before the outcome: what the model said, unseen.
    "scored_live": (T0 - 60 * DAY, T0 + 10 * DAY, True, None, T0 + 2 * DAY, 1),
    # #1's holdout replayed: created after the cutoff, scored before the outcome, before #1
    # was trained.
    "replayed": (T0 - 20 * DAY, T0 - 5 * DAY, False, None, T0 - 5 * DAY - timedelta(minutes=1), 1),
    # Scored before its outcome, as of before #1 was trained, but created before the cutoff:
    # a training row of #1.
    "training_row": (T0 - 90 * DAY, T0 - 50 * DAY, True, None, T0 - 51 * DAY, 1),
    # A rep's rejection before #1 was trained is a training label, whatever came after.
    "rejected_before_training": (T0 - 60 * DAY, T0 + 9 * DAY, True, T0 - DAY, T0 + DAY, 1),
    # Scored by #2 before the outcome, but #2 was trained after that outcome (and has no
    # cutoff to clear it).
    "outcome_before_training": (T0 - 20 * DAY, T0 + 20 * DAY, False, None, T0 + 15 * DAY, 2),
    # Never scored before its outcome.
    "scored_after": (T0 - 60 * DAY, T0 + 5 * DAY, True, None, pd.NaT, None),
    # No outcome yet: not part of any outcome figure.
    "open": (T0 - 10 * DAY, None, False, None, pd.NaT, None),
}


def _frame() -> pd.DataFrame:
    rows = []
    for name, (created, outcome, converted, rejected, scored, model) in CASES.items():
        rows.append(
            {
                "name": name,
                "created_at": created,
                "converted_at": outcome if converted else None,
                "closed_at": None if converted or outcome is None else outcome,
                "has_opportunity": False,
                "outcome_at": outcome,
                "first_rejected_at": rejected,
                "before_at": scored,
                "before_model": model,
                "before_tier": None if model is None else "sales_ready",
                "before_probability": None if model is None else 0.6,
                "before_point_score": None if model is None else 120,
                "tier": "nurture",
                "probability": 0.05,
                "point_score": 10,
            }
        )
    frame = pd.DataFrame(rows).set_index("name")
    for column in ("created_at", "converted_at", "closed_at", "outcome_at", "first_rejected_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


@pytest.fixture
def frame() -> pd.DataFrame:
    return _frame()


def test_a_lead_is_live_only_when_its_scoring_model_cannot_have_trained_on_it(
    frame: pd.DataFrame,
) -> None:
    flags = live.live_flags(frame, VERSIONS)

    assert set(flags.index[flags["live"]]) == {"scored_live", "replayed"}
    assert set(flags.index[flags["replayed"]]) == {"replayed"}
    assert set(flags.index[flags["assessed"] & ~flags["live"]]) == {
        "training_row",
        "rejected_before_training",
        "outcome_before_training",
    }


def test_a_model_missing_from_the_registry_makes_no_lead_live(frame: pd.DataFrame) -> None:
    flags = live.live_flags(frame, {2: VERSIONS[2]})

    assert not flags.loc[["scored_live", "replayed"], "assessed"].any()


def test_the_live_frame_carries_the_assessment_from_before_the_outcome(
    frame: pd.DataFrame,
) -> None:
    live_leads = live.live_frame(frame, live.live_flags(frame, VERSIONS))

    assert list(live_leads.index) == ["scored_live", "replayed"]
    # The current columns (scored after the outcome) are replaced, not mixed in.
    assert set(live_leads["tier"]) == {"sales_ready"}
    assert list(live_leads["probability"]) == [0.6, 0.6]
    assert list(live_leads["point_score"]) == [120, 120]


def test_the_summary_says_what_the_live_figures_are_computed_over(frame: pd.DataFrame) -> None:
    summary = live.live_summary(frame, live.live_flags(frame, VERSIONS))

    assert summary == {
        "leads": 2,
        "positives": 1,
        "replayed": 1,
        "scored_live": 1,
        "with_outcome": 6,
        "left_out": 4,
        "seen_in_training": 3,
        "model_versions": [1],
        "replayed_model_versions": [1],
    }
