"""The qualification engine's pure core: frames in, one assessment per lead out.

Features → fit → disqualifiers → point score → model (or cold-start priors) → tier and
confidence → brief. No ORM: `scoring.services` loads the frames and writes the results, and
tests (the seed's Lead A and Lead B among them) call this directly.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd

from scoring import account_threshold, briefs, decision
from scoring.briefs import BriefRecord
from scoring.features import FeatureConfig, FeatureFrames, build_features
from scoring.fit import IcpSpec, compute_fit
from scoring.overrides import ManualOverrideSpec, PositiveRuleSpec, apply_overrides
from scoring.points import DEFAULT_ROUTE_THRESHOLD, PointRuleSpec, compute_point_scores
from scoring.rules import ReviewPolicy, RuleSpec, evaluate_rules, rule_evidence

FIT_COLUMNS = ("fit_company", "fit_role", "fit_technology", "fit_timing")
# Contributions kept per qualification: enough to explain, small enough to store for millions.
STORED_CONTRIBUTIONS = 12
# The facts `rules.rule_evidence` cites (a rule often hits half the leads: copying every fact
# of each would cost more than the rules themselves).
EVIDENCE_FACTS = (
    "email", "email_domain", "title", "job_applications", "careers_views", "support_requests",
    "support_views", "fit_company", "fit_role",
)  # fmt: skip


class ConversionModel(Protocol):
    def predict_proba(self, X: pd.DataFrame) -> np.ndarray: ...

    def contributions(self, X: pd.DataFrame, *, approximate: bool = False) -> pd.DataFrame: ...


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
    # Factor on the Sales Ready threshold per account priority (scoring.account_threshold),
    # applied to leads whose frame has an `account_priority` column.
    account_factors: Mapping[str, float] = field(default_factory=dict)
    positive_rules: Sequence[PositiveRuleSpec] = ()


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
    # Decoded from `records` when read: bulk qualification only ever needs the JSON.
    briefs: Mapping[int, dict[str, Any]]
    contributions: dict[int, dict[str, float]]
    features: pd.DataFrame
    # In the order of results.index: the JSON of what each lead's Qualification stores (brief,
    # behaviour, intent), and of its stored contributions.
    records: list[BriefRecord] = field(default_factory=list)
    contributions_json: list[str] = field(default_factory=list)


class _Briefs(Mapping[int, dict[str, Any]]):
    """Each lead's brief, decoded from its JSON when asked for (a new dict each time)."""

    def __init__(self, records: dict[int, BriefRecord]) -> None:
        self._records = records

    def __getitem__(self, lead_id: int) -> dict[str, Any]:
        return self._records[lead_id].brief

    def __iter__(self) -> Iterator[int]:
        return iter(self._records)

    def __len__(self) -> int:
        return len(self._records)


def model_matrix(features: pd.DataFrame, fit: pd.DataFrame) -> pd.DataFrame:
    """What the model sees: the behaviour, account and attribute features plus fit scores."""
    return pd.concat([features, fit[list(FIT_COLUMNS)].astype(float)], axis=1)


def content_summary(frames: FeatureFrames) -> dict[int, list[dict[str, Any]]]:
    """Per lead, the page categories consumed before as_of: visits and minutes, most first.

    Ties (same minutes and visits) go by category name, so the order never depends on the
    order the touchpoints were read in.
    """
    tp = frames.touchpoints
    if tp.empty:
        return {}
    tp = tp.merge(frames.leads[["lead_id", "as_of"]], on="lead_id", how="inner")
    tp = tp[pd.to_datetime(tp["occurred_at"], utc=True) < pd.to_datetime(tp["as_of"], utc=True)]
    category = tp["page_category"].to_numpy(dtype=object, na_value="")
    tp = tp[category != ""]
    if tp.empty:
        return {}
    grouped = (
        tp.assign(
            seconds=pd.to_numeric(tp["duration_seconds"], errors="coerce").fillna(0),
            page_category=tp["page_category"].astype(object),
        )
        .groupby(["lead_id", "page_category"], sort=False)
        .agg(visits=("seconds", "size"), seconds=("seconds", "sum"))
        .reset_index()
        # Seconds are whole numbers: their sums, unlike sums of minutes, never depend on order.
        .assign(minutes=lambda g: g["seconds"] / 60)
        .sort_values(
            ["lead_id", "minutes", "visits", "page_category"],
            ascending=[True, False, False, True],
            kind="stable",
        )
    )
    summary: dict[int, list[dict[str, Any]]] = {}
    for lead_id, category_name, visits, minutes in zip(
        grouped["lead_id"].tolist(),
        grouped["page_category"].tolist(),
        grouped["visits"].tolist(),
        grouped["minutes"].tolist(),
        strict=True,
    ):
        item = {"category": category_name, "visits": visits, "minutes": round(minutes, 1)}
        summary.setdefault(lead_id, []).append(item)
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
    order = np.argsort(-np.abs(picked), axis=1, kind="stable")
    top_names = names[np.take_along_axis(top, order, axis=1)].tolist()
    top_values = np.round(np.take_along_axis(picked, order, axis=1), 4).tolist()
    return {
        int(lead_id): dict(zip(row_names, row_values, strict=True))
        for lead_id, row_names, row_values in zip(index, top_names, top_values, strict=True)
    }


