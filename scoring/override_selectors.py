"""Reads for overrides: the specs qualification applies, and what the brief and the API show."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.db.models import Q, QuerySet

from accounts.models import Account
from scoring.models import AuditEvent, LeadOverride, PositiveRule, PositiveRuleKind
from scoring.overrides import NEVER_OVERRIDDEN, ManualOverrideSpec, PositiveRuleSpec


def _domains(values: object) -> frozenset[str]:
    if not isinstance(values, list):
        return frozenset()
    return frozenset(str(v).strip().lower().removeprefix("www.") for v in values if str(v).strip())


def positive_rule_spec(rule: PositiveRule, accounts: Sequence[Account]) -> PositiveRuleSpec:
    """The rule as the engine applies it. A named account listed by domain is also matched
    through its leads' account (a lead whose email is at another domain of that account)."""
    domains = _domains(rule.domains)
    chosen = list(accounts)
    if rule.kind == PositiveRuleKind.NAMED_ACCOUNT and domains:
        chosen += list(Account.objects.filter(domain__in=sorted(domains)))
    return PositiveRuleSpec(
        rule_id=rule.pk,
        name=rule.name,
        kind=rule.kind,
        priority=rule.priority,
        domains=domains,
        account_ids=frozenset(a.pk for a in chosen),
        account_names={a.pk: a.name for a in chosen},
        sources=frozenset(str(v).strip().lower() for v in (rule.sources or []) if str(v).strip()),
        overrides=frozenset(str(c) for c in (rule.overrides_disqualifiers or []))
        - NEVER_OVERRIDDEN,
        outcome=rule.outcome,
    )


def positive_rules_active() -> list[PositiveRuleSpec]:
    rules = PositiveRule.objects.filter(is_active=True).prefetch_related("accounts")
    return [positive_rule_spec(rule, list(rule.accounts.all())) for rule in rules]


def _open() -> Q:
    return Q(revoked_at__isnull=True, expired_at__isnull=True)


def manual_overrides_open(
    *, lead_ids: Sequence[int], now: datetime
) -> dict[int, ManualOverrideSpec]:
    """The overrides that apply to these leads at `now`: open and not past their expiry (an
    expired one no longer applies even before the expiry task has closed it)."""
    if not lead_ids:
        return {}
    rows = (
        LeadOverride.objects.filter(_open(), lead_id__in=list(lead_ids))
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .values_list("pk", "lead_id", "tier", "reason")
    )
    return {
        lead_id: ManualOverrideSpec(override_id=pk, tier=tier, reason=reason)
        for pk, lead_id, tier, reason in rows
    }


def lead_override_open(*, lead_id: int) -> LeadOverride | None:
    """The lead's open override (it may have passed its expiry; see `LeadOverride.state`)."""
    return LeadOverride.objects.filter(_open(), lead_id=lead_id).select_related("set_by").first()


def lead_override_active(*, lead_id: int, now: datetime) -> LeadOverride | None:
    """The override that applies to the lead at `now`, if any."""
    found = lead_override_open(lead_id=lead_id)
    return found if found is not None and found.applies_at(now) else None


def lead_overrides_history(*, lead_id: int, limit: int = 20) -> list[LeadOverride]:
    return list(
        LeadOverride.objects.filter(lead_id=lead_id)
        .select_related("set_by", "revoked_by")
        .order_by("-set_at", "-pk")[:limit]
    )


def lead_overrides_expired(*, now: datetime) -> QuerySet[LeadOverride]:
    """Open overrides past their expiry, oldest first (leadoverride_expiry_idx)."""
    return LeadOverride.objects.filter(_open(), expires_at__lte=now).order_by("expires_at", "pk")


def audit_events_for(
    *, object_type: str, object_id: int | str, limit: int = 50
) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.filter(object_type=object_type, object_id=str(object_id))
        .select_related("actor")
        .order_by("-at", "-pk")[:limit]
    )
