"""The seed's qualification metrics, the fairness audit and drift, over plain rows: no ORM.

Every function takes a pandas DataFrame (one row per lead) or plain sequences and returns
JSON-ready values, so the hourly snapshot can store them and the pages only read. A metric
whose input is missing, or whose sample is below `MIN_SAMPLE`, has `value=None` and a note
saying what is missing: the page says "not enough data" rather than show a made-up number.
`docs/metrics.md` defines each one.

The lead frame's columns (any may be missing from a frame that a function does not need):
`created_at`, `converted_at`, `closed_at` (aware timestamps or NaT), `has_opportunity`,
`tier` (the current qualification's, None when never qualified), `probability`,
`point_score`, `confidence`, `hours_to_qualify`, `verdict`, `reason`, `feedback_at`,
`has_account`, `has_industry`, `has_employees`, `has_touchpoint`, and the segment columns
`region`, `company_size`, `industry`, `email_domain_type`.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

SALES_READY = "sales_ready"
# Below this many leads in a metric's denominator the figure is noise: "not enough data".
MIN_SAMPLE = 20
# The 80% ("four-fifths") rule of adverse-impact audits.
FAIRNESS_RULE = 0.8
# A segment needs this many qualified leads before the 80% rule is applied to it.
MIN_SEGMENT_LEADS = 30
# Industry convention for the population stability index.
PSI_MODERATE = 0.1
PSI_MAJOR = 0.25
PSI_EPS = 1e-4
# Rejections that say the lead was never qualified (as opposed to "not now" or "no answer").
FIT_REJECTION_REASONS: frozenset[str] = frozenset(
    {
        "not_decision_maker",
        "no_budget",
        "wrong_fit",
        "competitor",
        "student",
        "existing_customer",
        "duplicate",
    }
)
SEGMENT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("region", "Region"),
    ("company_size", "Company size"),
    ("industry", "Industry"),
    ("email_domain_type", "Email domain"),
)
SIZE_BANDS: tuple[tuple[float, str], ...] = (
    (50, "1-50"),
    (200, "51-200"),
    (1000, "201-1000"),
    (5000, "1001-5000"),
    (math.inf, "5000+"),
)

GOOD = "good"
WATCH = "watch"
BAD = "bad"
NO_DATA = "no_data"


@dataclass(frozen=True)
class Metric:
    """One figure of the seed's tables, ready to show: `display` is already formatted."""

    key: str
    name: str
    value: float | None
    display: str
    target: str
    status: str
    note: str = ""
    sample: int = 0
    details: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Metric:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})

    @property
    def has_value(self) -> bool:
        return self.value is not None

    @property
    def definition(self) -> str:
        return DEFINITIONS.get(self.key, "")


# One line each, for the pages; docs/metrics.md has the formula, source and target.
DEFINITIONS: dict[str, str] = {
    "qualification_accuracy": "Share of live Sales Ready leads (the tier given before the "
    "outcome) that became opportunities.",
    "lift_over_point_scoring": "How much more often live AI Sales Ready leads convert than "
    "live leads the point score would have routed.",
    "sales_acceptance_rate": "Share of rep verdicts that accept the lead.",
    "time_to_qualification": "Median time from a lead's creation to its first qualification "
    "(leads of the last 30 days).",
    "cost_per_qualified_lead": "The monthly qualification cost over the leads made Sales Ready "
    "in the last 30 days.",
    "lead_velocity": "Sales Ready leads created in the last 7 days, against the 7 before.",
    "tier_against_capacity": "This week's Sales Ready leads over the reps' weekly capacity.",
    "false_positive_rate": "Share of judged Sales Ready leads a rep rejected as never "
    "qualified (fit reasons, not timing).",
    "false_negative_rate": "Share of live converted leads not Sales Ready before the outcome.",
    "prediction_accuracy": "Gap between conversions predicted (sum of the live leads' "
    "probabilities before their outcome) and conversions that happened.",
    "signal_availability": "Share of leads with at least three of: account, industry, "
    "company size, tracked behaviour.",
    "model_confidence": "Share of current qualifications made with high or medium confidence.",
    "segment_performance": "Segments whose Sales Ready rate is below 80% of the best segment's.",
    "rep_feedback": "Share of Sales Ready leads 7-37 days old that a rep gave a verdict on.",
    "outcome_feedback_loop": "Share of Sales Ready leads 30-180 days old whose outcome is "
    "recorded, for the next training.",
}


