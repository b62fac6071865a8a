"""Writes for overrides: positive rules (from the admin) and managers' per-lead overrides.

Every change writes an AuditEvent in the same transaction. A lead's override takes effect at
once: after the change commits, the lead is re-qualified through `services.leads_qualify`,
whose after-qualify hooks route it. A positive rule's change hands the leads it may concern to
the real-time re-qualification pipeline (`tasks.leads_requalify_enqueue`).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import Account, Lead
from scoring import services
from scoring.audit import audit_record, audit_snapshot
from scoring.models import (
    NEVER_OVERRIDDEN_CATEGORIES,
    AuditAction,
    LeadOverride,
    PositiveRule,
    PositiveRuleKind,
    Qualification,
    RuleCategory,
    Tier,
)
from scoring.override_selectors import lead_overrides_expired

RULE_FIELDS = [
    "name", "kind", "domains", "sources", "outcome", "overrides_disqualifiers", "priority",
    "is_active", "reason",
]  # fmt: skip
OVERRIDE_FIELDS = [
    "lead", "tier", "reason", "set_by", "set_at", "expires_at", "revoked_at", "revoked_by",
    "expired_at",
]  # fmt: skip
SET_PERMISSION = "scoring.add_leadoverride"
REVOKE_PERMISSION = "scoring.change_leadoverride"


# --- positive rules -------------------------------------------------------------------------


def _rule_state(rule: PositiveRule, account_ids: Iterable[int]) -> dict[str, Any]:
    state = audit_snapshot(rule, RULE_FIELDS)
    state["accounts"] = sorted(int(a) for a in account_ids)
    return state


def _clean_list(values: Any) -> list[str]:
    if not values:
        return []
    if isinstance(values, str):
        values = values.replace(",", "\n").splitlines()
    return [str(v).strip().lower().removeprefix("www.") for v in values if str(v).strip()]


def positive_rule_validate(*, rule: PositiveRule, account_ids: Sequence[int]) -> None:
    """A rule that can match something, and beats only what it may. Raises ValidationError
    keyed by field."""
    errors: dict[str, str] = {}
    domains, sources = _clean_list(rule.domains), _clean_list(rule.sources)
    if rule.kind == PositiveRuleKind.VIP_DOMAIN and not domains:
        errors["domains"] = "A VIP domain rule needs at least one email domain (e.g. acme.com)."
    if rule.kind == PositiveRuleKind.NAMED_ACCOUNT and not (domains or account_ids):
        errors["accounts"] = "A named account rule needs at least one account or domain."
    if rule.kind == PositiveRuleKind.PARTNER_REFERRAL and not sources:
        errors["sources"] = "A partner referral rule needs at least one lead source value."
    bad = [d for d in domains if "." not in d or "@" in d or " " in d]
    if bad:
        errors["domains"] = f"Not an email domain: {', '.join(bad)} (write acme.com)."
    categories = [str(c) for c in (rule.overrides_disqualifiers or [])]
    unknown = sorted(set(categories) - set(RuleCategory.values))
    never = sorted(set(categories) & NEVER_OVERRIDDEN_CATEGORIES)
    if unknown:
        errors["overrides_disqualifiers"] = f"Unknown disqualifier: {', '.join(unknown)}."
    elif never:
        errors["overrides_disqualifiers"] = (
            "Competitor and spam disqualifiers cannot be beaten by a positive rule "
            f"({', '.join(never)}); a manager's per-lead override can."
        )
    if not (rule.reason or "").strip():
        errors["reason"] = "Give the reason reps will see on the brief."
    if errors:
        raise ValidationError(errors)


def _rule_leads(state: dict[str, Any]) -> set[int]:
    """The leads a rule in this state may match: by domain, account or source."""
    q = Q()
    for domain in state.get("domains") or []:
        q |= Q(email__iendswith=f"@{domain}") | Q(email__iendswith=f".{domain}")
    if state.get("accounts"):
        q |= Q(account_id__in=state["accounts"])
    if state.get("kind") == PositiveRuleKind.NAMED_ACCOUNT and state.get("domains"):
        q |= Q(account__domain__in=state["domains"])
    for source in state.get("sources") or []:
        q |= Q(source__iexact=source)
    if not q:
        return set()
    return set(Lead.objects.filter(q).values_list("pk", flat=True))


def _requalify_later(lead_ids: set[int]) -> None:
    if not lead_ids:
        return
    from scoring.tasks import leads_requalify_enqueue  # tasks imports services: import late

    ids = sorted(lead_ids)
    # Dirty first, as an ingest marks them: the dirty sweep re-qualifies them even if the
    # broker is down when this commits.
    Lead.objects.filter(pk__in=ids).update(requalify_requested_at=timezone.now())
    transaction.on_commit(functools.partial(leads_requalify_enqueue, ids))


def positive_rule_save(
    *, rule: PositiveRule, user: Any, accounts: Sequence[Account] | None = None, reason: str = ""
) -> PositiveRule:
    """Create or change a positive rule, with its audit row; the leads it matched before or
    matches now are re-qualified through the real-time pipeline once this commits.
    `accounts`: the named accounts (None: keep the rule's)."""
    rule.domains = _clean_list(rule.domains)
    rule.sources = _clean_list(rule.sources)
    rule.overrides_disqualifiers = sorted({str(c) for c in rule.overrides_disqualifiers or []})
    with transaction.atomic():
        before = None
        if rule.pk is not None:
            old = PositiveRule.objects.select_for_update().filter(pk=rule.pk).first()
            if old is not None:
                before = _rule_state(old, old.accounts.values_list("pk", flat=True))
        account_ids = (
            [a.pk for a in accounts]
            if accounts is not None
            else (list(rule.accounts.values_list("pk", flat=True)) if rule.pk else [])
        )
        positive_rule_validate(rule=rule, account_ids=account_ids)
        rule.updated_by = user if getattr(user, "pk", None) else None
        rule.save()
        if accounts is not None:
            rule.accounts.set(accounts)
        after = _rule_state(rule, account_ids)
        if before != after:
            audit_record(
                actor=user,
                action=AuditAction.POSITIVE_RULE_CHANGE
                if before is not None
                else AuditAction.POSITIVE_RULE_CREATE,
                instance=rule,
                before=before,
                after=after,
                reason=reason,
            )
        affected = _rule_leads(after) | (_rule_leads(before) if before else set())
        affected |= set(
            Qualification.objects.filter(positive_rule_id=rule.pk, is_current=True).values_list(
                "lead_id", flat=True
            )
        )
        _requalify_later(affected)
    return rule


def positive_rule_delete(*, rule: PositiveRule, user: Any, reason: str = "") -> None:
    with transaction.atomic():
        before = _rule_state(rule, rule.accounts.values_list("pk", flat=True))
        decided = set(
            Qualification.objects.filter(positive_rule_id=rule.pk, is_current=True).values_list(
                "lead_id", flat=True
            )
        )
        audit_record(
            actor=user,
            action=AuditAction.POSITIVE_RULE_DELETE,
            instance=rule,
            before=before,
            after=None,
            reason=reason,
        )
        rule.delete()
        _requalify_later(decided)


# --- per-lead overrides ---------------------------------------------------------------------


def _check(user: Any, permission: str) -> None:
    if (
        user is None
        or not getattr(user, "is_authenticated", False)
        or not user.has_perm(permission)
    ):
        raise PermissionDenied("Only sales managers can override a lead's qualification.")


def _requalify_now(lead_ids: Sequence[int]) -> None:
    """Re-qualify at once (routing follows through the after-qualify hooks); inside an outer
    transaction the new qualification commits with it."""
    if lead_ids:
        services.leads_qualify(lead_ids=sorted(set(lead_ids)))


def _close(override: LeadOverride, *, user: Any, now: datetime, reason: str, expire: bool) -> None:
    before = audit_snapshot(override, OVERRIDE_FIELDS)
    if expire:
        override.expired_at = now
        override.save(update_fields=["expired_at"])
        action = AuditAction.LEAD_OVERRIDE_EXPIRE
    else:
        override.revoked_at = now
        override.revoked_by = user if getattr(user, "pk", None) else None
        override.save(update_fields=["revoked_at", "revoked_by"])
        action = AuditAction.LEAD_OVERRIDE_REVOKE
    audit_record(
        actor=None if expire else user,
        action=action,
        instance=override,
        before=before,
        after=audit_snapshot(override, OVERRIDE_FIELDS),
        reason=reason,
        at=now,
    )


def lead_override_set(
    *,
    lead: Lead,
    user: Any,
    tier: str,
    reason: str,
    expires_at: datetime | None = None,
    now: datetime | None = None,
) -> LeadOverride:
    """Force the lead's tier (sales managers and superusers), replacing its open override if
    it has one; the lead is re-qualified at once. Raises PermissionDenied, or ValidationError
    keyed by field (a missing reason, an expiry not in the future, an unknown tier)."""
    _check(user, SET_PERMISSION)
    now = now or timezone.now()
    reason = (reason or "").strip()
    errors: dict[str, str] = {}
    if tier not in Tier.values:
        errors["tier"] = f"Unknown tier {tier!r}: choose one of {', '.join(Tier.labels)}."
    if not reason:
        errors["reason"] = (
            "Give a reason: reps see it on the brief, and it is kept in the audit trail."
        )
    if expires_at is not None and expires_at <= now:
        errors["expires_at"] = "The expiry must be in the future (leave it empty for no expiry)."
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        # The lead's row serialises two managers overriding the same lead at once.
        Lead.objects.select_for_update().filter(pk=lead.pk).first()
        for previous in LeadOverride.objects.filter(
            lead_id=lead.pk, revoked_at__isnull=True, expired_at__isnull=True
        ):
            expired = previous.expires_at is not None and previous.expires_at <= now
            _close(
                previous,
                user=user,
                now=now,
                reason="Expired before a new override was set."
                if expired
                else "Replaced by a new override.",
                expire=expired,
            )
        override = LeadOverride.objects.create(
            lead=lead, tier=tier, reason=reason, set_by=user, set_at=now, expires_at=expires_at
        )
        audit_record(
            actor=user,
            action=AuditAction.LEAD_OVERRIDE_SET,
            instance=override,
            before=None,
            after=audit_snapshot(override, OVERRIDE_FIELDS),
            reason=reason,
            at=now,
        )
    _requalify_now([lead.pk])
    return override


def lead_override_revoke(
    *, override: LeadOverride, user: Any, reason: str = "", now: datetime | None = None
) -> LeadOverride:
    """End an open override now; the lead is re-qualified at once (rules and model decide)."""
    _check(user, REVOKE_PERMISSION)
    now = now or timezone.now()
    with transaction.atomic():
        locked = LeadOverride.objects.select_for_update().get(pk=override.pk)
        if not locked.is_open:
            raise ValidationError("This override has already ended.")
        _close(locked, user=user, now=now, reason=(reason or "").strip(), expire=False)
    _requalify_now([locked.lead_id])
    return locked


def lead_overrides_expire(*, now: datetime | None = None, limit: int = 1000) -> int:
    """Close the open overrides past their expiry and re-qualify their leads (the periodic
    task). Safe to run twice: a closed override is not found again. Returns how many."""
    now = now or timezone.now()
    lead_ids: list[int] = []
    with transaction.atomic():
        # skip_locked: an override a manager is revoking right now is theirs to close.
        due = list(lead_overrides_expired(now=now).select_for_update(skip_locked=True)[:limit])
        for override in due:
            _close(override, user=None, now=now, reason="Reached its expiry.", expire=True)
            lead_ids.append(override.lead_id)
    _requalify_now(lead_ids)
    return len(lead_ids)
