"""Overrides: positive rules and managers' per-lead decisions. Pure and vectorised.

Runs after the disqualifiers and the model have given each lead a tier (`decision.decide_tiers`)
and decides, per lead, whether something overrides that tier. The order (docs/overrides.md):

1. A sales manager's manual override (open, not past its expiry) is the last word: it forces
   its tier over every rule and the model. A person decided, with a reason, and it is audited.
2. Competitor and spam disqualifiers (`NEVER_OVERRIDDEN`): nothing but a manual override
   beats them.
3. Positive rules, by priority (lower first): the first rule that matches the lead *and* may
   beat the disqualifier that matched it (if one did: the rule's `overrides` categories) lifts
   the lead to Sales Ready. A disqualifier the rule may not beat wins, and the next rule is
   tried.
4. Otherwise the disqualifiers, then the model's tier, as before.

A lead an override decided carries no disqualification reason (routing reads the tier, not a
rule it would otherwise send the lead on a path for); the beaten rule's reason code is kept in
`overridden` for the brief.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

VIP_DOMAIN = "vip_domain"
NAMED_ACCOUNT = "named_account"
PARTNER_REFERRAL = "partner_referral"
SALES_READY = "sales_ready"
NEVER_OVERRIDDEN = frozenset({"competitor", "spam"})


@dataclass(frozen=True)
class PositiveRuleSpec:
    rule_id: int
    name: str
    kind: str
    priority: int = 100
    # Lower case; a subdomain of a listed domain matches too.
    domains: frozenset[str] = frozenset()
    # Named account: the accounts chosen, and those whose own domain is listed.
    account_ids: frozenset[int] = frozenset()
    account_names: Mapping[int, str] = field(default_factory=dict)
    # Lower case.
    sources: frozenset[str] = frozenset()
    # Disqualifier categories this rule beats (never competitor or spam).
    overrides: frozenset[str] = frozenset({"minimum_fit"})
    outcome: str = SALES_READY


@dataclass(frozen=True)
class ManualOverrideSpec:
    override_id: int
    tier: str
    reason: str


@dataclass
class OverrideOutcome:
    """Per lead, in the order of the frame the tiers came with."""

    tier: np.ndarray
    # True where an override (a rule or a manager) decided.
    decided: np.ndarray
    positive_rule_id: list[int | None]
    lead_override_id: list[int | None]
    reason: np.ndarray
    # The disqualification reason code the override beat ("" where none matched).
    overridden: np.ndarray


def _text(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame.columns:
        return pd.Series("", index=frame.index, dtype=object)
    return frame[column].fillna("").astype(str).str.lower()


def _domain_match(domains: pd.Series, wanted: frozenset[str]) -> pd.Series:
    """The listed domains, and their subdomains (eu.acme.com for acme.com), matched once per
    distinct domain: a batch has thousands of leads but far fewer domains."""
    if not wanted:
        return pd.Series(False, index=domains.index)
    codes, uniques = pd.factorize(domains)
    if len(uniques) == 0:
        return pd.Series(False, index=domains.index)
    distinct = pd.Series(np.asarray(uniques, dtype=object))
    hit = distinct.isin(wanted).to_numpy(dtype=bool, copy=True)
    for suffix in wanted:
        hit |= distinct.str.endswith("." + suffix).to_numpy()
    return pd.Series(np.where(codes >= 0, hit[codes], False), index=domains.index)


def rule_match(rule: PositiveRuleSpec, leads: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Which leads the rule matches, and the evidence for each ("VIP domain acme.com").

    `leads`: email_domain, account_id and source per lead (index lead_id).
    """
    domain = _text(leads, "email_domain")
    empty = pd.Series("", index=leads.index, dtype=object)
    if rule.kind == VIP_DOMAIN:
        mask = _domain_match(domain, rule.domains)
        return mask, ("VIP domain " + domain).where(mask, "")
    if rule.kind == NAMED_ACCOUNT:
        account = pd.to_numeric(leads.get("account_id"), errors="coerce")
        by_account = (
            account.isin(list(rule.account_ids))
            if rule.account_ids and account is not None
            else pd.Series(False, index=leads.index)
        )
        by_domain = _domain_match(domain, rule.domains) & ~by_account
        names = (
            account.map(lambda a: rule.account_names.get(int(a), "") if a == a else "")
            if rule.account_ids
            else empty
        )
        evidence = empty.copy()
        evidence[by_account] = "Named account " + names[by_account].astype(str)
        evidence[by_domain] = "Named account domain " + domain[by_domain]
        return by_account | by_domain, evidence
    if rule.kind == PARTNER_REFERRAL:
        source = _text(leads, "source").str.strip()
        mask = (
            source.isin(list(rule.sources)) if rule.sources else pd.Series(False, index=leads.index)
        )
        original = leads["source"].fillna("").astype(str) if "source" in leads else empty
        return mask, ("Partner referral (source " + original + ")").where(mask, "")
    return pd.Series(False, index=leads.index), empty


def apply_overrides(
    *,
    tier: np.ndarray,
    leads: pd.DataFrame,
    rule_category: np.ndarray,
    rule_reason: np.ndarray,
    positive_rules: Sequence[PositiveRuleSpec],
    manual: Mapping[int, ManualOverrideSpec],
) -> OverrideOutcome:
    """The tiers after overrides (see the module's docstring for the order).

    `tier`, `rule_category`, `rule_reason`: per lead, in the order of `leads.index` (lead ids).
    """
    n = len(leads)
    tier = np.asarray(tier, dtype=object).copy()
    category = np.asarray(rule_category, dtype=object)
    reason_code = np.asarray(rule_reason, dtype=object)
    decided = np.zeros(n, dtype=bool)
    reason = np.full(n, "", dtype=object)
    rule_ids: list[int | None] = [None] * n
    override_ids: list[int | None] = [None] * n

    if manual:
        ids = leads.index.tolist()
        for position, lead_id in enumerate(ids):
            spec = manual.get(int(lead_id))
            if spec is None:
                continue
            tier[position] = spec.tier
            reason[position] = spec.reason
            override_ids[position] = spec.override_id
            decided[position] = True

    if positive_rules and not decided.all():
        for rule in sorted(positive_rules, key=lambda r: (r.priority, r.name, r.rule_id)):
            beatable = (category == "") | np.isin(category, list(rule.overrides - NEVER_OVERRIDDEN))
            open_ = ~decided & beatable
            if not open_.any():
                continue
            mask, evidence = rule_match(rule, leads)
            hit = mask.to_numpy(dtype=bool) & open_
            if not hit.any():
                continue
            tier[hit] = rule.outcome
            reason[hit] = evidence.to_numpy(dtype=object)[hit]
            for position in np.flatnonzero(hit).tolist():
                rule_ids[position] = rule.rule_id
            decided |= hit

    overridden = np.where(decided, reason_code, "").astype(object)
    return OverrideOutcome(
        tier=tier,
        decided=decided,
        positive_rule_id=rule_ids,
        lead_override_id=override_ids,
        reason=reason,
        overridden=overridden,
    )
