"""The SDR's queue and brief as a rep reads them, at a desktop's and a phone's size: each
queue row shows its deadline once and this lead's own next step; the brief opens on the
decision, the next step and the handoff, with the detailed evidence below, folded where it is
long, and nothing of it lost."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from django.urls import reverse

from tests.browser.conftest import DESKTOP, VIEWPORTS, Tab, World, log_in

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# What an SLA deadline reads like anywhere on these pages.
SLA_TEXT = re.compile(r"\bSLA\b|Due in |Overdue by |first touch (?:was )?due", re.I)


def _sla_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if SLA_TEXT.search(line)]


def test_each_queue_row_shows_its_deadline_once_and_its_own_next_step(
    world: World, open_tab: Callable[..., Tab]
) -> None:
    for name, viewport in VIEWPORTS.items():
        tab = open_tab(viewport)
        log_in(tab, "sdr")
        tab.page.goto(reverse("dashboards:queue"))
        rows = tab.page.locator("tr.queue-row")
        assert rows.count() == len(world.sdr_lead_ids), name
        steps = []
        for index in range(rows.count()):
            row = rows.nth(index)
            text = row.inner_text()
            assert len(_sla_lines(text)) == 1, f"{name} row {index}: {text!r}"
            assert row.locator(".sla-badge").count() == 1
            step = row.locator(".queue-next")
            assert step.is_visible(), f"{name} row {index} has no next step"
            step_text = step.inner_text()
            assert step_text.startswith("Next step:"), step_text
            # The routing instruction is for whoever routes the lead, not for the rep holding it.
            assert "Route to" not in step_text
            steps.append(step_text)
        assert len(set(steps)) == len(steps), f"the rows share a next step: {steps}"
        tab.screenshot("sdr-queue-next-steps")
        tab.assert_fits_the_width()
        tab.assert_no_console_errors()


def _top(tab: Tab, selector: str) -> float:
    box = tab.page.locator(selector).first.bounding_box()
    assert box is not None, f"{selector} is not on the page"
    return float(box["y"])


def test_the_brief_opens_on_the_decision_the_next_step_and_the_handoff(
    world: World, open_tab: Callable[..., Tab]
) -> None:
    from scoring.models import Qualification

    lead_id = world.sdr_lead_ids[0]
    history = Qualification.objects.filter(lead_id=lead_id).count()
    for name, viewport in VIEWPORTS.items():
        tab = open_tab(viewport)
        log_in(tab, "sdr")
        tab.page.goto(reverse("dashboards:lead_brief", args=[lead_id]))
        tab.page.wait_for_load_state("networkidle")
        page = tab.page

        panel = page.locator(".next-panel")
        assert panel.locator(".decision-strip .tier").inner_text() == "Sales Ready"
        assert page.get_by_role("heading", name="Next step").is_visible()
        assert panel.locator("#handoff").is_visible()
        assert "Sam Rivera" in panel.inner_text()
        # First, then the evidence: the next step is above the assessment card, the model
        # factors and every folded section.
        next_top = _top(tab, ".next-panel")
        for below in (".assessment", "#model-factors", "#behaviour-timeline", "details.fold"):
            assert next_top < _top(tab, below), f"{name}: {below} is above the next step"
        if viewport == DESKTOP:
            # On a desktop the next step is read without scrolling.
            assert _top(tab, ".next-do") + 40 < viewport["height"]
        # The deadline once on the page (this lead's SLA clock ran out in the world).
        lines = _sla_lines(page.locator("main").inner_text())
        assert len(lines) == 1 and "breached" in lines[0], lines

        # Folded, not lost: the history and the stakeholder table are in the page, closed,
        # and open on a click; the map's link opens its fold.
        folds = page.locator("details.fold")
        assert folds.count() >= 4
        assert all(not folds.nth(i).get_attribute("open") for i in range(folds.count()))
        history_rows = page.locator("#history-detail tbody tr")
        assert history_rows.count() == history
        assert not history_rows.first.is_visible()
        page.locator("#history-detail > summary").click()
        assert history_rows.first.is_visible()
        page.get_by_role("link", name="Stakeholder map").click()
        assert page.locator("#stakeholders .row-self").is_visible()

        tab.screenshot("sdr-brief-next-step-first")
        tab.assert_fits_the_width()
        tab.assert_no_console_errors()
