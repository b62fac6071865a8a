"""The community path in scoring: a route_community rule keeps the lead out of sales like the
other routed-elsewhere actions, and the default student rule uses it, without rewriting a rule
that already exists."""

from __future__ import annotations

import numpy as np
import pytest

from scoring.decision import Thresholds, decide_tiers
from scoring.defaults import DISQUALIFICATION_RULES, scoring_defaults_ensure
from scoring.models import DisqualificationRule, RuleAction, RuleCategory


@pytest.mark.parametrize("action", ["route_success", "route_support", "route_community"])
def test_a_routed_elsewhere_rule_keeps_a_likely_buyer_out_of_sales(action: str) -> None:
    tiers = decide_tiers(
        np.array([0.95, 0.95]),
        np.array([action, ""], dtype=object),
        np.array([False, False]),
        Thresholds(0.5, 0.1),
    )

    assert list(tiers) == ["disqualify", "sales_ready"]


def test_the_default_student_rule_sends_students_and_researchers_to_community() -> None:
    (student,) = [r for r in DISQUALIFICATION_RULES if r.category == RuleCategory.STUDENT]

    assert student.action == RuleAction.ROUTE_COMMUNITY


@pytest.mark.django_db
def test_ensuring_the_defaults_creates_the_student_rule_on_the_community_path() -> None:
    scoring_defaults_ensure()

    rule = DisqualificationRule.objects.get(category=RuleCategory.STUDENT)
    assert (rule.reason_code, rule.action) == ("student", RuleAction.ROUTE_COMMUNITY)


@pytest.mark.django_db
def test_ensuring_the_defaults_leaves_a_student_rule_an_admin_kept_on_the_low_priority_pool() -> (
    None
):
    DisqualificationRule.objects.create(
        name="Students (ours)",
        category=RuleCategory.STUDENT,
        reason_code="student",
        action=RuleAction.DISQUALIFY,
        priority=12,
    )

    scoring_defaults_ensure()

    rule = DisqualificationRule.objects.get(reason_code="student")
    assert (rule.name, rule.action, rule.priority) == (
        "Students (ours)",
        RuleAction.DISQUALIFY,
        12,
    )
