"""The qualification brief: the seed's assessment card, as a structured record.

Pure: takes one lead's features, fit, rule hit, contributions and predictions, returns a dict
that templates render and the Salesforce push summarises. Sentences cite the evidence
("12 touchpoints in the past 7 days (vs. 2 the month before)"), rule hits stay apart from model
factors, and `move_up` says what would lift the lead a tier.
"""

from __future__ import annotations

import functools
import json
import json.encoder
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from scoring.fit import fit_breakdown
from scoring.ready_basis import ready_basis

TIER_LABELS = {"sales_ready": "Sales Ready", "nurture": "Nurture", "disqualify": "Disqualify"}

PAGE_LABELS = {
    "pricing": "Pricing",
    "roi_calculator": "ROI calculator",
    "implementation": "Implementation guide",
    "integration_docs": "Integration docs",
    "security": "Security documentation",
    "comparison": "Comparison pages",
    "case_study": "Case studies",
    "product": "Product pages",
    "demo": "Demo page",
    "whitepaper": "Whitepapers",
    "webinar": "Webinars",
    "blog": "Blog",
    "educational": "Educational content",
    "careers": "Careers",
    "support": "Support",
    "docs": "Documentation",
}

TALKING_POINTS = {
    "roi_calculator": "Walk through the ROI model they explored; bring numbers for their size.",
    "implementation": "Address implementation timeline and resourcing: they read the guide.",
    "integration_docs": "Confirm the integrations they researched work with their stack.",
    "security": "Offer the security package (questionnaire, certifications) up front.",
    "comparison": "They compared vendors: be ready to position against the alternatives.",
    "case_study": "Reference the customer stories they read, and peers in their industry.",
    "pricing": "Be ready to discuss pricing tiers and packaging.",
    "webinar": "Follow up on the webinar topic they attended.",
    "whitepaper": "Build on the whitepaper themes they downloaded.",
    "product": "Tie the product capabilities they viewed to their use case.",
}

Sentence = Callable[[Mapping[str, Any], float], str | None]


def _n(row: Mapping[str, Any], name: str) -> float:
    value = row.get(name)
    if type(value) is float:  # the common case, and the hot path of bulk qualification
        return value
    try:
        number = float(value) if value is not None else math.nan
    except (TypeError, ValueError):
        return math.nan
    return number


def _count(row: Mapping[str, Any], name: str) -> int:
    value = _n(row, name)
    return 0 if math.isnan(value) else round(value)


def _surge(row: Mapping[str, Any], c: float) -> str | None:
    recent, before = _count(row, "touches_7d"), _count(row, "touches_prev_30d")
    if c > 0 and recent:
        return (
            f"Activity surge: {recent} touchpoints in the past 7 days "
            f"(vs. {before} the month before)."
        )
    if c < 0:
        return f"No concentrated activity: {recent} touchpoints in the past 7 days."
    return None


def _span(row: Mapping[str, Any], c: float) -> str | None:
    span = _n(row, "activity_span_days")
    if math.isnan(span):
        return None
    if c < 0 and span >= 60:
        return f"Activity spread over {span / 30:.0f} months (research pattern)."
    if c > 0 and span <= 21:
        return f"All activity within {span:.0f} days (active evaluation)."
    return None


def _pricing_bounce(row: Mapping[str, Any], c: float) -> str | None:
    share = _n(row, "pricing_bounce_share")
    if c < 0 and share >= 0.5:
        return "Pricing visits lasted under 10 seconds (curiosity, not evaluation)."
    if c > 0 and _count(row, "pricing_views") and share < 0.5:
        dwell = _n(row, "pricing_dwell_mean")
        return f"Pricing studied for {dwell / 60:.1f} minutes per visit on average."
    return None


def _progression(row: Mapping[str, Any], c: float) -> str | None:
    if c > 0 and _n(row, "funnel_progression") > 0.1:
        return "Content pattern progressed from educational to evaluation content."
    if c < 0 and _n(row, "funnel_progression") < -0.1:
        return "Evaluation visits came early and were followed only by general content."
    return None


def _top_funnel(row: Mapping[str, Any], c: float) -> str | None:
    share = _n(row, "top_funnel_share")
    if c < 0 and share >= 0.6:
        return (
            f"{share:.0%} of activity is blog and educational content (learning, not evaluating)."
        )
    return None


