"""Fixtures for the web front's tests: fast password hashing and small worlds built with the ORM."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from accounts.models import Account, Lead, LeadStatus, Touchpoint, TouchpointKind
from dashboards.services import demo_users_ensure
from routing.models import Assignment, SalesRep
from scoring.models import Confidence, Qualification, Tier


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> Iterator[None]:
    # The real hasher costs a fraction of a second per check by design; tests log in a lot.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    yield


@pytest.fixture
def demo_users(db: None) -> dict[str, User]:
    demo_users_ensure()
    return {
        user.username: user
        for user in User.objects.filter(username__in=["sdr", "manager", "revops", "admin"])
    }


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def leads_with_assignments(*, count: int, rep: SalesRep, start: int = 0) -> list[Lead]:
    """`count` leads at one account, each qualified Sales Ready and assigned open to `rep`."""
    now = timezone.now()
    account, _ = Account.objects.get_or_create(domain="acme.com", defaults={"name": "Acme"})
    leads = []
    for i in range(start, start + count):
        lead = Lead.objects.create(
            account=account,
            email=f"buyer{i}@acme.com",
            name=f"Buyer {i}",
            status=LeadStatus.WORKING if i % 2 else LeadStatus.NEW,
        )
        Touchpoint.objects.create(
            lead=lead, kind=TouchpointKind.PAGE_VIEW, occurred_at=now, external_id=f"tp-{i}"
        )
        Qualification.objects.create(
            lead=lead, tier=Tier.SALES_READY, confidence=Confidence.HIGH, conversion_probability=0.8
        )
        Assignment.objects.create(
            lead=lead,
            rep=rep,
            tier=Tier.SALES_READY,
            reason="Territory rule",
            sla_due_at=now + timedelta(hours=4) if i % 3 else now - timedelta(hours=1),
        )
        leads.append(lead)
    return leads
