"""RevOps's first look after `make demo`: the demo's own steps (the Makefile's manage.py
commands, in its order, on a smaller world), then /revops/ and /revops/models/ in a real
headless Chromium. The pages show figures, not the empty state; the live charts have live
leads to draw; the active model reads active, with no "no active model" beside it."""

from __future__ import annotations

import re
from collections.abc import Callable
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.urls import reverse

from tests.browser.conftest import VIEWPORTS, Tab, log_in

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# The Makefile's `demo` recipe, step by step, with a world small enough for a test.
DEMO_STEPS: list[tuple[str, ...]] = [
    ("generate_demo_data", "--leads", "1500", "--seed", "42"),
    ("train_model", "--if-missing"),
    ("qualify_leads", "--unqualified"),
    ("create_demo_users",),
    ("replay_holdout",),
    ("take_metrics_snapshot",),
]


@pytest.fixture
def demo(transactional_db: None) -> dict[str, Any]:
    for step in DEMO_STEPS:
        call_command(*step, stdout=StringIO())
    from scoring.models import ModelKind, ModelStatus, ModelVersion

    active = ModelVersion.objects.get(kind=ModelKind.CONVERSION, status=ModelStatus.ACTIVE)
    return {"active": active}


def test_the_makefile_runs_these_steps_in_this_order() -> None:
    from tests.browser.conftest import REPO_ROOT

    recipe = (REPO_ROOT / "Makefile").read_text()
    for target in ("demo:", "demo-salesforce-loopback:"):
        body = recipe.split(f"\n{target}", 1)[1].split("\n\n", 1)[0]
        # The commands run (an echoed hint naming a command is not one).
        commands = re.findall(
            r"^\s*(?:\$\(DEV_ENV\) )?\$\(VPY\) manage\.py (\w+)", body, flags=re.MULTILINE
        )
        steps = [step[0] for step in DEMO_STEPS]
        assert [c for c in commands if c in steps] == steps, target
        assert commands[-1] == "take_metrics_snapshot", target


def test_revops_opens_the_metrics_and_the_models_with_figures_and_one_active_model(
    demo: dict[str, Any], open_tab: Callable[..., Tab]
) -> None:
    active = demo["active"]
    for viewport in VIEWPORTS.values():
        tab = open_tab(viewport)
        log_in(tab, "revops")
        page = tab.page

        page.goto(reverse("dashboards:revops"))
        page.wait_for_load_state("networkidle")
        overview = page.locator("main").inner_text()
        assert "No metrics snapshot yet" not in overview
        assert re.search(r"As of the snapshot taken .* \(1,500 leads\)", overview)
        assert re.search(r"Outcome figures are computed over the [\d,]+ live leads", overview)
        for key in ("prediction_accuracy", "signal_availability"):
            value = page.locator(f"#metric-{key} .metric-value").inner_text().strip()
            assert re.match(r"^\d+% ?", value), f"{key}: {value!r}"
        assert page.locator("#tier-history-chart").count() == 1
        tab.screenshot("revops-first-run")

        page.goto(reverse("dashboards:revops-models"))
        page.wait_for_load_state("networkidle")
        models = page.locator("main").inner_text()
        assert "No metrics snapshot yet" not in models
        assert "Not enough data" not in models
        assert page.locator("#calibration-chart .plot-container").count() == 1
        assert page.locator("#lift-chart .plot-container").count() == 1
        row = page.locator(f"#version-{active.pk}")
        assert row.locator(".status").inner_text() == "Active"
        assert "the first model, promoted because none was active" in row.inner_text()
        assert "no active model" not in models.lower()
        assert re.search(r"of them are the holdout of model #" + str(active.pk), models)
        tab.screenshot("revops-first-run-models")
        tab.assert_fits_the_width()
        tab.assert_no_console_errors()
