from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from scoring.ml.dataset import (
    ColumnKind,
    FeatureSchema,
    frame_types,
    holdout_split,
    keyed_folds,
    stratified_holdout,
)


def test_frame_types_types_columns_the_way_a_csv_import_would():
    df = pd.DataFrame(
        {
            "id": [f"uuid-{i}" for i in range(300)],
            "visits": [str(i % 7) for i in range(300)],
            "seconds": ["12.5", "", "7"] * 100,
            "opt_out": ["Yes", "no", "NO"] * 100,
            "agreed": ["TRUE", "false", ""] * 100,
            "flag01": [1, 0, 1] * 100,
            "source": ["Google", "google ", "Direct  Traffic", "Select", "direct traffic"] * 60,
            "signup": ["2024-01-0" + str(1 + i % 9) for i in range(300)],
            "blank": ["", " ", "Select"] * 100,
        }
    )
    typed = frame_types(df, exclude=["id"])
    assert typed.kinds == {
        "visits": ColumnKind.NUMERIC,
        "seconds": ColumnKind.NUMERIC,
        "opt_out": ColumnKind.BOOLEAN,
        "agreed": ColumnKind.BOOLEAN,
        "flag01": ColumnKind.BOOLEAN,
        "source": ColumnKind.CATEGORICAL,
    }
    assert typed.dropped == {"id": "excluded", "signup": "date", "blank": "empty"}
    frame = typed.frame
    assert frame["seconds"][0] == 12.5 and frame["seconds"][2] == 7.0
    assert np.isnan(frame["seconds"][1])
    assert frame["opt_out"].tolist()[:3] == [1.0, 0.0, 0.0]
    assert np.isnan(frame["agreed"][2])
    # Case and spacing variants are one level; "Select" is missing.
    assert list(frame["source"].cat.categories) == ["Direct  Traffic", "Google"]
    assert frame["source"][1] == "Google"
    assert pd.isna(frame["source"][3])


def test_frame_types_drops_identifier_like_text():
    df = pd.DataFrame({"email": [f"p{i}@x.io" for i in range(500)], "n": range(500)})
    typed = frame_types(df, max_levels=100)
    assert typed.dropped == {"email": "identifier"}
    assert typed.kinds == {"n": ColumnKind.NUMERIC}


def test_schema_maps_serving_categories_to_training_codes_and_unseen_to_missing():
    train = pd.DataFrame(
        {"source": pd.Categorical(["b", "a", "a", "c"]), "x": [1.0, 2.0, 3.0, 4.0]}
    )
    schema = FeatureSchema.fit(train, min_level_count=2)
    # "b" and "c" occur once: too rare to learn from, so they are not levels.
    assert schema.features[0].levels == ("a",)
    serving = pd.DataFrame({"x": ["5", None, "7"], "source": pd.Categorical(["zzz", "a", "b"])})
    prepared = schema.prepare(serving)
    assert list(prepared.columns) == ["source", "x"]
    assert prepared["source"].cat.categories.tolist() == ["a"]
    assert prepared["source"].isna().tolist() == [True, False, True]
    assert prepared["x"].dtype == np.float64 and np.isnan(prepared["x"][1])
    # Plain text columns are recoded the same way.
    assert schema.prepare(serving.assign(source=["a", "q", None]))["source"].isna().tolist() == [
        False,
        True,
        True,
    ]


def test_a_training_column_absent_at_serving_is_missing_for_every_row():
    # A custom attribute none of the served leads carries: the model sees "unknown", not a crash.
    schema = FeatureSchema.fit(pd.DataFrame({"x": [1.0, 3.0], "y": [2.0, 4.0]}))
    prepared = schema.prepare(pd.DataFrame({"x": [1.0]}))
    assert list(prepared.columns) == ["x", "y"]
    assert prepared["y"].isna().all()


def test_schema_round_trips_through_a_dict():
    schema = FeatureSchema.fit(pd.DataFrame({"c": pd.Categorical(["u", "v"]), "n": [1.0, 2.0]}))
    assert FeatureSchema.from_dict(schema.to_dict()) == schema


