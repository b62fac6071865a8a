"""Fit against the ideal customer profile: company, role, technology and timing, 0-100 each.

Pure and vectorised. Each score is a sum of factor points; `fit_breakdown` explains one lead's
score factor by factor, so a brief can say *why* the company fits.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

SENIORITY_POINTS = {
    "c_level": 50.0,
    "vp": 48.0,
    "director": 44.0,
    "manager": 32.0,
    "individual": 15.0,
    "student": 0.0,
    "": 15.0,
}


@dataclass(frozen=True)
class IcpSpec:
    name: str = "Default"
    industries: tuple[str, ...] = ()
    min_employees: int | None = None
    max_employees: int | None = None
    countries: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    technologies: tuple[str, ...] = ()
    funding_stages: tuple[str, ...] = ()
    seniorities: tuple[str, ...] = ()
    departments: tuple[str, ...] = ()
    title_keywords: tuple[str, ...] = ()


@dataclass
class FitResult:
    scores: pd.DataFrame  # fit_company, fit_role, fit_technology, fit_timing (0-100 ints)
    factors: pd.DataFrame = field(repr=False)  # one column per factor's points


def _lower_set(values: tuple[str, ...]) -> set[str]:
    return {v.strip().lower() for v in values if v and v.strip()}


def compute_fit(
    features: pd.DataFrame, leads: pd.DataFrame, accounts: pd.DataFrame, icp: IcpSpec
) -> FitResult:
    """Fit scores per lead.

    `features` is `build_features` output; `leads` needs lead_id, title and account_id;
    `accounts` needs account_id, country and tech_stack.
    """
    index = features.index
    f = pd.DataFrame(index=index)
    titles = leads.set_index("lead_id")["title"].reindex(index).fillna("").astype(str).str.lower()
    account_ids = leads.set_index("lead_id")["account_id"].reindex(index)
    if accounts.empty:
        acc = pd.DataFrame(columns=["country", "tech_stack"])
    else:
        acc = accounts.drop_duplicates("account_id").set_index("account_id")
    country = account_ids.map(acc["country"]) if "country" in acc else pd.Series("", index=index)
    stacks = account_ids.map(acc["tech_stack"]) if "tech_stack" in acc else None

    # Company: size 40, industry 35, geography 15, growth 10.
    employees = np.power(10.0, pd.to_numeric(features["log_employees"], errors="coerce"))
    low = icp.min_employees or 0
    high = icp.max_employees or np.inf
    inside = (employees >= low) & (employees <= high)
    near = (employees >= low / 2) & (employees <= high * 2)
    f["company_size"] = (
        np.select([employees.isna(), inside, near], [15.0, 40.0, 20.0], default=5.0)
        if (icp.min_employees or icp.max_employees)
        else np.where(employees.isna(), 20.0, 40.0)
    )
    industries = _lower_set(icp.industries)
    industry = features["industry"].fillna("").astype(str).str.lower()
    f["company_industry"] = (
        np.select([industry == "", industry.isin(industries)], [10.0, 35.0], default=0.0)
        if industries
        else 35.0
    )
    regions = _lower_set(icp.regions)
    countries = _lower_set(icp.countries)
    region = features["region"].fillna("").astype(str).str.lower()
    country_l = country.astype(object).fillna("").astype(str).str.lower()
    geo_match = region.isin(regions) | country_l.isin(countries)
    f["company_geography"] = (
        np.select([(region == "") & (country_l == ""), geo_match], [7.0, 15.0], default=0.0)
        if (regions or countries)
        else 15.0
    )
    stages = _lower_set(icp.funding_stages)
    stage = features["funding_stage"].fillna("").astype(str).str.lower()
    f["company_growth"] = (
        np.select([stage == "", stage.isin(stages)], [5.0, 10.0], default=2.0) if stages else 10.0
    )

    # Role: seniority 50, department 30, title 20.
    seniority = features["seniority"].fillna("").astype(str)
    wanted = _lower_set(icp.seniorities)
    base = seniority.map(SENIORITY_POINTS).fillna(15.0)
    f["role_seniority"] = np.where(seniority.isin(wanted), 50.0, base) if wanted else base
    departments = _lower_set(icp.departments)
    department = features["department"].fillna("").astype(str).str.lower()
    f["role_department"] = (
        np.select([department == "", department.isin(departments)], [10.0, 30.0], default=5.0)
        if departments
        else 20.0
    )
    keywords = _lower_set(icp.title_keywords)
    if keywords:
        pattern = "|".join(sorted(map(re.escape, keywords)))
        f["role_title"] = np.where(titles.str.contains(pattern, regex=True), 20.0, 0.0)
    else:
        f["role_title"] = 10.0

    # Technology: the share of the profile's technologies the account runs.
    technologies = _lower_set(icp.technologies)
    if stacks is not None and technologies:
        matches = stacks.map(
            lambda s: (
                len({str(t).lower() for t in s} & technologies) if isinstance(s, list) else np.nan
            )
        )
        f["technology_overlap"] = np.where(
            matches.isna(), 40.0, 20.0 + 80.0 * np.minimum(matches.fillna(0) / 2.0, 1.0)
        )
    else:
        f["technology_overlap"] = 50.0

    # Timing: triggers that create a buying window.
    f["timing_leadership"] = np.where(features["days_since_leadership_change"].notna(), 30.0, 0.0)
    f["timing_initiative"] = np.where(features["days_since_initiative"].notna(), 25.0, 0.0)
    f["timing_funding"] = np.where(features["days_since_funding"].notna(), 20.0, 0.0)
    f["timing_hiring"] = np.where(features["job_posting_events"] > 0, 15.0, 0.0)
    f["timing_intent"] = np.where(features["intent_surge_max_30d"] >= 2.0, 10.0, 0.0)

    scores = pd.DataFrame(index=index)
    groups = {
        "fit_company": ["company_size", "company_industry", "company_geography", "company_growth"],
        "fit_role": ["role_seniority", "role_department", "role_title"],
        "fit_technology": ["technology_overlap"],
        "fit_timing": [c for c in f.columns if c.startswith("timing_")],
    }
    for name, columns in groups.items():
        scores[name] = f[columns].sum(axis=1).clip(0, 100).round().astype(int)
    return FitResult(scores=scores, factors=f)


FACTOR_LABELS = {
    "company_size": ("Company size", 40),
    "company_industry": ("Industry", 35),
    "company_geography": ("Geography", 15),
    "company_growth": ("Funding and growth", 10),
    "role_seniority": ("Seniority", 50),
    "role_department": ("Department", 30),
    "role_title": ("Title matches the buying committee", 20),
    "technology_overlap": ("Compatible technology stack", 100),
    "timing_leadership": ("New leader in the last 120 days", 30),
    "timing_initiative": ("Initiative announced in the last 180 days", 25),
    "timing_funding": ("Funding in the last 180 days", 20),
    "timing_hiring": ("Hiring for the problem area", 15),
    "timing_intent": ("Third-party research surge", 10),
}


def fit_breakdown(factors: Mapping[str, float] | pd.Series) -> list[dict[str, Any]]:
    """One lead's factor points as [{factor, label, points, max}], for the brief."""
    rows = []
    for name, value in factors.items():
        label, maximum = FACTOR_LABELS.get(str(name), (str(name), 100))
        rows.append(
            {"factor": str(name), "label": label, "points": round(float(value)), "max": maximum}
        )
    return rows
