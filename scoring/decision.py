"""From probability, rules and fit to a tier and a confidence. Pure and vectorised."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

SALES_READY = "sales_ready"
NURTURE = "nurture"
DISQUALIFY = "disqualify"


@dataclass(frozen=True)
class Thresholds:
    sales_ready: float
    nurture: float


def capacity_threshold(
    probabilities: np.ndarray, *, weeks: float, capacity_per_week: int, floor: float = 0.05
) -> float:
    """The probability above which the expected weekly Sales Ready volume equals capacity.

    `probabilities` are the scores of the leads that arrived over `weeks` weeks; the threshold
    is the score of the (capacity x weeks)-th best of them.
    """
    scores = np.sort(np.asarray(probabilities, dtype=float))[::-1]
    if scores.size == 0 or capacity_per_week <= 0:
        return 1.0
    slots = round(capacity_per_week * max(weeks, 1e-9))
    if slots <= 0:
        return float(min(1.0, scores[0] + 1e-9))
    if slots >= scores.size:
        return float(max(floor, 0.0))
    return float(max(floor, scores[slots - 1]))


def prior_probability(features: pd.DataFrame, fit: pd.DataFrame) -> np.ndarray:
    """A rules-and-priors estimate for the cold start, before enough outcomes exist.

    Weights follow the seed's buying patterns (fit, bottom-funnel depth, concentration,
    committee, high-intent forms, third-party surge) and are deliberately modest: the brief
    says "not enough data yet" whenever this is what decided.
    """

    def col(name: str) -> np.ndarray:
        if name in features.columns:
            return pd.to_numeric(features[name], errors="coerce").fillna(0.0).to_numpy()
        return np.zeros(len(features))

    logit = (
        -3.2
        + 0.02 * (fit["fit_company"].to_numpy() - 50)
        + 0.015 * (fit["fit_role"].to_numpy() - 50)
        + 0.01 * (fit["fit_timing"].to_numpy())
        + 0.55 * np.log1p(col("bottom_funnel_views"))
        + 1.2 * (col("demo_requests") > 0)
        + 0.35 * np.log(np.maximum(col("surge_ratio"), 1.0))
        + 0.4 * np.minimum(col("account_other_active_people_30d"), 3)
        + 0.25 * (col("intent_surge_max_30d") >= 2.0)
        + 0.4 * (col("email_replies") > 0)
        + 0.5 * (col("pricing_after_implementation") > 0)
        + 0.3 * (col("industry_case_studies") > 0)
        - 1.0 * np.clip(col("pricing_bounce_share"), 0, 1)
        - 0.8 * np.clip(col("top_funnel_share"), 0, 1)
    )
    return np.asarray(1.0 / (1.0 + np.exp(-logit)))


def decide_tiers(
    probability: np.ndarray,
    rule_action: np.ndarray,
    needs_review: np.ndarray,
    thresholds: Thresholds,
    sales_ready: np.ndarray | None = None,
) -> np.ndarray:
    """Rules first (any action decides), then the probability against the thresholds.

    `sales_ready`: each lead's own Sales Ready threshold (its account's priority moved it, see
    `scoring.account_threshold`) in place of `thresholds.sales_ready`."""
    bar = thresholds.sales_ready if sales_ready is None else sales_ready
    tier = np.where(
        probability >= bar,
        SALES_READY,
        np.where(probability >= thresholds.nurture, NURTURE, DISQUALIFY),
    ).astype(object)
    actions = np.asarray(rule_action, dtype=object)
    # Routed-elsewhere actions (success, support, community) keep the lead out of the sales
    # queue but are not a judgement that the person is worthless; nurture is its own tier.
    tier = np.where(actions == "disqualify", DISQUALIFY, tier)
    tier = np.where(
        np.isin(actions, ["route_success", "route_support", "route_community"]), DISQUALIFY, tier
    )
    tier = np.where(actions == "nurture", NURTURE, tier)
    return np.asarray(tier)


def confidence_levels(
    probability: np.ndarray,
    thresholds: Thresholds,
    touch_count: np.ndarray,
    *,
    model_ready: bool,
    rule_decided: np.ndarray,
    sales_ready: np.ndarray | None = None,
) -> np.ndarray:
    """high / medium / low, or not_enough_data when the model is not trained on enough outcomes."""
    if not model_ready:
        return np.full(len(probability), "not_enough_data", dtype=object)
    bar = thresholds.sales_ready if sales_ready is None else sales_ready
    margin = np.minimum(np.abs(probability - bar), np.abs(probability - thresholds.nurture))
    level = np.where(
        (margin >= 0.15) & (touch_count >= 5),
        "high",
        np.where((margin >= 0.05) & (touch_count >= 2), "medium", "low"),
    ).astype(object)
    return np.asarray(np.where(rule_decided, "high", level))
