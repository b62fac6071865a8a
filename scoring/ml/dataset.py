"""Column typing for imported tables, the feature schema, and the holdout split.

Nothing here knows about a particular dataset or CRM: the same rules type a customer's export, a
public benchmark and the demo world.

Column typing rules (``frame_types``), applied to each column in order:

1. Text is stripped; empty cells and form placeholders (``PLACEHOLDERS``: "select", "n/a",
   "null", ..., compared case-insensitively) are missing.
2. No value left: the column is dropped (reason ``empty``).
3. Every remaining value is a yes/no token (``TRUE_TOKENS`` / ``FALSE_TOKENS``: yes/no, true/false,
   y/n, t/f, 1/0, any case) or the column is a bool dtype: **boolean**, stored as float 1.0/0.0
   with NaN for missing, so the model treats it as a number.
4. Every remaining value parses as a number: **numeric** (float64).
5. Every remaining value looks like an ISO date (``2024-05-01``, optionally with a time): dropped
   (reason ``date``). Dates are not features by themselves: pass the creation date as
   ``created_at`` and derive durations in the feature code.
6. Otherwise **categorical** (pandas ``category`` dtype, levels sorted). Spellings that differ
   only in case or inner whitespace ("google" / "Google") are one level, spelled as the most
   frequent variant. A text column with more than ``max_levels`` distinct values that are mostly
   unique (more than half of the filled rows) is an identifier or free text: dropped (reason
   ``identifier``).

The model's own ``FeatureSchema`` (below) then fixes the levels seen in training, so serving-time
values map to the training codes; unseen or rare levels become missing.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np
import pandas as pd

PLACEHOLDERS: frozenset[str] = frozenset(
    {
        "",
        "select",
        "-- select --",
        "--select--",
        "please select",
        "n/a",
        "#n/a",
        "na",
        "nan",
        "null",
        "none",
        "-",
        "?",
    }
)
TRUE_TOKENS: frozenset[str] = frozenset({"yes", "y", "true", "t", "1", "1.0"})
FALSE_TOKENS: frozenset[str] = frozenset({"no", "n", "false", "f", "0", "0.0"})

_ISO_DATE = re.compile(
    r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$"
)
_SPACES = re.compile(r"\s+")


class ColumnKind(StrEnum):
    NUMERIC = "numeric"
    BOOLEAN = "boolean"
    CATEGORICAL = "categorical"


@dataclass(frozen=True)
class TypedFrame:
    """The result of ``frame_types``: the typed frame, each kept column's kind, dropped columns."""

    frame: pd.DataFrame
    kinds: dict[str, ColumnKind]
    dropped: dict[str, str] = field(default_factory=dict)


def _clean_text(series: pd.Series, placeholders: frozenset[str]) -> pd.Series:
    """Strip text and turn placeholders into missing; an object Series of str or NaN."""
    values = series.astype(object)
    mask = values.notna()
    text = values[mask].map(lambda v: str(v).strip())
    text = text[~text.str.lower().isin(placeholders)]
    out = pd.Series(np.nan, index=series.index, dtype=object)
    out[text.index] = text
    return out


def _merge_spellings(text: pd.Series) -> pd.Series:
    """One level per case-/whitespace-insensitive spelling, written as its most frequent form."""
    filled = text.dropna()
    keys = filled.map(lambda v: _SPACES.sub(" ", v).casefold())
    counts = pd.DataFrame({"key": keys, "value": filled}).value_counts(sort=True)
    canonical: dict[str, str] = {}
    for (key, value), _ in counts.items():
        canonical.setdefault(key, value)
    out = text.copy()
    out[filled.index] = keys.map(canonical)
    return out


