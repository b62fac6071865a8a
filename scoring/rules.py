"""Disqualifiers: a rule engine that runs before the model and takes precedence over it.

Pure and vectorised: each rule is a boolean mask over the facts frame (features plus a few
lead fields), rules run in priority order, and the first that matches decides. A lead whose
behaviour looks like a live buyer but is caught by a disqualifying rule (a student address
active inside a buying committee) is flagged for review instead of being silently dropped.

Parameters per category (all optional; `DisqualificationRule.parameters` in the admin):

- every category: `attribute_values` {attribute: [values]} also matches on custom CRM
  attributes (e.g. {"what_is_your_current_occupation": ["Student"]}); `title_keywords`
  [words] matches the title (case-insensitive, whole words).
- competitor: `domains` [list]; `use_account_flag` (default true) matches accounts marked
  as competitors.
- student: `domain_suffixes` (default .edu, .ac.uk, ...); `title_keywords` (default student,
  phd, ...).
- job_seeker: `min_careers_views` (default 2) together with no evaluation activity;
  `min_job_applications` (default 1).
- existing_customer_support: `min_support_requests` (default 1), `min_support_views` (default
  2); only at customer accounts, and only when no sales-intent form was sent.
- analyst: `domains` (default the large analyst firms); `title_keywords` (default industry
  analyst, research director).
- non_decision_maker: `seniorities` (default individual, student) at customer accounts.
- spam: `domains` (disposable mail), `name_patterns` (regexes on the name or email local part).
- minimum_fit: `min_company_fit` (default 20), `min_role_fit` (default 15): below either.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

DEFAULT_ACADEMIC_SUFFIXES = (".edu", ".ac.uk", ".ac.jp", ".edu.au", ".ac.in", ".edu.cn", ".ac.nz")
DEFAULT_STUDENT_TITLES = (
    "student", "phd", "ph.d", "doctoral", "undergraduate", "graduate student", "postdoc",
    "research assistant", "teaching assistant", "professor", "lecturer", "intern",
)  # fmt: skip
DEFAULT_ANALYST_DOMAINS = (
    "gartner.com", "forrester.com", "idc.com", "g2.com", "451research.com", "omdia.com",
    "everestgrp.com", "hfsresearch.com",
)  # fmt: skip
DEFAULT_ANALYST_TITLES = ("industry analyst", "research director", "principal analyst")
DEFAULT_DISPOSABLE_DOMAINS = (
    "mailinator.com", "guerrillamail.com", "10minutemail.com", "tempmail.com", "trashmail.com",
    "yopmail.com", "sharklasers.com", "getnada.com", "dispostable.com",
)  # fmt: skip
DEFAULT_SPAM_PATTERNS = (r"^(?:test|asdf|qwerty|aaa+|xxx+|no ?name|none|fake)\d*$",)

DISQUALIFYING_ACTIONS = frozenset({"disqualify"})


@dataclass(frozen=True)
class RuleSpec:
    reason_code: str
    name: str
    category: str
    action: str = "disqualify"
    priority: int = 100
    parameters: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ReviewPolicy:
    """When a disqualified lead still looks like a buyer, a person decides."""

    min_committee_people: int = 3
    min_evaluation_touches: int = 2


@dataclass
class RuleOutcome:
    """Per lead (index lead_id): reason_code, category, action, evidence, needs_review."""

    frame: pd.DataFrame


def _words(values: Sequence[str]) -> str:
    cleaned = [re.escape(v.strip().lower()) for v in values if v and v.strip()]
    return r"(?:^|\b)(?:" + "|".join(cleaned) + r")(?:\b|$)" if cleaned else ""


def _by_value(
    facts: pd.DataFrame, column: str, match: Callable[[pd.Series], pd.Series]
) -> pd.Series:
    """`match` on the distinct values of a text column (lower-cased), spread back to the rows.

    Titles and email domains repeat across thousands of leads: matching each distinct value
    once instead of every row is what keeps the rules cheap on a large batch.
    """
    if column not in facts.columns:
        return pd.Series(False, index=facts.index)
    codes, uniques = pd.factorize(facts[column].fillna("").astype(str).str.lower())
    if len(uniques) == 0:
        return pd.Series(False, index=facts.index)
    matched = match(pd.Series(np.asarray(uniques, dtype=object))).to_numpy(dtype=bool)
    # A code of -1 (a missing value) matches nothing.
    return pd.Series(np.where(codes >= 0, matched[codes], False), index=facts.index)


def _match_title(facts: pd.DataFrame, keywords: Sequence[str]) -> pd.Series:
    pattern = _words(keywords)
    if not pattern:
        return pd.Series(False, index=facts.index)
    return _by_value(facts, "title", lambda title: title.str.contains(pattern, regex=True))


def _match_domain(facts: pd.DataFrame, domains: Sequence[str]) -> pd.Series:
    wanted = {d.strip().lower() for d in domains if d and d.strip()}
    if not wanted:
        return pd.Series(False, index=facts.index)

    def listed(domain: pd.Series) -> pd.Series:
        # A subdomain of a listed domain matches too (eu.rival.com for rival.com).
        parent = domain.str.split(".").str[-2:].str.join(".")
        return domain.isin(wanted) | parent.isin(wanted)

    return _by_value(facts, "email_domain", listed)


def _match_suffix(facts: pd.DataFrame, suffixes: Sequence[str]) -> pd.Series:
    cleaned = tuple(s.strip().lower() for s in suffixes if s and s.strip())
    if not cleaned:
        return pd.Series(False, index=facts.index)
    return _by_value(facts, "email_domain", lambda domain: domain.str.endswith(cleaned))


def _match_attributes(facts: pd.DataFrame, wanted: dict[str, Sequence[Any]]) -> pd.Series:
    mask = pd.Series(False, index=facts.index)
    for name, values in (wanted or {}).items():
        column = f"attr__{re.sub(r'[^0-9a-z]+', '_', str(name).lower()).strip('_')}"
        if column in facts.columns:
            lowered = {str(v).lower() for v in values}
            mask |= facts[column].astype(str).str.lower().isin(lowered)
    return mask


def _num(facts: pd.DataFrame, column: str) -> pd.Series:
    if column not in facts.columns:
        return pd.Series(0.0, index=facts.index)
    return pd.to_numeric(facts[column], errors="coerce").fillna(0.0)


def _flag(facts: pd.DataFrame, column: str) -> pd.Series:
    return _num(facts, column) > 0


def rule_mask(rule: RuleSpec, facts: pd.DataFrame) -> pd.Series:
    """Which leads the rule matches."""
    p = rule.parameters or {}
    common = _match_attributes(facts, p.get("attribute_values", {}))
    if rule.category != "student" and p.get("title_keywords"):
        common |= _match_title(facts, p["title_keywords"])
    category = rule.category
    if category == "competitor":
        mask = _match_domain(facts, p.get("domains", []))
        if p.get("use_account_flag", True):
            mask |= _flag(facts, "is_competitor_account")
    elif category == "student":
        mask = _match_suffix(facts, p.get("domain_suffixes", DEFAULT_ACADEMIC_SUFFIXES))
        mask |= _match_title(facts, p.get("title_keywords", DEFAULT_STUDENT_TITLES))
        mask |= facts.get("seniority", pd.Series("", index=facts.index)) == "student"
    elif category == "job_seeker":
        applications = _num(facts, "job_applications") >= p.get("min_job_applications", 1)
        careers = _num(facts, "careers_views") >= p.get("min_careers_views", 2)
        evaluating = (_num(facts, "bottom_funnel_views") + _num(facts, "demo_requests")) > 0
        mask = applications | (careers & ~evaluating)
    elif category == "existing_customer_support":
        support = (_num(facts, "support_requests") >= p.get("min_support_requests", 1)) | (
            _num(facts, "support_views") >= p.get("min_support_views", 2)
        )
        mask = _flag(facts, "is_customer_account") & support & (_num(facts, "demo_requests") == 0)
    elif category == "analyst":
        mask = _match_domain(facts, p.get("domains", DEFAULT_ANALYST_DOMAINS))
        if not p.get("title_keywords"):  # given keywords are already in `common`
            mask |= _match_title(facts, DEFAULT_ANALYST_TITLES)
    elif category == "non_decision_maker":
        seniorities = set(p.get("seniorities", ["individual", "student"]))
        mask = _flag(facts, "is_customer_account") & facts["seniority"].astype(str).isin(
            seniorities
        )
    elif category == "spam":
        mask = _match_domain(facts, p.get("domains", DEFAULT_DISPOSABLE_DOMAINS))
        patterns = [
            re.compile(pattern) for pattern in p.get("name_patterns", DEFAULT_SPAM_PATTERNS)
        ]

        def spammy(text: pd.Series) -> pd.Series:
            return pd.Series([any(r.fullmatch(t) for r in patterns) for t in text.tolist()])

        # The local part is matched lead by lead (it is nearly unique), the name by value.
        local = facts["email"].fillna("").astype(str).str.split("@").str[0].str.lower()
        mask |= spammy(local).to_numpy()
        mask |= _by_value(facts, "name", lambda name: spammy(name.str.strip()))
    elif category == "minimum_fit":
        mask = (_num(facts, "fit_company") < p.get("min_company_fit", 20)) | (
            _num(facts, "fit_role") < p.get("min_role_fit", 15)
        )
    else:
        mask = pd.Series(False, index=facts.index)
    return (mask | common).fillna(False).astype(bool)


def buyer_looking(facts: pd.DataFrame, policy: ReviewPolicy) -> pd.Series:
    """Live buying behaviour: an active committee and evaluation activity of one's own."""
    committee = _num(facts, "account_active_people_30d") >= policy.min_committee_people
    evaluating = (
        _num(facts, "bottom_funnel_views") + _num(facts, "demo_requests") * 2
        >= policy.min_evaluation_touches
    )
    return committee & evaluating