def model_input(X: pd.DataFrame) -> pd.DataFrame:
    """`X` with its text columns as pandas categories: what the models read fastest.

    The models map text to their training categories; given categories they recode the few
    distinct values instead of every row, to the same codes. A column with no value at all
    stays as it is (`FeatureSchema.prepare` cannot recode a category with no categories).
    """
    text = [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c]) and X[c].notna().any()]
    return X.astype(dict.fromkeys(text, "category")) if text else X


def _segment(log_employees: float) -> str:
    if math.isnan(log_employees):
        return "Commercial"
    employees = 10**log_employees
    if employees >= 1000:
        return "Enterprise"
    if employees >= 200:
        return "Mid-market"
    return "SMB"


def _account_bar(
    lead_fields: pd.DataFrame, index: pd.Index, config: EngineConfig
) -> tuple[list[str], np.ndarray | None, list[str]]:
    """Each lead's account priority, its own Sales Ready threshold (None: the configured one
    for all) and the note saying what the priority did (see scoring.account_threshold)."""
    if "account_priority" not in lead_fields.columns:
        return [""] * len(index), None, [""] * len(index)
    values = lead_fields["account_priority"].reindex(index).fillna("").astype(str).to_numpy()
    base = config.thresholds.sales_ready
    if not config.account_factors:
        return values.tolist(), None, [""] * len(index)
    bar = account_threshold.account_sales_ready(base, values, config.account_factors)
    return values.tolist(), bar, account_threshold.threshold_notes(base, values, bar)