def infer_column(
    series: pd.Series,
    *,
    placeholders: frozenset[str] = PLACEHOLDERS,
    max_levels: int = 200,
) -> tuple[ColumnKind | None, pd.Series, str]:
    """Type one column by the module's rules: (kind or None if dropped, typed values, reason)."""
    if pd.api.types.is_bool_dtype(series):
        return ColumnKind.BOOLEAN, series.astype("float64"), ""
    if pd.api.types.is_numeric_dtype(series) and not isinstance(series.dtype, pd.CategoricalDtype):
        numbers = series.astype("float64")
        if numbers.notna().sum() == 0:
            return None, numbers, "empty"
        filled = numbers.dropna()
        if filled.isin([0.0, 1.0]).all():
            return ColumnKind.BOOLEAN, numbers, ""
        return ColumnKind.NUMERIC, numbers, ""
    text = _clean_text(series, placeholders)
    filled = text.dropna()
    if filled.empty:
        return None, text, "empty"
    lowered = filled.str.lower()
    if lowered.isin(TRUE_TOKENS | FALSE_TOKENS).all():
        flags = pd.Series(np.nan, index=series.index, dtype="float64")
        flags[filled.index] = lowered.isin(TRUE_TOKENS).astype("float64")
        return ColumnKind.BOOLEAN, flags, ""
    numbers = pd.to_numeric(filled, errors="coerce")
    if numbers.notna().all():
        out = pd.Series(np.nan, index=series.index, dtype="float64")
        out[filled.index] = numbers.astype("float64")
        return ColumnKind.NUMERIC, out, ""
    if filled.map(lambda v: bool(_ISO_DATE.match(v))).all():
        return None, text, "date"
    merged = _merge_spellings(text)
    n_levels = merged.nunique(dropna=True)
    if n_levels > max_levels and n_levels > 0.5 * len(filled):
        return None, merged, "identifier"
    levels = sorted(merged.dropna().unique().tolist())
    return (
        ColumnKind.CATEGORICAL,
        pd.Series(pd.Categorical(merged, categories=levels), index=series.index),
        "",
    )


def frame_types(
    df: pd.DataFrame,
    *,
    exclude: Iterable[str] = (),
    placeholders: frozenset[str] = PLACEHOLDERS,
    max_levels: int = 200,
) -> TypedFrame:
    """Type every column of an imported table for the model (see the module docstring).

    ``exclude`` names columns to leave out (ids, the target, outcome-time columns); they are
    listed in ``dropped`` with reason ``excluded``.
    """
    excluded = set(exclude)
    columns: dict[str, pd.Series] = {}
    kinds: dict[str, ColumnKind] = {}
    dropped: dict[str, str] = {}
    for name in df.columns:
        key = str(name)
        if name in excluded or key in excluded:
            dropped[key] = "excluded"
            continue
        kind, values, reason = infer_column(
            df[name], placeholders=placeholders, max_levels=max_levels
        )
        if kind is None:
            dropped[key] = reason
            continue
        columns[key] = values
        kinds[key] = kind
    frame = pd.DataFrame(columns, index=df.index)
    return TypedFrame(frame=frame, kinds=kinds, dropped=dropped)


# --- feature schema -------------------------------------------------------------------------


@dataclass(frozen=True)
class FeatureSpec:
    name: str
    kind: ColumnKind
    # Training levels in code order; only for categorical features.
    levels: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind.value, "levels": list(self.levels)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureSpec:
        return cls(
            name=str(data["name"]),
            kind=ColumnKind(data["kind"]),
            levels=tuple(str(v) for v in data.get("levels", ())),
        )


