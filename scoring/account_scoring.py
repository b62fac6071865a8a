"""Account qualification: the seed's pattern 1, one score per account with its parts.

Pure and vectorised (pandas, no ORM): the frames of many accounts in, one row per account out.
The score is built from the account's own evidence, never from its leads' tiers, because the
account's priority feeds back into each lead's decision (a High account lowers its leads'
Sales Ready bar); a score made of lead tiers would feed on itself.

The parts, each with its points and a sentence saying why:

- **engagement**: the combined activity of all the account's people in the window (touches
  of known people and anonymous visits from the company's network, and how many people);
- **coverage**: which buying-committee roles are engaged (active in the window), which are
  known but quiet, and which are missing;
- **cross-functional**: how many departments the active people come from;
- **intent**: the company-level third-party research surge;
- **timing**: competitive displacement (an incumbent's contract renewing soon, a competitor
  in the news) and company changes (funding, a new leader, an initiative).

The priority follows from the score by two admin-set thresholds: High starts orchestrated
outreach, Medium a targeted nurture track, Low passive monitoring (routing acts on it).
`account_play` lists which committee roles to reach next.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

HIGH = "high"
MEDIUM = "medium"
LOW = "low"
PRIORITY_LABELS = {HIGH: "High", MEDIUM: "Medium", LOW: "Low"}
PRIORITY_ACTIONS = {
    HIGH: "Orchestrated outreach: one owner for the account, every engaged lead to them.",
    MEDIUM: "Targeted nurture: its leads on the account's nurture track.",
    LOW: "Passive monitoring: no sales tasks; watching for triggers.",
}

# The committee roles that make a buying group, in the order a rep reaches for them; a blocker
# is mapped and shown but is no coverage to be proud of.
BUYING_ROLES = ("economic_buyer", "champion", "technical_evaluator", "user")
ROLE_LABELS = {
    "economic_buyer": "Economic buyer",
    "champion": "Champion",
    "technical_evaluator": "Technical evaluator",
    "user": "User",
    "blocker": "Blocker",
}
COMPANY_CHANGES = ("funding", "leadership_change", "initiative")
PARTS = ("engagement", "coverage", "cross_functional", "intent", "timing")
PART_LABELS = {
    "engagement": "Combined engagement",
    "coverage": "Committee coverage",
    "cross_functional": "Cross-functional interest",
    "intent": "Company intent",
    "timing": "Displacement and timing",
}
DAY = 86400.0


@dataclass(frozen=True)
class AccountScoringConfig:
    """The weights and windows; `high` and `medium` are the admin's priority thresholds."""

    high: int = 60
    medium: int = 30
    engagement_points: int = 30
    coverage_points: int = 25
    cross_functional_points: int = 15
    intent_points: int = 20
    timing_points: int = 10
    activity_days: int = 30
    # Combined touches in the window that earn the full engagement points (log-scaled), and
    # the number of active people that does.
    full_engagement_touches: int = 40
    full_engagement_people: int = 4
    full_departments: int = 3
    # surge_score is research volume against the account's baseline: 3.0 is a 300% surge.
    full_surge: float = 3.0
    intent_days: int = 30
    renewal_window_days: int = 180
    competitor_news_days: int = 90
    company_change_days: int = 120

    def __post_init__(self) -> None:
        if not 0 <= self.medium <= self.high <= 100:
            raise ValueError("Priority thresholds must satisfy 0 <= medium <= high <= 100.")

    @property
    def maxima(self) -> dict[str, int]:
        return {
            "engagement": self.engagement_points,
            "coverage": self.coverage_points,
            "cross_functional": self.cross_functional_points,
            "intent": self.intent_points,
            "timing": self.timing_points,
        }


@dataclass
class AccountFrames:
    """The evidence of the accounts being scored (each frame may hold other accounts' rows).

    - `accounts`: account_id
    - `touchpoints`: account_id, lead_id (NaN for an anonymous visit), occurred_at
    - `people`: lead_id, account_id, department, committee_role ("" when not on the committee)
    - `intent`: account_id, topic, surge_score, observed_at
    - `events`: account_id, kind, occurred_at, title, renews_at (NaT unless a renewal), vendor
    """

    accounts: pd.DataFrame
    touchpoints: pd.DataFrame = field(default_factory=pd.DataFrame)
    people: pd.DataFrame = field(default_factory=pd.DataFrame)
    intent: pd.DataFrame = field(default_factory=pd.DataFrame)
    events: pd.DataFrame = field(default_factory=pd.DataFrame)


