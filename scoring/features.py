"""Lead features, vectorised over pandas DataFrames.

One code path for one lead and for a million: training and serving call `build_features`
with the same frames, so the model never sees a feature computed differently from how it was
trained. Pure: no ORM, no settings; `scoring.selectors` loads the frames.

Every feature is computed *as of* a per-lead moment (`leads.as_of`): now when serving, the
outcome's time when training, and nothing that happened at or after it is read.

Input frames (columns; extra columns are ignored):

- leads: lead_id, as_of, email_domain, title, seniority, department, source, country,
  account_id (nullable), attributes (dict)
- touchpoints: lead_id, kind, occurred_at, page_category, duration_seconds, form_type, text
- accounts: account_id, industry, employee_count, country, region, tech_stack (list),
  funding_stage, is_customer, is_competitor
- account_touchpoints: account_id, lead_id, occurred_at, page_category (the touchpoints of the
  leads' accounts, for buying-committee features; only the COLLEAGUE_WINDOW_DAYS before each
  as_of are read)
- stakeholders: account_id, lead_id, committee_role
- intent: account_id, surge_score, observed_at, topic
- events: account_id, kind, occurred_at
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

DAY = 86400.0
# Colleagues' activity counts towards a buying committee for this many days before as_of.
COLLEAGUE_WINDOW_DAYS = 30

EVALUATION_PAGES = frozenset(
    {"pricing", "roi_calculator", "implementation", "integration_docs", "security", "comparison",
     "demo", "product"}
)  # fmt: skip
BOTTOM_FUNNEL_PAGES = frozenset({"pricing", "roi_calculator", "implementation"})
IMPLEMENTATION_PAGES = frozenset({"implementation", "integration_docs", "security"})
TOP_FUNNEL_PAGES = frozenset({"blog", "educational", "whitepaper", "webinar", "home"})
HIGH_INTENT_FORMS = frozenset({"demo_request", "contact_sales", "trial"})

# Chat wording that the seed lists as conversational signals. Kept as whole-word patterns so
# "pricing" does not match "pricingpage" noise and a student's "thesis" is caught.
CHAT_PATTERNS: dict[str, str] = {
    "chat_evaluation": r"\b(?:pricing|price|quote|demo|trial|integrat\w*|implement\w*|security|sso|"
    r"contract|licen[cs]\w*|seats?|roll ?out|migrat\w*|compare|vs\.?|alternative)\b",
    "chat_urgency": r"\b(?:asap|urgent\w*|this (?:week|month|quarter)|next (?:week|month|quarter)|"
    r"deadline|timeline|by (?:q[1-4]|end of))\b",
    "chat_budget_authority": r"\b(?:budget|approv\w*|sign[- ]?off|procurement|purchas\w*|decision|"
    r"cfo|ceo|vp|director)\b",
    "chat_support": r"\b(?:bug|error|broken|not working|issue|ticket|password|login|support|help "
    r"with my account)\b",
    "chat_academic": r"\b(?:thesis|dissertation|university|professor|course|assignment|student|"
    r"research project|homework)\b",
    "chat_job": r"\b(?:job|career|hiring|position|resume|cv|apply|internship|salary)\b",
}

ACADEMIC_SUFFIXES: tuple[str, ...] = (".edu", ".ac.uk", ".ac.jp", ".edu.au", ".ac.in", ".edu.cn")


@dataclass(frozen=True)
class FeatureConfig:
    recency_half_life_days: float = 14.0
    bounce_seconds: int = 10
    free_mail_domains: frozenset[str] = frozenset()
    academic_suffixes: tuple[str, ...] = ACADEMIC_SUFFIXES
    # Attribute names never turned into features even if present (ids, free text).
    attribute_exclude: frozenset[str] = frozenset()
    # Category levels per attribute seen at training time; other values become missing.
    max_category_levels: int = 60


@dataclass
class FeatureFrames:
    leads: pd.DataFrame
    touchpoints: pd.DataFrame = field(default_factory=pd.DataFrame)
    accounts: pd.DataFrame = field(default_factory=pd.DataFrame)
    account_touchpoints: pd.DataFrame = field(default_factory=pd.DataFrame)
    stakeholders: pd.DataFrame = field(default_factory=pd.DataFrame)
    intent: pd.DataFrame = field(default_factory=pd.DataFrame)
    events: pd.DataFrame = field(default_factory=pd.DataFrame)


_TOUCHPOINT_COLUMNS = {
    "lead_id": "int64",
    "kind": "object",
    "occurred_at": "datetime64[ns, UTC]",
    "page_category": "object",
    "duration_seconds": "float64",
    "form_type": "object",
    "text": "object",
    "content_industry": "object",
}


def _ensure(frame: pd.DataFrame, columns: dict[str, str]) -> pd.DataFrame:
    """Give an empty or partial frame the columns the code below expects."""
    out = frame.copy()
    for name, dtype in columns.items():
        if name not in out.columns:
            out[name] = pd.Series(dtype=dtype, index=out.index)
    return out


def _category(values: pd.Series) -> np.ndarray:
    """Text categories as an object array, with None (not "") for missing."""
    text = values.astype(object).to_numpy()
    return np.array([v if isinstance(v, str) and v != "" else None for v in text], dtype=object)


def _text(value: object) -> str:
    """A value as text, missing as "" (what `fillna("").astype(str)` gives)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)


