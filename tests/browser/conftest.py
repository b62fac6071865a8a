"""Browser tests: a real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright
with `executable_path`) against pytest-django's live server.

Chromium is installed by `.ci/ensure-chromium` (run by `.ci/run` and `make test`); without it
these tests are skipped, except under CI, where a missing browser is a failure. Screenshots go
to $LEADQUAL_SCREENSHOT_DIR, by default `<repo>/.artifacts/screenshots`.

The live server runs in another thread and sees only committed rows, so every test here uses a
transactional database (`pytestmark` in each module) and builds its world with the real
services: the demo world, qualification, routing.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

REPO_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("LEADQUAL_CHROMIUM", "/usr/bin/chromium"))

DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}
VIEWPORTS = {"desktop": DESKTOP, "phone": PHONE}

# Messages Chromium logs that are not the page's fault.
_IGNORED_CONSOLE = (re.compile(r"favicon\.ico"),)


def screenshot_dir() -> Path:
    directory = Path(
        os.environ.get("LEADQUAL_SCREENSHOT_DIR") or REPO_ROOT / ".artifacts" / "screenshots"
    )
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def url_or_skip(name: str, *args: Any) -> str:
    """The path of a dashboards URL, or a skip naming it while that page is not built yet."""
    try:
        return reverse(f"dashboards:{name}", args=args)
    except NoReverseMatch:
        pytest.skip(
            f"URL 'dashboards:{name}' does not resolve{f' with {args}' if args else ''}: "
            "that page is not built yet"
        )


@pytest.fixture(scope="module")
def playwright_browser() -> Iterator[Any]:
    """One headless Chromium per module.

    While Playwright's sync API is running, an asyncio loop runs in this thread, and Django
    refuses ORM calls from a thread with a running loop (SynchronousOnlyOperation). The tests'
    ORM calls are ordinary synchronous code between browser steps, so the check is switched off
    for as long as the browser is up, and on again when Playwright stops.
    """
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: run .ci/ensure-chromium (Debian's chromium package)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            # No `playwright install`: Debian's browser, not a downloaded build.
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
            try:
                yield browser
            finally:
                browser.close()


@dataclass
class Tab:
    """A page in a fresh browser context, with the console errors it has logged."""

    page: Any
    errors: list[str] = field(default_factory=list)

    def assert_no_console_errors(self) -> None:
        assert self.errors == [], "JavaScript console errors:\n" + "\n".join(self.errors)

    def screenshot(self, name: str) -> Path:
        size = self.page.viewport_size
        path = screenshot_dir() / f"{name}-{size['width']}x{size['height']}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def assert_fits_the_width(self) -> None:
        """Nothing makes the whole page scroll sideways (tables may scroll in their box)."""
        overflow = self.page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 1, f"the page is {overflow}px wider than the viewport"


@pytest.fixture
def open_tab(playwright_browser: Any, live_server: Any) -> Iterator[Any]:
    """`open_tab(viewport)` → a Tab on the live server; every context is closed afterwards."""
    contexts = []

    def open_(viewport: dict[str, int] = DESKTOP) -> Tab:
        context = playwright_browser.new_context(viewport=viewport, base_url=live_server.url)
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        tab = Tab(page=page)

        def on_console(message: Any) -> None:
            if message.type == "error" and not any(
                p.search(message.text) for p in _IGNORED_CONSOLE
            ):
                tab.errors.append(f"console: {message.text} ({page.url})")

        page.on("console", on_console)
        page.on("pageerror", lambda error: tab.errors.append(f"uncaught: {error} ({page.url})"))
        return tab

    yield open_
    for context in contexts:
        context.close()


def log_in(tab: Tab, username: str) -> None:
    """Through the login form, as a person would."""
    from dashboards.services import DEMO_PASSWORD

    page = tab.page
    page.goto(reverse("login"))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name=re.compile("sign in|log in", re.I)).click()
    assert page.url.endswith(reverse("dashboards:home")), f"{username} did not land home"


@dataclass(frozen=True)
class World:
    users: dict[str, User]
    sdr_lead_ids: list[int]
    sdr_account_id: int
    breach_assignment_ids: list[int]


@pytest.fixture
def world(transactional_db: None) -> World:
    """A small demo world, qualified and routed by the real services; the demo SDR holds three
    Sales Ready leads, and a few assignments are past their SLA."""
    from accounts.models import Lead
    from dashboards.services import demo_users_ensure, metrics_snapshot_take
    from leadqual.demo.load import demo_world_load
    from routing.models import Assignment, AssignmentStatus, Queue
    from routing.services import assignment_reassign, assignments_route
    from scoring.account_services import accounts_qualify
    from scoring.models import AccountQualificationReason, Tier
    from scoring.services import leads_qualify

    demo_users_ensure()
    users = {
        u.username: u
        for u in User.objects.filter(username__in=["sdr", "manager", "revops", "admin"])
    }
    demo_world_load(leads=150, seed=7, reset=True)
    ids = list(Lead.objects.order_by("pk").values_list("pk", flat=True))
    # Accounts first, as the nightly run does: the account page shows their stored scores.
    accounts_qualify(reason=AccountQualificationReason.NIGHTLY, requalify_leads=False)
    leads_qualify(lead_ids=ids, notify=False)
    assignments_route(lead_ids=ids)
    sales = list(
        Assignment.objects.filter(
            status=AssignmentStatus.OPEN, queue=Queue.SALES, tier=Tier.SALES_READY
        )
        .select_related("lead")
        .order_by("pk")
    )
    assert len(sales) >= 5, "the demo world should route at least five Sales Ready leads"
    sdr_rep = users["sdr"].sales_rep
    mine = [
        assignment_reassign(assignment=a, reason="Browser test", to_rep=sdr_rep, by_user=None)
        for a in sales[:3]
    ]
    # The clocks of two other leads and of one of the SDR's ran out.
    late = [a.pk for a in sales[3:5]] + [mine[0].pk]
    Assignment.objects.filter(pk__in=late).update(sla_due_at=timezone.now() - timedelta(hours=3))
    # The RevOps pages read the hourly snapshot: take one, as beat would.
    metrics_snapshot_take()
    first = Lead.objects.get(pk=mine[0].lead_id)
    return World(
        users=users,
        sdr_lead_ids=[a.lead_id for a in mine],
        sdr_account_id=first.account_id or 0,
        breach_assignment_ids=late,
    )