def _frame(frame: pd.DataFrame, columns: Mapping[str, str]) -> pd.DataFrame:
    """The frame with at least these columns (typed), empty or not."""
    out = frame.copy() if not frame.empty else pd.DataFrame(columns=list(columns))
    for name, dtype in columns.items():
        if name not in out.columns:
            out[name] = pd.Series(dtype=dtype)
        if dtype.startswith("datetime"):
            out[name] = pd.to_datetime(out[name], utc=True)
        elif dtype == "float64":
            out[name] = pd.to_numeric(out[name], errors="coerce")
    return out


def _days_ago(moment: pd.Series, now: pd.Timestamp) -> pd.Series:
    return (now - moment).dt.total_seconds() / DAY


_ROLE_ORDER = {role: i for i, role in enumerate((*BUYING_ROLES, "blocker"))}


def _sets(values: pd.Series, accounts: pd.Series, index: pd.Index) -> pd.Series:
    """Each account's distinct values as a tuple (committee order for roles, else
    alphabetical); () for an account with none.

    Vectorised as bit masks (a group-by OR), because a Python set per group costs seconds
    across a hundred thousand accounts; the few distinct masks are turned into tuples once.
    """
    names = sorted(set(values.tolist()), key=lambda v: (_ROLE_ORDER.get(v, 99), v))
    if not names:
        return pd.Series([()] * len(index), index=index, dtype=object)
    # One boolean column per value, OR-ed per account by a group-by max (no Python per group).
    present = pd.DataFrame(
        {name: (values == name).to_numpy() for name in names}, index=accounts.to_numpy()
    )
    weights = np.array([1 << i for i in range(len(names))], dtype="int64")
    anyof = present.groupby(level=0).max().astype("int64")
    combined = pd.Series(anyof.to_numpy() @ weights, index=anyof.index)
    combined = combined.reindex(index).fillna(0).astype("int64")
    tuples = {
        mask: tuple(name for i, name in enumerate(names) if mask & (1 << i))
        for mask in combined.unique()
    }
    return combined.map(tuples)


