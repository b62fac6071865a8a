"""Account plays: High starts orchestrated outreach (one owner, every engaged lead to them or
their pod, the roles to reach), Medium a targeted nurture track, Low passive monitoring; the
owner's fallback, idempotence, a priority change, and scoring's hook starting the play."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import Account, Lead
from routing.account_play_selectors import (
    PLAY_OWNER,
    account_nurture_tracks,
    account_play_for,
    account_play_owners,
)
from routing.account_plays import (
    CREATE,
    REFRESH,
    UNCHANGED,
    UPDATE,
    PlayFacts,
    StoredPlay,
    account_plays_apply,
    play_decide,
)
from routing.models import (
    AccountPlay,
    AccountPlayStatus,
    Assignment,
    AssignmentEvent,
    AssignmentEventKind,
    AssignmentStatus,
    PathDestination,
    PathDestinationKind,
    Queue,
    SalesRep,
)
from routing.services import assignments_route
from scoring.account_services import accounts_qualify
from scoring.models import (
    AccountQualification,
    AccountQualificationReason,
    Resurfacing,
    Tier,
    TriggerKind,
)
from tests.factories import AccountFactory, AssignmentFactory, TouchpointFactory
from tests.routing.test_services import NOW, World, build_world, qualified_lead

pytestmark = pytest.mark.django_db

ALL_ROLES = ["economic_buyer", "champion", "technical_evaluator", "user"]


def qualify_account(
    account: Account,
    priority: str,
    *,
    score: int | None = None,
    roles_missing: list[str] | None = None,
) -> AccountQualification:
    """Store a current account qualification as scoring would (the old one retired)."""
    AccountQualification.objects.filter(account=account, is_current=True).update(is_current=False)
    missing = ["economic_buyer", "technical_evaluator"] if roles_missing is None else roles_missing
    return AccountQualification.objects.create(
        account=account,
        computed_at=NOW,
        score=score if score is not None else {"high": 72, "medium": 45, "low": 12}[priority],
        priority=priority,
        roles_missing=missing,
        play=[
            f"Find the {role.replace('_', ' ')}: no one in that role is mapped." for role in missing
        ],
        reason=AccountQualificationReason.ACCOUNT_EVENT,
    )


def engaged(account: Account, tier: str = Tier.SALES_READY, **kwargs: Any) -> Lead:
    """A qualified lead of the account, active in the last 30 days."""
    lead = qualified_lead(account, tier, **kwargs)
    TouchpointFactory(lead=lead, occurred_at=NOW - timedelta(days=3))
    return lead


def holder(lead: Lead) -> Assignment:
    return Assignment.objects.get(
        lead=lead, status__in=[AssignmentStatus.OPEN, AssignmentStatus.ACCEPTED]
    )


def apply(account: Account) -> Any:
    return account_plays_apply(account_ids=[account.pk], now=NOW)


def owned_world() -> World:
    world = build_world()
    world.account.owner = world.ana.user
    world.account.save(update_fields=["owner"])
    return world


# --- the pure core ---------------------------------------------------------------------------


def test_each_priority_sets_its_play_and_only_outreach_asks_for_an_owner() -> None:
    facts = {
        p: PlayFacts(p, 50, ("user", "economic_buyer"), ("Find the user.",))
        for p in ("high", "medium", "low")
    }

    high, medium, low = (play_decide(facts[p], None) for p in ("high", "medium", "low"))

    assert (high.status, high.choose_owner) == (AccountPlayStatus.OUTREACH, True)
    assert (medium.status, medium.choose_owner) == (AccountPlayStatus.NURTURE, False)
    assert (low.status, low.choose_owner) == (AccountPlayStatus.MONITORING, False)
    # Most decisive first, whatever order scoring listed them in.
    assert high.roles_to_reach == medium.roles_to_reach == ("economic_buyer", "user")
    assert low.roles_to_reach == () and low.steps == ()  # no sales task
    assert high.action == CREATE
    assert high.reason.startswith("Account priority High (score 50): Orchestrated outreach")


def test_the_same_priority_and_roles_is_unchanged_and_new_roles_only_refresh() -> None:
    facts = PlayFacts("high", 70, ("user",), ("Find the user.",))
    stored = StoredPlay("high", AccountPlayStatus.OUTREACH, 5, ("user",), ("Find the user.",))

    assert play_decide(facts, stored).action == UNCHANGED
    refreshed = play_decide(PlayFacts("high", 75, (), ()), stored)
    assert (refreshed.action, refreshed.choose_owner) == (REFRESH, False)
    assert play_decide(PlayFacts("medium", 40, ("user",), ()), stored).action == UPDATE


def test_an_unknown_priority_is_refused_with_the_known_ones() -> None:
    with pytest.raises(ValueError, match="unknown account priority 'urgent'; one of high"):
        play_decide(PlayFacts("urgent", 1), None)


# --- High: orchestrated outreach -------------------------------------------------------------


def test_a_high_account_s_owner_gets_every_engaged_lead_and_the_play_lists_roles_to_reach() -> None:
    world = owned_world()
    first, second = engaged(world.account), engaged(world.account)
    quiet = qualified_lead(world.account)  # no touchpoint in 30 days: not engaged
    qualify_account(world.account, "high", roles_missing=["technical_evaluator", "economic_buyer"])

    result = apply(world.account)

    play = account_play_for(world.account)
    assert play is not None
    assert (play.status, play.priority, play.owner_id) == ("outreach", "high", world.ana.pk)
    assert play.owner_reason == "account owner"
    assert play.roles_to_reach == ["economic_buyer", "technical_evaluator"]
    assert play.steps[0].startswith("Find the")
    assert result.created == [world.account.pk] and result.routed == 2
    for lead in (first, second):
        assignment = holder(lead)
        assert (assignment.rep_id, assignment.queue) == (world.ana.pk, Queue.SALES)
        assert assignment.reason == PLAY_OWNER
    assert not Assignment.objects.filter(lead=quiet).exists()


def test_without_an_account_owner_routing_chooses_one_and_open_leads_move_into_their_pod() -> None:
    world = build_world()  # no account owner; EMEA rule -> Ana, Ben, Cleo
    held_outside = engaged(world.account)
    accepted_outside = engaged(world.account)
    AssignmentFactory(lead=held_outside, rep=world.dev, tier=Tier.SALES_READY)
    AssignmentFactory(
        lead=accepted_outside, rep=world.dev, tier=Tier.SALES_READY, status="accepted"
    )
    qualify_account(world.account, "high")

    result = apply(world.account)

    play = AccountPlay.objects.get(account=world.account)
    assert play.owner_id in {world.ana.pk, world.ben.pk, world.cleo.pk}
    assert play.owner_reason.startswith("routing's choice: rule EMEA → pool EMEA AEs → ")
    moved = holder(held_outside)
    assert moved.rep_id == play.owner_id
    assert moved.reason.startswith("account play: Hausbau is High priority, one owner (")
    assert moved.reassigned_from is not None and moved.reassigned_from.rep_id == world.dev.pk
    event = AssignmentEvent.objects.get(assignment=moved)
    assert event.kind == AssignmentEventKind.REASSIGNED and event.message.startswith("Dev →")
    # Accepted: Dev is working it, the play does not take it from them.
    assert holder(accepted_outside).rep_id == world.dev.pk
    assert result.moved == 1


def test_the_owner_out_of_office_hands_the_account_to_routing_s_choice_in_their_team() -> None:
    world = owned_world()
    SalesRep.objects.filter(pk__in=[world.ana.pk, world.ben.pk]).update(team="emea-pod")
    SalesRep.objects.filter(pk=world.ana.pk).update(
        out_of_office_from=NOW - timedelta(days=1), out_of_office_until=NOW + timedelta(days=5)
    )
    lead = engaged(world.account)
    qualify_account(world.account, "high")

    apply(world.account)

    play = AccountPlay.objects.get(account=world.account)
    assert play.owner_id == world.ben.pk
    assert play.owner_reason.startswith(
        "routing's choice: account owner out of office → owner's team (emea-pod) → "
    )
    assert holder(lead).rep_id == world.ben.pk


def test_a_play_owner_away_later_sends_the_account_s_next_lead_to_their_pod() -> None:
    world = build_world()
    SalesRep.objects.filter(pk__in=[world.cleo.pk, world.dev.pk]).update(team="pod-7")
    qualify_account(world.account, "high")
    apply(world.account)
    AccountPlay.objects.filter(account=world.account).update(owner=world.cleo)
    SalesRep.objects.filter(pk=world.cleo.pk).update(is_active=False)

    newcomer = engaged(world.account)
    assignments_route(lead_ids=[newcomer.pk], now=NOW)

    assignment = holder(newcomer)
    assert assignment.rep_id == world.dev.pk
    assert assignment.reason.startswith(
        "account play owner inactive → account play owner's team (pod-7) → "
    )


def test_a_resurfaced_lead_s_previous_owner_still_comes_before_the_play_owner() -> None:
    world = owned_world()
    qualify_account(world.account, "high")
    apply(world.account)
    lead = engaged(world.account)
    Resurfacing.objects.create(
        lead=lead, trigger=TriggerKind.COMPANY_CHANGE, previous_owner=world.dev.user
    )

    assignments_route(lead_ids=[lead.pk], now=NOW)

    assert account_play_owners(account_ids=[world.account.pk]) == {world.account.pk: world.ana.pk}
    assignment = holder(lead)
    assert (assignment.rep_id, assignment.reason) == (world.dev.pk, "previous owner")


def test_only_an_outreach_play_with_an_owner_prefers_a_rep() -> None:
    medium, low = AccountFactory(), AccountFactory()
    qualify_account(medium, "medium")
    qualify_account(low, "low")
    account_plays_apply(account_ids=[medium.pk, low.pk], now=NOW)

    assert account_play_owners(account_ids=[medium.pk, low.pk]) == {}


# --- Medium and Low --------------------------------------------------------------------------


def test_a_medium_account_s_leads_are_on_its_nurture_track_with_the_account_and_why(
    manager_client: Client,
) -> None:
    world = owned_world()
    nurtured = engaged(world.account, Tier.NURTURE)
    ready = engaged(world.account)
    qualify_account(world.account, "medium", roles_missing=["economic_buyer"])

    apply(world.account)
    assignments_route(lead_ids=[nurtured.pk, ready.pk], now=NOW)

    play = AccountPlay.objects.get(account=world.account)
    assert (play.status, play.owner_id, play.roles_to_reach) == (
        "nurture",
        None,
        ["economic_buyer"],
    )
    assert holder(nurtured).queue == Queue.NURTURE
    assert holder(ready).queue == Queue.SALES  # Sales Ready on its own: still for sales
    tracks = account_nurture_tracks(lead_ids=[nurtured.pk, ready.pk])
    assert set(tracks) == {nurtured.pk, ready.pk}
    assert tracks[nurtured.pk].account_name == "Hausbau"
    assert tracks[nurtured.pk].reason.startswith("Account priority Medium (score 45): Targeted")

    PathDestination.objects.create(path=Queue.NURTURE, kind=PathDestinationKind.TEAM)
    html = manager_client.get(reverse("dashboards:path_leads", args=["nurture"])).content.decode()
    assert "On the Hausbau account's nurture track: Account priority Medium" in html


def test_a_low_account_is_only_watched_no_owner_no_roles_no_routing() -> None:
    world = owned_world()
    lead = engaged(world.account)
    qualify_account(world.account, "low")

    result = apply(world.account)

    play = AccountPlay.objects.get(account=world.account)
    assert (play.status, play.owner_id, play.roles_to_reach, play.steps) == (
        "monitoring",
        None,
        [],
        [],
    )
    assert play.reason.startswith("Account priority Low (score 12): Passive monitoring")
    assert result.routed == 0 and not Assignment.objects.filter(lead=lead).exists()


# --- idempotence and changes -----------------------------------------------------------------


def test_running_again_with_the_same_priority_changes_nothing_not_even_a_manager_s_move() -> None:
    world = owned_world()
    lead = engaged(world.account)
    qualify_account(world.account, "high")
    apply(world.account)
    before = AccountPlay.objects.get(account=world.account)
    # A manager gives the lead to Dev; the play must not take it back on a re-run.
    Assignment.objects.filter(lead=lead).update(status=AssignmentStatus.REASSIGNED)
    AssignmentFactory(lead=lead, rep=world.dev, tier=Tier.SALES_READY)
    assignments = Assignment.objects.count()

    again = apply(world.account)

    after = AccountPlay.objects.get(account=world.account)
    assert again.unchanged == [world.account.pk] and again.routed == 0
    assert (after.updated_at, after.owner_id, after.reason) == (
        before.updated_at,
        before.owner_id,
        before.reason,
    )
    assert Assignment.objects.count() == assignments
    assert holder(lead).rep_id == world.dev.pk


def test_a_priority_change_updates_the_play_and_leaves_the_owner_s_leads_with_them() -> None:
    world = owned_world()
    lead = engaged(world.account)
    qualify_account(world.account, "high")
    apply(world.account)
    created = AccountPlay.objects.get(account=world.account)

    qualify_account(world.account, "medium", roles_missing=["user"])
    result = account_plays_apply(account_ids=[world.account.pk], now=NOW + timedelta(hours=1))

    play = AccountPlay.objects.get(account=world.account)
    assert result.updated == [world.account.pk]
    assert (play.pk, play.status, play.priority, play.owner_id, play.owner_reason) == (
        created.pk,
        "nurture",
        "medium",
        None,
        "",
    )
    assert play.roles_to_reach == ["user"] and play.updated_at == NOW + timedelta(hours=1)
    assert play.created_at == created.created_at
    assert holder(lead).rep_id == world.ana.pk  # routing does not reshuffle a Sales Ready lead


def test_an_account_never_scored_gets_no_play() -> None:
    account = AccountFactory()
    result = account_plays_apply(account_ids=[account.pk], now=NOW)
    assert result.created == [] and account_play_for(account) is None


# --- scoring's hook --------------------------------------------------------------------------


def test_storing_an_account_qualification_starts_its_play_through_the_hook(
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    account = AccountFactory()  # no evidence: Low

    with django_capture_on_commit_callbacks(execute=True):
        accounts_qualify(account_ids=[account.pk], reason=AccountQualificationReason.NIGHTLY)

    play = account_play_for(account)
    assert play is not None and play.status == AccountPlayStatus.MONITORING
    assert play.qualification == AccountQualification.objects.get(account=account)
    # Scored again with nothing new: no row stored, nothing heard, the play untouched.
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        accounts_qualify(account_ids=[account.pk], reason=AccountQualificationReason.NIGHTLY)
    assert callbacks == []