def _committee(row: Mapping[str, Any], c: float) -> str | None:
    others = _count(row, "account_other_active_people_30d")
    if c > 0 and others:
        roles = _count(row, "committee_roles_active")
        extra = f", {roles} committee roles engaged" if roles else ""
        return (
            f"Multi-stakeholder: {others} other people from the company active in 30 days{extra}."
        )
    if c < 0 and not others:
        return "No engagement from other stakeholders at the company."
    return None


def _other_pricing(row: Mapping[str, Any], c: float) -> str | None:
    views = _count(row, "account_other_pricing_views_30d")
    if c > 0 and views:
        return f"Colleagues viewed pricing {views} time(s) in the last 30 days."
    return None


def _demo(row: Mapping[str, Any], c: float) -> str | None:
    if _count(row, "demo_requests") and c > 0:
        return "First-party: demo or contact-sales request submitted."
    if c < 0 and not _count(row, "demo_requests"):
        return "No demo or contact-sales request yet."
    return None


def _newsletter(row: Mapping[str, Any], c: float) -> str | None:
    if c < 0 and _count(row, "newsletter_signups") and not _count(row, "demo_requests"):
        return "Only a newsletter signup: no sales-intent form."
    return None


def _intent(row: Mapping[str, Any], c: float) -> str | None:
    surge = _n(row, "intent_surge_max_30d")
    if c > 0 and surge >= 1.0:
        return f"Third-party: company showing {surge * 100:.0f}% surge in category research."
    return None


def _event(kind: str, text: str) -> Sentence:
    def sentence(row: Mapping[str, Any], c: float) -> str | None:
        days = _n(row, f"days_since_{kind}")
        if c > 0 and not math.isnan(days):
            return text.format(days=days, weeks=days / 7)
        if c < 0 and math.isnan(days) and kind == "initiative":
            return "Company shows no signs of an active buying initiative."
        return None

    return sentence


def _recency(row: Mapping[str, Any], c: float) -> str | None:
    days = _n(row, "days_since_last_touch")
    if math.isnan(days):
        return "No recorded activity yet." if c < 0 else None
    if c < 0 and days > 30:
        return f"Last activity {days:.0f} days ago (gone quiet)."
    if c > 0 and days <= 3:
        return "Active in the last few days."
    if c > 0:
        return f"Last activity {days:.0f} days ago (still recent)."
    return f"Last activity {days:.0f} days ago (momentum fading)."


def _previous_month(row: Mapping[str, Any], c: float) -> str | None:
    before = _count(row, "touches_prev_30d")
    if c > 0 and before:
        return f"Sustained interest: {before} touchpoints in the month before last week."
    if c < 0 and before:
        return f"Earlier activity ({before} touchpoints the month before) has not kept up."
    if c < 0:
        return "No activity in the month before last week (interest is new or sporadic)."
    return None


def _evaluation_dwell(row: Mapping[str, Any], c: float) -> str | None:
    minutes = _n(row, "evaluation_dwell_minutes")
    if math.isnan(minutes):
        return None
    if c > 0 and minutes >= 1:
        return f"Spent {minutes:.0f} minutes on evaluation pages (pricing, ROI, implementation)."
    if c < 0:
        return f"Only {minutes:.1f} minutes on evaluation pages (little depth)."
    return None


def _roi(row: Mapping[str, Any], c: float) -> str | None:
    views = _count(row, "roi_calculator_views")
    if c > 0 and views:
        return f"Used the ROI calculator {views} time(s) (building a business case)."
    if c < 0 and not views:
        return "Has not used the ROI calculator."
    return None


def _account_touches(row: Mapping[str, Any], c: float) -> str | None:
    touches = _count(row, "account_touches_30d")
    if c > 0 and touches:
        return f"The company as a whole: {touches} touchpoints in the last 30 days."
    if c < 0:
        return f"Little activity from the company as a whole ({touches} touchpoints in 30 days)."
    return None


def _replies(row: Mapping[str, Any], c: float) -> str | None:
    if c > 0 and _count(row, "email_replies"):
        return "Replied to sales or email outreach."
    return None


def _case_studies(row: Mapping[str, Any], c: float) -> str | None:
    if c > 0 and _count(row, "case_study_views"):
        return f"Read {_count(row, 'case_study_views')} case studies."
    return None


