"""The pure demo-world generator holds what it promises (no database)."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from accounts.models import (
    CommitteeRole,
    Department,
    FormType,
    PageCategory,
    Region,
    Seniority,
    TouchpointKind,
)
from accounts.titles import committee_role_for, title_seniority_department
from leadqual.demo.world import (
    ACADEMIC_SUFFIXES,
    ANALYST_DOMAINS,
    BOTTOM_FUNNEL_CATEGORIES,
    COMPETITOR_DOMAINS,
    FREE_MAIL,
    PERSONA_SHARES,
    TARGET_INDUSTRIES,
    TARGET_TECHNOLOGIES,
    VENDOR_SITE,
    DemoWorld,
    Persona,
    persona_counts,
    world_digest,
    world_generate,
)
from scoring import defaults
from tests.demo.conftest import ANCHOR, WORLD_LEADS, auc


def _touches(world: DemoWorld) -> pd.DataFrame:
    """Lead touchpoints with the lead's persona and days before its snapshot."""
    tp = world.touchpoints[world.touchpoints["lead"] >= 0].copy()
    lead = tp["lead"].to_numpy()
    tp["persona"] = world.truth["persona"].astype(str).to_numpy()[lead]
    snapshot = pd.DatetimeIndex(world.truth["snapshot_at"])[lead]
    tp["age_days"] = (snapshot - pd.DatetimeIndex(tp["occurred_at"])).total_seconds() / 86400
    tp["category"] = tp["page_category"].astype(str)
    tp["kind_"] = tp["kind"].astype(str)
    tp["form"] = tp["form_type"].astype(str)
    return tp


def _per_lead(world: DemoWorld, values: pd.Series) -> pd.Series:
    return values.reindex(range(len(world.leads)), fill_value=0)


def _point_score(world: DemoWorld) -> pd.Series:
    """The seed's traditional score: whitepaper 10, pricing 15, ICP 20, case study 10, ..."""
    tp = _touches(world)
    points = (
        tp["category"].eq("whitepaper") * 10
        + tp["category"].eq("pricing") * 15
        + tp["category"].eq("case_study") * 10
        + tp["kind_"].eq("webinar") * 15
        + tp["form"].isin(["demo_request", "contact_sales"]) * 30
        + tp["category"].isin(["comparison", "roi_calculator"]) * 10
    )
    score = _per_lead(world, points.groupby(tp["lead"]).sum())
    accounts = world.accounts
    account = world.leads["account"].to_numpy()
    at = account >= 0
    employees = np.where(at, accounts["employee_count"].to_numpy()[np.maximum(account, 0)], 0)
    industry = np.where(at, accounts["industry"].to_numpy()[np.maximum(account, 0)], "")
    icp = (employees >= 200) & (employees <= 5000) & np.isin(industry, TARGET_INDUSTRIES)
    return score + icp * 20


def _historical(world: DemoWorld) -> tuple[np.ndarray, np.ndarray]:
    truth = world.truth
    mask = truth["historical"].to_numpy()
    return mask, truth["converted"].to_numpy()[mask]


def _persona(world: DemoWorld) -> np.ndarray:
    return world.truth["persona"].astype(str).to_numpy()


# --- the title helper -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Director of Operations", ("director", "operations")),
        ("CFO", ("c_level", "finance")),
        ("Chief Financial Officer", ("c_level", "finance")),
        ("VP Engineering", ("vp", "engineering")),
        ("Marketing Manager", ("manager", "marketing")),
        ("Head of Revenue Operations", ("director", "sales")),
        ("IT Director", ("director", "it")),
        ("PhD candidate", ("student", "academic")),
        ("Research assistant", ("student", "academic")),
        ("Student", ("student", "academic")),
        ("Software Engineer", ("individual", "engineering")),
        ("Security Architect", ("individual", "security")),
        ("Founder", ("c_level", "executive")),
        ("", ("", "")),
    ],
)
def test_title_gives_seniority_and_department(title: str, expected: tuple[str, str]) -> None:
    assert title_seniority_department(title) == expected


