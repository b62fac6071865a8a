"""What carries a Sales Ready lead that has gone quiet.

The product's question is "ready to buy *right now*?", and the brief's first line counts the
touches of the past seven days. A lead can be Sales Ready with none of them: the model weighs a
deep evaluation last month, a committee that is still active, or a trigger event, as well as
this week's clicks. Then the brief must say so instead of leaving "0 touchpoints in the past
7 days" beside "Sales Ready" unexplained:

    Ready on evaluation depth and last month's committee activity; no touch in the past
    7 days (the last one 12 days ago).

Pure: the lead's feature row and the model's signed contributions in, one sentence out (""
when the lead is not Sales Ready or was active this week).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

QUIET_DAYS = 7

# Evidence groups, in the words the sentence uses; a feature belongs to the first group whose
# test it passes (see `evidence_group`).
GROUP_LABELS = {
    "evaluation": "evaluation depth",
    "activity": "last month's activity",
    "committee": "last month's committee activity",
    "requests": "first-party requests",
    "intent": "third-party intent",
    "triggers": "a trigger event",
    "fit": "fit",
    "crm": "CRM attributes",
}

_EVALUATION = frozenset(
    {"pricing_views", "roi_calculator_views", "implementation_views", "comparison_views",
     "case_study_views", "industry_case_studies", "pricing_after_implementation",
     "bottom_funnel_views", "evaluation_share", "top_funnel_share", "funnel_progression",
     "bounce_share", "pricing_bounce_share", "pricing_dwell_mean", "evaluation_dwell_minutes"}
)  # fmt: skip
_ACTIVITY = frozenset(
    {"touch_count", "touches_7d", "touches_prev_30d", "surge_ratio", "touches_30d",
     "recency_weighted_touches", "days_since_last_touch", "days_since_first_touch",
     "activity_span_days", "max_gap_days", "active_days", "touches_per_active_day"}
)  # fmt: skip
_REQUESTS = frozenset(
    {"demo_requests", "email_replies", "email_clicks", "meetings", "webinars", "downloads",
     "gated_downloads", "newsletter_signups", "chat_messages"}
)  # fmt: skip
_FIT = frozenset(
    {"log_employees", "industry", "region", "funding_stage", "seniority", "department",
     "committee_role", "is_customer_account", "is_competitor_account", "email_domain_type",
     "has_account", "source"}
)  # fmt: skip
_TRIGGER_SUFFIXES = ("_events",)
_TRIGGERS = ("funding", "leadership_change", "initiative", "job_posting")

# A group must carry at least this much of the lift (log-odds) to be named.
_MIN_CONTRIBUTION = 0.05
_MAX_GROUPS = 3


def evidence_group(feature: str) -> str:
    """Which kind of evidence a model feature is ("" for none the sentence names)."""
    if feature in _EVALUATION:
        return "evaluation"
    if feature in _ACTIVITY:
        return "activity"
    if feature.startswith(("account_", "committee_roles", "economic_buyer")):
        return "committee"
    if feature in _REQUESTS or feature.startswith("chat_"):
        return "requests"
    if feature.startswith("intent_"):
        return "intent"
    if feature.endswith(_TRIGGER_SUFFIXES) or feature.removeprefix("days_since_") in _TRIGGERS:
        return "triggers"
    if feature in _FIT or feature.startswith("fit_"):
        return "fit"
    if feature.startswith("attr__"):
        return "crm"
    return ""


def _number(row: Mapping[str, Any], name: str) -> float:
    try:
        value = float(row.get(name))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan
    return value


def _join(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def ready_basis(*, tier: str, row: Mapping[str, Any], contributions: Mapping[str, float]) -> str:
    """The sentence for a Sales Ready lead with no touch in the past `QUIET_DAYS` days."""
    if tier != "sales_ready":
        return ""
    recent = _number(row, "touches_7d")
    if recent > 0:
        return ""
    weights: dict[str, float] = {}
    for feature, value in contributions.items():
        group = evidence_group(feature)
        if group and value > 0:
            weights[group] = weights.get(group, 0.0) + float(value)
    named = [
        GROUP_LABELS[group]
        for group, weight in sorted(weights.items(), key=lambda kv: (-kv[1], kv[0]))
        if weight >= _MIN_CONTRIBUTION
    ][:_MAX_GROUPS]
    if "last month's committee activity" in named and "last month's activity" in named:
        named.remove("last month's activity")
        named[named.index("last month's committee activity")] = (
            "last month's activity, its own and the committee's"
        )
    carried = _join(named) if named else "fit and intent priors (no model factor stood out)"
    last = _number(row, "days_since_last_touch")
    if math.isnan(last):
        quiet = "no touch of its own yet"
    else:
        days = max(round(last), QUIET_DAYS)
        quiet = f"no touch in the past {QUIET_DAYS} days (the last one {days} days ago)"
    return f"Ready on {carried}; {quiet}."