def _implementation(row: Mapping[str, Any], c: float) -> str | None:
    if c > 0 and _count(row, "implementation_views"):
        return (
            "Implementation focus: integration, security or implementation pages "
            "(technical validation)."
        )
    return None


def _comparison(row: Mapping[str, Any], c: float) -> str | None:
    if c > 0 and _count(row, "comparison_views"):
        return "Competitive research: comparison and 'vs' pages (active vendor evaluation)."
    return None


def _bounce(row: Mapping[str, Any], c: float) -> str | None:
    if c < 0 and _n(row, "bounce_share") >= 0.5:
        return "Mostly brief visits with no depth (bounce pattern)."
    return None


def _chat(name: str, positive: str, negative: str | None = None) -> Sentence:
    def sentence(row: Mapping[str, Any], c: float) -> str | None:
        if _count(row, name) and c > 0:
            return positive
        if _count(row, name) and c < 0 and negative:
            return negative
        return None

    return sentence


SENTENCES: dict[str, Sentence] = {
    "surge_ratio": _surge,
    "touches_7d": _surge,
    "activity_span_days": _span,
    "max_gap_days": _span,
    "pricing_bounce_share": _pricing_bounce,
    "pricing_dwell_mean": _pricing_bounce,
    "funnel_progression": _progression,
    "top_funnel_share": _top_funnel,
    "evaluation_share": _top_funnel,
    "account_other_active_people_30d": _committee,
    "account_active_people_30d": _committee,
    "committee_roles_active": _committee,
    "account_other_pricing_views_30d": _other_pricing,
    "demo_requests": _demo,
    "newsletter_signups": _newsletter,
    "intent_surge_max_30d": _intent,
    "days_since_initiative": _event(
        "initiative", "Company announced an initiative {days:.0f} days ago."
    ),
    "days_since_job_posting": _event(
        "job_posting", "Job postings indicate the company is building in this area."
    ),
    "job_posting_events": _event(
        "job_posting", "Job postings indicate the company is building in this area."
    ),
    "days_since_leadership_change": _event(
        "leadership_change", "Timing: a new leader started {weeks:.0f} weeks ago."
    ),
    "days_since_funding": _event("funding", "Timing: funding round {days:.0f} days ago."),
    "days_since_last_touch": _recency,
    "recency_weighted_touches": _recency,
    "touches_prev_30d": _previous_month,
    "evaluation_dwell_minutes": _evaluation_dwell,
    "roi_calculator_views": _roi,
    "account_touches_30d": _account_touches,
    "email_replies": _replies,
    "case_study_views": _case_studies,
    "industry_case_studies": _case_studies,
    "pricing_after_implementation": lambda r, c: (
        "Pricing page visits came after viewing implementation content."
        if c > 0 and _n(r, "pricing_after_implementation") > 0
        else None
    ),
    "implementation_views": _implementation,
    "comparison_views": _comparison,
    "bounce_share": _bounce,
    "chat_evaluation": _chat(
        "chat_evaluation", "Chat questions about evaluation (pricing, integration, rollout)."
    ),
    "chat_urgency": _chat("chat_urgency", "Chat mentions a timeline or urgency."),
    "chat_budget_authority": _chat(
        "chat_budget_authority", "Chat mentions budget, approval or decision-makers."
    ),
}

FEATURE_LABELS = {
    "log_employees": "Company size",
    "fit_company": "Company fit",
    "fit_role": "Role fit",
    "fit_technology": "Technology fit",
    "fit_timing": "Timing fit",
    "seniority": "Seniority",
    "department": "Department",
    "industry": "Industry",
    "region": "Region",
    "source": "Lead source",
    "email_domain_type": "Email domain type",
    "touch_count": "Number of touchpoints",
    "webinars": "Webinars attended",
    "downloads": "Content downloads",
    "pricing_views": "Pricing page visits",
    "bottom_funnel_views": "Bottom-funnel page visits",
}


@functools.cache
def feature_label(name: str) -> str:
    if name.startswith("attr__"):
        return name[6:].replace("_", " ").capitalize()
    return FEATURE_LABELS.get(name, name.replace("_", " ").capitalize())