def ratio(part: float, whole: float) -> float | None:
    return float(part) / float(whole) if whole else None


def percent(value: float | None, *, signed: bool = False) -> str:
    if value is None:
        return "—"
    return f"{100 * value:+.0f}%" if signed else f"{100 * value:.0f}%"


def _no_data(key: str, name: str, target: str, note: str, sample: int = 0) -> Metric:
    return Metric(key, name, None, "not enough data", target, NO_DATA, note, sample)


def _bool(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame.columns:
        return pd.Series(False, index=frame.index)
    return frame[column].fillna(False).astype(bool)


def _converted(frame: pd.DataFrame) -> pd.Series:
    return frame["converted_at"].notna() | _bool(frame, "has_opportunity")


def _resolved(frame: pd.DataFrame) -> pd.Series:
    return _converted(frame) | frame["closed_at"].notna()


def _sales_ready(frame: pd.DataFrame) -> pd.Series:
    return frame["tier"] == SALES_READY


# --- primary ---------------------------------------------------------------------------------


def qualification_accuracy(frame: pd.DataFrame, *, min_sample: int = MIN_SAMPLE) -> Metric:
    """Of the Sales Ready leads whose outcome is known, the share that became opportunities."""
    name, target = "Qualification accuracy", "30-50%"
    pool = _sales_ready(frame) & _resolved(frame)
    n = int(pool.sum())
    if n < min_sample:
        return _no_data(
            "qualification_accuracy", name, target, f"{n} Sales Ready leads with an outcome", n
        )
    value = float((pool & _converted(frame)).sum()) / n
    # Above the seed's range is no fault of the qualification (routing may be too strict).
    status = GOOD if value >= 0.3 else (WATCH if value >= 0.2 else BAD)
    return Metric(
        "qualification_accuracy",
        name,
        value,
        percent(value),
        target,
        status,
        f"of {n} Sales Ready leads with an outcome",
        n,
    )


def lift_over_point_scoring(
    frame: pd.DataFrame, *, point_threshold: float, min_sample: int = MIN_SAMPLE
) -> Metric:
    """How much more often AI Sales Ready leads convert than the leads the old point score
    would have routed (point score at or above its routing threshold), both with an outcome."""
    name, target = "Lift over point scoring", "+20-40%"
    resolved, converted = _resolved(frame), _converted(frame)
    ai = _sales_ready(frame) & resolved
    points = (frame["point_score"].fillna(-math.inf) >= point_threshold) & resolved
    n_ai, n_points = int(ai.sum()), int(points.sum())
    if n_ai < min_sample or n_points < min_sample:
        return _no_data(
            "lift_over_point_scoring",
            name,
            target,
            f"{n_ai} AI and {n_points} point-qualified leads with an outcome",
            min(n_ai, n_points),
        )
    rate_ai = float((ai & converted).sum()) / n_ai
    rate_points = float((points & converted).sum()) / n_points
    if rate_points == 0:
        return _no_data(
            "lift_over_point_scoring",
            name,
            target,
            "no point-qualified lead converted, so there is no rate to compare with",
            n_points,
        )
    value = rate_ai / rate_points - 1
    status = GOOD if value >= 0.2 else (WATCH if value >= 0 else BAD)
    return Metric(
        "lift_over_point_scoring",
        name,
        value,
        percent(value, signed=True),
        target,
        status,
        f"{percent(rate_ai)} of AI Sales Ready vs {percent(rate_points)} of "
        f"point-qualified (≥ {point_threshold:g} points) leads converted",
        min(n_ai, n_points),
    )


def sales_acceptance_rate(frame: pd.DataFrame, *, min_sample: int = MIN_SAMPLE) -> Metric:
    """Of the leads a rep gave a verdict on (their latest), the share accepted."""
    name, target = "Sales acceptance rate", "85%+"
    verdicts = frame["verdict"].dropna() if "verdict" in frame.columns else pd.Series([])
    n = len(verdicts)
    if n < min_sample:
        return _no_data("sales_acceptance_rate", name, target, f"{n} rep verdicts", n)
    value = float((verdicts == "accept").sum()) / n
    status = GOOD if value >= 0.85 else (WATCH if value >= 0.7 else BAD)
    return Metric(
        "sales_acceptance_rate",
        name,
        value,
        percent(value),
        target,
        status,
        f"of {n} leads with a rep verdict",
        n,
    )


def _hours(value: float) -> str:
    if value < 1:
        return f"{value * 60:.0f} min"
    if value < 48:
        return f"{value:.1f} h"
    return f"{value / 24:.1f} days"


def time_to_qualification(
    frame: pd.DataFrame, *, live_since: datetime | None = None, min_sample: int = MIN_SAMPLE
) -> Metric:
    """Median hours from a lead's creation to its first qualification (`hours_to_qualify`).

    `live_since`: when qualification started (the first qualification stored). A lead created
    before then, imported history or a demo world, waited for the product to exist, not for
    it to decide: it says nothing about the speed and is left out."""
    name, target = "Time to qualification", "under 1 hour"
    measured = frame
    if live_since is not None and "created_at" in frame:
        created = pd.to_datetime(frame["created_at"], utc=True)
        measured = frame[created >= pd.Timestamp(live_since)]
    hours = measured["hours_to_qualify"].dropna().clip(lower=0)
    n = len(hours)
    if n < min_sample:
        return _no_data(
            "time_to_qualification",
            name,
            target,
            f"{n} recent leads created since qualification started",
            n,
        )
    median = float(hours.median())
    p90 = float(hours.quantile(0.9))
    status = GOOD if median < 1 else (WATCH if median < 24 else BAD)
    return Metric(
        "time_to_qualification",
        name,
        median,
        _hours(median),
        target,
        status,
        f"median of {n} recent leads; 90th percentile {_hours(p90)}",
        n,
    )


def cost_per_qualified_lead(
    *, monthly_cost: float | None, qualified_this_month: int, qualified_last_month: int
) -> Metric:
    """The qualification cost of the last 30 days over the leads made Sales Ready in them."""
    name, target = "Cost per qualified lead", "decreasing trend"
    if monthly_cost is None:
        return _no_data(
            "cost_per_qualified_lead",
            name,
            target,
            "no cost set: LEADQUAL_QUALIFICATION_MONTHLY_COST",
        )
    if qualified_this_month == 0:
        return _no_data(
            "cost_per_qualified_lead", name, target, "no Sales Ready leads in the last 30 days"
        )
    value = monthly_cost / qualified_this_month
    previous = monthly_cost / qualified_last_month if qualified_last_month else None
    status = GOOD if previous is None or value <= previous else WATCH
    note = f"{monthly_cost:,.0f} over {qualified_this_month} Sales Ready leads in 30 days"
    if previous is not None:
        note += f"; {previous:,.2f} the 30 days before"
    return Metric(
        "cost_per_qualified_lead",
        name,
        value,
        f"{value:,.2f}",
        target,
        status,
        note,
        qualified_this_month,
    )


# --- secondary -------------------------------------------------------------------------------


def weekly_counts(created_at: pd.Series, *, now: datetime, weeks: int = 8) -> list[dict[str, Any]]:
    """Counts per 7-day window ending at `now`, oldest first."""
    stamps = pd.to_datetime(created_at, utc=True).dropna()
    out = []
    for i in range(weeks - 1, -1, -1):
        end = now - timedelta(days=7 * i)
        start = end - timedelta(days=7)
        count = int(((stamps > start) & (stamps <= end)).sum())
        out.append({"week_ending": end.date().isoformat(), "count": count})
    return out


def lead_velocity(frame: pd.DataFrame, *, now: datetime, weeks: int = 8) -> Metric:
    """Sales Ready leads created per week; the figure is the last 7 days, against the 7
    before."""
    name, target = "Lead velocity", "growing with marketing investment"
    series = weekly_counts(frame.loc[_sales_ready(frame), "created_at"], now=now, weeks=weeks)
    this_week, last_week = series[-1]["count"], series[-2]["count"] if weeks > 1 else 0
    growth = ratio(this_week - last_week, last_week)
    note = f"{last_week} the week before"
    if growth is not None:
        note += f" ({percent(growth, signed=True)})"
    return Metric(
        "lead_velocity",
        name,
        float(this_week),
        f"{this_week} / week",
        target,
        GOOD if this_week >= last_week else WATCH,
        note,
        this_week,
        series,
    )


def tier_against_capacity(frame: pd.DataFrame, *, now: datetime, weekly_capacity: int) -> Metric:
    """Sales Ready leads created in the last 7 days over the reps' weekly capacity."""
    name, target = "Tier distribution against capacity", "80-110% of capacity"
    week = (pd.to_datetime(frame["created_at"], utc=True) > now - timedelta(days=7)) & (
        frame["tier"].notna()
    )
    tiers = frame.loc[week, "tier"].value_counts()
    details = [{"tier": str(k), "count": int(v)} for k, v in tiers.items()]
    sales_ready = int(tiers.get(SALES_READY, 0))
    if weekly_capacity <= 0:
        return Metric(
            "tier_against_capacity",
            name,
            None,
            "not enough data",
            target,
            NO_DATA,
            f"{sales_ready} Sales Ready this week; no active rep capacity set",
            sales_ready,
            details,
        )
    value = sales_ready / weekly_capacity
    status = GOOD if 0.8 <= value <= 1.1 else (WATCH if 0.5 <= value <= 1.5 else BAD)
    return Metric(
        "tier_against_capacity",
        name,
        value,
        percent(value),
        target,
        status,
        f"{sales_ready} Sales Ready leads this week for a capacity of {weekly_capacity}",
        sales_ready,
        details,
    )


def false_positive_rate(frame: pd.DataFrame, *, min_sample: int = MIN_SAMPLE) -> Metric:
    """Of the Sales Ready leads a rep gave a verdict on, the share rejected for a reason that
    says they were never qualified (not a decision-maker, no budget, wrong fit, competitor,
    student, existing customer, duplicate); "not now" and "unreachable" do not count."""
    name, target = "False positive rate", "under 15%"
    judged = _sales_ready(frame) & frame["verdict"].notna()
    n = int(judged.sum())
    if n < min_sample:
        return _no_data(
            "false_positive_rate", name, target, f"{n} Sales Ready leads with a rep verdict", n
        )
    wrong = judged & (frame["verdict"] == "reject") & frame["reason"].isin(FIT_REJECTION_REASONS)
    value = float(wrong.sum()) / n
    status = GOOD if value < 0.15 else (WATCH if value < 0.25 else BAD)
    return Metric(
        "false_positive_rate",
        name,
        value,
        percent(value),
        target,
        status,
        f"{int(wrong.sum())} of {n} judged Sales Ready leads rejected as not qualified",
        n,
    )


def false_negative_rate(frame: pd.DataFrame, *, min_sample: int = MIN_SAMPLE) -> Metric:
    """Of the leads that converted, the share whose tier (the report's: before the outcome)
    is not Sales Ready: buyers the qualification would have kept from sales."""
    name, target = "False negative rate", "under 10%"
    converted = _converted(frame) & frame["tier"].notna()
    n = int(converted.sum())
    if n < min_sample:
        return _no_data("false_negative_rate", name, target, f"{n} qualified leads converted", n)
    missed = converted & ~_sales_ready(frame)
    value = float(missed.sum()) / n
    status = GOOD if value < 0.1 else (WATCH if value < 0.2 else BAD)
    return Metric(
        "false_negative_rate",
        name,
        value,
        percent(value),
        target,
        status,
        f"{int(missed.sum())} of {n} converted leads were not Sales Ready",
        n,
    )


def prediction_accuracy(frame: pd.DataFrame, *, min_sample: int = MIN_SAMPLE) -> Metric:
    """Predicted against actual conversions over the leads with an outcome and a probability:
    |actual - Σ probability| / Σ probability."""
    name, target = "Prediction accuracy", "within 20%"
    pool = _resolved(frame) & frame["probability"].notna()
    n = int(pool.sum())
    predicted = float(frame.loc[pool, "probability"].sum())
    if n < min_sample or predicted <= 0:
        return _no_data(
            "prediction_accuracy", name, target, f"{n} leads with an outcome and a probability", n
        )
    actual = int((pool & _converted(frame)).sum())
    value = abs(actual - predicted) / predicted
    status = GOOD if value <= 0.2 else (WATCH if value <= 0.4 else BAD)
    return Metric(
        "prediction_accuracy",
        name,
        value,
        f"{percent(value)} off",
        target,
        status,
        f"{actual} converted against {predicted:.1f} predicted over {n} leads",
        n,
    )


# --- diagnostic ------------------------------------------------------------------------------

SIGNALS: tuple[tuple[str, str], ...] = (
    ("has_account", "Matched to an account"),
    ("has_industry", "Industry known"),
    ("has_employees", "Company size known"),
    ("has_touchpoint", "Any behaviour tracked"),
)


def signal_availability(frame: pd.DataFrame, *, min_sample: int = MIN_SAMPLE) -> Metric:
    """The share of leads with at least three of the four signal families; each family's share
    in `details`."""
    name, target = "Signal availability", "80%+ of leads with 3 of 4 signals"
    n = len(frame)
    if n < min_sample:
        return _no_data("signal_availability", name, target, f"{n} leads", n)
    flags = pd.DataFrame({col: _bool(frame, col) for col, _ in SIGNALS})
    details = [{"signal": label, "share": float(flags[col].mean())} for col, label in SIGNALS]
    value = float((flags.sum(axis=1) >= 3).mean())
    status = GOOD if value >= 0.8 else (WATCH if value >= 0.5 else BAD)
    return Metric(
        "signal_availability",
        name,
        value,
        percent(value),
        target,
        status,
        f"of {n} leads",
        n,
        details,
    )


CONFIDENCE_LEVELS: tuple[tuple[str, str], ...] = (
    ("high", "High"),
    ("medium", "Medium"),
    ("low", "Low"),
    ("not_enough_data", "Not enough data yet"),
)


def model_confidence(frame: pd.DataFrame, *, min_sample: int = MIN_SAMPLE) -> Metric:
    """The share of current qualifications made with high or medium confidence."""
    name, target = "Model confidence", "70%+ high or medium"
    levels = frame["confidence"].dropna()
    n = len(levels)
    if n < min_sample:
        return _no_data("model_confidence", name, target, f"{n} qualified leads", n)
    counts = levels.value_counts()
    details = [
        {"level": label, "count": int(counts.get(key, 0)), "share": float(counts.get(key, 0)) / n}
        for key, label in CONFIDENCE_LEVELS
    ]
    value = float(counts.get("high", 0) + counts.get("medium", 0)) / n
    status = GOOD if value >= 0.7 else (WATCH if value >= 0.4 else BAD)
    return Metric(
        "model_confidence", name, value, percent(value), target, status, f"of {n} leads", n, details
    )


def segment_performance(fairness: list[dict[str, Any]]) -> Metric:
    """How many segments fail the 80% rule (from `segment_fairness`)."""
    name, target = "Segment performance", "no segment below 80% of the best"
    audited = [row for group in fairness for row in group["levels"] if row["audited"]]
    if not audited:
        return _no_data(
            "segment_performance",
            name,
            target,
            f"no segment has {MIN_SEGMENT_LEADS}+ qualified leads",
        )
    flagged = [
        f"{group['label']}: {row['level']}"
        for group in fairness
        for row in group["levels"]
        if row["flagged"]
    ]
    return Metric(
        "segment_performance",
        name,
        float(len(flagged)),
        f"{len(flagged)} flagged",
        target,
        GOOD if not flagged else BAD,
        ", ".join(flagged) if flagged else f"all {len(audited)} audited segments pass",
        len(audited),
    )


def rep_feedback(
    frame: pd.DataFrame, *, now: datetime, days: int = 30, min_sample: int = MIN_SAMPLE
) -> Metric:
    """The share of Sales Ready leads created 7 to `days` + 7 days ago that a rep gave a
    verdict on; the reasons of the rejections in `details`."""
    name, target = "Rep feedback", "50%+ of Sales Ready leads get a verdict"
    created = pd.to_datetime(frame["created_at"], utc=True)
    window = (
        _sales_ready(frame)
        & (created <= now - timedelta(days=7))
        & (created > now - timedelta(days=days + 7))
    )
    n = int(window.sum())
    rejected = frame.loc[frame["verdict"] == "reject", "reason"].value_counts()
    details = [{"reason": str(k), "count": int(v)} for k, v in rejected.items()]
    if n < min_sample:
        return Metric(
            "rep_feedback",
            name,
            None,
            "not enough data",
            target,
            NO_DATA,
            f"{n} Sales Ready leads 7-{days + 7} days old",
            n,
            details,
        )
    value = float((window & frame["verdict"].notna()).sum()) / n
    status = GOOD if value >= 0.5 else (WATCH if value >= 0.2 else BAD)
    return Metric(
        "rep_feedback",
        name,
        value,
        percent(value),
        target,
        status,
        f"of {n} Sales Ready leads 7-{days + 7} days old",
        n,
        details,
    )


def outcome_feedback_loop(
    frame: pd.DataFrame,
    *,
    now: datetime,
    trained_at: datetime | None,
    min_outcomes: int,
    min_sample: int = MIN_SAMPLE,
) -> Metric:
    """The share of Sales Ready leads 30 to 180 days old whose outcome is recorded; outcomes
    recorded since the active model was trained in `details`."""
    name, target = "Outcome feedback loop", "50%+ of 30-180-day-old Sales Ready leads closed"
    created = pd.to_datetime(frame["created_at"], utc=True)
    window = (
        _sales_ready(frame)
        & (created <= now - timedelta(days=30))
        & (created > now - timedelta(days=180))
    )
    n = int(window.sum())
    resolved = _resolved(frame)
    labelled = int(resolved.sum())
    outcome_at = pd.to_datetime(frame["converted_at"], utc=True).fillna(
        pd.to_datetime(frame["closed_at"], utc=True)
    )
    since = int((outcome_at > pd.Timestamp(trained_at)).sum()) if trained_at else labelled
    details: list[dict[str, Any]] = [
        {"label": "Leads with an outcome", "value": labelled},
        {"label": "Outcomes needed to train", "value": min_outcomes},
        {
            "label": "Outcomes since the active model was trained"
            if trained_at
            else "Outcomes (no model trained yet)",
            "value": since,
        },
    ]
    if trained_at:
        details.append({"label": "Days since training", "value": round((now - trained_at).days, 1)})
    if n < min_sample:
        return Metric(
            "outcome_feedback_loop",
            name,
            None,
            "not enough data",
            target,
            NO_DATA,
            f"{n} Sales Ready leads 30-180 days old",
            n,
            details,
        )
    value = float((window & resolved).sum()) / n
    status = GOOD if value >= 0.5 and labelled >= min_outcomes else (WATCH if value >= 0.2 else BAD)
    return Metric(
        "outcome_feedback_loop",
        name,
        value,
        percent(value),
        target,
        status,
        f"of {n} Sales Ready leads 30-180 days old",
        n,
        details,
    )


# --- fairness --------------------------------------------------------------------------------


def size_band(employees: float | None) -> str:
    if employees is None or (isinstance(employees, float) and math.isnan(employees)):
        return "unknown"
    for upper, label in SIZE_BANDS:
        if employees <= upper:
            return label
    return "unknown"


def segment_fairness(
    frame: pd.DataFrame,
    *,
    columns: Sequence[tuple[str, str]] = SEGMENT_COLUMNS,
    min_leads: int = MIN_SEGMENT_LEADS,
    rule: float = FAIRNESS_RULE,
) -> list[dict[str, Any]]:
    """Qualification rate (share Sales Ready among qualified leads) per level of each segment.

    A level with at least `min_leads` qualified leads is audited; an audited level whose rate
    is below `rule` x the highest audited level's rate of the same segment is flagged (the
    80% rule). Levels are ordered by rate, highest first.
    """
    qualified = frame[frame["tier"].notna()]
    is_ready = qualified["tier"] == SALES_READY
    out = []
    for column, label in columns:
        values = qualified[column].fillna("unknown").replace("", "unknown").astype(str)
        grouped = pd.DataFrame({"level": values, "ready": is_ready}).groupby("level")["ready"]
        stats = pd.DataFrame({"leads": grouped.size(), "ready": grouped.sum()})
        stats["rate"] = stats["ready"] / stats["leads"]
        audited = stats[stats["leads"] >= min_leads]
        best = float(audited["rate"].max()) if len(audited) else None
        levels = []
        for level, row in stats.sort_values(["rate", "leads"], ascending=False).iterrows():
            is_audited = bool(row["leads"] >= min_leads)
            rate = float(row["rate"])
            relative = rate / best if best else None
            levels.append(
                {
                    "level": str(level),
                    "leads": int(row["leads"]),
                    "sales_ready": int(row["ready"]),
                    "rate": rate,
                    "relative": relative,
                    "audited": is_audited,
                    "flagged": bool(is_audited and best is not None and rate < rule * best),
                }
            )
        out.append({"column": column, "label": label, "best_rate": best, "levels": levels})
    return out


# --- drift -----------------------------------------------------------------------------------


def psi(expected: Sequence[float], actual: Sequence[float], *, eps: float = PSI_EPS) -> float:
    """Population stability index of two distributions over the same bins (counts or shares):
    Σ (a - e) · ln(a / e), with empty bins floored at `eps` so that the log stays finite."""
    e = np.asarray(expected, dtype=np.float64)
    a = np.asarray(actual, dtype=np.float64)
    if e.shape != a.shape or e.size == 0:
        raise ValueError("psi needs two distributions over the same, non-empty bins")
    if e.sum() <= 0 or a.sum() <= 0:
        raise ValueError("psi needs two non-empty samples")
    e = np.maximum(e / e.sum(), eps)
    a = np.maximum(a / a.sum(), eps)
    return float(np.sum((a - e) * np.log(a / e)))


def psi_level(value: float | None) -> str:
    if value is None:
        return NO_DATA
    if value < PSI_MODERATE:
        return "stable"
    return "moderate" if value < PSI_MAJOR else "major"


def _shares(counts: Iterable[float]) -> list[float]:
    values = [float(c) for c in counts]
    total = sum(values)
    return [v / total if total else 0.0 for v in values]


def categorical_drift(
    training: pd.Series, current: pd.Series, *, max_levels: int = 12
) -> dict[str, Any]:
    """PSI of a categorical feature; levels beyond the `max_levels` most common at training
    are pooled as "other" (and missing values are their own level)."""
    train = training.fillna("(missing)").replace("", "(missing)").astype(str)
    now = current.fillna("(missing)").replace("", "(missing)").astype(str)
    top = list(train.value_counts().index[:max_levels])
    extra = set(now.unique()) - set(top)
    if len(train.unique()) > max_levels or extra:
        train = train.where(train.isin(top), "other")
        now = now.where(now.isin(top), "other")
        if "other" not in top:
            top.append("other")
    train_counts = [int((train == level).sum()) for level in top]
    now_counts = [int((now == level).sum()) for level in top]
    return _drift_result(top, train_counts, now_counts)


def numeric_drift(training: pd.Series, current: pd.Series, *, bins: int = 10) -> dict[str, Any]:
    """PSI of a numeric feature over bins cut at the training deciles (ties merged); missing
    values form their own bin."""
    train = pd.to_numeric(training, errors="coerce")
    now = pd.to_numeric(current, errors="coerce")
    known = train.dropna()
    edges: np.ndarray = (
        np.unique(np.quantile(known, np.linspace(0, 1, bins + 1)[1:-1]))
        if len(known)
        else np.array([], dtype=np.float64)
    )
    cuts = np.concatenate([[-np.inf], edges, [np.inf]])
    labels = []
    for low, high in itertools.pairwise(cuts):
        if np.isinf(low):
            labels.append(f"≤ {high:.3g}" if not np.isinf(high) else "all")
        elif np.isinf(high):
            labels.append(f"> {low:.3g}")
        else:
            labels.append(f"{low:.3g} - {high:.3g}")

    def counts(values: pd.Series) -> list[int]:
        present = values.dropna().to_numpy(dtype=np.float64)
        # Right-closed bins: a value equal to an edge falls in the bin below it.
        which = np.searchsorted(cuts[1:-1], present, side="left")
        out = np.bincount(which, minlength=len(cuts) - 1).tolist()
        return [int(c) for c in out] + [int(values.isna().sum())]

    train_counts, now_counts = counts(train), counts(now)
    names = [*labels, "(missing)"]
    if train_counts[-1] == 0 and now_counts[-1] == 0:
        names, train_counts, now_counts = names[:-1], train_counts[:-1], now_counts[:-1]
    return _drift_result(names, train_counts, now_counts)


def _drift_result(
    levels: list[str], train_counts: list[int], now_counts: list[int]
) -> dict[str, Any]:
    rows = {"training": sum(train_counts), "current": sum(now_counts)}
    value = psi(train_counts, now_counts) if rows["training"] and rows["current"] else None
    return {
        "psi": value,
        "level": psi_level(value),
        "rows": rows,
        "bins": [
            {"level": level, "training": t, "current": c}
            for level, t, c in zip(levels, _shares(train_counts), _shares(now_counts), strict=True)
        ],
    }


# --- calibration and lift over current outcomes ------------------------------------------


def lift_curve(
    y: Sequence[float], score: Sequence[float], *, steps: int = 10
) -> list[dict[str, Any]]:
    """Cumulative lift: for the top 10%, 20%, … of leads by score, their conversion rate over
    the base rate, and the share of all conversions they hold. Ties keep the given order."""
    y_arr = np.asarray(y, dtype=np.float64)
    s_arr = np.asarray(score, dtype=np.float64)
    n = len(y_arr)
    positives = float(y_arr.sum())
    if n == 0 or positives == 0:
        return []
    order = np.argsort(-s_arr, kind="mergesort")
    hits = np.cumsum(y_arr[order])
    base = positives / n
    out = []
    for step in range(1, steps + 1):
        k = max(1, math.ceil(n * step / steps - 1e-9))
        precision = float(hits[k - 1]) / k
        out.append(
            {
                "share": step / steps,
                "rows": k,
                "precision": precision,
                "lift": precision / base,
                "captured": float(hits[k - 1]) / positives,
            }
        )
    return out
