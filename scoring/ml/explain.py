"""From contributions to factors: which features pushed one lead's score up, which down.

Input is one row of ``TrainedConversionModel.contributions`` (log-odds per feature plus
``bias``) and the same lead's feature values. Output is data, not prose: the wording of the
brief belongs to the brief's code.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

BIAS = "bias"


@dataclass(frozen=True)
class Factor:
    feature: str
    # The lead's value: a number, a category's text, or None when missing.
    value: float | str | None
    # Signed log-odds contribution.
    contribution: float

    def to_dict(self) -> dict[str, Any]:
        return {"feature": self.feature, "value": self.value, "contribution": self.contribution}


@dataclass(frozen=True)
class Factors:
    """Positive factors strongest first, negative factors most negative first."""

    positive: list[Factor]
    negative: list[Factor]
    bias: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "positive": [f.to_dict() for f in self.positive],
            "negative": [f.to_dict() for f in self.negative],
            "bias": self.bias,
        }


def _plain(value: Any) -> float | str | None:
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)):
        return float(value)
    if isinstance(value, (int, float, np.integer, np.floating)):
        number = float(value)
        return None if math.isnan(number) else number
    if pd.isna(value):
        return None
    return str(value)


def top_factors(
    contributions: Mapping[str, float] | pd.Series,
    values: Mapping[str, Any] | pd.Series,
    *,
    n: int = 5,
    min_abs: float = 1e-6,
) -> Factors:
    """The ``n`` strongest positive and ``n`` strongest negative factors of one prediction.

    ``contributions``: feature -> log-odds (``bias`` is reported apart, never a factor);
    ``values``: feature -> the lead's value. Contributions smaller than ``min_abs`` in size are
    not factors. Ties keep the order of ``contributions``.
    """
    items = [(str(k), float(v)) for k, v in contributions.items() if str(k) != BIAS]
    bias = float(contributions.get(BIAS, 0.0))
    lookup = dict(values.items())
    positive = sorted((kv for kv in items if kv[1] >= min_abs), key=lambda kv: -kv[1])[:n]
    negative = sorted((kv for kv in items if kv[1] <= -min_abs), key=lambda kv: kv[1])[:n]
    return Factors(
        positive=[Factor(k, _plain(lookup.get(k)), v) for k, v in positive],
        negative=[Factor(k, _plain(lookup.get(k)), v) for k, v in negative],
        bias=bias,
    )


def contributions_record(contributions: pd.Series, *, digits: int = 4) -> dict[str, float]:
    """One row of contributions as a JSON-ready dict (for ``Qualification.contributions``),
    rounded, zero entries left out, ``bias`` kept."""
    record: dict[str, float] = {}
    for key, value in contributions.items():
        number = round(float(value), digits)
        if number != 0.0 or str(key) == BIAS:
            record[str(key)] = number
    return record
