"""Probability calibration in numpy: isotonic regression (pool adjacent violators) and Platt.

A calibrator maps the booster's raw probability to a calibrated one and is fitted on scores the
booster did not train on (out-of-fold predictions). Both keep the ranking: Platt is strictly
increasing; isotonic is non-decreasing, and interpolates linearly between its steps so that it
does not collapse distinct scores into ties (ties would cost AUC). Both serialise to plain JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

# Calibrated probabilities stay inside (EPS, 1 - EPS): an isotonic step at exactly 0 or 1 would
# give an infinite log loss to the first counter-example.
EPS = 1e-4


class Calibrator(Protocol):
    @property
    def method(self) -> str: ...

    def transform(self, p: np.ndarray) -> np.ndarray: ...

    def to_dict(self) -> dict[str, Any]: ...


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-12, 1 - 1e-12)
    return np.asarray(np.log(p) - np.log1p(-p))


def pool_adjacent_violators(
    y: np.ndarray, weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Non-decreasing least-squares fit of ``y`` (already ordered by score).

    Returns the blocks as (start position, end position exclusive, fitted value).
    """
    n = len(y)
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    values: list[float] = []
    sizes: list[float] = []
    starts: list[int] = []
    ends: list[int] = []
    for i in range(n):
        values.append(float(y[i]))
        sizes.append(float(w[i]))
        starts.append(i)
        ends.append(i + 1)
        # Merge backwards while the last two blocks violate the order.
        while len(values) > 1 and values[-2] >= values[-1]:
            total = sizes[-2] + sizes[-1]
            values[-2] = (values[-2] * sizes[-2] + values[-1] * sizes[-1]) / total
            sizes[-2] = total
            ends[-2] = ends[-1]
            del values[-1], sizes[-1], starts[-1], ends[-1]
    return np.array(starts), np.array(ends), np.array(values)


@dataclass(frozen=True)
class IsotonicCalibrator:
    """Piecewise-linear non-decreasing map through the PAV blocks' (mean score, mean label)."""

    x: tuple[float, ...]
    y: tuple[float, ...]
    method: str = "isotonic"

    @classmethod
    def fit(cls, p: np.ndarray, y: np.ndarray) -> IsotonicCalibrator:
        p = np.asarray(p, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        order = np.argsort(p, kind="mergesort")
        p_sorted, y_sorted = p[order], y[order]
        # Equal scores must land in one block whatever their labels' order: pre-pool them.
        uniq, first, counts = np.unique(p_sorted, return_index=True, return_counts=True)
        sums = np.add.reduceat(y_sorted, first)
        starts, ends, values = pool_adjacent_violators(sums / counts, counts.astype(np.float64))
        xs = np.array(
            [np.average(uniq[s:e], weights=counts[s:e]) for s, e in zip(starts, ends, strict=True)]
        )
        ys = np.clip(values, EPS, 1 - EPS)
        return cls(x=tuple(float(v) for v in xs), y=tuple(float(v) for v in ys))

    def transform(self, p: np.ndarray) -> np.ndarray:
        p = np.asarray(p, dtype=np.float64)
        if len(self.x) == 1:
            return np.full(p.shape, self.y[0])
        return np.interp(p, np.array(self.x), np.array(self.y))

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "x": list(self.x), "y": list(self.y)}


@dataclass(frozen=True)
class PlattCalibrator:
    """``sigmoid(a * logit(p) + b)``, fitted by Newton's method with Platt's smoothed targets."""

    a: float
    b: float
    method: str = "platt"

    @classmethod
    def fit(cls, p: np.ndarray, y: np.ndarray, *, iterations: int = 100) -> PlattCalibrator:
        z = _logit(np.asarray(p, dtype=np.float64))
        y = np.asarray(y, dtype=np.float64)
        n_pos, n_neg = y.sum(), len(y) - y.sum()
        # Platt (1999): targets pulled off 0/1 so the fit cannot run to infinite slopes.
        t = np.where(y == 1, (n_pos + 1) / (n_pos + 2), 1 / (n_neg + 2))
        a, b = 1.0, 0.0
        for _ in range(iterations):
            q = 1 / (1 + np.exp(-(a * z + b)))
            g = np.array([np.sum((q - t) * z), np.sum(q - t)])
            w = q * (1 - q)
            h = np.array([[np.sum(w * z * z), np.sum(w * z)], [np.sum(w * z), np.sum(w)]])
            h += np.eye(2) * 1e-9
            step = np.linalg.solve(h, g)
            a, b = a - step[0], b - step[1]
            if np.abs(step).max() < 1e-10:
                break
        return cls(a=float(a), b=float(b))

    def transform(self, p: np.ndarray) -> np.ndarray:
        z = _logit(np.asarray(p, dtype=np.float64))
        return np.asarray(np.clip(1 / (1 + np.exp(-(self.a * z + self.b))), EPS, 1 - EPS))

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "a": self.a, "b": self.b}


@dataclass(frozen=True)
class IdentityCalibrator:
    """No calibration (too few rows to fit one honestly)."""

    method: str = "none"

    def transform(self, p: np.ndarray) -> np.ndarray:
        return np.asarray(np.clip(np.asarray(p, dtype=np.float64), EPS, 1 - EPS))

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method}


def fit_calibrator(p: np.ndarray, y: np.ndarray, *, method: str) -> Calibrator:
    """Fit ``method`` ("isotonic", "platt" or "none") on held-out scores ``p`` and labels ``y``."""
    if method == "isotonic":
        return IsotonicCalibrator.fit(p, y)
    if method == "platt":
        return PlattCalibrator.fit(p, y)
    if method == "none":
        return IdentityCalibrator()
    raise ValueError(f"unknown calibration method: {method!r}")


def calibrator_from_dict(data: Mapping[str, Any]) -> Calibrator:
    method = data.get("method")
    if method == "isotonic":
        return IsotonicCalibrator(
            x=tuple(float(v) for v in data["x"]), y=tuple(float(v) for v in data["y"])
        )
    if method == "platt":
        return PlattCalibrator(a=float(data["a"]), b=float(data["b"]))
    if method == "none":
        return IdentityCalibrator()
    raise ValueError(f"unknown calibration method: {method!r}")
