"""A community team member's day, in a real browser at a desktop's and a phone's size: their
path is in the navigation, its page lists the students and researchers routing sent there with
the rule and its evidence, and "Mark handled" updates the row in place (and works without
JavaScript too)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone

from tests.browser.conftest import VIEWPORTS, Tab, World, log_in

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

MEMBER = "community-lead"


@pytest.fixture
def community(world: World) -> list[int]:
    """The demo world's community path, held by a team of one; the ids of its waiting leads."""
    from accounts.models import Lead, Touchpoint, TouchpointKind
    from dashboards.services import DEMO_PASSWORD
    from routing.models import (
        Assignment,
        AssignmentStatus,
        PathDestination,
        PathDestinationKind,
        Queue,
    )
    from routing.services import assignments_route
    from scoring.services import leads_qualify

    # A few more students, qualified and routed by the real services.
    students = []
    for n, name in enumerate(("Amy Chen", "Bo Li", "Cleo Park")):
        lead = Lead.objects.create(
            email=f"{name.split()[0].lower()}@state.edu", name=name, title="PhD student"
        )
        Touchpoint.objects.create(
            lead=lead,
            kind=TouchpointKind.PAGE_VIEW,
            page_category="blog",
            occurred_at=timezone.now() - timedelta(hours=n + 1),
            external_id=f"browser-student-{n}",
        )
        students.append(lead.pk)
    leads_qualify(lead_ids=students, notify=False)
    assignments_route(lead_ids=students)
    member = User.objects.create_user(
        username=MEMBER, first_name="Casey", last_name="Moore", password=DEMO_PASSWORD
    )
    destination = PathDestination.objects.create(
        path=Queue.COMMUNITY, kind=PathDestinationKind.TEAM
    )
    destination.members.add(member)
    waiting = list(
        Assignment.objects.filter(queue=Queue.COMMUNITY, status=AssignmentStatus.OPEN)
        .order_by("-assigned_at", "-pk")
        .values_list("pk", flat=True)
    )
    assert len(waiting) >= 2, "the demo world should send students to the community path"
    return waiting


def test_a_member_finds_the_path_reads_why_each_lead_is_there_and_marks_one_handled(
    community: list[int], open_tab: Callable[..., Tab]
) -> None:
    from routing.models import Assignment, AssignmentStatus

    for index, (name, viewport) in enumerate(VIEWPORTS.items()):
        tab = open_tab(viewport)
        log_in(tab, MEMBER)
        page = tab.page
        nav = page.get_by_role("navigation", name="Main")
        if name == "phone":
            # The navigation wraps on a phone; the link is there all the same.
            assert nav.get_by_role("link", name="Community").count() == 1
            page.goto(reverse("dashboards:path_leads", args=["community"]))
        else:
            nav.get_by_role("link", name="Community").click()
        page.wait_for_load_state("networkidle")
        assert page.get_by_role("heading", name="Community", level=1).is_visible()
        assert "Held by the community team: Casey Moore." in page.inner_text("main")

        rows = page.locator("tr.path-row")
        assert rows.count() >= 2
        first = rows.first
        why = first.locator(".path-why").inner_text()
        assert re.search(r"Student", why), why
        assert first.locator(".path-evidence").inner_text().strip(), "the rule's evidence"

        target = community[index]
        row = page.locator(f"#path-row-{target}")
        row.scroll_into_view_if_needed()
        with page.expect_response(re.compile(rf"/paths/community/{target}/handled/$")):
            row.get_by_role("button", name="Mark handled").click()
        handled = page.locator(f"#path-row-{target}")
        handled.locator(".path-handled").wait_for()
        assert "Handled by Casey Moore" in handled.inner_text()
        assert handled.get_by_role("button", name="Mark handled").count() == 0
        assert Assignment.objects.get(pk=target).status == AssignmentStatus.ACCEPTED

        tab.screenshot(f"path-community-{name}")
        tab.assert_fits_the_width()
        tab.assert_no_console_errors()


def test_the_filters_narrow_the_list_in_place_and_keep_the_address(
    community: list[int], open_tab: Callable[..., Tab]
) -> None:
    tab = open_tab()
    log_in(tab, MEMBER)
    page = tab.page
    page.goto(reverse("dashboards:path_leads", args=["community"]))
    total = page.locator("tr.path-row").count()

    page.get_by_label("Show").select_option("handled")
    page.wait_for_url(re.compile(r"state=handled"))
    page.locator("#path-results .empty").wait_for()
    assert "No lead on this path has been handled yet." in page.inner_text("#path-results")

    page.get_by_label("Show").select_option("waiting")
    page.wait_for_url(re.compile(r"state=waiting"))
    page.locator("tr.path-row").first.wait_for()
    assert page.locator("tr.path-row").count() == total
    tab.assert_no_console_errors()


def test_mark_handled_works_without_javascript(
    community: list[int], playwright_browser: Any, live_server: Any
) -> None:
    from routing.models import Assignment, AssignmentStatus
    from tests.browser.conftest import DESKTOP

    context = playwright_browser.new_context(
        viewport=DESKTOP, base_url=live_server.url, java_script_enabled=False
    )
    try:
        page = context.new_page()
        tab = Tab(page=page)
        log_in(tab, MEMBER)
        page.goto(reverse("dashboards:path_leads", args=["community"]) + "?sort=newest")
        target = community[0]
        with page.expect_navigation():
            page.locator(f"#path-row-{target}").get_by_role("button", name="Mark handled").click()
        assert page.url.endswith("/paths/community/?sort=newest")
        assert "Marked handled" in page.inner_text("main")
        assert Assignment.objects.get(pk=target).status == AssignmentStatus.ACCEPTED
    finally:
        context.close()
