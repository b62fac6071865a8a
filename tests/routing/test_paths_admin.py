"""A sales manager configures each alternative path's destination in the admin: clear errors for
what a kind lacks, the list says which paths have none, and the webhook log can be re-sent."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from routing.models import (
    ALTERNATIVE_PATHS,
    PathDestination,
    PathDestinationKind,
    Queue,
    WebhookDelivery,
    WebhookDeliveryStatus,
)
from tests.conftest import ROLE_MANAGER, ROLE_REVOPS, user_in_role
from tests.factories import AssignmentFactory, UserFactory

pytestmark = pytest.mark.django_db

ADD = reverse("admin:routing_pathdestination_add")
LIST = reverse("admin:routing_pathdestination_changelist")
VALID_QUEUE = "00G5g0000001AbCEAU"


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def manager() -> Client:
    return client_for(user_in_role(ROLE_MANAGER, username="morgan", is_staff=True))


def form(**fields: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "path": Queue.COMMUNITY,
        "kind": PathDestinationKind.TEAM,
        "salesforce_owner_id": "",
        "webhook_url": "",
        "webhook_secret": "s" * 32,
        "webhook_timeout_seconds": "10",
        "notes": "",
    }
    data.update(fields)
    return data


def errors(response: Any) -> dict[str, list[str]]:
    assert response.status_code == 200, "the form was accepted"
    found: dict[str, list[str]] = response.context["adminform"].form.errors
    return found


def test_a_manager_gives_the_community_path_a_team(manager: Client) -> None:
    ana = UserFactory(first_name="Ana", last_name="Ruiz")
    ben = UserFactory(first_name="Ben", last_name="Ode")

    response = manager.post(ADD, form(members=[ana.pk, ben.pk]))

    assert response.status_code == 302
    destination = PathDestination.objects.get(path=Queue.COMMUNITY)
    assert set(destination.members.all()) == {ana, ben}
    assert "Team: Ana Ruiz, Ben Ode" in manager.get(LIST).content.decode()


def test_a_team_needs_members(manager: Client) -> None:
    response = manager.post(ADD, form())

    assert errors(response)["members"] == [
        "A team destination needs at least one member: the people who will see this path's "
        "page and mark its leads handled."
    ]
    assert not PathDestination.objects.exists()


@pytest.mark.parametrize(
    ("owner", "message"),
    [
        ("", "A Salesforce destination needs the Id of the queue (00G…) or user (005…)"),
        ("00G-not-an-id", "is not a Salesforce Id: 15 or 18 letters and digits"),
        ("0015g000001AbCdEAK", "starts with 001: a lead's owner is a queue (00G…) or a user"),
        ("00G5g0000001AbCZZZ", "is not a valid 18-character Id"),
    ],
)
def test_a_salesforce_destination_says_what_is_wrong_with_its_owner(
    manager: Client, owner: str, message: str
) -> None:
    response = manager.post(
        ADD, form(kind=PathDestinationKind.SALESFORCE, salesforce_owner_id=owner)
    )

    (error,) = errors(response)["salesforce_owner_id"]
    assert message in error


def test_a_salesforce_owner_given_in_15_characters_is_stored_as_the_api_returns_it(
    manager: Client,
) -> None:
    response = manager.post(
        ADD, form(kind=PathDestinationKind.SALESFORCE, salesforce_owner_id=VALID_QUEUE[:15])
    )

    assert response.status_code == 302
    assert PathDestination.objects.get().salesforce_owner_id == VALID_QUEUE


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"webhook_url": ""}, "webhook_url", "A webhook destination needs the URL to POST to."),
        ({"webhook_url": "ftp://hooks.example.com/x"}, "webhook_url", "Enter a valid URL."),
        ({"webhook_secret": "short"}, "webhook_secret", "needs at least 16 characters"),
        ({"webhook_timeout_seconds": "120"}, "webhook_timeout_seconds", "Between 1 and 60"),
    ],
)
def test_a_webhook_destination_says_what_it_lacks(
    manager: Client, fields: dict[str, str], field: str, message: str
) -> None:
    data = form(kind=PathDestinationKind.WEBHOOK, webhook_url="https://hooks.example.com/lq")
    data.update(fields)

    response = manager.post(ADD, data)

    assert any(message in error for error in errors(response)[field]), errors(response)


def test_a_new_webhook_destination_comes_with_a_generated_secret(manager: Client) -> None:
    page = manager.get(ADD).content.decode()
    assert 'name="webhook_secret"' in page
    secret = PathDestination._meta.get_field("webhook_secret").get_default()
    assert (
        len(secret) >= 32
        and secret != PathDestination._meta.get_field("webhook_secret").get_default()
    )


def test_a_path_has_one_destination(manager: Client) -> None:
    PathDestination.objects.create(
        path=Queue.COMMUNITY, kind=PathDestinationKind.SALESFORCE, salesforce_owner_id=VALID_QUEUE
    )

    response = manager.post(
        ADD, form(kind=PathDestinationKind.SALESFORCE, salesforce_owner_id=VALID_QUEUE)
    )

    assert "already exists" in errors(response)["path"][0]


def test_the_list_says_which_paths_have_no_destination_and_keep_their_leads_unowned(
    manager: Client,
) -> None:
    PathDestination.objects.create(
        path=Queue.SUCCESS, kind=PathDestinationKind.SALESFORCE, salesforce_owner_id=VALID_QUEUE
    )

    html = manager.get(LIST).content.decode()

    assert (
        "No destination yet: Support, Community, Marketing nurture, Low-priority pool. Leads on "
        "those paths wait in the queue, unowned, as before" in html
    )
    for path in ALTERNATIVE_PATHS:
        PathDestination.objects.get_or_create(
            path=path,
            defaults={"kind": PathDestinationKind.SALESFORCE, "salesforce_owner_id": VALID_QUEUE},
        )
    assert "No destination yet" not in manager.get(LIST).content.decode()


def test_revops_reads_the_destinations_but_does_not_change_them() -> None:
    revops = client_for(user_in_role(ROLE_REVOPS, username="riley", is_staff=True))
    destination = PathDestination.objects.create(
        path=Queue.SUCCESS, kind=PathDestinationKind.SALESFORCE, salesforce_owner_id=VALID_QUEUE
    )

    assert revops.get(LIST).status_code == 200
    page = revops.get(reverse("admin:routing_pathdestination_change", args=[destination.pk]))
    html = page.content.decode()
    assert page.status_code == 200 and 'name="_save"' not in html
    # The signing secret is for those who may change the destination.
    assert destination.webhook_secret not in html and "shown to those who may change it" in html
    assert revops.post(ADD, form(path=Queue.SUPPORT, kind="salesforce")).status_code == 403


def test_a_manager_sends_failed_deliveries_again_and_only_those(
    manager: Client, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    failed = WebhookDelivery.objects.create(
        assignment=AssignmentFactory(queue=Queue.COMMUNITY),
        path=Queue.COMMUNITY,
        status=WebhookDeliveryStatus.FAILED,
        attempts=3,
        last_status_code=410,
    )
    delivered = WebhookDelivery.objects.create(
        assignment=AssignmentFactory(queue=Queue.COMMUNITY),
        path=Queue.COMMUNITY,
        status=WebhookDeliveryStatus.DELIVERED,
        attempts=1,
    )

    delivery_id = failed.delivery_id

    with django_capture_on_commit_callbacks(execute=True):
        response = manager.post(
            reverse("admin:routing_webhookdelivery_changelist"),
            {"action": "deliver_again", "_selected_action": [failed.pk, delivered.pk]},
        )

    assert response.status_code == 302
    failed.refresh_from_db()
    delivered.refresh_from_db()
    # Sent again from a fresh count, under the same id; the path has no webhook any more, so
    # the attempt stops at once and says why.
    assert (failed.delivery_id, failed.attempts) == (delivery_id, 0)
    assert failed.status == WebhookDeliveryStatus.FAILED
    assert "destination was removed" in failed.last_error
    assert (delivered.status, delivered.attempts) == (WebhookDeliveryStatus.DELIVERED, 1)


def test_the_delivery_log_is_searched_by_delivery_id_or_lead_email(manager: Client) -> None:
    lead_assignment = AssignmentFactory(queue=Queue.COMMUNITY, lead__email="amy@mit.edu")
    wanted = WebhookDelivery.objects.create(assignment=lead_assignment, path=Queue.COMMUNITY)
    WebhookDelivery.objects.create(
        assignment=AssignmentFactory(queue=Queue.COMMUNITY), path=Queue.COMMUNITY
    )
    url = reverse("admin:routing_webhookdelivery_changelist")

    for term in (str(wanted.delivery_id), "AMY@mit.edu"):
        response = manager.get(url, {"q": term})
        assert response.status_code == 200
        assert list(response.context["cl"].result_list) == [wanted], term
    assert list(manager.get(url, {"q": "no-such"}).context["cl"].result_list) == []
