"""Overrides in qualification: positive rules of each kind, their order against the
disqualifiers and the model, and managers' per-lead overrides (set, revoke, expire)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from accounts.models import Lead
from scoring import services
from scoring.models import (
    AuditAction,
    AuditEvent,
    LeadOverride,
    PositiveRule,
    PositiveRuleKind,
    Qualification,
    RuleCategory,
    Tier,
)
from scoring.override_services import (
    lead_override_revoke,
    lead_override_set,
    lead_overrides_expire,
    positive_rule_delete,
    positive_rule_save,
)
from scoring.tasks import lead_overrides_expire_task
from tests.factories import AccountFactory, DisqualificationRuleFactory, LeadFactory

pytestmark = pytest.mark.django_db


def _state(value: object) -> dict[str, Any]:
    assert isinstance(value, dict)
    return value


def _current(lead: Lead) -> Qualification:
    return Qualification.objects.get(lead=lead, is_current=True)


def _rule(user: User | None = None, **fields: object) -> PositiveRule:
    fields.setdefault("name", "VIPs")
    fields.setdefault("kind", PositiveRuleKind.VIP_DOMAIN)
    fields.setdefault("reason", "Strategic customer: call within the hour")
    accounts = fields.pop("accounts", None)
    return positive_rule_save(rule=PositiveRule(**fields), user=user, accounts=accounts)  # type: ignore[arg-type]


def test_without_overrides_a_quiet_lead_is_not_sales_ready() -> None:
    lead = LeadFactory(email="kim@acme.com")
    q = services.lead_qualify(lead_id=lead.pk)
    assert q.tier != Tier.SALES_READY
    assert q.positive_rule_id is None and q.override_reason == ""


def test_a_vip_domain_lifts_a_lead_and_its_subdomains_to_sales_ready() -> None:
    rule = _rule(domains=["Acme.com"])
    vip, sub, other = (
        LeadFactory(email="kim@acme.com"),
        LeadFactory(email="lou@eu.acme.com"),
        LeadFactory(email="max@notacme.com"),
    )
    services.leads_qualify(lead_ids=[vip.pk, sub.pk, other.pk])
    assert _current(vip).tier == Tier.SALES_READY
    assert _current(vip).positive_rule_id == rule.pk
    assert _current(vip).override_reason == "VIP domain acme.com"
    assert _current(sub).override_reason == "VIP domain eu.acme.com"
    assert _current(other).tier != Tier.SALES_READY
    assert _current(other).positive_rule_id is None


def test_a_named_account_matches_by_account_and_by_domain() -> None:
    globex = AccountFactory(name="Globex", domain="globex.com")
    initech = AccountFactory(name="Initech", domain="initech.com")
    rule = _rule(kind=PositiveRuleKind.NAMED_ACCOUNT, accounts=[globex], domains=["initech.com"])
    at_globex = LeadFactory(email="a@gmail.com", account=globex)
    at_initech = LeadFactory(email="b@initech.com", account=initech)
    services.leads_qualify(lead_ids=[at_globex.pk, at_initech.pk])
    assert _current(at_globex).positive_rule_id == rule.pk
    assert _current(at_globex).override_reason == "Named account Globex"
    assert _current(at_initech).tier == Tier.SALES_READY
    assert _current(at_initech).override_reason.startswith("Named account")


def test_a_partner_referral_matches_its_source_values_without_regard_to_case() -> None:
    rule = _rule(kind=PositiveRuleKind.PARTNER_REFERRAL, sources=["partner_referral"])
    referred = LeadFactory(email="c@example.org", source="Partner_Referral")
    organic = LeadFactory(email="d@example.org", source="webinar")
    services.leads_qualify(lead_ids=[referred.pk, organic.pk])
    assert _current(referred).positive_rule_id == rule.pk
    assert _current(referred).override_reason == "Partner referral (source Partner_Referral)"
    assert _current(organic).positive_rule_id is None


def test_an_inactive_rule_does_nothing() -> None:
    _rule(domains=["acme.com"], is_active=False)
    lead = LeadFactory(email="kim@acme.com")
    assert services.lead_qualify(lead_id=lead.pk).positive_rule_id is None


def test_a_vip_domain_beats_below_minimum_fit_but_not_a_competitor_rule() -> None:
    DisqualificationRuleFactory(
        category=RuleCategory.MINIMUM_FIT, reason_code="min_fit", priority=50,
        parameters={"min_company_fit": 101},
    )  # fmt: skip
    DisqualificationRuleFactory(
        category=RuleCategory.COMPETITOR, reason_code="competitor", priority=10,
        parameters={"domains": ["rival.com"]},
    )  # fmt: skip
    _rule(domains=["acme.com", "rival.com"])
    vip = LeadFactory(email="kim@acme.com")
    rival = LeadFactory(email="spy@rival.com")
    services.leads_qualify(lead_ids=[vip.pk, rival.pk])
    assert _current(vip).tier == Tier.SALES_READY
    assert _current(vip).disqualification_reason == ""
    assert _current(vip).overridden_disqualification == "min_fit"
    assert _current(rival).tier == Tier.DISQUALIFY
    assert _current(rival).disqualification_reason == "competitor"
    assert _current(rival).positive_rule_id is None


def test_a_disqualifier_the_rule_does_not_tick_wins_and_the_next_rule_is_tried() -> None:
    DisqualificationRuleFactory(
        category=RuleCategory.STUDENT, reason_code="student",
        parameters={"domain_suffixes": [".edu"]},
    )  # fmt: skip
    _rule(name="a strict", priority=1, domains=["mit.edu"], overrides_disqualifiers=[])
    lenient = _rule(
        name="b lenient", priority=2, domains=["mit.edu"], overrides_disqualifiers=["student"]
    )
    lead = LeadFactory(email="prof@mit.edu")
    q = services.lead_qualify(lead_id=lead.pk)
    assert q.positive_rule_id == lenient.pk
    assert q.overridden_disqualification == "student"


def test_a_rule_cannot_be_set_to_beat_competitor_or_spam() -> None:
    with pytest.raises(ValidationError) as caught:
        _rule(domains=["acme.com"], overrides_disqualifiers=["competitor"])
    assert "overrides_disqualifiers" in caught.value.message_dict


def test_a_vip_rule_without_domains_is_refused_with_the_field() -> None:
    with pytest.raises(ValidationError) as caught:
        _rule(domains=[])
    assert "domains" in caught.value.message_dict


def test_positive_rule_changes_are_audited_with_before_and_after(manager_user: User) -> None:
    rule = _rule(manager_user, domains=["acme.com"])
    rule.domains = ["acme.com", "globex.com"]
    positive_rule_save(rule=rule, user=manager_user)
    positive_rule_delete(rule=rule, user=manager_user)
    events = list(AuditEvent.objects.order_by("at", "pk"))
    assert [e.action for e in events] == [
        AuditAction.POSITIVE_RULE_CREATE, AuditAction.POSITIVE_RULE_CHANGE,
        AuditAction.POSITIVE_RULE_DELETE,
    ]  # fmt: skip
    assert events[0].before is None and _state(events[0].after)["domains"] == ["acme.com"]
    assert _state(events[1].before)["domains"] == ["acme.com"]
    assert _state(events[1].after)["domains"] == ["acme.com", "globex.com"]
    assert events[2].after is None and events[2].actor == manager_user


# --- manual overrides -------------------------------------------------------------------------


def test_a_manager_forces_a_lead_to_sales_ready_over_a_competitor_rule(
    manager_user: User,
) -> None:
    DisqualificationRuleFactory(
        category=RuleCategory.COMPETITOR, reason_code="competitor",
        parameters={"domains": ["rival.com"]},
    )  # fmt: skip
    lead = LeadFactory(email="buyer@rival.com")
    assert services.lead_qualify(lead_id=lead.pk).tier == Tier.DISQUALIFY
    override = lead_override_set(
        lead=lead, user=manager_user, tier=Tier.SALES_READY, reason="Met at the conference"
    )
    q = _current(lead)
    assert q.tier == Tier.SALES_READY
    assert q.lead_override_id == override.pk
    assert q.override_reason == "Met at the conference"
    assert q.disqualification_reason == "" and q.overridden_disqualification == "competitor"
    event = AuditEvent.objects.get(action=AuditAction.LEAD_OVERRIDE_SET)
    assert event.actor == manager_user and _state(event.after)["tier"] == "sales_ready"
    assert event.object_id == str(override.pk)


def test_a_manual_override_beats_a_positive_rule(manager_user: User) -> None:
    _rule(domains=["acme.com"])
    lead = LeadFactory(email="kim@acme.com")
    lead_override_set(lead=lead, user=manager_user, tier=Tier.NURTURE, reason="Not this year")
    q = _current(lead)
    assert q.tier == Tier.NURTURE and q.positive_rule_id is None


def test_an_sdr_cannot_set_an_override(sdr_user: User) -> None:
    lead = LeadFactory()
    with pytest.raises(PermissionDenied):
        lead_override_set(lead=lead, user=sdr_user, tier=Tier.SALES_READY, reason="Please")
    assert not LeadOverride.objects.exists() and not AuditEvent.objects.exists()


def test_a_missing_reason_and_a_past_expiry_are_refused_by_field(manager_user: User) -> None:
    lead = LeadFactory()
    with pytest.raises(ValidationError) as caught:
        lead_override_set(
            lead=lead, user=manager_user, tier=Tier.SALES_READY, reason="  ",
            expires_at=timezone.now() - timedelta(days=1),
        )  # fmt: skip
    assert set(caught.value.message_dict) == {"reason", "expires_at"}
    assert not LeadOverride.objects.exists()


def test_a_new_override_replaces_the_open_one(manager_user: User) -> None:
    lead = LeadFactory()
    first = lead_override_set(lead=lead, user=manager_user, tier=Tier.NURTURE, reason="one")
    second = lead_override_set(lead=lead, user=manager_user, tier=Tier.SALES_READY, reason="two")
    first.refresh_from_db()
    assert first.revoked_at is not None and second.is_open
    assert _current(lead).lead_override_id == second.pk


def test_revoking_requalifies_the_lead_at_once(manager_user: User) -> None:
    lead = LeadFactory()
    override = lead_override_set(lead=lead, user=manager_user, tier=Tier.SALES_READY, reason="x")
    lead_override_revoke(override=override, user=manager_user, reason="Changed my mind")
    q = _current(lead)
    assert q.tier != Tier.SALES_READY and q.lead_override_id is None
    event = AuditEvent.objects.get(action=AuditAction.LEAD_OVERRIDE_REVOKE)
    assert (
        _state(event.before)["revoked_at"] is None and _state(event.after)["revoked_at"] is not None
    )
    assert event.reason == "Changed my mind"
    with pytest.raises(ValidationError):
        lead_override_revoke(override=override, user=manager_user)


def test_an_expired_override_stops_applying_even_before_the_task_runs(manager_user: User) -> None:
    lead = LeadFactory()
    now = timezone.now()
    lead_override_set(
        lead=lead, user=manager_user, tier=Tier.SALES_READY, reason="x",
        expires_at=now + timedelta(hours=1), now=now,
    )  # fmt: skip
    assert _current(lead).tier == Tier.SALES_READY
    later = services.lead_qualify(lead_id=lead.pk, now=now + timedelta(hours=2))
    assert later.tier != Tier.SALES_READY and later.lead_override_id is None


def test_the_expiry_task_closes_expired_overrides_and_requalifies(manager_user: User) -> None:
    lead, other = LeadFactory(), LeadFactory()
    now = timezone.now()
    expiring = lead_override_set(
        lead=lead, user=manager_user, tier=Tier.SALES_READY, reason="x",
        expires_at=now + timedelta(minutes=5), now=now,
    )  # fmt: skip
    lasting = lead_override_set(lead=other, user=manager_user, tier=Tier.SALES_READY, reason="y")
    LeadOverride.objects.filter(pk=expiring.pk).update(expires_at=now - timedelta(minutes=1))
    assert lead_overrides_expire_task.delay().get() == 1
    expiring.refresh_from_db()
    assert expiring.expired_at is not None
    assert _current(lead).tier != Tier.SALES_READY
    assert _current(other).lead_override_id == lasting.pk
    event = AuditEvent.objects.get(action=AuditAction.LEAD_OVERRIDE_EXPIRE)
    assert event.actor is None and _state(event.after)["expired_at"] is not None
    # Safe to run twice.
    assert lead_overrides_expire() == 0


@pytest.mark.postgres
def test_overrides_are_stored_through_the_postgres_copy_path(manager_user: User) -> None:
    rule = _rule(domains=["acme.com"])
    leads = [LeadFactory(email=f"p{i}@acme.com") for i in range(3)] + [LeadFactory()]
    forced = leads[-1]
    override = lead_override_set(lead=forced, user=manager_user, tier=Tier.SALES_READY,
                                 reason="Board member\tintro")  # fmt: skip
    services.leads_qualify(lead_ids=[lead.pk for lead in leads], chunk_size=2, pipeline=True)
    for lead in leads[:3]:
        assert _current(lead).positive_rule_id == rule.pk
    assert _current(forced).lead_override_id == override.pk
    assert _current(forced).override_reason == "Board member\tintro"
