"""Salesforce Users become sales reps: the User pull handler against the loopback org."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model

from accounts.salesforce.client import SalesforceClient
from accounts.salesforce.loopback import INTEGRATION_USERNAME, LoopbackServer
from routing.models import SalesRep
from routing.salesforce_users import SalesforceUserHandler
from tests.factories import SalesRepFactory, UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

User = get_user_model()


def org_users(client: SalesforceClient, handler: SalesforceUserHandler) -> list[dict[str, Any]]:
    return list(client.query(f"SELECT {', '.join(handler.fields)} FROM User ORDER BY Username"))


def handler() -> SalesforceUserHandler:
    return SalesforceUserHandler(integration_username=INTEGRATION_USERNAME)


def test_new_salesforce_users_become_inactive_reps_with_login_less_users(
    sf_server: LoopbackServer, sf_client: SalesforceClient
) -> None:
    sam_id = sf_server.add_user(
        "sam.rivera@acme.example", password="x", FirstName="Sam", LastName="Rivera"
    )
    h = handler()

    counts = h.apply(org_users(sf_client, h), dry_run=False)

    rep = SalesRep.objects.select_related("user").get(salesforce_user_id=sam_id)
    assert rep.is_active is False
    assert (rep.user.username, rep.user.email) == (
        "sam.rivera@acme.example",
        "sam.rivera@acme.example",
    )
    assert (rep.user.first_name, rep.user.last_name) == ("Sam", "Rivera")
    assert not rep.user.has_usable_password()
    # The org's admin user is a person too; the integration user is not.
    assert counts.created == 2 and counts.skipped == 1
    assert not SalesRep.objects.filter(user__username=INTEGRATION_USERNAME).exists()


def test_a_user_is_linked_to_the_existing_rep_with_the_same_email(
    sf_server: LoopbackServer, sf_client: SalesforceClient
) -> None:
    existing: SalesRep = SalesRepFactory(
        user=UserFactory(email="Sam.Rivera@Acme.example"), max_open_leads=30
    )
    sam_id = sf_server.add_user("sam.rivera@acme.example", password="x")
    h = handler()

    counts = h.apply(org_users(sf_client, h), dry_run=False)

    existing.refresh_from_db()
    assert existing.salesforce_user_id == sam_id
    assert (existing.is_active, existing.max_open_leads) == (True, 30)
    assert counts.updated == 1
    assert SalesRep.objects.filter(user__email__iexact="sam.rivera@acme.example").count() == 1


def test_a_user_with_a_django_account_but_no_rep_gets_a_rep(
    sf_server: LoopbackServer, sf_client: SalesforceClient
) -> None:
    user = UserFactory(email="alex@acme.example")
    alex_id = sf_server.add_user("alex@acme.example", password="x")
    h = handler()

    h.apply(org_users(sf_client, h), dry_run=False)

    assert SalesRep.objects.get(user=user).salesforce_user_id == alex_id


def test_a_second_pull_changes_nothing_and_a_deactivated_user_deactivates_the_rep(
    sf_server: LoopbackServer, sf_client: SalesforceClient
) -> None:
    sam_id = sf_server.add_user("sam@acme.example", password="x")
    h = SalesforceUserHandler(integration_username=INTEGRATION_USERNAME, new_reps_active=True)
    h.apply(org_users(sf_client, h), dry_run=False)
    assert SalesRep.objects.get(salesforce_user_id=sam_id).is_active is True

    again = h.apply(org_users(sf_client, h), dry_run=False)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)

    sf_client.update("User", sam_id, {"IsActive": False})
    after = h.apply(org_users(sf_client, h), dry_run=False)
    assert after.updated == 1
    assert SalesRep.objects.get(salesforce_user_id=sam_id).is_active is False


def test_dry_run_counts_without_writing(
    sf_server: LoopbackServer, sf_client: SalesforceClient
) -> None:
    sf_server.add_user("sam@acme.example", password="x")
    h = handler()
    users_before = User.objects.count()

    counts = h.apply(org_users(sf_client, h), dry_run=True)

    assert counts.created == 2
    assert User.objects.count() == users_before
    assert not SalesRep.objects.exists()


def test_an_ambiguous_email_or_a_taken_username_is_an_error_not_a_guess(
    sf_server: LoopbackServer, sf_client: SalesforceClient
) -> None:
    UserFactory(email="shared@acme.example")
    UserFactory(email="shared@acme.example")
    UserFactory(username="taken@acme.example", email="someone.else@acme.example")
    sf_server.add_user("shared@acme.example", password="x")
    sf_server.add_user("taken@acme.example", password="x")
    h = handler()

    counts = h.apply(org_users(sf_client, h), dry_run=False)

    messages = sorted(e["message"] for e in counts.errors)
    assert messages == [
        "2 users have the email shared@acme.example: link one by hand",
        "the username taken@acme.example belongs to a user with another email",
    ]
    assert (
        not SalesRep.objects.filter(salesforce_user_id__isnull=False)
        .exclude(user__username="admin@loopback.example.com")
        .exists()
    )


def test_inactive_users_without_a_rep_are_skipped_and_deleted_users_deactivate_reps(
    sf_server: LoopbackServer, sf_client: SalesforceClient
) -> None:
    sf_server.add_user("gone@acme.example", password="x", IsActive=False)
    kept: SalesRep = SalesRepFactory(salesforce_user_id="005000000000009AAA")
    h = handler()

    counts = h.apply(org_users(sf_client, h), dry_run=False)
    assert not SalesRep.objects.filter(user__email="gone@acme.example").exists()
    assert counts.skipped == 2  # the integration user and the inactive one

    assert h.delete(["005000000000009AAA"], dry_run=True) == 1
    assert h.delete(["005000000000009AAA"], dry_run=False) == 1
    kept.refresh_from_db()
    assert kept.is_active is False