def test_every_generated_title_maps_to_valid_choices(world: DemoWorld) -> None:
    leads = world.leads
    assert set(leads["seniority"]) <= set(Seniority.values)
    assert set(leads["department"]) <= set(Department.values)
    for title, seniority, department in (
        leads[["title", "seniority", "department"]].drop_duplicates("title").itertuples(index=False)
    ):
        assert title_seniority_department(title) == (seniority, department)
    roles = set(world.stakeholders["committee_role"])
    assert roles <= set(CommitteeRole.values)
    assert committee_role_for("CFO", "c_level", "finance") == CommitteeRole.ECONOMIC_BUYER
    assert committee_role_for("VP Engineering", "vp", "engineering") == (
        CommitteeRole.TECHNICAL_EVALUATOR
    )
    assert committee_role_for("Procurement Manager", "manager", "finance") == CommitteeRole.BLOCKER


# --- shape ----------------------------------------------------------------------------------


def test_persona_shares_are_the_stated_ones(world: DemoWorld) -> None:
    assert sum(PERSONA_SHARES.values()) == pytest.approx(1.0)
    shares = pd.Series(_persona(world)).value_counts(normalize=True)
    for persona, share in PERSONA_SHARES.items():
        assert shares.get(str(persona), 0.0) == pytest.approx(share, abs=1.5 / WORLD_LEADS)
    assert sum(persona_counts(7).values()) == 7
    assert sum(persona_counts(123_457).values()) == 123_457