def explain_factor(name: str, value: Any, contribution: float, row: Mapping[str, Any]) -> str:
    """One model factor as a plain sentence."""
    builder = SENTENCES.get(name)
    if builder is not None:
        sentence = builder(row, contribution)
        if sentence:
            return sentence
    direction = "raises" if contribution > 0 else "lowers"
    if isinstance(value, float) and not math.isnan(value) and name.startswith("fit_"):
        shown = f"{value:.0f}/100"
    elif isinstance(value, float) and not math.isnan(value):
        shown = f"{value:.2f}".rstrip("0").rstrip(".") if not value.is_integer() else f"{value:.0f}"
    elif value in (None, "") or (isinstance(value, float) and math.isnan(value)):
        shown = "unknown"
    else:
        shown = str(value)
    return f"{feature_label(name)}: {shown} ({direction} the likelihood)."


Factor = tuple[str, float, str]  # feature, contribution (rounded), sentence


def _magnitude(item: tuple[str, float]) -> float:
    return abs(item[1])


def factor_entries(
    contributions: Mapping[str, float], row: Mapping[str, Any], limit: int = 5
) -> tuple[list[Factor], list[Factor]]:
    """The strongest positive and negative model factors with sentences, duplicates merged."""
    positive: list[Factor] = []
    negative: list[Factor] = []
    seen: set[str] = set()
    for name, value in sorted(contributions.items(), key=_magnitude, reverse=True):
        if abs(value) < 0.02:
            break
        side = positive if value > 0 else negative
        if len(side) >= limit:
            continue
        sentence = explain_factor(name, row.get(name), value, row)
        if sentence in seen:
            continue
        seen.add(sentence)
        side.append((name, round(float(value), 4), sentence))
    return positive, negative


def top_factors(
    contributions: Mapping[str, float], row: Mapping[str, Any], limit: int = 5
) -> dict[str, list[dict[str, Any]]]:
    """The strongest positive and negative model factors, with sentences, duplicates merged."""
    positive, negative = factor_entries(contributions, row, limit)
    return {
        side: [{"feature": f, "contribution": c, "sentence": t} for f, c, t in entries]
        for side, entries in (("positive", positive), ("negative", negative))
    }


def behaviour_lines(row: Mapping[str, Any], content: list[dict[str, Any]]) -> list[str]:
    """The card's BEHAVIOUR ANALYSIS, from the features regardless of the model's weights."""
    lines = [
        f"Activity: {_count(row, 'touches_7d')} touchpoints in past 7 days "
        f"(vs. {_count(row, 'touches_prev_30d')} the month before), "
        f"{_count(row, 'touch_count')} in all."
    ]
    progression = _n(row, "funnel_progression")
    top = _n(row, "top_funnel_share")
    if progression > 0.1:
        lines.append("Content pattern: progressed from educational to evaluation content.")
    elif not math.isnan(top) and top >= 0.6:
        lines.append("Content pattern: top-funnel only (blog, educational, whitepapers).")
    focus = [
        f"{PAGE_LABELS.get(item['category'], item['category'])} ({item['minutes']:.0f} min)"
        for item in content
        if item["category"] in {"roi_calculator", "implementation", "pricing", "integration_docs",
                                "security", "comparison"} and item["minutes"] >= 1
    ][:3]  # fmt: skip
    if focus:
        lines.append("Page focus: " + ", ".join(focus) + ".")
    share = _n(row, "pricing_bounce_share")
    if _count(row, "pricing_views") and not math.isnan(share) and share >= 0.5:
        lines.append("Pricing visits lasted under 10 seconds (curiosity, not evaluation).")
    if _n(row, "pricing_after_implementation") > 0:
        lines.append("Pricing page visits came after viewing implementation content.")
    if _count(row, "industry_case_studies"):
        lines.append(
            f"Read {_count(row, 'industry_case_studies')} case studies "
            "in their own industry vertical."
        )
    span = _n(row, "activity_span_days")
    if not math.isnan(span) and span >= 90:
        lines.append(f"Activity spread over {span / 30:.0f} months (research pattern).")
    others = _count(row, "account_other_active_people_30d")
    if others:
        lines.append(f"Multi-stakeholder: {others} other people from the company active recently.")
    elif _n(row, "has_account") > 0:
        lines.append("No engagement from other stakeholders at the company.")
    pattern = behaviour_pattern(row)
    if pattern:
        lines.append(pattern)
    return lines