def accounts_score(
    frames: AccountFrames, *, now: datetime, config: AccountScoringConfig | None = None
) -> pd.DataFrame:
    """One row per account (index account_id): the score, its priority, each part's points and
    the facts behind them."""
    config = config or AccountScoringConfig()
    stamp = pd.Timestamp(now)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    ids = pd.Index(
        pd.to_numeric(frames.accounts["account_id"]).astype("int64").unique(), name="account_id"
    )
    out = pd.DataFrame(index=ids)

    # --- engagement: everyone's activity in the window ---------------------------------------
    tp = _frame(
        frames.touchpoints,
        {"account_id": "int64", "lead_id": "float64", "occurred_at": "datetime64[ns, UTC]"},
    )
    tp = tp[tp["account_id"].isin(ids)]
    age = _days_ago(tp["occurred_at"], stamp)
    recent = tp[(age >= 0) & (age <= config.activity_days)]
    by_account = recent.groupby("account_id")
    touches = by_account.size().reindex(ids).fillna(0).astype(int)
    anonymous = (
        recent[recent["lead_id"].isna()].groupby("account_id").size().reindex(ids).fillna(0)
    ).astype(int)
    active_leads = recent.dropna(subset=["lead_id"])[["account_id", "lead_id"]].drop_duplicates()
    people_active = active_leads.groupby("account_id").size().reindex(ids).fillna(0).astype(int)
    touch_share = np.minimum(
        np.log1p(touches.to_numpy()) / math.log1p(config.full_engagement_touches), 1.0
    )
    people_share = np.minimum(people_active.to_numpy() / config.full_engagement_people, 1.0)
    out["engagement"] = np.round(
        config.engagement_points * (0.5 * touch_share + 0.5 * people_share)
    )
    out["touches"] = touches
    out["anonymous_touches"] = anonymous
    out["people_active"] = people_active

    # --- coverage and cross-functional interest: who is active --------------------------------
    people = _frame(
        frames.people,
        {"lead_id": "float64", "account_id": "int64", "department": "object",
         "committee_role": "object"},
    )  # fmt: skip
    people = people[people["account_id"].isin(ids)].drop_duplicates("lead_id")
    people["committee_role"] = people["committee_role"].fillna("").astype(str)
    people["department"] = people["department"].fillna("").astype(str)
    active_ids = set(active_leads["lead_id"].tolist())
    people["active"] = people["lead_id"].isin(active_ids)
    on_committee = people[people["committee_role"] != ""]
    roles_known = _sets(on_committee["committee_role"], on_committee["account_id"], ids)
    engaged_rows = on_committee[on_committee["active"]]
    roles_engaged = _sets(engaged_rows["committee_role"], engaged_rows["account_id"], ids)
    out["roles_engaged"] = roles_engaged
    out["roles_quiet"] = [
        tuple(r for r in known if r not in engaged)
        for known, engaged in zip(roles_known, roles_engaged, strict=True)
    ]
    out["roles_missing"] = [
        tuple(r for r in BUYING_ROLES if r not in known) for known in roles_known
    ]
    engaged_buying = np.array([sum(r in BUYING_ROLES for r in roles) for roles in roles_engaged])
    out["coverage"] = np.round(config.coverage_points * engaged_buying / len(BUYING_ROLES))
    in_departments = people[people["active"] & (people["department"] != "")]
    departments = _sets(in_departments["department"], in_departments["account_id"], ids)
    out["departments"] = departments
    department_count = np.array([len(d) for d in departments])
    out["cross_functional"] = np.round(
        config.cross_functional_points * np.minimum(department_count / config.full_departments, 1)
    )

    # --- intent: the company's research surge -----------------------------------------------
    intent = _frame(
        frames.intent,
        {"account_id": "int64", "topic": "object", "surge_score": "float64",
         "observed_at": "datetime64[ns, UTC]"},
    )  # fmt: skip
    intent = intent[intent["account_id"].isin(ids)]
    intent_age = _days_ago(intent["observed_at"], stamp)
    intent = intent[(intent_age >= 0) & (intent_age <= config.intent_days)]
    surge = intent.groupby("account_id")["surge_score"].max().reindex(ids)
    top = intent.sort_values(["surge_score", "observed_at"], ascending=False).drop_duplicates(
        "account_id"
    )
    out["max_surge"] = surge
    out["top_topic"] = top.set_index("account_id")["topic"].reindex(ids).fillna("")
    out["intent"] = np.round(
        config.intent_points * np.clip(surge.fillna(0.0).to_numpy() / config.full_surge, 0, 1)
    )

    # --- timing: displacement and company changes -------------------------------------------
    events = _frame(
        frames.events,
        {"account_id": "int64", "kind": "object", "occurred_at": "datetime64[ns, UTC]",
         "title": "object", "renews_at": "datetime64[ns, UTC]", "vendor": "object"},
    )  # fmt: skip
    events = events[events["account_id"].isin(ids)]
    events = events[_days_ago(events["occurred_at"], stamp) >= 0]  # known by now
    renewals = events[events["kind"] == "contract_renewal"].copy()
    renewals["days_to"] = -_days_ago(renewals["renews_at"], stamp)
    renewals = renewals[
        (renewals["days_to"] >= 0) & (renewals["days_to"] <= config.renewal_window_days)
    ]
    soonest = renewals.sort_values("days_to").drop_duplicates("account_id").set_index("account_id")
    out["renewal_in_days"] = soonest["days_to"].reindex(ids)
    out["renewal_vendor"] = soonest["vendor"].reindex(ids).fillna("")
    news = events[events["kind"] == "competitor_news"].copy()
    news["age"] = _days_ago(news["occurred_at"], stamp)
    news = news[news["age"] <= config.competitor_news_days]
    latest_news = news.sort_values("age").drop_duplicates("account_id").set_index("account_id")
    out["competitor_news_days"] = latest_news["age"].reindex(ids)
    out["competitor_news_vendor"] = latest_news["vendor"].reindex(ids).fillna("")
    changes = events[events["kind"].isin(COMPANY_CHANGES)].copy()
    changes["age"] = _days_ago(changes["occurred_at"], stamp)
    changes = changes[changes["age"] <= config.company_change_days]
    latest_change = changes.sort_values("age").drop_duplicates("account_id").set_index("account_id")
    out["company_change"] = latest_change["title"].reindex(ids).fillna("")
    out["company_change_days"] = latest_change["age"].reindex(ids)
    # A renewal inside the window is the strongest timing signal; news and change share the rest.
    timing = (
        0.6 * out["renewal_in_days"].notna().to_numpy()
        + 0.2 * out["competitor_news_days"].notna().to_numpy()
        + 0.2 * out["company_change_days"].notna().to_numpy()
    )
    out["timing"] = np.round(config.timing_points * timing)

    for part in PARTS:
        out[part] = out[part].astype(int)
    out["score"] = out[list(PARTS)].sum(axis=1).clip(0, 100).astype(int)
    out["priority"] = np.select(
        [out["score"] >= config.high, out["score"] >= config.medium], [HIGH, MEDIUM], default=LOW
    )
    return out