def _labels(n, seed=0):
    rng = np.random.default_rng(seed)
    return pd.Series(rng.integers(0, 2, n), index=pd.Index(range(1000, 1000 + n)))


def test_spread_dates_give_a_time_ordered_holdout_of_the_newest_rows():
    y = _labels(500)
    created = pd.Series(
        pd.date_range("2024-01-01", periods=500, freq="12h", tz="UTC"), index=y.index
    ).sample(frac=1.0, random_state=1)
    split = holdout_split(y, created_at=created, fraction=0.2)
    assert split.method == "time"
    assert len(split.holdout_index) == 100
    assert created.loc[split.holdout_index].min() > created.loc[split.train_index].max()
    info = split.describe(y)
    assert info["method"] == "time" and info["rows"] == 100 and info["cutoff"]


def test_dates_all_on_one_day_give_a_stratified_holdout():
    y = _labels(500)
    created = pd.Series(pd.Timestamp("2024-03-01", tz="UTC"), index=y.index)
    split = holdout_split(y, created_at=created, fraction=0.2, seed=3)
    assert split.method == "stratified"
    assert "1 distinct days" in split.reason
    # Stratified: the holdout keeps the base rate.
    assert y.loc[split.holdout_index].mean() == pytest.approx(y.mean(), abs=0.01)


def test_no_dates_give_a_stratified_holdout_keyed_on_row_labels():
    y = _labels(400)
    split = holdout_split(y, fraction=0.25, seed=7)
    assert split.method == "stratified" and "no creation dates" in split.reason
    assert len(split.holdout_index) == 100
    assert set(split.holdout_index).isdisjoint(split.train_index)
    # The same rows in another order, and the same seed: the same holdout.
    shuffled = y.sample(frac=1.0, random_state=5)
    assert set(stratified_holdout(shuffled, fraction=0.25, seed=7)) == set(split.holdout_index)
    # Another seed: another holdout.
    assert set(stratified_holdout(y, fraction=0.25, seed=8)) != set(split.holdout_index)


def test_keyed_folds_spread_each_class_evenly_and_follow_the_keys_not_the_row_order():
    y = _labels(403)
    keys = pd.Series([f"lead{i}@example.com" for i in range(len(y))], index=y.index)
    folds = keyed_folds(y, n_folds=4, seed=3, keys=keys)
    assert sorted(folds.unique()) == [0, 1, 2, 3]
    for cls in (0, 1):
        sizes = folds[y == cls].value_counts()
        assert sizes.max() - sizes.min() <= 1
    # Reordered rows with other labels but the same keys land in the same folds.
    relabelled = y.sample(frac=1.0, random_state=2)
    new_index = pd.Index(np.arange(9000, 9000 + len(y)))
    moved = keyed_folds(
        pd.Series(relabelled.to_numpy(), index=new_index),
        n_folds=4,
        seed=3,
        keys=pd.Series(keys.loc[relabelled.index].to_numpy(), index=new_index),
    )
    by_key = dict(zip(keys.loc[relabelled.index], moved.to_numpy(), strict=True))
    assert all(by_key[keys[i]] == folds[i] for i in y.index)
    # The first of n folds is the stratified holdout of a 1/n fraction and the same seed.
    for n, size in ((5, 403), (4, 402), (3, 7)):
        labels = _labels(size, seed=n)
        first = keyed_folds(labels, n_folds=n, seed=3)
        holdout = stratified_holdout(labels, fraction=1 / n, seed=3)
        assert set(first.index[first == 0]) == set(holdout)
    with pytest.raises(ValueError, match="n_folds"):
        keyed_folds(y, n_folds=0)


def test_too_few_dated_rows_give_a_stratified_holdout():
    y = _labels(300)
    created = pd.Series(pd.date_range("2024-01-01", periods=300, freq="D"), index=y.index)
    created.iloc[::2] = pd.NaT
    split = holdout_split(y, created_at=created)
    assert split.method == "stratified"
    assert "have a creation date" in split.reason