def behaviour_pattern(row: Mapping[str, Any]) -> str:
    """Which of the seed's archetypes the activity looks like, if any clearly."""
    span = _n(row, "activity_span_days")
    recent = _count(row, "touches_7d")
    bottom = _count(row, "bottom_funnel_views")
    bounce = _n(row, "pricing_bounce_share")
    if recent >= 3 and bottom >= 2 and not (bounce >= 0.5):
        return "Pattern matches active buyers in evaluation."
    if not math.isnan(span) and span >= 90 and recent <= 2 and (bottom == 0 or bounce >= 0.5):
        return "Pattern matches long-term researchers who rarely convert."
    return ""


def intent_lines(row: Mapping[str, Any]) -> dict[str, list[str]]:
    first: list[str] = []
    if _count(row, "demo_requests"):
        first.append("Demo or contact-sales request submitted.")
    if _count(row, "newsletter_signups") and not _count(row, "demo_requests"):
        first.append("Newsletter signup only.")
    if _count(row, "email_replies"):
        first.append("Replied to outreach.")
    if _count(row, "chat_evaluation"):
        first.append("Chat: evaluation questions.")
    if _count(row, "chat_urgency"):
        first.append("Chat: timeline or urgency language.")
    third: list[str] = []
    surge = _n(row, "intent_surge_max_30d")
    if surge >= 1.0:
        third.append(f"Company showing {surge * 100:.0f}% surge in category research.")
    timing: list[str] = []
    for kind, text in (
        ("leadership_change", "New leader started {weeks:.0f} weeks ago."),
        ("initiative", "Initiative announced {days:.0f} days ago."),
        ("funding", "Funding round {days:.0f} days ago."),
        ("job_posting", "Job postings for the problem area ({days:.0f} days ago)."),
    ):
        days = _n(row, f"days_since_{kind}")
        if not math.isnan(days):
            timing.append(text.format(days=days, weeks=days / 7))
    if not timing and not third:
        timing.append("Company shows no signs of an active buying initiative.")
    return {"first_party": first, "third_party": third, "timing": timing}


MOVE_UP_LEVERS: tuple[tuple[str, str, Callable[[Mapping[str, Any]], bool]], ...] = (
    (
        "demo_requests",
        "A demo or contact-sales request.",
        lambda r: _count(r, "demo_requests") == 0,
    ),
    (
        "account_other_active_people_30d",
        "Engagement from another stakeholder at the account (a buying committee forming).",
        lambda r: _count(r, "account_other_active_people_30d") == 0 and _n(r, "has_account") > 0,
    ),
    (
        "pricing_bounce_share",
        "A real pricing evaluation (minutes on the page, not seconds).",
        lambda r: _n(r, "pricing_bounce_share") >= 0.5 or _count(r, "pricing_views") == 0,
    ),
    (
        "bottom_funnel_views",
        "Visits to ROI calculator or implementation pages.",
        lambda r: _count(r, "bottom_funnel_views") < 2,
    ),
    (
        "surge_ratio",
        "Concentrated activity: several touchpoints within a week.",
        lambda r: _count(r, "touches_7d") < 3,
    ),
    ("email_replies", "A reply to outreach.", lambda r: _count(r, "email_replies") == 0),
)


def move_up(tier: str, row: Mapping[str, Any], rule_hit: bool) -> list[str]:
    """What would lift the lead a tier: the missing buying signals, most telling first."""
    if tier == "sales_ready":
        return []
    if rule_hit:
        return [
            "A disqualifying rule decided: only a change in the facts behind it (or a review) can."
        ]
    return [text for _, text, missing in MOVE_UP_LEVERS if missing(row)][:3]


RULE_ACTIONS = {
    "competitor": "Remove from sales queue: competitor. Keep in the low-priority pool.",
    "student": "No sales outreach: student or academic. Offer education resources.",
    "job_seeker": "No sales outreach: job seeker. Forward to recruiting if relevant.",
    "existing_customer_support": "Route to support and customer success, not sales.",
    "analyst": "Route to analyst relations; no sales outreach.",
    "non_decision_maker": "Route to the account's customer success manager.",
    "spam": "Discard: spam or throwaway address.",
    "minimum_fit": "Below minimum fit: keep in the low-priority pool; watch for changes.",
}