def evaluate_rules(
    rules: Sequence[RuleSpec], facts: pd.DataFrame, policy: ReviewPolicy | None = None
) -> RuleOutcome:
    """Run the rules in priority order; the first match per lead wins."""
    policy = policy or ReviewPolicy()
    n = len(facts)
    reason = np.full(n, "", dtype=object)
    category = np.full(n, "", dtype=object)
    action = np.full(n, "", dtype=object)
    rule_name = np.full(n, "", dtype=object)
    decided = np.zeros(n, dtype=bool)
    for rule in sorted(rules, key=lambda r: (r.priority, r.name)):
        mask = rule_mask(rule, facts).to_numpy() & ~decided
        if not mask.any():
            continue
        reason[mask] = rule.reason_code
        category[mask] = rule.category
        action[mask] = rule.action
        rule_name[mask] = rule.name
        decided |= mask
    frame = pd.DataFrame(
        {"reason_code": reason, "category": category, "action": action, "rule_name": rule_name},
        index=facts.index,
    )
    looks_like_buyer = buyer_looking(facts, policy).to_numpy()
    # Competitors and spam never go to review: their buying signals are the point of them.
    reviewable = ~pd.Series(category).isin(["competitor", "spam"]).to_numpy()
    frame["needs_review"] = (
        pd.Series(action).isin(DISQUALIFYING_ACTIONS).to_numpy() & looks_like_buyer & reviewable
    )
    return RuleOutcome(frame=frame)