def _utc(series: pd.Series) -> pd.Series:
    return pd.to_datetime(series, utc=True)


def domain_type(domains: pd.Series, config: FeatureConfig) -> pd.Series:
    """corporate, free_mail or academic, by email domain."""
    lowered = domains.fillna("").astype(str).str.lower()
    academic = lowered.str.endswith(config.academic_suffixes) | lowered.str.contains(
        r"(?:^|\.)(?:univ|university|uni-|college)", regex=True
    )
    free = lowered.isin(config.free_mail_domains)
    result = np.where(academic, "academic", np.where(free, "free_mail", "corporate"))
    return pd.Series(result, index=domains.index, dtype="object")


class _Codes:
    """A text column as integer codes: equality and membership tests without string compares.

    Missing values count as "" (as `fillna("")` would), so they equal no named value.
    """

    def __init__(self, values: pd.Series) -> None:
        codes, uniques = pd.factorize(values.to_numpy(dtype=object, na_value=""))
        self.codes = codes
        self.lookup = {str(u): i for i, u in enumerate(uniques)}

    def equals(self, value: str) -> np.ndarray:
        code = self.lookup.get(value)
        if code is None:
            return np.zeros(len(self.codes), dtype=bool)
        return np.asarray(self.codes == code)

    def isin(self, values: frozenset[str] | set[str]) -> np.ndarray:
        wanted = [self.lookup[v] for v in values if v in self.lookup]
        return np.isin(self.codes, wanted)


_CHAT_REGEXES = {name: re.compile(pattern) for name, pattern in CHAT_PATTERNS.items()}


def _chat_flags(text: pd.Series) -> dict[str, np.ndarray]:
    """Which chat patterns each touchpoint's text matches (most touchpoints have no text)."""
    values = text.to_numpy(dtype=object, na_value="")
    positions = np.flatnonzero(values != "")
    lowered = [str(value).lower() for value in values[positions]]
    flags = {}
    for name, regex in _CHAT_REGEXES.items():
        flag = np.zeros(len(text), dtype=bool)
        if lowered:
            flag[positions] = [regex.search(t) is not None for t in lowered]
        flags[name] = flag
    return flags


