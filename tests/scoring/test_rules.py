"""Each disqualifier category, rule precedence, and the review safety net."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from scoring.decision import Thresholds, decide_tiers
from scoring.rules import ReviewPolicy, RuleSpec, evaluate_rules, rule_evidence

RULES = [
    RuleSpec("spam", "Spam", "spam", priority=5),
    RuleSpec("competitor", "Competitor", "competitor", priority=10,
             parameters={"domains": ["rivalsoft.com"]}),
    RuleSpec("analyst", "Analyst", "analyst", priority=15),
    RuleSpec("student", "Student", "student", priority=20,
             parameters={"attribute_values": {"occupation": ["Student"]}}),
    RuleSpec("job_seeker", "Job seeker", "job_seeker", priority=30),
    RuleSpec("customer_support", "Support", "existing_customer_support", action="route_support",
             priority=40),
    RuleSpec("non_decision_maker", "Non-DM", "non_decision_maker", action="route_success",
             priority=50),
    RuleSpec("minimum_fit", "Minimum fit", "minimum_fit", priority=90),
]  # fmt: skip

BASE = {
    "email": "pat@northwind.com",
    "email_domain": "northwind.com",
    "name": "Pat Buyer",
    "title": "VP Operations",
    "seniority": "vp",
    "is_competitor_account": 0.0,
    "is_customer_account": 0.0,
    "job_applications": 0.0,
    "careers_views": 0.0,
    "bottom_funnel_views": 0.0,
    "demo_requests": 0.0,
    "support_requests": 0.0,
    "support_views": 0.0,
    "account_active_people_30d": 1.0,
    "fit_company": 80,
    "fit_role": 80,
    "attr__occupation": None,
}


def _facts(*overrides: dict) -> pd.DataFrame:
    rows = [{**BASE, **o} for o in overrides]
    return pd.DataFrame(rows, index=pd.Index(range(1, len(rows) + 1), name="lead_id"))


def _hit(**override) -> pd.Series:
    return evaluate_rules(RULES, _facts(override)).frame.iloc[0]


def test_a_clean_buyer_matches_no_rule():
    assert _hit()["reason_code"] == ""


@pytest.mark.parametrize(
    ("override", "code"),
    [
        ({"email": "sam@rivalsoft.com", "email_domain": "rivalsoft.com"}, "competitor"),
        ({"email": "sam@eu.rivalsoft.com", "email_domain": "eu.rivalsoft.com"}, "competitor"),
        ({"is_competitor_account": 1.0}, "competitor"),
        ({"email": "amy@cs.stanford.edu", "email_domain": "cs.stanford.edu"}, "student"),
        ({"email": "li@ox.ac.uk", "email_domain": "ox.ac.uk"}, "student"),
        ({"title": "PhD Candidate", "seniority": ""}, "student"),
        ({"seniority": "student", "title": ""}, "student"),
        ({"attr__occupation": "Student"}, "student"),
        ({"job_applications": 1.0}, "job_seeker"),
        ({"careers_views": 3.0}, "job_seeker"),
        ({"is_customer_account": 1.0, "support_requests": 1.0}, "customer_support"),
        ({"is_customer_account": 1.0, "support_views": 4.0}, "customer_support"),
        ({"email": "kim@gartner.com", "email_domain": "gartner.com"}, "analyst"),
        ({"title": "Principal Analyst"}, "analyst"),
        ({"is_customer_account": 1.0, "seniority": "individual", "title": "Engineer"},
         "non_decision_maker"),
        ({"email": "x@mailinator.com", "email_domain": "mailinator.com"}, "spam"),
        ({"email": "asdf@northwind.com", "name": "asdf"}, "spam"),
        ({"fit_company": 5}, "minimum_fit"),
        ({"fit_role": 0}, "minimum_fit"),
    ],
)  # fmt: skip
def test_each_disqualifier_category_matches_its_signals(override, code):
    assert _hit(**override)["reason_code"] == code


def test_careers_views_alone_do_not_disqualify_an_evaluating_buyer():
    assert _hit(careers_views=3.0, bottom_funnel_views=2.0)["reason_code"] == ""


def test_an_existing_customer_asking_for_a_demo_is_not_sent_to_support():
    hit = _hit(is_customer_account=1.0, support_requests=1.0, demo_requests=1.0)
    assert hit["reason_code"] == ""


def test_rules_run_in_priority_order_and_the_first_match_decides():
    # A competitor address that also looks like spam: spam has the lower priority number.
    hit = _hit(email="test@rivalsoft.com", email_domain="rivalsoft.com", name="test")
    assert hit["reason_code"] == "spam"
    reordered = [RuleSpec(r.reason_code, r.name, r.category, r.action,
                          0 if r.category == "competitor" else r.priority, r.parameters)
                 for r in RULES]  # fmt: skip
    frame = _facts({"email": "test@rivalsoft.com", "email_domain": "rivalsoft.com", "name": "test"})
    assert evaluate_rules(reordered, frame).frame.iloc[0]["reason_code"] == "competitor"


def test_rules_take_precedence_over_the_model():
    facts = _facts({"email": "a@rivalsoft.com", "email_domain": "rivalsoft.com"}, {})
    outcome = evaluate_rules(RULES, facts).frame
    tiers = decide_tiers(
        np.array([0.99, 0.99]),
        outcome["action"].to_numpy(),
        outcome["needs_review"].to_numpy(),
        Thresholds(0.5, 0.1),
    )
    assert list(tiers) == ["disqualify", "sales_ready"]


def test_support_need_routes_elsewhere_and_is_kept_out_of_sales():
    facts = _facts({"is_customer_account": 1.0, "support_requests": 2.0})
    outcome = evaluate_rules(RULES, facts).frame
    assert outcome.iloc[0]["action"] == "route_support"
    tiers = decide_tiers(np.array([0.9]), outcome["action"].to_numpy(),
                         outcome["needs_review"].to_numpy(), Thresholds(0.5, 0.1))  # fmt: skip
    assert tiers[0] == "disqualify"


def test_a_student_address_inside_a_live_buying_committee_goes_to_review():
    facts = _facts(
        # A student address, but four colleagues active and real evaluation of their own.
        {"email": "amy@mit.edu", "email_domain": "mit.edu", "account_active_people_30d": 4.0,
         "bottom_funnel_views": 3.0, "demo_requests": 1.0},
        # The same student with no committee around: out, no review.
        {"email": "bo@mit.edu", "email_domain": "mit.edu", "bottom_funnel_views": 3.0},
    )  # fmt: skip
    outcome = evaluate_rules(RULES, facts, ReviewPolicy(min_committee_people=3)).frame
    assert list(outcome["reason_code"]) == ["student", "student"]
    assert list(outcome["needs_review"]) == [True, False]


def test_competitors_never_go_to_review_however_buyer_like():
    facts = _facts({"is_competitor_account": 1.0, "account_active_people_30d": 6.0,
                    "bottom_funnel_views": 5.0, "demo_requests": 1.0})  # fmt: skip
    assert not evaluate_rules(RULES, facts).frame.iloc[0]["needs_review"]


def test_evidence_sentences_name_the_facts():
    assert "rivalsoft.com" in rule_evidence(
        "competitor", pd.Series({"email_domain": "rivalsoft.com"})
    )
    text = rule_evidence("job_seeker", pd.Series({"job_applications": 1, "careers_views": 3}))
    assert "1 job application" in text and "3 careers page" in text
