"""The traditional point score, computed beside the AI decision for every lead.

It is the baseline the product has to beat ("run parallel scoring with the existing system"):
points per activity, no decay, no context, routed at a fixed threshold (100 in the seed).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

DEFAULT_ROUTE_THRESHOLD = 100


@dataclass(frozen=True)
class PointRuleSpec:
    signal: str  # page_category, form_type, touchpoint_kind, icp_match, seniority
    value: str
    points: int
    max_times: int | None = None


def compute_point_scores(
    rules: Sequence[PointRuleSpec],
    leads: pd.DataFrame,
    touchpoints: pd.DataFrame,
    fit: pd.DataFrame,
    icp_threshold: int = 70,
) -> pd.Series:
    """Point score per lead (index lead_id), counting touchpoints before each lead's as_of."""
    index = pd.Index(leads["lead_id"].to_numpy(), name="lead_id")
    score = pd.Series(0.0, index=index)
    tp = touchpoints
    if not tp.empty:
        tp = tp.merge(leads[["lead_id", "as_of"]], on="lead_id", how="inner")
        tp = tp[pd.to_datetime(tp["occurred_at"], utc=True) < pd.to_datetime(tp["as_of"], utc=True)]
    columns = {
        "page_category": "page_category",
        "form_type": "form_type",
        "touchpoint_kind": "kind",
    }
    counts: dict[str, pd.DataFrame] = {}
    for signal, column in columns.items():
        if tp.empty:
            counts[signal] = pd.DataFrame(index=index)
        else:
            counts[signal] = (
                tp.groupby(["lead_id", tp[column].fillna("").astype(str)])
                .size()
                .unstack(fill_value=0)
            )
    seniority = leads.set_index("lead_id")["seniority"].reindex(index).fillna("").astype(str)
    icp_match = (fit["fit_company"] >= icp_threshold) & (fit["fit_role"] >= icp_threshold)
    for rule in rules:
        if rule.signal in columns:
            table = counts[rule.signal]
            hits = (
                table[rule.value].reindex(index).fillna(0).astype(float)
                if rule.value in table.columns
                else pd.Series(0.0, index=index)
            )
            if rule.max_times is not None:
                hits = hits.clip(upper=rule.max_times)
            score += hits * rule.points
        elif rule.signal == "icp_match":
            score += icp_match.reindex(index).fillna(False).astype(float) * rule.points
        elif rule.signal == "seniority":
            score += (seniority == rule.value).astype(float) * rule.points
    return score.round().astype(np.int64)