def _touchpoint_features(
    leads: pd.DataFrame, touchpoints: pd.DataFrame, config: FeatureConfig
) -> pd.DataFrame:
    index = pd.Index(leads["lead_id"].to_numpy(), name="lead_id")
    tp = _ensure(touchpoints, _TOUCHPOINT_COLUMNS)
    tp = tp.merge(leads[["lead_id", "as_of"]], on="lead_id", how="inner")
    tp["occurred_at"] = _utc(tp["occurred_at"])
    age = (tp["as_of"] - tp["occurred_at"]).dt.total_seconds() / DAY
    tp = tp.assign(age=age)
    tp = tp[tp["age"] > 0]
    out = pd.DataFrame(index=index)
    if tp.empty:
        return _empty_touchpoint_features(out)

    # Text columns become integer codes once, so that each flag below is an integer
    # comparison rather than a string comparison over every touchpoint.
    cat = _Codes(tp["page_category"])
    form = _Codes(tp["form_type"])
    kind = _Codes(tp["kind"])
    dur = pd.to_numeric(tp["duration_seconds"], errors="coerce").to_numpy(dtype=float)
    age_days = tp["age"].to_numpy(dtype=float)
    short = dur < config.bounce_seconds
    page_view = kind.equals("page_view")
    is_pricing = cat.equals("pricing")
    is_evaluation = cat.isin(EVALUATION_PAGES)
    half_life = max(config.recency_half_life_days, 0.1)
    flags = pd.DataFrame(
        {
            "lead_id": tp["lead_id"].to_numpy(),
            "one": 1.0,
            "decayed": np.power(0.5, age_days / half_life),
            "last_7d": age_days <= 7,
            "prev_30d": (age_days > 7) & (age_days <= 37),
            "last_30d": age_days <= 30,
            "pricing": is_pricing,
            "roi": cat.equals("roi_calculator"),
            "implementation": cat.isin(IMPLEMENTATION_PAGES),
            "comparison": cat.equals("comparison"),
            "case_study": cat.equals("case_study"),
            "evaluation": is_evaluation,
            "bottom_funnel": cat.isin(BOTTOM_FUNNEL_PAGES),
            "top_funnel": cat.isin(TOP_FUNNEL_PAGES),
            "careers": cat.equals("careers"),
            "support_page": cat.isin({"support", "docs"}),
            "page_view": page_view,
            "bounce": page_view & short,
            "pricing_bounce": is_pricing & short,
            "pricing_dwell": np.where(is_pricing, np.nan_to_num(dur), 0.0),
            "eval_dwell": np.where(is_evaluation, np.nan_to_num(dur), 0.0),
            "demo_form": form.isin(HIGH_INTENT_FORMS),
            "newsletter_form": form.equals("newsletter"),
            "gated_form": form.equals("gated_content"),
            "job_form": form.equals("job_application"),
            "support_form": form.equals("support"),
            "email_reply": kind.isin({"email_reply", "sales_reply"}),
            "email_click": kind.equals("email_click"),
            "meeting": kind.equals("meeting"),
            "webinar": kind.equals("webinar"),
            "download": kind.equals("content_download"),
            "chat": kind.equals("chat_message"),
            **_chat_flags(tp["text"]),
        },
        index=tp.index,
    )
    flags = flags.astype({name: float for name in flags.columns if name != "lead_id"})
    sums = flags.groupby("lead_id", sort=False).sum()
    out = out.join(sums.drop(columns=[], errors="ignore"), how="left").fillna(0.0)

    ages = tp.groupby("lead_id", sort=False)["age"].agg(["min", "max"])
    # Long gaps between touches mark a researcher; a buyer's touches come in a burst.
    ordered = tp[["lead_id", "occurred_at"]].sort_values(["lead_id", "occurred_at"])
    gaps = ordered.groupby("lead_id", sort=False)["occurred_at"].diff().dt.total_seconds() / DAY
    max_gap = gaps.groupby(ordered["lead_id"], sort=False).max()
    days = tp["occurred_at"].dt.floor("D")
    active_days = days.groupby(tp["lead_id"], sort=False).nunique()

    # Did the path move from educational to evaluation content? Compare where the evaluation
    # touches sit in time against the top-funnel ones (both as fractions of the lead's span).
    span = (ages["max"] - ages["min"]).reindex(tp["lead_id"]).to_numpy()
    elapsed = ages["max"].reindex(tp["lead_id"]).to_numpy() - tp["age"].to_numpy()
    position = np.divide(elapsed, span, out=np.ones_like(elapsed), where=span > 0)
    pos = pd.DataFrame(
        {
            "lead_id": tp["lead_id"].to_numpy(),
            "position": position,
            "eval": flags["evaluation"].to_numpy(),
            "top": flags["top_funnel"].to_numpy(),
        }
    )
    eval_pos = pos[pos["eval"] > 0].groupby("lead_id")["position"].mean()
    top_pos = pos[pos["top"] > 0].groupby("lead_id")["position"].mean()

    # The seed's Lead A: pricing visits that came after implementation reading.
    first_impl = tp[flags["implementation"].to_numpy() > 0].groupby("lead_id")["age"].max()
    last_pricing = tp[flags["pricing"].to_numpy() > 0].groupby("lead_id")["age"].min()
    pricing_after = (last_pricing.reindex(index) < first_impl.reindex(index)).astype(float)
    # Case studies from the lead's own industry read as "this is for us", not general interest.
    own_industry = np.zeros(len(tp), dtype=bool)
    case_study = cat.equals("case_study")
    if "industry" in leads and case_study.any():
        rows = np.flatnonzero(case_study)
        content_industry = tp["content_industry"].to_numpy(dtype=object)[rows]
        lead_industry = (
            tp["lead_id"].iloc[rows].map(leads.set_index("lead_id")["industry"]).to_numpy(object)
        )
        own_industry[rows] = [
            content != "" and content.lower() == _text(lead).lower()
            for content, lead in zip(map(_text, content_industry), lead_industry, strict=True)
        ]
    industry_case_studies = pd.Series(own_industry).groupby(tp["lead_id"].to_numpy()).sum()

    total = out["one"]
    safe_total = total.where(total > 0, np.nan)
    page_views = out["page_view"].where(out["page_view"] > 0, np.nan)
    pricing = out["pricing"].where(out["pricing"] > 0, np.nan)
    features = pd.DataFrame(index=index)
    features["touch_count"] = total
    features["touches_7d"] = out["last_7d"]
    features["touches_prev_30d"] = out["prev_30d"]
    # 12 touches this week against 2 in the month before is a surge of ~21x the weekly rate.
    features["surge_ratio"] = (out["last_7d"] + 1.0) / (out["prev_30d"] * 7.0 / 30.0 + 1.0)
    features["touches_30d"] = out["last_30d"]
    features["recency_weighted_touches"] = out["decayed"]
    features["days_since_last_touch"] = ages["min"].reindex(index)
    features["days_since_first_touch"] = ages["max"].reindex(index)
    features["activity_span_days"] = (ages["max"] - ages["min"]).reindex(index)
    features["max_gap_days"] = max_gap.reindex(index)
    features["active_days"] = active_days.reindex(index).fillna(0.0)
    features["touches_per_active_day"] = total / features["active_days"].where(
        features["active_days"] > 0, np.nan
    )
    features["pricing_views"] = out["pricing"]
    features["roi_calculator_views"] = out["roi"]
    features["implementation_views"] = out["implementation"]
    features["comparison_views"] = out["comparison"]
    features["case_study_views"] = out["case_study"]
    features["industry_case_studies"] = (
        industry_case_studies.reindex(index).fillna(0.0).astype(float)
    )
    features["pricing_after_implementation"] = pricing_after
    features["bottom_funnel_views"] = out["bottom_funnel"]
    features["evaluation_share"] = out["evaluation"] / safe_total
    features["top_funnel_share"] = out["top_funnel"] / safe_total
    features["funnel_progression"] = (eval_pos.reindex(index) - top_pos.reindex(index)).fillna(0.0)
    features["bounce_share"] = out["bounce"] / page_views
    features["pricing_bounce_share"] = out["pricing_bounce"] / pricing
    features["pricing_dwell_mean"] = out["pricing_dwell"] / pricing
    features["evaluation_dwell_minutes"] = out["eval_dwell"] / 60.0
    features["careers_views"] = out["careers"]
    features["support_views"] = out["support_page"]
    features["demo_requests"] = out["demo_form"]
    features["newsletter_signups"] = out["newsletter_form"]
    features["gated_downloads"] = out["gated_form"]
    features["job_applications"] = out["job_form"]
    features["support_requests"] = out["support_form"]
    features["email_replies"] = out["email_reply"]
    features["email_clicks"] = out["email_click"]
    features["meetings"] = out["meeting"]
    features["webinars"] = out["webinar"]
    features["downloads"] = out["download"]
    features["chat_messages"] = out["chat"]
    for name in CHAT_PATTERNS:
        features[name] = out[name]
    return features