def assess(
    frames: FeatureFrames,
    config: EngineConfig,
    models: EngineModels,
    *,
    exact_contributions: bool = True,
    progress: Callable[[str], None] | None = None,
    manual_overrides: Mapping[int, ManualOverrideSpec] | None = None,
) -> Assessment:
    """Assess these leads as of their own `as_of`.

    `exact_contributions=False` explains each prediction with XGBoost's approximate
    (Saabas) contributions instead of exact TreeSHAP: some twenty times faster, the same
    sum (the model's log-odds) and, in practice, the same strongest factors with the same
    signs; bulk re-qualification uses it (see `scoring.services.leads_qualify`).
    `manual_overrides`: the managers' open, unexpired overrides of these leads, by lead id
    (see `scoring.overrides` for how they and `config.positive_rules` take precedence).
    """
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
    X_model = model_input(X)
    contributions: pd.DataFrame | None = None
    if models.conversion is not None and models.ready:
        probability = np.asarray(models.conversion.predict_proba(X_model), dtype=float)
        contributions = models.conversion.contributions(
            X_model, approximate=not exact_contributions
        )
    else:
        probability = decision.prior_probability(features, fit.scores)
    timeline = models.timeline.predict_range(X_model) if models.timeline is not None else None
    deal = models.deal_size.predict_range(X_model) if models.deal_size is not None else None
    if progress:
        progress("model")

    action = rules["action"].to_numpy()
    needs_review = rules["needs_review"].to_numpy()
    priorities, sales_ready, notes = _account_bar(lead_fields, features.index, config)
    tier = decision.decide_tiers(
        probability, action, needs_review, config.thresholds, sales_ready=sales_ready
    )
    n = len(features)
    positive_rule_ids: list[int | None] = [None] * n
    lead_override_ids: list[int | None] = [None] * n
    override_reason: Any = ""
    overridden: Any = ""
    overridden_by = np.zeros(n, dtype=bool)
    if config.positive_rules or manual_overrides:
        override_facts = pd.DataFrame(index=features.index)
        override_facts["email_domain"] = facts["email_domain"]
        for column in ("account_id", "source"):
            override_facts[column] = (
                lead_fields[column].reindex(features.index) if column in lead_fields else None
            )
        outcome = apply_overrides(
            tier=tier,
            leads=override_facts,
            rule_category=rules["category"].to_numpy(),
            rule_reason=rules["reason_code"].to_numpy(),
            positive_rules=config.positive_rules,
            manual=manual_overrides or {},
        )
        if outcome.decided.any():
            tier = outcome.tier
            overridden_by = outcome.decided
            positive_rule_ids = outcome.positive_rule_id
            lead_override_ids = outcome.lead_override_id
            override_reason, overridden = outcome.reason, outcome.overridden
            # The beaten rule no longer decides: routing and the brief follow the override.
            rules = rules.copy()
            rules.loc[overridden_by, ["reason_code", "category", "action", "rule_name"]] = ""
            rules.loc[overridden_by, "needs_review"] = False
            action = rules["action"].to_numpy()
            needs_review = rules["needs_review"].to_numpy()
    confidence = decision.confidence_levels(
        probability,
        config.thresholds,
        features["touch_count"].to_numpy(),
        model_ready=models.ready and models.conversion is not None,
        rule_decided=(action != "") | overridden_by,
        sales_ready=sales_ready,
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
    results["account_priority"] = priorities
    results["threshold_note"] = notes
    results["positive_rule_id"] = positive_rule_ids
    results["lead_override_id"] = lead_override_ids
    results["override_reason"] = override_reason
    results["overridden_disqualification"] = overridden
    if timeline is not None:
        results["timeline_low"] = timeline["low"].to_numpy()
        results["timeline_high"] = timeline["high"].to_numpy()
    if deal is not None:
        results["deal_low"] = deal["low"].to_numpy()
        results["deal_high"] = deal["high"].to_numpy()

    content = content_summary(frames)
    builder = briefs.BriefBuilder(
        thresholds={
            "sales_ready": config.thresholds.sales_ready,
            "nurture": config.thresholds.nurture,
        },
        point_threshold=config.point_threshold,
        model_version_id=models.conversion_version_id if models.ready else None,
        fit_factor_names=list(fit.factors.columns),
    )
    rule_rows = rules[rules["category"] != ""]
    rule_records = rule_rows.to_dict("index")
    evidence = [c for c in EVIDENCE_FACTS if c in facts.columns]
    hit_facts = facts.loc[rule_rows.index, evidence].to_dict("index") if len(rule_rows) else {}
    stored = _top_contributions(contributions, features.index)
    # Everything per lead comes from plain lists, zipped: per-row pandas access (or a
    # to_dict of every column) would cost more than all the vectorised work above.
    row_names = list(X.columns)
    rows = zip(*(X[name].tolist() for name in row_names), strict=True)
    factor_rows = zip(*(fit.factors[name].tolist() for name in fit.factors.columns), strict=True)
    score_rows = zip(*(fit.scores[name].tolist() for name in FIT_COLUMNS), strict=True)
    lead_fields_frame = lead_fields[["name", "title", "email"]].reindex(features.index).fillna("")
    lead_rows = zip(
        *(lead_fields_frame[c].astype(str).tolist() for c in ("name", "title", "email")),
        strict=True,
    )
    n = len(features)
    timeline_rows = (
        zip(timeline["low"].tolist(), timeline["high"].tolist(), strict=True)
        if timeline is not None
        else iter([None] * n)
    )
    deal_rows = (
        zip(deal["low"].tolist(), deal["high"].tolist(), strict=True)
        if deal is not None
        else iter([None] * n)
    )
    ids = [int(i) for i in features.index]
    records: list[BriefRecord] = []
    no_contributions: dict[str, float] = {}
    for (
        lead_id,
        tier_value,
        confidence_value,
        p,
        points,
        values,
        factors,
        scores,
        names,
        span,
        size,
    ) in zip(
        ids,
        tier.tolist(),
        confidence.tolist(),
        probability.tolist(),
        results["point_score"].tolist(),
        rows,
        factor_rows,
        score_rows,
        lead_rows,
        timeline_rows,
        deal_rows,
        strict=True,
    ):
        row = dict(zip(row_names, values, strict=True))
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
        records.append(
            builder.build(
                lead={"name": names[0], "title": names[1], "email": names[2]},
                row=row,
                tier=str(tier_value),
                confidence=str(confidence_value),
                probability=float(p),
                point_score=int(points),
                fit_scores=scores,
                fit_points=factors,
                rule=rule,
                contributions=stored.get(lead_id, no_contributions),
                content=content.get(lead_id, []),
                timeline=(int(span[0]), int(span[1])) if span is not None else None,
                deal_size=(float(size[0]), float(size[1])) if size is not None else None,
                segment=_segment(float(row.get("log_employees", math.nan))),
            )
        )
    results["recommended_action"] = [r.recommended_action for r in records]
    if progress:
        progress("briefs")
    return Assessment(
        results=results,
        briefs=_Briefs(dict(zip(ids, records, strict=True))),
        contributions=stored,
        features=features,
        records=records,
        contributions_json=[briefs.numbers_json(stored.get(i, no_contributions)) for i in ids],
    )
