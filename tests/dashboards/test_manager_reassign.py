"""Reassigning a lead from the team page: to a named rep or wherever routing sends it next, as a
plain form post and as an HTMX swap of the row, with clear errors, for sales managers only."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client

from routing.models import (
    Assignment,
    AssignmentEvent,
    AssignmentEventKind,
    AssignmentStatus,
    RoutingPool,
    RoutingRule,
)
from tests.dashboards.conftest import client_for
from tests.dashboards.test_manager_team import HTMX, assign, rep_named


def url(assignment: Assignment) -> str:
    return f"/assignments/{assignment.pk}/reassign/"


@pytest.fixture
def manager(demo_users: dict[str, User]) -> Client:
    return client_for(demo_users["manager"])


@pytest.mark.django_db
def test_a_manager_moves_an_overdue_lead_to_a_named_rep(
    manager: Client, demo_users: dict[str, User]
) -> None:
    maria, tom = rep_named("maria.garcia"), rep_named("tom.becker")
    late = assign(maria, due_in=-timedelta(hours=2))

    response = manager.post(url(late), {"to_rep": tom.pk, "reason": "Maria is out sick"})

    assert response.status_code == 302
    assert response["Location"] == "/team/#sla-breaches"
    late.refresh_from_db()
    assert late.status == AssignmentStatus.REASSIGNED
    moved = Assignment.objects.get(reassigned_from=late)
    assert (moved.rep, moved.status, moved.lead_id) == (tom, AssignmentStatus.OPEN, late.lead_id)
    event = AssignmentEvent.objects.get(assignment=moved)
    assert event.kind == AssignmentEventKind.REASSIGNED
    assert event.by_user == demo_users["manager"]
    assert "Maria is out sick" in event.message
    page = manager.get(response["Location"]).content.decode()
    assert f"Lead {late.lead.name.split()[-1]} moved to Tom Becker." in page


@pytest.mark.django_db
def test_over_htmx_the_row_is_replaced_and_the_loads_update_out_of_band(manager: Client) -> None:
    maria, tom = rep_named("maria.garcia"), rep_named("tom.becker")
    late = assign(maria, due_in=-timedelta(hours=2))

    response = manager.post(
        url(late),
        {"to_rep": tom.pk, "reason": "SLA breached"},
        headers={**HTMX, "HX-Target": f"assignment-{late.pk}"},
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html
    assert f'<tr id="assignment-{late.pk}" class="row-reassigned">' in html
    assert "moved to <strong>Tom Becker</strong>" in html
    assert 'id="rep-load"' in html and html.count('hx-swap-oob="true"') == 2
    assert "0 past SLA" in html
    assert 'id="rep-' + str(tom.pk) + '"' in html


@pytest.mark.django_db
def test_a_reason_is_required(manager: Client) -> None:
    maria, tom = rep_named("maria.garcia"), rep_named("tom.becker")
    late = assign(maria, due_in=-timedelta(hours=2))

    plain = manager.post(url(late), {"to_rep": tom.pk, "reason": "  "})
    swapped = manager.post(url(late), {"to_rep": tom.pk, "reason": ""}, headers=HTMX)

    assert plain.status_code == 200
    assert "Say why the lead is reassigned." in plain.content.decode()
    assert "<html" in plain.content.decode()  # a page of its own, readable without JavaScript
    assert swapped.status_code == 200
    assert swapped["HX-Retarget"] == f"#reassign-form-{late.pk}"
    assert swapped["HX-Reswap"] == "outerHTML"
    assert "Say why the lead is reassigned." in swapped.content.decode()
    late.refresh_from_db()
    assert late.status == AssignmentStatus.OPEN


@pytest.mark.django_db
def test_an_inactive_rep_is_not_a_valid_target(manager: Client) -> None:
    maria = rep_named("maria.garcia")
    gone = rep_named("sofia.rossi", is_active=False)
    late = assign(maria, due_in=-timedelta(hours=2))

    response = manager.post(url(late), {"to_rep": gone.pk, "reason": "x"})

    assert "Pick an active rep from the list." in response.content.decode()
    assert not Assignment.objects.filter(reassigned_from=late).exists()


@pytest.mark.django_db
def test_the_services_refusal_is_shown_to_the_manager(manager: Client) -> None:
    maria = rep_named("maria.garcia")
    late = assign(maria, due_in=-timedelta(hours=2))

    response = manager.post(url(late), {"to_rep": maria.pk, "reason": "x"}, headers=HTMX)

    assert "The lead is already with Maria Garcia." in response.content.decode()


@pytest.mark.django_db
def test_an_assignment_that_is_no_longer_current_cannot_be_moved(manager: Client) -> None:
    maria, tom = rep_named("maria.garcia"), rep_named("tom.becker")
    closed = assign(maria, status=AssignmentStatus.CLOSED)

    response = manager.post(url(closed), {"to_rep": tom.pk, "reason": "x"})

    assert "no longer the lead&#x27;s current one" in response.content.decode()


@pytest.mark.django_db
def test_letting_routing_choose_sends_the_lead_to_another_rep_of_the_pool(
    manager: Client,
) -> None:
    maria, tom = rep_named("maria.garcia"), rep_named("tom.becker")
    pool = RoutingPool.objects.create(name="Everyone", is_fallback=True)
    pool.reps.add(maria, tom)
    RoutingRule.objects.create(name="All Sales Ready", tiers=["sales_ready"], pool=pool)
    late = assign(maria, due_in=-timedelta(hours=2))
    late.lead.qualifications.create(tier="sales_ready", confidence="high")

    response = manager.post(url(late), {"to_rep": "", "reason": "Maria is away"})

    assert response.status_code == 302, response.content.decode()[:2000]
    moved = Assignment.objects.get(reassigned_from=late)
    assert moved.rep == tom


@pytest.mark.django_db
def test_the_reassign_page_shows_the_form_without_javascript(manager: Client) -> None:
    maria, tom = rep_named("maria.garcia"), rep_named("tom.becker")
    late = assign(maria, due_in=-timedelta(hours=2))

    response = manager.get(url(late))

    html = response.content.decode()
    assert response.status_code == 200
    assert f'action="{url(late)}"' in html and "hx-post" not in html
    assert f'<option value="{tom.pk}"' in html
    assert f'<option value="{maria.pk}"' not in html  # not to the rep who has it
    assert "(overdue)" in html


@pytest.mark.django_db
def test_over_htmx_a_get_returns_the_form_alone(manager: Client) -> None:
    late = assign(rep_named("maria.garcia"), due_in=-timedelta(hours=2))

    response = manager.get(url(late), headers=HTMX)

    html = response.content.decode()
    assert html.lstrip().startswith(f'<form id="reassign-form-{late.pk}"')
    assert "HX-Retarget" not in response


@pytest.mark.django_db
def test_an_unknown_assignment_is_404(manager: Client) -> None:
    assert manager.post("/assignments/999999/reassign/", {"reason": "x"}).status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize("username", ["sdr", "revops"])
def test_sdrs_and_revops_cannot_reassign(demo_users: dict[str, User], username: str) -> None:
    maria, tom = rep_named("maria.garcia"), rep_named("tom.becker")
    late = assign(maria, due_in=-timedelta(hours=2))

    response = client_for(demo_users[username]).post(url(late), {"to_rep": tom.pk, "reason": "x"})

    assert response.status_code == 403
    late.refresh_from_db()
    assert late.status == AssignmentStatus.OPEN


@pytest.mark.django_db
def test_a_superuser_can_reassign(demo_users: dict[str, User]) -> None:
    maria, tom = rep_named("maria.garcia"), rep_named("tom.becker")
    late = assign(maria, due_in=-timedelta(hours=2))

    response = client_for(demo_users["admin"]).post(url(late), {"to_rep": tom.pk, "reason": "x"})

    assert response.status_code == 302


@pytest.mark.django_db
def test_the_form_needs_a_post_or_a_get(manager: Client) -> None:
    late = assign(rep_named("maria.garcia"), due_in=-timedelta(hours=2))

    assert manager.put(url(late)).status_code == 405