_TOUCHPOINT_FEATURES: tuple[str, ...] = (
    "touch_count", "touches_7d", "touches_prev_30d", "surge_ratio", "touches_30d",
    "recency_weighted_touches", "days_since_last_touch", "days_since_first_touch",
    "activity_span_days", "max_gap_days", "active_days", "touches_per_active_day",
    "pricing_views", "roi_calculator_views", "implementation_views", "comparison_views",
    "case_study_views", "industry_case_studies", "pricing_after_implementation",
    "bottom_funnel_views", "evaluation_share", "top_funnel_share",
    "funnel_progression", "bounce_share", "pricing_bounce_share", "pricing_dwell_mean",
    "evaluation_dwell_minutes", "careers_views", "support_views", "demo_requests",
    "newsletter_signups", "gated_downloads", "job_applications", "support_requests",
    "email_replies", "email_clicks", "meetings", "webinars", "downloads", "chat_messages",
    *CHAT_PATTERNS,
)  # fmt: skip

# Features that are undefined (not zero) when the lead has no such activity.
_NAN_WHEN_EMPTY = frozenset(
    {"days_since_last_touch", "days_since_first_touch", "activity_span_days", "max_gap_days",
     "touches_per_active_day", "evaluation_share", "top_funnel_share", "bounce_share",
     "pricing_bounce_share", "pricing_dwell_mean"}
)  # fmt: skip