def rule_evidence(category: str, facts: pd.Series) -> str:
    """A plain sentence naming the evidence behind one rule hit, for the brief."""
    domain = facts.get("email_domain", "")
    title = facts.get("title", "")
    if category == "competitor":
        return f"Email domain {domain} belongs to a competitor."
    if category == "student":
        if title:
            return f"Academic or student profile: {domain}, title “{title}”."
        return f"Academic email domain {domain}."
    if category == "job_seeker":
        return (
            f"Job-seeker signals: {int(facts.get('job_applications', 0))} job application(s), "
            f"{int(facts.get('careers_views', 0))} careers page visit(s)."
        )
    if category == "existing_customer_support":
        return (
            f"Existing customer with a support need: {int(facts.get('support_requests', 0))} "
            f"support request(s), {int(facts.get('support_views', 0))} support page visit(s)."
        )
    if category == "analyst":
        return f"Industry analyst ({domain}{', ' + title if title else ''})."
    if category == "non_decision_maker":
        return f"Not a decision-maker ({title or 'no title'}) at an existing customer account."
    if category == "spam":
        return f"Looks like spam or a throwaway address ({facts.get('email', '')})."
    if category == "minimum_fit":
        return (
            f"Below minimum fit: company {int(facts.get('fit_company', 0))}/100, "
            f"role {int(facts.get('fit_role', 0))}/100."
        )
    return "Matched a disqualification rule."