@dataclass(frozen=True)
class FeatureSchema:
    """The columns a model was trained on, in order, with the categorical levels it knows.

    ``prepare`` turns any frame with those columns into exactly the training layout: numbers as
    float64, categoricals with the training levels in the training order (XGBoost reads the
    category codes, so the order matters); unseen levels, and levels rarer than
    ``min_level_count`` in training, become missing.
    """

    features: tuple[FeatureSpec, ...]

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.features]

    @classmethod
    def fit(cls, X: pd.DataFrame, *, min_level_count: int = 1) -> FeatureSchema:
        specs: list[FeatureSpec] = []
        for name in X.columns:
            col = X[name]
            if isinstance(col.dtype, pd.CategoricalDtype) or not (
                pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col)
            ):
                counts = col.astype(object).dropna().map(str).value_counts()
                kept = sorted(str(v) for v, n in counts.items() if n >= min_level_count)
                specs.append(FeatureSpec(str(name), ColumnKind.CATEGORICAL, tuple(kept)))
            else:
                specs.append(FeatureSpec(str(name), ColumnKind.NUMERIC))
        return cls(tuple(specs))

    def prepare(self, X: pd.DataFrame) -> pd.DataFrame:
        missing = [f.name for f in self.features if f.name not in X.columns]
        if missing:
            # A custom attribute none of these leads carries (a new lead from the event API,
            # say): missing for every row, as it would be for one such lead among many.
            X = X.assign(**dict.fromkeys(missing, np.nan))
        columns: dict[str, Any] = {}
        for spec in self.features:
            col = X[spec.name]
            if spec.kind is ColumnKind.CATEGORICAL and not spec.levels:
                # No level survived training (an empty or all-rare column): XGBoost cannot
                # take a category with no categories, and the column carries nothing anyway.
                columns[spec.name] = np.full(len(X), np.nan)
            elif spec.kind is ColumnKind.CATEGORICAL:
                levels = pd.Index(list(spec.levels))
                if isinstance(col.dtype, pd.CategoricalDtype):
                    # Recode through the categories: no per-row work on large frames.
                    level_of_category = levels.get_indexer(col.cat.categories.map(str))
                    codes = col.cat.codes.to_numpy()
                    new_codes = np.where(codes >= 0, level_of_category[codes], -1)
                else:
                    text = [None if pd.isna(v) else str(v) for v in col.astype(object)]
                    new_codes = levels.get_indexer(text)
                columns[spec.name] = pd.Categorical.from_codes(new_codes, categories=levels)
            else:
                columns[spec.name] = pd.to_numeric(col, errors="coerce").astype("float64")
        return pd.DataFrame(columns, index=X.index)

    def to_dict(self) -> dict[str, Any]:
        return {"features": [f.to_dict() for f in self.features]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureSchema:
        return cls(tuple(FeatureSpec.from_dict(f) for f in data["features"]))


# --- holdout --------------------------------------------------------------------------------


@dataclass(frozen=True)
class HoldoutSplit:
    """Row labels of the training part and the holdout, and how the holdout was chosen."""

    train_index: pd.Index
    holdout_index: pd.Index
    method: str  # "time" or "stratified"
    reason: str
    cutoff: pd.Timestamp | None = None

    def describe(self, y: pd.Series) -> dict[str, Any]:
        """JSON-ready summary for the metrics: method, reason, sizes, and a fingerprint."""
        y_ho = y.loc[self.holdout_index]
        return {
            "method": self.method,
            "reason": self.reason,
            "cutoff": None if self.cutoff is None else self.cutoff.isoformat(),
            "rows": len(self.holdout_index),
            "positives": int(y_ho.sum()),
            "training_rows": len(self.train_index),
            "fingerprint": index_fingerprint(self.holdout_index),
        }


def index_fingerprint(index: pd.Index) -> str:
    """A short hash of a set of row labels, so two metrics can prove they share a holdout."""
    digest = hashlib.sha256()
    for key in sorted(str(v) for v in index):
        digest.update(key.encode())
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def _row_hash(index: pd.Index, seed: int) -> np.ndarray:
    key = str(seed).encode()
    return np.array(
        [
            int.from_bytes(hashlib.blake2b(str(v).encode(), digest_size=8, key=key).digest(), "big")
            for v in index
        ],
        dtype=np.uint64,
    )


def stratified_holdout(
    y: pd.Series, *, fraction: float = 0.2, seed: int = 0, keys: pd.Series | None = None
) -> pd.Index:
    """The holdout rows of a stratified random split, keyed on the row labels.

    Within each class the rows are ordered by a seeded hash of their key and the first
    ``fraction`` taken. The key is the row label, or ``keys`` (aligned on the labels) when given:
    a database id depends on the order rows were loaded, an email or CRM id does not. The same
    keys and seed always give the same holdout, whatever the row order, and a key keeps its side
    as more rows arrive (mostly: the class quotas move), so a model trained earlier has rarely
    seen today's holdout.
    """
    chosen: list[Any] = []
    for ordered in _classes_in_hash_order(y, seed=seed, keys=keys):
        chosen.extend(ordered[: round(len(ordered) * fraction)])
    return pd.Index(chosen)


def keyed_folds(
    y: pd.Series, *, n_folds: int, seed: int = 0, keys: pd.Series | None = None
) -> pd.Series:
    """Fold number (0 .. ``n_folds`` - 1) per row label, each class spread evenly over the folds.

    The rows of each class are taken in the same seeded key-hash order as
    ``stratified_holdout`` and cut into ``n_folds`` runs of near-equal length, so the same keys
    and seed always give the same folds, whatever the row order or the database ids. The cuts
    are rounded as ``stratified_holdout`` rounds, so fold 0 is its holdout at a fraction of
    ``1 / n_folds``.
    """
    if n_folds < 1:
        raise ValueError("n_folds must be at least 1")
    folds = pd.Series(0, index=y.index, dtype=np.int64)
    for ordered in _classes_in_hash_order(y, seed=seed, keys=keys):
        cuts = [round(len(ordered) * k / n_folds) for k in range(n_folds)]
        folds.loc[ordered] = np.searchsorted(cuts, np.arange(len(ordered)), side="right") - 1
    return folds


def _classes_in_hash_order(y: pd.Series, *, seed: int, keys: pd.Series | None) -> list[pd.Index]:
    """The row labels of each class, ordered by a seeded hash of their key (see
    ``stratified_holdout``)."""
    hashed: pd.Index = y.index
    if keys is not None:
        aligned = keys.reindex(y.index)
        # A row without a key falls back to its label rather than sharing one hash bucket.
        hashed = pd.Index(aligned.where(aligned.notna(), pd.Series(y.index, index=y.index)))
    hashes = pd.Series(_row_hash(hashed, seed), index=y.index)
    return [
        hashes.loc[group.index].sort_values(kind="stable").index
        for _, group in y.groupby(y.to_numpy())
    ]


def holdout_split(
    y: pd.Series,
    *,
    created_at: pd.Series | None = None,
    fraction: float = 0.2,
    seed: int = 0,
    keys: pd.Series | None = None,
    min_distinct_days: int = 14,
    min_dated_share: float = 0.9,
) -> HoldoutSplit:
    """Choose the holdout: the newest ``fraction`` by ``created_at`` when dates exist and are
    spread; otherwise stratified random (see ``stratified_holdout``).

    Dates count as spread when at least ``min_dated_share`` of rows have one, they cover at least
    ``min_distinct_days`` calendar days, and both the training part and the holdout contain both
    classes. Rows without a date always train. Row labels must be unique. ``keys``: the stable
    identity the stratified split hashes (see ``stratified_holdout``).
    """
    if not y.index.is_unique:
        raise ValueError("row labels must be unique")
    reason = "no creation dates"
    if created_at is not None:
        dates = pd.to_datetime(created_at.reindex(y.index), utc=True, errors="coerce")
        dated = dates.dropna()
        days = dated.dt.floor("D").nunique()
        if len(dated) < min_dated_share * len(y):
            reason = f"only {len(dated)} of {len(y)} rows have a creation date"
        elif days < min_distinct_days:
            reason = f"creation dates cover only {days} distinct days"
        else:
            order = dated.sort_values(kind="stable")
            n = round(len(y) * fraction)
            cutoff = order.iloc[len(order) - n]
            # Rows on the cutoff instant all go to the holdout, so no holdout row is older than a
            # training row.
            holdout = order.index[order >= cutoff]
            train = y.index.difference(holdout, sort=False)
            y_ho, y_tr = y.loc[holdout], y.loc[train]
            if y_ho.nunique() == 2 and y_tr.nunique() == 2:
                return HoldoutSplit(
                    train_index=train,
                    holdout_index=pd.Index(holdout),
                    method="time",
                    reason=f"newest {len(holdout)} rows, created from {cutoff.isoformat()}",
                    cutoff=cutoff,
                )
            reason = "the newest rows hold only one class"
    holdout = stratified_holdout(y, fraction=fraction, seed=seed, keys=keys)
    train = y.index.difference(holdout, sort=False)
    return HoldoutSplit(
        train_index=train,
        holdout_index=holdout,
        method="stratified",
        reason=f"{reason}; stratified random, seed {seed}",
    )


def stratified_folds(y: np.ndarray, *, n_folds: int, seed: int) -> np.ndarray:
    """Fold number (0..n_folds-1) per position, each class spread evenly over the folds."""
    rng = np.random.default_rng(seed)
    folds = np.empty(len(y), dtype=np.int64)
    for cls in np.unique(y):
        positions = np.flatnonzero(y == cls)
        rng.shuffle(positions)
        folds[positions] = np.arange(len(positions)) % n_folds
    return folds