def _empty_touchpoint_features(out: pd.DataFrame) -> pd.DataFrame:
    for name in _TOUCHPOINT_FEATURES:
        out[name] = np.nan if name in _NAN_WHEN_EMPTY else 0.0
    out["surge_ratio"] = 1.0
    return out


# Committee features: colleagues' activity in the COLLEAGUE_WINDOW_DAYS before as_of, and
# the buying-committee roles of the people active in it (a committee on paper is not a
# committee forming). Each value is per lead, indexed by lead_id; leads with no such activity
# are missing (zero).
COMMITTEE_FEATURES = (
    "account_active_people_30d", "account_other_active_people_30d",
    "account_other_pricing_views_30d", "account_touches_30d", "committee_roles_active",
    "economic_buyer_active",
)  # fmt: skip


def _committee_per_lead(
    keyed: pd.DataFrame, atp: pd.DataFrame, sh: pd.DataFrame
) -> dict[str, pd.Series]:
    """Each lead against its colleagues' touchpoints, whatever its own as_of."""
    colleagues = keyed.merge(atp, on="account_id", how="inner", suffixes=("", "_other"))
    colleagues["occurred_at"] = _utc(colleagues["occurred_at"])
    age = (colleagues["as_of"] - colleagues["occurred_at"]).dt.total_seconds() / DAY
    recent = colleagues[(age > 0) & (age <= COLLEAGUE_WINDOW_DAYS)]
    recent = recent[recent["lead_id_other"].notna()]
    others = recent[recent["lead_id_other"] != recent["lead_id"]]
    active_pairs = recent[["lead_id", "account_id", "lead_id_other"]].drop_duplicates()
    roles = active_pairs.merge(
        sh[["lead_id", "committee_role"]].rename(columns={"lead_id": "lead_id_other"}),
        on="lead_id_other",
        how="inner",
    )
    roles = roles[roles["committee_role"].fillna("") != ""]
    economic = roles[roles["committee_role"] == "economic_buyer"].groupby("lead_id").size()
    return {
        "account_active_people_30d": recent.groupby("lead_id")["lead_id_other"].nunique(),
        "account_other_active_people_30d": others.groupby("lead_id")["lead_id_other"].nunique(),
        "account_other_pricing_views_30d": (
            others[others["page_category"] == "pricing"].groupby("lead_id").size()
        ),
        "account_touches_30d": recent.groupby("lead_id").size(),
        "committee_roles_active": roles.groupby("lead_id")["committee_role"].nunique(),
        "economic_buyer_active": (economic > 0).astype(float),
    }