def recommended_action(
    tier: str,
    *,
    rule_category: str,
    needs_review: bool,
    deal_size_high: float | None,
    segment: str,
) -> str:
    if needs_review:
        return (
            "Human review: a disqualifying rule matched, but the lead is active inside a live "
            "buying committee. Confirm before it leaves the sales funnel."
        )
    if tier == "sales_ready":
        text = (
            f"Route to {segment} SDR with context brief. High-priority demo scheduling "
            "within 24 hours."
        )
        if deal_size_high and deal_size_high >= 75_000:
            text += " Consider executive sponsorship given deal size estimate."
        return text
    if rule_category in RULE_ACTIONS:
        return RULE_ACTIONS[rule_category]
    if tier == "nurture":
        return "Keep in marketing nurture; re-qualify automatically on new activity."
    return "Low priority: passive monitoring; re-qualify if the account shows new buying signals."


def talking_points(content: list[dict[str, Any]], industry: str) -> list[str]:
    points: list[str] = []
    for item in content:
        text = TALKING_POINTS.get(item["category"])
        if text and text not in points:
            points.append(text.replace("their industry", industry or "their industry"))
    return points[:5]


FIT_GROUPS = ("company", "role", "technology", "timing")


def _fit_group(score: int, factors: Mapping[str, float]) -> str:
    """One group of the fit card, stored form ({"score", "points"}), as JSON."""
    part = {"score": int(score), "points": [[n, round(float(v))] for n, v in factors.items()]}
    return json.dumps(part, separators=(",", ":"), ensure_ascii=False)


# --- stored form ----------------------------------------------------------------------------
#
# Every qualification keeps its brief, so the brief is most of what a re-qualification writes.
# Two parts are stored compactly and expanded when read (`Qualification.brief` is a
# `scoring.models.BriefField`, which does it): each fit group keeps its factors' points only
# ({"score", "points": [[factor, points], ...]}, a list because jsonb reorders an object's
# keys; the labels and maxima are the fit model's, static),
# and each model factor is a [feature, contribution, sentence] triple. Readers only ever see
# the expanded document; both functions leave the other form as it is.


def brief_expand(brief: dict[str, Any]) -> dict[str, Any]:
    """The brief document from its stored form (a brief already expanded is returned as is)."""
    fit = brief.get("fit")
    if isinstance(fit, dict):
        for group, part in fit.items():
            if isinstance(part, dict) and isinstance(part.get("points"), list):
                points = {str(name): value for name, value in part["points"]}
                fit[group] = {"score": part.get("score"), "factors": fit_breakdown(points)}
    factors = brief.get("factors")
    if isinstance(factors, dict):
        for side, items in factors.items():
            if isinstance(items, list):
                factors[side] = [
                    {"feature": item[0], "contribution": item[1], "sentence": item[2]}
                    if isinstance(item, list) and len(item) == 3
                    else item
                    for item in items
                ]
    return brief


_FACTOR_KEYS = frozenset({"feature", "contribution", "sentence"})


def _fit_part_compact(part: Any) -> Any:
    """A fit group's stored form, when expanding it gives back exactly this group."""
    if not (isinstance(part, dict) and set(part) == {"score", "factors"}):
        return part
    factors = part["factors"]
    if not (isinstance(factors, list) and all(isinstance(f, dict) for f in factors)):
        return part
    points = {str(f.get("factor")): f.get("points") for f in factors}
    if not all(isinstance(v, int) for v in points.values()) or fit_breakdown(points) != factors:
        return part  # labels or maxima of its own: kept whole
    return {"score": part["score"], "points": [[name, value] for name, value in points.items()]}


def brief_compact(brief: dict[str, Any]) -> dict[str, Any]:
    """The stored form of a brief document: a copy, with only what expands back exactly made
    compact (`brief_expand(brief_compact(b)) == b`); a compact brief comes back the same."""
    stored = dict(brief)
    fit = brief.get("fit")
    if isinstance(fit, dict):
        stored["fit"] = {group: _fit_part_compact(part) for group, part in fit.items()}
    factors = brief.get("factors")
    if isinstance(factors, dict):
        stored["factors"] = {
            side: [
                [item["feature"], item["contribution"], item["sentence"]]
                if isinstance(item, dict) and set(item) == _FACTOR_KEYS
                else item
                for item in items
            ]
            if isinstance(items, list)
            else items
            for side, items in factors.items()
        }
    return stored


# JSON is written here as text, part by part, as each part is made: encoding a finished brief
# (a few kilobytes of small dicts and lists) cost more than building it. `json.loads` of every
# brief gives back exactly the dict the parts describe (tests check it on real leads).
_string = json.encoder.encode_basestring  # a JSON string literal; UTF-8 kept as is


