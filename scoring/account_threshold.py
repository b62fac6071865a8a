"""How an account's priority moves its leads' Sales Ready bar. Pure and vectorised.

The rule (factors set by RevOps in the admin, AccountScoringSettings): a lead is Sales Ready
when its conversion probability reaches the Sales Ready threshold times its account's
priority factor. With a 0.42 threshold and High x 0.85, a lead at a High account is Sales
Ready from 0.357: a buying group in motion makes a borderline person worth a rep's call. A
lead without an account, or at an account never scored, keeps the threshold as it is; so does
every lead when all factors are 1.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

PRIORITY_LABELS = {"high": "High", "medium": "Medium", "low": "Low"}


def account_sales_ready(
    base: float, priorities: np.ndarray, factors: Mapping[str, float]
) -> np.ndarray:
    """Each lead's Sales Ready threshold: `base` times its account priority's factor (1 for
    an unknown or empty priority), kept within 0-1."""
    values = np.asarray(priorities, dtype=object)
    factor = np.ones(len(values), dtype=float)
    for priority, value in factors.items():
        factor[values == priority] = float(value)
    return np.clip(base * factor, 0.0, 1.0)


def threshold_notes(base: float, priorities: np.ndarray, thresholds: np.ndarray) -> list[str]:
    """What the account priority did, per lead, in the brief's words ("" where it changed
    nothing): "Account priority High lowered the Sales Ready threshold from 0.42 to 0.36."

    Compared as shown (two decimals): a factor that moves the bar less than that says
    nothing the reader could see.
    """
    shown = f"{base:.2f}"
    notes: list[str] = []
    for priority, value in zip(
        np.asarray(priorities, dtype=object).tolist(), thresholds.tolist(), strict=True
    ):
        now = f"{value:.2f}"
        if not priority or now == shown:
            notes.append("")
            continue
        verb = "lowered" if value < base else "raised"
        label = PRIORITY_LABELS.get(str(priority), str(priority))
        notes.append(
            f"Account priority {label} {verb} the Sales Ready threshold from {shown} to {now}."
        )
    return notes