def _committee_at(
    keyed: pd.DataFrame, atp: pd.DataFrame, sh: pd.DataFrame, as_of: pd.Timestamp
) -> dict[str, pd.Series]:
    """The same as `_committee_per_lead` when every lead has the same as_of (serving).

    The window is then the same for all colleagues at an account, so each account is counted
    once and each lead's own activity taken out, instead of pairing every lead with every
    colleague's touchpoint (tests check the two agree).
    """
    age = (as_of - _utc(atp["occurred_at"])).dt.total_seconds() / DAY
    inside = (
        (age > 0)
        & (age <= COLLEAGUE_WINDOW_DAYS)
        & atp["lead_id"].notna()
        & atp["account_id"].isin(keyed["account_id"])
    )
    window = pd.DataFrame(
        {
            "account_id": atp["account_id"].to_numpy()[inside.to_numpy()],
            "person": atp["lead_id"].to_numpy(dtype=float)[inside.to_numpy()],
            "pricing": (
                atp["page_category"].to_numpy(dtype=object, na_value="")[inside.to_numpy()]
                == "pricing"
            ).astype(float),
        }
    )
    accounts = window.groupby("account_id").agg(
        people=("person", "nunique"), touches=("person", "size"), pricing=("pricing", "sum")
    )
    own = window.groupby(["account_id", "person"]).agg(
        touches=("person", "size"), pricing=("pricing", "sum")
    )
    lead_ids = keyed["lead_id"].to_numpy()
    account_ids = keyed["account_id"].to_numpy()
    at_account = accounts.reindex(account_ids).fillna(0.0)
    mine = own.reindex(pd.MultiIndex.from_arrays([account_ids, lead_ids.astype(float)])).fillna(0.0)
    people = at_account["people"].to_numpy()

    roles = (
        window[["account_id", "person"]]
        .drop_duplicates()
        .merge(
            sh[["lead_id", "committee_role"]].rename(columns={"lead_id": "person"}),
            on="person",
            how="inner",
        )
    )
    roles = roles[roles["committee_role"].fillna("") != ""]
    economic = roles[roles["committee_role"] == "economic_buyer"].groupby("account_id").size()
    per_lead = pd.Index(lead_ids, name="lead_id")
    return {
        "account_active_people_30d": pd.Series(people, index=per_lead),
        "account_other_active_people_30d": pd.Series(
            people - (mine["touches"].to_numpy() > 0), index=per_lead
        ),
        "account_other_pricing_views_30d": pd.Series(
            at_account["pricing"].to_numpy() - mine["pricing"].to_numpy(), index=per_lead
        ),
        "account_touches_30d": pd.Series(at_account["touches"].to_numpy(), index=per_lead),
        "committee_roles_active": pd.Series(
            roles.groupby("account_id")["committee_role"].nunique().reindex(account_ids).to_numpy(),
            index=per_lead,
        ),
        "economic_buyer_active": pd.Series(
            (economic.reindex(account_ids).fillna(0).to_numpy() > 0).astype(float), index=per_lead
        ),
    }