def _strings(items: Iterable[str]) -> str:
    return "[" + ",".join(map(_string, items)) + "]"


def _number(value: float | None) -> str:
    return "null" if value is None else repr(value)


def numbers_json(values: Mapping[str, float]) -> str:
    """A {name: number} mapping as a JSON object."""
    return "{" + ",".join(f"{_string(k)}:{v!r}" for k, v in values.items()) + "}"


def _factor_json(factor: Factor) -> str:
    feature, contribution, sentence = factor
    return f"[{_string(feature)},{contribution!r},{_string(sentence)}]"


def _flag(value: bool) -> str:
    return "true" if value else "false"


class BriefRecord(NamedTuple):
    """One lead's brief as the JSON a Qualification stores (`brief` decodes it)."""

    brief_json: str
    recommended_action: str

    @property
    def brief(self) -> dict[str, Any]:
        """The brief document (`brief_json` is its stored form)."""
        return brief_expand(json.loads(self.brief_json))


class BriefBuilder:
    """Builds the briefs of a batch of leads that share thresholds, a model and fit factors.

    A fit card depends only on the lead's four fit scores and factor points, so each distinct
    card is built and encoded once per batch; everything else is written as JSON text
    directly (see above).
    """

    def __init__(
        self,
        *,
        thresholds: Mapping[str, float],
        point_threshold: int,
        model_version_id: int | None,
        fit_factor_names: Sequence[str],
    ) -> None:
        self.point_threshold = point_threshold
        self.fit_factor_names = list(fit_factor_names)
        self._thresholds = json.dumps(dict(thresholds), separators=(",", ":"))
        self._model_version = _number(model_version_id)
        # Each group of the fit card depends only on its score and its factors' points: a few
        # dozen distinct groups across thousands of leads, each encoded once.
        self._fit_positions = [
            [i for i, name in enumerate(self.fit_factor_names) if name.startswith(f"{group}_")]
            for group in FIT_GROUPS
        ]
        self._fit: dict[tuple[int, int, tuple[float, ...]], str] = {}
        # And whole fit cards: leads of one account mostly share theirs.
        self._cards: dict[tuple[tuple[int, ...], tuple[float, ...]], str] = {}

    def _fit_json(self, scores: Sequence[int], points: Sequence[float]) -> str:
        key = (tuple(scores), tuple(points))
        card = self._cards.get(key)
        if card is None:
            card = self._cards[key] = self._fit_card(scores, points)
        return card

    def _fit_card(self, scores: Sequence[int], points: Sequence[float]) -> str:
        parts = []
        for group, (score, positions) in enumerate(zip(scores, self._fit_positions, strict=True)):
            key = (group, score, tuple([points[i] for i in positions]))
            text = self._fit.get(key)
            if text is None:
                names = [self.fit_factor_names[i] for i in positions]
                text = self._fit[key] = _fit_group(score, dict(zip(names, key[2], strict=True)))
            parts.append(text)
        return (
            f'{{"company":{parts[0]},"role":{parts[1]},"technology":{parts[2]},'
            f'"timing":{parts[3]}}}'
        )

    def build(
        self,
        *,
        lead: Mapping[str, str],
        row: Mapping[str, Any],
        tier: str,
        confidence: str,
        probability: float | None,
        point_score: int,
        fit_scores: Sequence[int],
        fit_points: Sequence[float],
        rule: Mapping[str, Any] | None,
        contributions: Mapping[str, float],
        content: list[dict[str, Any]],
        timeline: tuple[int, int] | None,
        deal_size: tuple[float, float] | None,
        segment: str,
    ) -> BriefRecord:
        """One lead's brief. `fit_scores`: company, role, technology, timing (0-100);
        `fit_points`: the points of each factor named by `fit_factor_names`."""
        needs_review = bool(rule and rule.get("needs_review"))
        rule_json = "[]"
        if rule:
            rule_json = (
                f'[{{"reason_code":{_string(rule["reason_code"])},'
                f'"category":{_string(rule["category"])},"rule":{_string(rule["rule"])},'
                f'"action":{_string(rule["action"])},"needs_review":{_flag(needs_review)},'
                f'"evidence":{_string(rule["evidence"])}}}]'
            )
        positive, negative = factor_entries(contributions, row)
        factor_json = (
            f'"positive":[{",".join(map(_factor_json, positive))}],'
            f'"negative":[{",".join(map(_factor_json, negative))}]'
        )
        confidence_note = ""
        if confidence == "not_enough_data":
            confidence_note = (
                "Not enough data yet: too few known outcomes to train a model, so this "
                "assessment comes from rules, fit and intent priors."
            )
        lines_json = _strings(behaviour_lines(row, content))
        basis = ready_basis(tier=tier, row=row, contributions=contributions)
        content_json = (
            "["
            + ",".join(
                f'{{"category":{_string(item["category"])},"visits":{item["visits"]},'
                f'"minutes":{item["minutes"]!r}}}'
                for item in content[:8]
            )
            + "]"
        )
        intent = intent_lines(row)
        intent_json = (
            f'{{"first_party":{_strings(intent["first_party"])},'
            f'"third_party":{_strings(intent["third_party"])},'
            f'"timing":{_strings(intent["timing"])}}}'
        )
        action = recommended_action(
            tier,
            rule_category=(rule or {}).get("category", ""),
            needs_review=needs_review,
            deal_size_high=deal_size[1] if deal_size else None,
            segment=segment,
        )
        timeline_json = f"[{timeline[0]},{timeline[1]}]" if timeline else "null"
        deal_json = f"[{round(deal_size[0])},{round(deal_size[1])}]" if deal_size else "null"
        probability_json = _number(None if probability is None else round(probability, 4))
        brief_json = (
            f'{{"lead":{{"name":{_string(lead["name"])},"title":{_string(lead["title"])},'
            f'"email":{_string(lead["email"])}}},'
            f'"status":{_string(TIER_LABELS.get(tier, tier))},"tier":{_string(tier)},'
            f'"needs_review":{_flag(needs_review)},"confidence":{_string(confidence)},'
            f'"confidence_note":{_string(confidence_note)},'
            f'"ready_basis":{_string(basis)},'
            f'"behaviour":{lines_json},"content":{content_json},'
            f'"fit":{self._fit_json(fit_scores, fit_points)},"intent":{intent_json},'
            f'"predictive":{{"conversion_probability":{probability_json},'
            f'"timeline_days":{timeline_json},"deal_size":{deal_json},'
            f'"model_version":{self._model_version},"thresholds":{self._thresholds}}},'
            f'"rule_hits":{rule_json},"factors":{{{factor_json}}},'
            f'"point_score":{{"score":{point_score},"threshold":{self.point_threshold},'
            f'"would_route":{_flag(point_score >= self.point_threshold)}}},'
            f'"recommended_action":{_string(action)},'
            f'"talking_points":{_strings(talking_points(content, str(row.get("industry") or "")))},'
            f'"move_up":{_strings(move_up(tier, row, rule_hit=bool(rule)))}}}'
        )
        return BriefRecord(
            brief_json=brief_json,
            recommended_action=action,
        )