def _days(value: Any) -> int | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return max(round(float(value)), 0)


def _roles(roles: Sequence[str]) -> str:
    names = [ROLE_LABELS.get(r, r).lower() for r in roles]
    if not names:
        return "none"
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def part_sentences(row: Mapping[str, Any], config: AccountScoringConfig) -> dict[str, str]:
    """Why each part has its points, in words (for the account page, the API and the CRM)."""
    days = config.activity_days
    people = int(row["people_active"])
    engagement = (
        f"{int(row['touches'])} touchpoints in {days} days from {people} "
        f"{'person' if people == 1 else 'people'}"
    )
    if int(row["anonymous_touches"]):
        engagement += f" and {int(row['anonymous_touches'])} anonymous visits"
    coverage = f"Engaged: {_roles(row['roles_engaged'])}"
    if row["roles_missing"]:
        coverage += f"; missing: {_roles(row['roles_missing'])}"
    departments = list(row["departments"])
    cross = f"{len(departments)} department{'s' if len(departments) != 1 else ''} active" + (
        f" ({', '.join(departments)})" if departments else ""
    )
    surge = row["max_surge"]
    if surge is None or (isinstance(surge, float) and math.isnan(surge)):
        intent = f"No research surge in {config.intent_days} days"
    else:
        intent = f"{float(surge) * 100:.0f}% research surge"
        if row["top_topic"]:
            intent += f' on "{row["top_topic"]}"'
    timing: list[str] = []
    renewal = _days(row["renewal_in_days"])
    if renewal is not None:
        vendor = row["renewal_vendor"] or "the incumbent"
        timing.append(f"contract with {vendor} renews in {renewal} days")
    news = _days(row["competitor_news_days"])
    if news is not None:
        vendor = row["competitor_news_vendor"] or "a competitor"
        timing.append(f"{vendor} in the news {news} days ago")
    change = _days(row["company_change_days"])
    if change is not None:
        timing.append(f"{row['company_change']} ({change} days ago)")
    return {
        "engagement": engagement,
        "coverage": coverage,
        "cross_functional": cross,
        "intent": intent,
        "timing": _sentence("; ".join(timing)) if timing else "No displacement window or change",
    }


def account_parts(row: Mapping[str, Any], config: AccountScoringConfig) -> list[dict[str, Any]]:
    """The stored form of the parts: [{part, label, points, max, detail}], in display order."""
    sentences = part_sentences(row, config)
    return [
        {
            "part": part,
            "label": PART_LABELS[part],
            "points": int(row[part]),
            "max": config.maxima[part],
            "detail": sentences[part],
        }
        for part in PARTS
    ]


def account_play(row: Mapping[str, Any], config: AccountScoringConfig) -> list[str]:
    """Which committee roles to reach next, most decisive first: the missing ones to find,
    the quiet ones to re-engage."""
    steps = []
    missing, quiet = set(row["roles_missing"]), set(row["roles_quiet"])
    for role in BUYING_ROLES:
        if role in missing:
            steps.append(f"Find the {ROLE_LABELS[role].lower()}: no one in that role is mapped.")
        elif role in quiet:
            steps.append(
                f"Re-engage the {ROLE_LABELS[role].lower()}: quiet for {config.activity_days} days."
            )
    return steps