def _account_features(frames: FeatureFrames, leads: pd.DataFrame) -> pd.DataFrame:
    """Buying-committee, intent and trigger-event features of each lead's account."""
    index = pd.Index(leads["lead_id"].to_numpy(), name="lead_id")
    out = pd.DataFrame(index=index)
    keyed = leads[["lead_id", "account_id", "as_of"]].dropna(subset=["account_id"])
    keyed = keyed.astype({"account_id": "int64"})

    atp = _ensure(
        frames.account_touchpoints,
        {"account_id": "int64", "lead_id": "float64", "occurred_at": "datetime64[ns, UTC]",
         "page_category": "object"},
    )  # fmt: skip
    sh = _ensure(
        frames.stakeholders,
        {"account_id": "int64", "lead_id": "float64", "committee_role": "object"},
    )
    # An empty frame read from the database has untyped columns; people are matched by id.
    atp = atp.astype({"account_id": "int64", "lead_id": "float64"})
    sh = sh.astype({"lead_id": "float64"})
    as_of = keyed["as_of"].unique()
    committee = (
        _committee_at(keyed, atp, sh, as_of[0])
        if len(as_of) == 1
        else _committee_per_lead(keyed, atp, sh)
    )
    for name, values in committee.items():
        out[name] = values.reindex(index).fillna(0.0).astype(float)
    own_role = sh.dropna(subset=["lead_id"]).drop_duplicates("lead_id").set_index("lead_id")
    out["committee_role"] = _category(own_role["committee_role"].reindex(index.astype(float)))

    intent = _ensure(
        frames.intent,
        {"account_id": "int64", "surge_score": "float64", "observed_at": "datetime64[ns, UTC]"},
    )
    signals = keyed.merge(intent, on="account_id", how="inner")
    signals["observed_at"] = _utc(signals["observed_at"])
    intent_age = (signals["as_of"] - signals["observed_at"]).dt.total_seconds() / DAY
    signals = signals[(intent_age > 0) & (intent_age <= 30)]
    out["intent_surge_max_30d"] = (
        signals.groupby("lead_id")["surge_score"].max().reindex(index).fillna(0.0)
    )
    out["intent_topics_30d"] = signals.groupby("lead_id").size().reindex(index).fillna(0.0)

    events = _ensure(
        frames.events,
        {"account_id": "int64", "kind": "object", "occurred_at": "datetime64[ns, UTC]"},
    )
    happened = keyed.merge(events, on="account_id", how="inner")
    happened["occurred_at"] = _utc(happened["occurred_at"])
    event_age = (happened["as_of"] - happened["occurred_at"]).dt.total_seconds() / DAY
    happened = happened.assign(age=event_age)
    happened = happened[happened["age"] > 0]
    windows = {"funding": 180, "leadership_change": 120, "initiative": 180, "job_posting": 90}
    for kind, window in windows.items():
        of_kind = happened[(happened["kind"] == kind) & (happened["age"] <= window)]
        out[f"days_since_{kind}"] = of_kind.groupby("lead_id")["age"].min().reindex(index)
        out[f"{kind}_events"] = of_kind.groupby("lead_id").size().reindex(index).fillna(0.0)
    return out


def _firmographics(
    frames: FeatureFrames, leads: pd.DataFrame, config: FeatureConfig
) -> pd.DataFrame:
    index = pd.Index(leads["lead_id"].to_numpy(), name="lead_id")
    accounts = _ensure(
        frames.accounts,
        {"account_id": "int64", "industry": "object", "employee_count": "float64",
         "region": "object", "funding_stage": "object", "is_customer": "bool",
         "is_competitor": "bool", "tech_stack": "object"},
    ).drop_duplicates("account_id")  # fmt: skip
    joined = leads[["lead_id", "account_id"]].merge(
        accounts.astype({"account_id": "float64"}),
        left_on=leads["account_id"].astype("float64"),
        right_on="account_id",
        how="left",
        suffixes=("", "_account"),
    )
    joined.index = index
    out = pd.DataFrame(index=index)
    out["has_account"] = leads["account_id"].notna().to_numpy().astype(float)
    employees = pd.to_numeric(joined["employee_count"], errors="coerce")
    out["log_employees"] = np.log10(employees.where(employees > 0))
    out["is_customer_account"] = joined["is_customer"].fillna(False).astype(float)
    out["is_competitor_account"] = joined["is_competitor"].fillna(False).astype(float)
    out["industry"] = _category(joined["industry"])
    out["region"] = _category(joined["region"])
    out["funding_stage"] = _category(joined["funding_stage"])
    out["seniority"] = _category(leads["seniority"])
    out["department"] = _category(leads["department"])
    out["source"] = _category(leads["source"])
    out["email_domain_type"] = domain_type(leads["email_domain"], config).to_numpy()
    return out