def test_rows_have_unique_normalised_keys(world: DemoWorld) -> None:
    leads, accounts, tp = world.leads, world.accounts, world.touchpoints
    assert leads["email"].is_unique
    assert (leads["email"] == leads["email"].str.lower()).all()
    assert leads["external_id"].is_unique
    assert accounts["domain"].is_unique
    assert (accounts["domain"] == accounts["domain"].str.lower()).all()
    assert not accounts["domain"].str.startswith("www.").any()
    assert tp["external_id"].is_unique
    assert tp["external_id"].str.match(r"^demo-11-\d+$").all()
    assert len(accounts) == max(50, WORLD_LEADS // 8)
    assert set(accounts["region"]) <= set(Region.values) - {""}


def test_touchpoints_use_the_model_vocabularies(world: DemoWorld) -> None:
    tp = world.touchpoints
    assert set(tp["kind"].astype(str)) == set(TouchpointKind.values)
    assert set(tp["page_category"].astype(str)) <= set(PageCategory.values)
    assert set(tp["form_type"].astype(str)) == set(FormType.values)
    assert str(tp["occurred_at"].dt.tz) == "UTC"
    # Every touch has a lead or (anonymous company-level visits) an account.
    assert ((tp["lead"] >= 0) | (tp["account"] >= 0)).all()
    assert (tp["account"] >= 0).sum() > 0


def test_each_lead_has_a_realistic_number_of_touches(world: DemoWorld) -> None:
    tp = _touches(world)
    per_lead = tp.groupby("lead").size()
    persona = pd.Series(_persona(world))[per_lead.index]
    means = per_lead.groupby(persona.to_numpy()).mean()
    assert 5 <= means["active_buyer"] <= 40
    assert 5 <= means["researcher"] <= 40
    assert 1 <= means["cold"] < 6
    assert per_lead.max() <= 80


def test_urls_match_their_page_category(world: DemoWorld) -> None:
    tp = _touches(world)
    paths = {
        "pricing": ("/pricing", "/contact-sales"),
        "roi_calculator": ("/roi-calculator",),
        "implementation": ("/implementation",),
        "integration_docs": ("/docs/integrations/",),
        "security": ("/security", "/trust/"),
        "comparison": ("/compare/",),
        "case_study": ("/customers/",),
        "blog": ("/blog/",),
        "careers": ("/careers",),
        "support": ("/support",),
        "whitepaper": ("/resources/",),
        "webinar": ("/webinars/",),
        "demo": ("/demo",),
    }
    for category, prefixes in paths.items():
        urls = tp.loc[tp["category"] == category, "url"].astype(str)
        assert len(urls) > 0, category
        allowed = tuple(VENDOR_SITE + p for p in prefixes)
        assert urls.str.startswith(allowed).all(), category
    no_page = tp["kind_"].isin(["email_open", "email_reply", "sales_reply", "meeting"])
    assert (tp.loc[no_page, "url"].astype(str) == "").all()


def test_dwell_time_only_where_someone_dwells(world: DemoWorld) -> None:
    tp = _touches(world)
    timed = tp["kind_"].isin(["page_view", "webinar"])
    assert tp.loc[timed, "duration_seconds"].notna().all()
    assert tp.loc[~timed, "duration_seconds"].isna().all()
    assert (tp.loc[timed, "duration_seconds"] >= 1).all()


# --- time -----------------------------------------------------------------------------------


def test_history_and_current_leads_sit_in_their_windows(world: DemoWorld) -> None:
    leads, truth = world.leads, world.truth
    age = (pd.Timestamp(ANCHOR) - leads["created_at"]).dt.total_seconds() / 86400
    historical = truth["historical"].to_numpy()
    assert age[historical].between(60, 400).all()
    assert age[~historical].between(0, 60).all()
    outcome = leads["converted_at"].fillna(leads["closed_at"])
    assert outcome[historical].notna().all()
    assert (outcome[historical] <= pd.Timestamp(ANCHOR)).all()
    assert (outcome[historical] > truth["snapshot_at"][historical]).all()
    assert outcome[~historical].isna().all()
    assert set(leads.loc[~historical, "status"]) == {"new", "working"}
    converted = leads["converted_at"].notna()
    assert (leads.loc[converted, "status"] == "converted").all()
    assert (leads.loc[leads["closed_at"].notna(), "status"] == "closed").all()
    assert (leads["converted_at"].notna() & leads["closed_at"].notna()).sum() == 0


def test_every_touch_is_between_creation_and_snapshot(world: DemoWorld) -> None:
    tp = _touches(world)
    created = world.leads["created_at"].to_numpy()[tp["lead"].to_numpy()]
    assert (tp["occurred_at"].to_numpy() >= created).all()
    assert (tp["age_days"] > 0).all()


def test_outcome_delay_is_the_same_for_both_outcomes(world: DemoWorld) -> None:
    leads, truth = world.leads, world.truth
    won = (leads["converted_at"] - truth["snapshot_at"]).dt.total_seconds().dropna() / 86400
    lost = (leads["closed_at"] - truth["snapshot_at"]).dt.total_seconds().dropna() / 86400
    assert abs(won.median() - lost.median()) < 3.0
    assert abs(won.mean() - lost.mean()) < 3.0


def test_researchers_spread_over_months_and_buyers_concentrate_in_days(world: DemoWorld) -> None:
    tp = _touches(world)
    spans = tp.groupby("lead")["occurred_at"].agg(["min", "max"])
    span_days = (spans["max"] - spans["min"]).dt.total_seconds() / 86400
    persona = pd.Series(_persona(world))[span_days.index].to_numpy()
    researcher = span_days[persona == "researcher"].median()
    buyer = span_days[persona == "active_buyer"].median()
    assert researcher >= 60
    assert buyer <= 21
    assert researcher > 4 * buyer
    recent = (tp["age_days"] <= 14).groupby(tp["lead"]).mean()
    persona = pd.Series(_persona(world))[recent.index].to_numpy()
    assert recent[persona == "active_buyer"].median() >= 0.6
    assert recent[persona == "researcher"].median() <= 0.25


def test_researchers_glance_at_pricing_and_buyers_study_it(world: DemoWorld) -> None:
    tp = _touches(world)
    pricing = tp[(tp["category"] == "pricing") & (tp["kind_"] == "page_view")]
    researcher = pricing.loc[pricing["persona"] == "researcher", "duration_seconds"]
    buyer = pricing.loc[pricing["persona"] == "active_buyer", "duration_seconds"]
    assert (researcher < 10).all()
    assert buyer.median() > 30


def test_buyers_move_through_the_bottom_of_the_funnel_with_colleagues(world: DemoWorld) -> None:
    tp = _touches(world)
    bottom = tp["category"].isin(BOTTOM_FUNNEL_CATEGORIES)
    share = bottom.groupby(tp["persona"]).mean()
    assert share["active_buyer"] > 2 * share["researcher"]
    forms = tp[tp["form"].isin(["demo_request", "contact_sales", "trial"])]
    asked = forms.groupby("persona")["lead"].nunique() / pd.Series(_persona(world)).value_counts()
    assert asked["active_buyer"] > 0.4
    assert asked["researcher"] < 0.1
    truth = world.truth
    buyers = truth[truth["persona"] == "active_buyer"]
    assert (buyers["colleagues"] > 0).mean() > 0.5
    assert (truth.loc[truth["persona"] == "researcher", "colleagues"] == 0).all()


def test_lead_a_and_lead_b_both_exist(world: DemoWorld) -> None:
    """Researchers with three case studies, a webinar and two pricing visits, like buyers."""
    tp = _touches(world)
    signature = pd.DataFrame(
        {
            "case_downloads": (tp["category"].eq("case_study") & tp["kind_"].eq("content_download"))
            .groupby(tp["lead"])
            .sum(),
            "webinars": tp["kind_"].eq("webinar").groupby(tp["lead"]).sum(),
            "pricing": tp["category"].eq("pricing").groupby(tp["lead"]).sum(),
        }
    )
    looks_like_a = (
        (signature["case_downloads"] >= 3)
        & (signature["webinars"] >= 1)
        & (signature["pricing"] >= 2)
    )
    persona = pd.Series(_persona(world))[signature.index].to_numpy()
    assert (looks_like_a & (persona == "researcher")).sum() >= 20
    assert (looks_like_a & (persona == "active_buyer")).sum() >= 10
    points = _point_score(world)
    all_persona = _persona(world)
    researcher_high = points[all_persona == "researcher"].quantile(0.75)
    buyer_low = points[all_persona == "active_buyer"].quantile(0.25)
    assert researcher_high >= buyer_low


# --- who is who -----------------------------------------------------------------------------


def _domains(world: DemoWorld) -> pd.Series:
    return world.leads["email"].str.split("@").str[1]


def test_students_have_academic_domains_or_student_titles(world: DemoWorld) -> None:
    domain = _domains(world)
    persona = _persona(world)
    student = persona == "student"
    academic = domain.str.endswith(ACADEMIC_SUFFIXES).to_numpy()
    titled = (world.leads["seniority"] == "student").to_numpy()
    assert (academic | titled)[student].all()
    assert academic[student].mean() > 0.6
    assert not academic[~student].any()
    assert world.leads.loc[student, "account"].eq(-1).all()


def test_competitors_write_from_competitor_accounts(world: DemoWorld) -> None:
    accounts = world.accounts
    competitor_accounts = accounts[accounts["is_competitor"]]
    assert set(competitor_accounts["domain"]) == set(COMPETITOR_DOMAINS)
    persona = _persona(world)
    leads = world.leads[persona == "competitor"]
    assert len(leads) > 0
    assert accounts["is_competitor"].to_numpy()[leads["account"].to_numpy()].all()
    assert _domains(world)[persona == "competitor"].isin(COMPETITOR_DOMAINS).all()
    others = world.leads[persona != "competitor"]
    at = others["account"] >= 0
    assert not accounts["is_competitor"].to_numpy()[others.loc[at, "account"]].any()


def test_job_seekers_visit_careers_and_apply(world: DemoWorld) -> None:
    tp = _touches(world)
    seekers = tp[tp["persona"] == "job_seeker"]
    share_careers = seekers["category"].eq("careers").mean()
    applied = seekers.loc[seekers["form"] == "job_application", "lead"].nunique()
    n = (_persona(world) == "job_seeker").sum()
    assert share_careers > 0.35
    assert applied / n > 0.5
    free = _domains(world)[_persona(world) == "job_seeker"].isin([d for d, _ in FREE_MAIL])
    assert free.mean() > 0.5


def test_customers_with_support_needs_are_at_customer_accounts(world: DemoWorld) -> None:
    persona = _persona(world)
    leads = world.leads[persona == "existing_customer"]
    assert world.accounts["is_customer"].to_numpy()[leads["account"].to_numpy()].all()
    tp = _touches(world)
    theirs = tp[tp["persona"] == "existing_customer"]
    assert theirs["category"].isin(["support", "docs"]).mean() > 0.4
    assert (theirs["form"] == "support").any()


def test_analysts_write_from_analyst_firms(world: DemoWorld) -> None:
    assert _domains(world)[_persona(world) == "analyst"].isin(ANALYST_DOMAINS).all()


def test_chat_text_sounds_like_the_persona(world: DemoWorld) -> None:
    tp = _touches(world)
    chats = tp[tp["kind_"] == "chat_message"]
    text = chats["text"].astype(str).str.lower()
    assert (text != "").all()
    student = text[chats["persona"] == "student"]
    assert student.str.contains("thesis|dissertation|student|class").all()
    buyer = text[chats["persona"] == "active_buyer"]
    assert buyer.str.contains(
        "pricing|timeline|budget|integrat|security|contract|quote|roi|compar"
    ).all()
    support = text[chats["persona"] == "existing_customer"]
    assert support.str.contains("sync|reset|not loading|add a new user|duplicate|invoice").all()


def test_free_mail_leads_have_no_account_and_corporate_ones_match_their_domain(
    world: DemoWorld,
) -> None:
    leads, accounts = world.leads, world.accounts
    domain = _domains(world)
    free = domain.isin([d for d, _ in FREE_MAIL])
    assert (leads.loc[free, "account"] == -1).all()
    at = leads["account"] >= 0
    account_domain = accounts["domain"].to_numpy()[leads.loc[at, "account"]]
    own = domain[at].to_numpy()
    # The account's domain, or a subdomain of it (eu.acme.com belongs to acme.com).
    assert all(d == a or d.endswith("." + a) for d, a in zip(own, account_domain, strict=True))
    assert any(d != a for d, a in zip(own, account_domain, strict=True))


def test_lead_attributes_hold_crm_fields_and_nothing_about_the_persona(world: DemoWorld) -> None:
    keys = set().union(*world.leads["attributes"].map(set))
    assert keys == {"lead_source_detail", "preferred_contact", "annual_budget_band"}
    values = {str(v) for attrs in world.leads["attributes"] for v in attrs.values()}
    assert not values & {str(p) for p in Persona}


# --- signals and outcomes -------------------------------------------------------------------


def _near(world: DemoWorld, frame: pd.DataFrame, column: str, days: int) -> np.ndarray:
    """Per lead: is there a row of the account's `frame` in the `days` before the snapshot?"""
    leads = pd.DataFrame(
        {
            "lead": np.arange(len(world.leads)),
            "account": world.leads["account"].to_numpy(),
            "snapshot": world.truth["snapshot_at"].to_numpy(),
        }
    )
    joined = leads.merge(frame[["account", column]], on="account")
    inside = (joined[column] <= joined["snapshot"]) & (
        joined[column] > joined["snapshot"] - timedelta(days=days)
    )
    hit = np.zeros(len(world.leads), dtype=bool)
    hit[joined.loc[inside, "lead"].unique()] = True
    return hit


def test_intent_surges_and_trigger_events_lean_towards_buyers_but_are_noisy(
    world: DemoWorld,
) -> None:
    persona = _persona(world)
    at_account = world.leads["account"].to_numpy() >= 0
    surge = _near(world, world.intent_signals, "observed_at", 45)
    event = _near(world, world.account_events, "occurred_at", 120)
    buyer = (persona == "active_buyer") & at_account
    researcher = (persona == "researcher") & at_account
    assert surge[buyer].mean() > surge[researcher].mean() + 0.2
    assert event[buyer].mean() > event[researcher].mean() + 0.15
    assert surge[researcher].mean() > 0.02  # noise: surges without any buyer
    assert surge[buyer].mean() < 0.95  # and buyers without a surge
    assert set(world.account_events["kind"]) >= {
        "funding", "leadership_change", "initiative", "job_posting",
    }  # fmt: skip


def test_buyers_convert_far_more_than_researchers_and_non_buyers_almost_never(
    world: DemoWorld,
) -> None:
    mask, converted = _historical(world)
    persona = _persona(world)[mask]
    rate = pd.Series(converted).groupby(persona).mean()
    assert rate["active_buyer"] > 0.3
    assert rate["active_buyer"] > 4 * rate["researcher"]
    for never in ("competitor", "student", "job_seeker", "analyst"):
        assert rate[never] <= 0.02
    assert 0.04 < converted.mean() < 0.2


def test_point_score_is_better_than_chance_but_far_from_perfect(world: DemoWorld) -> None:
    mask, converted = _historical(world)
    points = _point_score(world).to_numpy()[mask]
    score = auc(points, converted)
    assert 0.6 < score < 0.85


def _lead_features(world: DemoWorld) -> pd.DataFrame:
    """Plain per-lead aggregates a model could be given (no hidden state)."""
    tp = _touches(world)
    by = tp.groupby("lead")
    recent = tp["age_days"] <= 14
    bottom = tp["category"].isin(BOTTOM_FUNNEL_CATEGORIES)
    dwell = tp["duration_seconds"].fillna(0).astype(float)
    columns = {
        "touches": by.size(),
        "recent_touches": recent.groupby(tp["lead"]).sum(),
        "bottom_funnel": bottom.groupby(tp["lead"]).sum(),
        "recent_bottom_dwell": dwell.where(bottom & recent, 0).groupby(tp["lead"]).sum(),
        "pricing_dwell_max": dwell.where(tp["category"] == "pricing", 0).groupby(tp["lead"]).max(),
        "sales_forms": tp["form"].isin(["demo_request", "contact_sales", "trial"])
        .groupby(tp["lead"]).sum(),
        "replies": tp["kind_"].isin(["email_reply", "sales_reply", "meeting"])
        .groupby(tp["lead"]).sum(),
        "careers": tp["category"].eq("careers").groupby(tp["lead"]).sum(),
        "support": tp["category"].isin(["support", "docs"]).groupby(tp["lead"]).sum(),
        "span_days": (by["occurred_at"].max() - by["occurred_at"].min()).dt.total_seconds()
        / 86400,
    }  # fmt: skip
    features = pd.DataFrame({k: _per_lead(world, v.astype(float)) for k, v in columns.items()})
    leads, accounts = world.leads, world.accounts
    account = leads["account"].to_numpy()
    at = account >= 0
    safe = np.maximum(account, 0)
    domain = _domains(world)
    features["employees"] = np.where(at, accounts["employee_count"].to_numpy()[safe], 0)
    features["customer"] = np.where(at, accounts["is_customer"].to_numpy()[safe], False)
    features["target_industry"] = np.where(
        at, np.isin(accounts["industry"].to_numpy()[safe], TARGET_INDUSTRIES), False
    )
    features["seniority"] = (
        leads["seniority"]
        .map({"c_level": 4, "vp": 3, "director": 2, "manager": 1, "individual": 0, "student": -1})
        .fillna(0)
    )
    features["free_mail"] = domain.isin([d for d, _ in FREE_MAIL])
    features["disqualified_domain"] = (
        domain.str.endswith(ACADEMIC_SUFFIXES)
        | domain.isin(COMPETITOR_DOMAINS)
        | domain.isin(ANALYST_DOMAINS)
    )
    features["surge"] = _near(world, world.intent_signals, "observed_at", 45)
    features["event"] = _near(world, world.account_events, "occurred_at", 120)
    # Colleagues active at the same account in the 30 days before the snapshot.
    lead_tp = tp[["lead", "occurred_at"]].assign(account=account[tp["lead"].to_numpy()])
    lead_tp = lead_tp[lead_tp["account"] >= 0]
    frame = pd.DataFrame(
        {"lead": np.arange(len(leads)), "account": account,
         "snapshot": world.truth["snapshot_at"].to_numpy()}
    )[at]  # fmt: skip
    joined = frame.merge(lead_tp, on="account", suffixes=("", "_other"))
    joined = joined[
        (joined["lead_other"] != joined["lead"])
        & (joined["occurred_at"] <= joined["snapshot"])
        & (joined["occurred_at"] > joined["snapshot"] - timedelta(days=30))
    ]
    features["colleagues"] = _per_lead(world, joined.groupby("lead")["lead_other"].nunique())
    return features.astype(float)


def test_a_model_on_plain_features_clearly_beats_the_point_score() -> None:
    """What points ignore (timing, dwell, committee, intent, who writes) carries the signal."""
    import xgboost

    world = world_generate(leads=5000, seed=21, anchor=ANCHOR)
    mask, converted = _historical(world)
    features = _lead_features(world)[mask]
    train = np.arange(len(features)) % 2 == 0
    booster = xgboost.train(
        {"objective": "binary:logistic", "max_depth": 3, "eta": 0.1, "nthread": 1, "seed": 0},
        xgboost.DMatrix(features[train], label=converted[train]),
        num_boost_round=150,
    )
    predicted = booster.predict(xgboost.DMatrix(features[~train]))
    model_auc = auc(predicted, converted[~train])
    points_auc = auc(_point_score(world).to_numpy()[mask][~train], converted[~train])
    assert model_auc > points_auc + 0.05
    # The hidden readiness itself is better still, and yet not perfect: there is real noise.
    oracle = auc(world.truth["readiness"].to_numpy()[mask][~train], converted[~train])
    assert model_auc < oracle < 0.97


def test_no_single_simple_aggregate_gives_the_outcome_away(world: DemoWorld) -> None:
    mask, converted = _historical(world)
    tp = _touches(world)
    by = tp.groupby("lead")
    bottom = tp["category"].isin(BOTTOM_FUNNEL_CATEGORIES)
    aggregates = {
        "touches": by.size(),
        "touches_last_14_days": (tp["age_days"] <= 14).groupby(tp["lead"]).sum(),
        "bottom_funnel_touches": bottom.groupby(tp["lead"]).sum(),
        "bottom_funnel_dwell": tp["duration_seconds"].fillna(0).where(bottom, 0)
        .groupby(tp["lead"]).sum(),
        "sales_forms": tp["form"].isin(["demo_request", "contact_sales", "trial"])
        .groupby(tp["lead"]).sum(),
        "replies_and_meetings": tp["kind_"].isin(["email_reply", "sales_reply", "meeting"])
        .groupby(tp["lead"]).sum(),
        "max_pricing_dwell": tp["duration_seconds"].where(tp["category"] == "pricing")
        .groupby(tp["lead"]).max(),
        "span_days": (by["occurred_at"].max() - by["occurred_at"].min()).dt.total_seconds(),
        "last_touch_age": by["age_days"].min(),
    }  # fmt: skip
    accounts = world.accounts
    account = world.leads["account"].to_numpy()
    employees = np.where(
        account >= 0, accounts["employee_count"].to_numpy()[np.maximum(account, 0)], 0
    )
    seniority_rank = (
        world.leads["seniority"].map({"c_level": 4, "vp": 3, "director": 2, "manager": 1}).fillna(0)
    )
    for name, values in aggregates.items():
        values = _per_lead(world, values.fillna(0)).to_numpy()[mask]
        for sign in (1, -1):
            assert auc(sign * values, converted) < 0.9, name
    for name, values in {"employees": employees, "seniority": seniority_rank.to_numpy()}.items():
        assert auc(values[mask], converted) < 0.9, name


# --- determinism ----------------------------------------------------------------------------


def test_same_seed_same_world_and_another_seed_another_world() -> None:
    first = world_generate(leads=700, seed=5, anchor=ANCHOR)
    again = world_generate(leads=700, seed=5, anchor=ANCHOR)
    other = world_generate(leads=700, seed=6, anchor=ANCHOR)
    assert world_digest(first) == world_digest(again)
    assert world_digest(first) != world_digest(other)
    assert first.leads["email"].tolist() != other.leads["email"].tolist()


def test_the_anchor_is_the_world_s_now() -> None:
    first = world_generate(leads=400, seed=5, anchor=ANCHOR)
    later = world_generate(leads=400, seed=5, anchor=ANCHOR + timedelta(days=30))
    shift = later.touchpoints["occurred_at"] - first.touchpoints["occurred_at"]
    assert (shift == pd.Timedelta(days=30)).all()
    assert later.leads["email"].tolist() == first.leads["email"].tolist()
    assert world_digest(first) != world_digest(later)


def test_tiny_worlds_still_work() -> None:
    world = world_generate(leads=1, seed=0, anchor=ANCHOR)
    assert len(world.leads) == 1
    assert len(world.accounts) == 50
    with pytest.raises(ValueError):
        world_generate(leads=0, seed=0, anchor=ANCHOR)


def test_scoring_defaults_describe_the_same_market_as_the_world() -> None:
    assert set(COMPETITOR_DOMAINS) <= set(defaults.COMPETITOR_DOMAINS)
    assert set(ANALYST_DOMAINS) <= set(defaults.ANALYST_DOMAINS)
    assert set(ACADEMIC_SUFFIXES) <= set(defaults.ACADEMIC_DOMAIN_SUFFIXES)
    assert set(defaults.ICP_DEFAULTS["industries"]) == set(TARGET_INDUSTRIES)
    assert set(defaults.ICP_DEFAULTS["technologies"]) == set(TARGET_TECHNOLOGIES)
