"""Each role logs in through the form, opens each of its pages on a desktop and on a phone in a
real headless Chromium, and the pages load without JavaScript errors, fit a phone's width, and
are saved as screenshots. Pages still being built (their URL name does not resolve) are
skipped with the reason."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.db import OperationalError, connection
from django.urls import reverse

from tests.browser.conftest import DESKTOP, PHONE, VIEWPORTS, Tab, World, log_in, url_or_skip

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

Args = Callable[[World], list[int]]


def _no_args(world: World) -> list[int]:
    return []


def _sdr_lead(world: World) -> list[int]:
    return [world.sdr_lead_ids[0]]


def _sdr_account(world: World) -> list[int]:
    return [world.sdr_account_id]


# (role, screenshot name, URL name, its arguments)
PAGES: list[tuple[str, str, str, Args]] = [
    ("sdr", "home", "home", _no_args),
    ("sdr", "queue", "queue", _no_args),
    ("sdr", "lead-brief", "lead_brief", _sdr_lead),
    ("sdr", "account", "account_detail", _sdr_account),
    ("manager", "home", "home", _no_args),
    ("manager", "team", "team", _no_args),
    ("revops", "home", "home", _no_args),
    ("revops", "team", "team", _no_args),
    ("revops", "revops", "revops", _no_args),
    ("revops", "revops-models", "revops-models", _no_args),
    ("revops", "revops-fairness", "revops-fairness", _no_args),
    ("revops", "revops-drift", "revops-drift", _no_args),
    ("revops", "salesforce", "salesforce_status", _no_args),
]


@pytest.mark.parametrize(
    ("role", "shot", "name", "args"), PAGES, ids=[f"{p[0]}-{p[1]}" for p in PAGES]
)
def test_each_role_opens_its_pages_on_a_desktop_and_a_phone(
    request: pytest.FixtureRequest,
    open_tab: Callable[..., Tab],
    role: str,
    shot: str,
    name: str,
    args: Args,
) -> None:
    # Skip before building the world when the page does not exist yet.
    url_or_skip(name, *([1] if args is not _no_args else []))
    world: World = request.getfixturevalue("world")
    path = url_or_skip(name, *args(world))

    for viewport in VIEWPORTS.values():
        tab = open_tab(viewport)
        log_in(tab, role)
        response = tab.page.goto(path)
        assert response is not None and response.status == 200, f"{path}: {response}"
        tab.page.wait_for_load_state("networkidle")
        assert tab.page.locator("main h1").first.is_visible()
        tab.screenshot(f"{role}-{shot}")
        tab.assert_fits_the_width()
        tab.assert_no_console_errors()


def test_the_login_page_fits_a_phone_and_a_desktop(
    open_tab: Callable[..., Tab], transactional_db: None
) -> None:
    for viewport in VIEWPORTS.values():
        tab = open_tab(viewport)
        tab.page.goto(reverse("login"))
        assert tab.page.get_by_role("button", name="Sign in").is_visible()
        tab.screenshot("anonymous-login")
        tab.assert_fits_the_width()
        tab.assert_no_console_errors()


@pytest.mark.parametrize(
    ("role", "name"),
    [("sdr", "team"), ("sdr", "revops"), ("sdr", "salesforce_status"), ("manager", "revops")],
)
def test_an_sdr_is_refused_the_managers_and_revops_pages(
    request: pytest.FixtureRequest, open_tab: Callable[..., Tab], role: str, name: str
) -> None:
    path = url_or_skip(name)
    request.getfixturevalue("world")
    tab = open_tab(DESKTOP)
    log_in(tab, role)

    response = tab.page.goto(path)

    assert response is not None and response.status == 403


def test_an_sdr_goes_from_the_queue_to_a_brief_and_accepts_the_lead(
    request: pytest.FixtureRequest, open_tab: Callable[..., Tab]
) -> None:
    from scoring.models import Feedback, FeedbackVerdict

    queue = url_or_skip("queue")
    url_or_skip("lead_brief", 1)
    url_or_skip("lead_feedback", 1)
    world: World = request.getfixturevalue("world")
    lead_id = world.sdr_lead_ids[0]
    brief = reverse("dashboards:lead_brief", args=[lead_id])
    feedback = reverse("dashboards:lead_feedback", args=[lead_id])
    tab = open_tab(DESKTOP)
    log_in(tab, "sdr")
    page = tab.page

    page.goto(queue)
    link = page.locator(f'a[href="{brief}"]').first
    assert link.is_visible(), f"the queue has no link to {brief}"
    link.click()
    page.wait_for_url(f"**{brief}")
    page.wait_for_load_state("networkidle")
    tab.screenshot("sdr-flow-brief")

    # An Accept button, or an Accept choice and a submit button: either way a form posting
    # to lead_feedback.
    accept = re.compile(r"^\s*Accept", re.I)
    form = page.locator(f'form[action="{feedback}"]')
    assert form.count() >= 1, f"the brief has no form posting to {feedback}"
    form = form.first
    accept_button = form.get_by_role("button", name=accept)
    if not accept_button.count():
        form.get_by_role("radio", name=accept).check()
    reason = form.locator('select[name="reason"]')
    if reason.count() and not reason.first.input_value():
        reason.first.select_option(index=1)
    if accept_button.count():
        accept_button.first.click()
    else:
        form.locator('button[type="submit"], input[type="submit"]').first.click()

    # An htmx swap or a new page: either way the verdict is stored once the request is done.
    assert _eventually(
        lambda: Feedback.objects.filter(
            lead_id=lead_id, verdict=FeedbackVerdict.ACCEPT, user=world.users["sdr"]
        ).exists()
    ), "accepting in the browser stored no Accept feedback"
    page.wait_for_load_state("networkidle")
    tab.screenshot("sdr-flow-accepted")
    tab.assert_no_console_errors()


def _eventually(check: Callable[[], bool], seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while not _checked(check):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def _checked(check: Callable[[], bool]) -> bool:
    """The check, or False while the live server's request still holds SQLite's table lock
    (the test's in-memory database is shared between the two threads, a table at a time)."""
    try:
        return check()
    except OperationalError as exc:
        if connection.vendor == "sqlite" and "locked" in str(exc):
            return False
        raise


def _wait_for_text(tab: Tab, selector: str, text: str) -> None:
    tab.page.locator(selector).filter(has_text=text).wait_for()


def test_a_manager_reassigns_an_overdue_lead_in_place(
    world: World, open_tab: Callable[..., Tab]
) -> None:
    from routing.models import Assignment, AssignmentStatus

    team = reverse("dashboards:team")
    assignment_id = world.breach_assignment_ids[0]
    tab = open_tab(DESKTOP)
    log_in(tab, "manager")
    page = tab.page
    page.goto(team)
    row = page.locator(f"#assignment-{assignment_id}")

    row.locator("summary", has_text="Reassign").click()
    row.get_by_label("Move to").select_option(index=1)  # the first named rep
    row.get_by_label("Why").fill("Out sick today")
    tab.screenshot("manager-team-reassign-open")
    row.get_by_role("button", name="Move lead").click()
    _wait_for_text(tab, f"#assignment-{assignment_id}", "moved to")

    assert page.url.endswith(team)  # swapped in place, no navigation
    assert Assignment.objects.get(pk=assignment_id).status == AssignmentStatus.REASSIGNED
    assert Assignment.objects.filter(reassigned_from_id=assignment_id).exists()
    tab.screenshot("manager-team-reassigned")
    tab.assert_no_console_errors()


def test_without_javascript_the_team_page_reads_and_reassigns_with_a_plain_form(
    world: World, playwright_browser: Any, live_server: Any
) -> None:
    from dashboards.services import DEMO_PASSWORD
    from routing.models import Assignment, AssignmentStatus

    context = playwright_browser.new_context(
        viewport=PHONE, base_url=live_server.url, java_script_enabled=False
    )
    try:
        page = context.new_page()
        page.goto(reverse("login"))
        page.get_by_label("Username").fill("manager")
        page.get_by_label("Password").fill(DEMO_PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"**{reverse('dashboards:home')}")
        page.goto(reverse("dashboards:team"))
        assignment_id = world.breach_assignment_ids[1]
        row = page.locator(f"#assignment-{assignment_id}")
        row.locator("summary", has_text="Reassign").click()  # <details> opens without JS
        row.get_by_label("Move to").select_option(index=1)
        row.get_by_role("button", name="Move lead").click()
        page.wait_for_url("**/team/**")

        assert page.locator(".messages").filter(has_text="moved to").is_visible()
        assert Assignment.objects.get(pk=assignment_id).status == AssignmentStatus.REASSIGNED
        page.screenshot(path=str(_shot_path("manager-team-nojs", PHONE)), full_page=True)
    finally:
        context.close()


def _shot_path(name: str, viewport: dict[str, int]) -> Any:
    from tests.browser.conftest import screenshot_dir

    return screenshot_dir() / f"{name}-{viewport['width']}x{viewport['height']}.png"


def test_revops_trains_a_model_from_the_models_page_and_sees_the_outcome(
    world: World, open_tab: Callable[..., Tab]
) -> None:
    from dashboards.models import TrainingRun

    tab = open_tab(DESKTOP)
    log_in(tab, "revops")
    page = tab.page
    page.goto(reverse("dashboards:revops-models"))

    page.get_by_role("button", name="Train now").click()

    # The task runs in the request here (eager); the status panel then names the outcome: a
    # trained model, or why none was (the small world may hold too few outcomes).
    result = page.locator("#train-status .train-result")
    result.wait_for(timeout=60_000)
    assert re.search(r"Model #\d+ trained|No model trained", result.inner_text())
    assert TrainingRun.objects.filter(requested_by=world.users["revops"]).count() == 1
    tab.screenshot("revops-train-now")
    tab.assert_no_console_errors()