def _attribute_features(leads: pd.DataFrame, config: FeatureConfig) -> pd.DataFrame:
    """Custom CRM attributes: numbers and booleans as floats, anything else a category."""
    index = pd.Index(leads["lead_id"].to_numpy(), name="lead_id")
    records = leads["attributes"] if "attributes" in leads.columns else None
    if records is None or records.empty:
        return pd.DataFrame(index=index)
    flat = pd.DataFrame.from_records(
        [r if isinstance(r, dict) else {} for r in records.tolist()], index=index
    )
    out = pd.DataFrame(index=index)
    for name in flat.columns:
        if name in config.attribute_exclude:
            continue
        column = flat[name]
        feature = f"attr__{_slug(str(name))}"
        values = column.dropna()
        if values.empty:
            continue
        if values.map(lambda v: isinstance(v, bool)).all():
            out[feature] = column.map(lambda v: float(v) if isinstance(v, bool) else np.nan)
        elif values.map(lambda v: isinstance(v, int | float) and not isinstance(v, bool)).all():
            out[feature] = pd.to_numeric(column, errors="coerce").astype(float)
        else:
            out[feature] = column.map(lambda v: None if _missing(v) else str(v)).astype(object)
    return out


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value == ""


def _slug(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", name.lower()).strip("_") or "unnamed"


CATEGORICAL_FEATURES: tuple[str, ...] = (
    "industry", "region", "funding_stage", "seniority", "department", "source",
    "email_domain_type", "committee_role",
)  # fmt: skip


def build_features(frames: FeatureFrames, config: FeatureConfig | None = None) -> pd.DataFrame:
    """One row per lead (index lead_id): numeric columns as float, categorical as object.

    Categorical columns are returned as object columns of strings (None for missing); the
    model's FeatureSchema turns them into pandas categories with the training levels.
    """
    config = config or FeatureConfig()
    leads = frames.leads.copy()
    if leads.empty:
        return pd.DataFrame(index=pd.Index([], name="lead_id"))
    leads["as_of"] = _utc(leads["as_of"])
    for column in ("email_domain", "seniority", "department", "source", "title"):
        if column not in leads.columns:
            leads[column] = ""
    if "account_id" not in leads.columns:
        leads["account_id"] = np.nan
    if "industry" not in leads.columns:
        industries = (
            frames.accounts.drop_duplicates("account_id").set_index("account_id")["industry"]
            if not frames.accounts.empty and "industry" in frames.accounts.columns
            else pd.Series(dtype=object)
        )
        leads["industry"] = leads["account_id"].map(industries)
    parts = [
        _touchpoint_features(leads, frames.touchpoints, config),
        _account_features(frames, leads),
        _firmographics(frames, leads, config),
        _attribute_features(leads, config),
    ]
    result = pd.concat(parts, axis=1)
    result.index.name = "lead_id"
    return result


def categorical_columns(features: pd.DataFrame) -> list[str]:
    return [c for c in features.columns if not pd.api.types.is_numeric_dtype(features[c])]


def half_life_weight(age_days: float, half_life_days: float) -> float:
    return math.pow(0.5, age_days / half_life_days)