def build_brief(
    *,
    lead: Mapping[str, Any],
    row: Mapping[str, Any],
    tier: str,
    confidence: str,
    probability: float | None,
    thresholds: Mapping[str, float],
    point_score: int,
    point_threshold: int,
    fit_scores: Mapping[str, int],
    fit_factors: Mapping[str, float],
    rule: Mapping[str, Any] | None,
    contributions: Mapping[str, float],
    content: list[dict[str, Any]],
    timeline: tuple[int, int] | None,
    deal_size: tuple[float, float] | None,
    model_version_id: int | None,
    segment: str,
) -> dict[str, Any]:
    """One lead's brief (many leads: `BriefBuilder`, which also gives the stored JSON)."""
    builder = BriefBuilder(
        thresholds=thresholds,
        point_threshold=point_threshold,
        model_version_id=model_version_id,
        fit_factor_names=list(fit_factors),
    )
    return builder.build(
        lead={k: str(lead.get(k, "")) for k in ("name", "title", "email")},
        row=row,
        tier=tier,
        confidence=confidence,
        probability=probability,
        point_score=point_score,
        fit_scores=[int(fit_scores[f"fit_{group}"]) for group in FIT_GROUPS],
        fit_points=list(fit_factors.values()),
        rule=rule,
        contributions=contributions,
        content=content,
        timeline=timeline,
        deal_size=deal_size,
        segment=segment,
    ).brief
