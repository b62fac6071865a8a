"""The qualification engine's pure core: frames in, one assessment per lead out.

Features → fit → disqualifiers → point score → model (or cold-start priors) → tier and
confidence → brief. No ORM: `scoring.services` loads the frames and writes the results, and
tests (the seed's Lead A and Lead B among them) call this directly.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd

from scoring import briefs, decision
from scoring.features import FeatureConfig, FeatureFrames, build_features
from scoring.fit import IcpSpec, compute_fit
from scoring.points import DEFAULT_ROUTE_THRESHOLD, PointRuleSpec, compute_point_scores
from scoring.rules import ReviewPolicy, RuleSpec, evaluate_rules, rule_evidence

FIT_COLUMNS = ("fit_company", "fit_role", "fit_technology", "fit_timing")
# Contributions kept per qualification: enough to explain, small enough to store for millions.
STORED_CONTRIBUTIONS = 12


class ConversionModel(Protocol):
    def predict_proba(self, X: pd.DataFrame) -> np.ndarray: ...

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame: ...


class RangeModel(Protocol):
    def predict_range(self, X: pd.DataFrame) -> pd.DataFrame: ...  # columns low, mid, high


@dataclass(frozen=True)
class EngineConfig:
    features: FeatureConfig = field(default_factory=FeatureConfig)
    icp: IcpSpec = field(default_factory=IcpSpec)
    rules: Sequence[RuleSpec] = ()
    point_rules: Sequence[PointRuleSpec] = ()
    point_threshold: int = DEFAULT_ROUTE_THRESHOLD
    thresholds: decision.Thresholds = field(
        default_factory=lambda: decision.Thresholds(sales_ready=0.5, nurture=0.1)
    )
    review: ReviewPolicy = field(default_factory=ReviewPolicy)


@dataclass
class EngineModels:
    conversion: ConversionModel | None = None
    conversion_version_id: int | None = None
    timeline: RangeModel | None = None
    deal_size: RangeModel | None = None
    # False below the configured number of outcomes: priors decide and briefs say so.
    ready: bool = False


@dataclass
class Assessment:
    """Per lead (index lead_id): the columns of a Qualification, and the brief of each."""

    results: pd.DataFrame
    briefs: dict[int, dict[str, Any]]
    contributions: dict[int, dict[str, float]]
    features: pd.DataFrame


def model_matrix(features: pd.DataFrame, fit: pd.DataFrame) -> pd.DataFrame:
    """What the model sees: the behaviour, account and attribute features plus fit scores."""
    return pd.concat([features, fit[list(FIT_COLUMNS)].astype(float)], axis=1)


def content_summary(frames: FeatureFrames) -> dict[int, list[dict[str, Any]]]:
    """Per lead, the page categories consumed before as_of: visits and minutes, most first."""
    tp = frames.touchpoints
    if tp.empty:
        return {}
    tp = tp.merge(frames.leads[["lead_id", "as_of"]], on="lead_id", how="inner")
    tp = tp[pd.to_datetime(tp["occurred_at"], utc=True) < pd.to_datetime(tp["as_of"], utc=True)]
    tp = tp[tp["page_category"].fillna("") != ""]
    if tp.empty:
        return {}
    grouped = (
        tp.assign(minutes=pd.to_numeric(tp["duration_seconds"], errors="coerce").fillna(0) / 60)
        .groupby(["lead_id", "page_category"], sort=False)
        .agg(visits=("minutes", "size"), minutes=("minutes", "sum"))
        .reset_index()
        .sort_values(["lead_id", "minutes", "visits"], ascending=[True, False, False])
    )
    summary: dict[int, list[dict[str, Any]]] = {}
    for lead_id, category, visits, minutes in grouped.itertuples(index=False):
        summary.setdefault(int(lead_id), []).append(
            {"category": category, "visits": int(visits), "minutes": round(float(minutes), 1)}
        )
    return summary


def _top_contributions(
    contributions: pd.DataFrame | None, index: pd.Index
) -> dict[int, dict[str, float]]:
    """The strongest contributions of each lead, found for all rows at once."""
    if contributions is None or contributions.empty:
        return {}
    frame = contributions.drop(columns=["bias"], errors="ignore")
    values = frame.to_numpy(dtype=float)
    names = np.asarray(frame.columns, dtype=object)
    keep = min(STORED_CONTRIBUTIONS, values.shape[1])
    top = np.argpartition(-np.abs(values), keep - 1, axis=1)[:, :keep]
    picked = np.take_along_axis(values, top, axis=1)
    out: dict[int, dict[str, float]] = {}
    for position, lead_id in enumerate(index):
        order = np.argsort(-np.abs(picked[position]))
        out[int(lead_id)] = {
            str(names[top[position, j]]): round(float(picked[position, j]), 4) for j in order
        }
    return out


def _segment(log_employees: float) -> str:
    if math.isnan(log_employees):
        return "Commercial"
    employees = 10**log_employees
    if employees >= 1000:
        return "Enterprise"
    if employees >= 200:
        return "Mid-market"
    return "SMB"


def assess(
    frames: FeatureFrames,
    config: EngineConfig,
    models: EngineModels,
    *,
    progress: Callable[[str], None] | None = None,
) -> Assessment:
    leads = frames.leads.reset_index(drop=True)
    features = build_features(frames, config.features)
    accounts = frames.accounts
    fit = compute_fit(features, leads, accounts, config.icp)
    lead_fields = leads.set_index("lead_id")
    facts = pd.concat([features, fit.scores], axis=1)
    for column in ("email", "email_domain", "name", "title"):
        facts[column] = lead_fields[column].reindex(facts.index) if column in lead_fields else ""
    rules = evaluate_rules(config.rules, facts, config.review).frame
    points = compute_point_scores(config.point_rules, leads, frames.touchpoints, fit.scores)
    if progress:
        progress("features")

    X = model_matrix(features, fit.scores)
    contributions: pd.DataFrame | None = None
    if models.conversion is not None and models.ready:
        probability = np.asarray(models.conversion.predict_proba(X), dtype=float)
        contributions = models.conversion.contributions(X)
    else:
        probability = decision.prior_probability(features, fit.scores)
    timeline = models.timeline.predict_range(X) if models.timeline is not None else None
    deal = models.deal_size.predict_range(X) if models.deal_size is not None else None
    if progress:
        progress("model")

    action = rules["action"].to_numpy()
    needs_review = rules["needs_review"].to_numpy()
    tier = decision.decide_tiers(probability, action, needs_review, config.thresholds)
    confidence = decision.confidence_levels(
        probability,
        config.thresholds,
        features["touch_count"].to_numpy(),
        model_ready=models.ready and models.conversion is not None,
        rule_decided=action != "",
    )
    results = pd.DataFrame(index=features.index)
    results["conversion_probability"] = probability
    for column in FIT_COLUMNS:
        results[column] = fit.scores[column]
    results["point_score"] = points.reindex(features.index).fillna(0).astype(int)
    results["tier"] = tier
    results["confidence"] = confidence
    results["disqualification_reason"] = rules["reason_code"]
    results["needs_review"] = needs_review
    results["rule_category"] = rules["category"]
    if timeline is not None:
        results["timeline_low"] = timeline["low"].to_numpy()
        results["timeline_high"] = timeline["high"].to_numpy()
    if deal is not None:
        results["deal_low"] = deal["low"].to_numpy()
        results["deal_high"] = deal["high"].to_numpy()

    content = content_summary(frames)
    thresholds = {
        "sales_ready": config.thresholds.sales_ready,
        "nurture": config.thresholds.nurture,
    }
    feature_records = features.to_dict("index")
    factor_records = fit.factors.to_dict("index")
    fit_records = fit.scores.to_dict("index")
    lead_records = lead_fields[["name", "title", "email"]].fillna("").to_dict("index")
    rule_records = rules[rules["category"] != ""].to_dict("index")
    hit_facts = facts.loc[list(rule_records)].to_dict("index") if rule_records else {}
    stored = _top_contributions(contributions, features.index)
    points_arr = results["point_score"].to_numpy()
    timeline_arr = (
        results[["timeline_low", "timeline_high"]].to_numpy() if timeline is not None else None
    )
    deal_arr = results[["deal_low", "deal_high"]].to_numpy() if deal is not None else None
    version_id = models.conversion_version_id if models.ready else None
    brief_map: dict[int, dict[str, Any]] = {}
    # One pass over plain dicts and arrays: per-row pandas indexing would cost more than
    # all the vectorised work above.
    for position, lead_id in enumerate(features.index):
        key = int(lead_id)
        row = feature_records[lead_id]
        hit = rule_records.get(lead_id)
        rule = None
        if hit is not None:
            rule = {
                "reason_code": hit["reason_code"],
                "category": hit["category"],
                "rule": hit["rule_name"],
                "action": hit["action"],
                "needs_review": bool(hit["needs_review"]),
                "evidence": rule_evidence(hit["category"], hit_facts[lead_id]),
            }
        timeline_range = (
            (int(timeline_arr[position, 0]), int(timeline_arr[position, 1]))
            if timeline_arr is not None
            else None
        )
        deal_range = (
            (float(deal_arr[position, 0]), float(deal_arr[position, 1]))
            if deal_arr is not None
            else None
        )
        brief_map[key] = briefs.build_brief(
            lead={k: str(v) for k, v in lead_records[lead_id].items()},
            row=row,
            tier=str(tier[position]),
            confidence=str(confidence[position]),
            probability=float(probability[position]),
            thresholds=thresholds,
            point_score=int(points_arr[position]),
            point_threshold=config.point_threshold,
            fit_scores=fit_records[lead_id],
            fit_factors=factor_records[lead_id],
            rule=rule,
            contributions=stored.get(key, {}),
            content=content.get(key, []),
            timeline=timeline_range,
            deal_size=deal_range,
            model_version_id=version_id,
            segment=_segment(float(row.get("log_employees", math.nan))),
        )
    results["recommended_action"] = [brief_map[int(i)]["recommended_action"] for i in results.index]
    if progress:
        progress("briefs")
    return Assessment(results=results, briefs=brief_map, contributions=stored, features=features)
