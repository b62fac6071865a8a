"""The default scoring configuration: point rules, one ideal customer profile, disqualifiers.

`scoring_defaults_ensure()` creates whatever is missing and never touches a row that exists, so
an operator's edits in the admin survive every later run (and `make demo`).

Point rules (the seed's traditional score, the baseline the model must beat): a whitepaper is
10 points, the pricing page 15, matching the ideal customer profile 20, a case study 10, a
webinar 15, a demo or contact-sales request 30, and so on (`POINT_RULES`). The seed's Lead A
and Lead B both score 95: ICP 20 + three case studies 30 + a webinar 15 + pricing twice 30.

Disqualification rules, one per `RuleCategory`, with the `parameters` the rule engine
(`scoring.rules`) reads. Every key is optional there and falls back to the engine's default:

- every category: ``title_keywords`` [words] matches the title (case-insensitive, whole
  words; for students it replaces the student keyword list); ``attribute_values``
  {attribute: [values]} matches custom CRM attributes.
- ``competitor``: ``domains`` [email domains, a subdomain matches its parent];
  ``use_account_flag`` (bool) also matches leads of accounts marked ``is_competitor``.
- ``student``: ``domain_suffixes`` [".edu", ".ac.uk", ...]; ``title_keywords`` ["student",
  "phd", ...].
- ``job_seeker``: ``min_job_applications`` (job-application forms, default 1);
  ``min_careers_views`` (careers page views with no evaluation activity, default 2).
- ``existing_customer_support``: at customer accounts only, with no sales-intent form;
  ``min_support_requests`` (support forms, default 1) or ``min_support_views`` (support and
  documentation page views, default 2).
- ``analyst``: ``domains`` [analyst firms]; ``title_keywords`` ["industry analyst", ...].
- ``non_decision_maker``: ``seniorities`` [Seniority values] at customer accounts.
- ``spam``: ``domains`` [disposable mail domains]; ``name_patterns`` [Python regular
  expressions, matched in full, case-insensitively, against the name and the email's local
  part].
- ``minimum_fit``: ``min_company_fit`` and ``min_role_fit`` (0-100): below either matches.

Students and researchers go to the community path (``route_community``) rather than the
low-priority pool. Like every default, that holds for a rule this creates: a student rule that
already exists keeps the action it has, which an admin changes (docs/paths.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction

from scoring.models import (
    DisqualificationRule,
    IdealCustomerProfile,
    PointRule,
    PointSignal,
    RuleAction,
    RuleCategory,
)

DEFAULT_ICP_NAME = "Mid-market and enterprise operations teams"

# The vendor's known competitors. The demo world's competitor accounts use these domains.
COMPETITOR_DOMAINS: tuple[str, ...] = (
    "leadwise.io", "scorestack.com", "pipesignal.com", "qualifyr.io", "funnelcraft.com",
    "convertly.ai",
)  # fmt: skip
ACADEMIC_DOMAIN_SUFFIXES: tuple[str, ...] = (
    ".edu", ".ac.uk", ".edu.au", ".ac.jp", ".ac.in", ".edu.cn", ".ac.nz",
)  # fmt: skip
STUDENT_TITLE_KEYWORDS: tuple[str, ...] = (
    "student", "phd", "ph.d", "doctoral", "undergraduate", "graduate student", "postdoc",
    "research assistant", "teaching assistant", "professor", "lecturer", "intern",
)  # fmt: skip
ANALYST_DOMAINS: tuple[str, ...] = (
    "gartner.com", "forrester.com", "idc.com", "g2.com", "451research.com", "omdia.com",
    "everestgrp.com", "hfsresearch.com",
)  # fmt: skip
DISPOSABLE_DOMAINS: tuple[str, ...] = (
    "mailinator.com", "guerrillamail.com", "10minutemail.com", "tempmail.com", "trashmail.com",
    "yopmail.com", "sharklasers.com", "getnada.com", "dispostable.com", "maildrop.cc",
)  # fmt: skip
SPAM_NAME_PATTERNS: tuple[str, ...] = (
    r"(?:test|asdf|qwerty|aaa+|xxx+|no ?name|none|fake|n/?a)\d*",
    r"(.)\1{3,}",
)


@dataclass(frozen=True)
class _Points:
    name: str
    signal: str
    value: str
    points: int
    max_times: int | None = None


POINT_RULES: tuple[_Points, ...] = (
    _Points("Matches the ideal customer profile", PointSignal.ICP_MATCH, "", 20, 1),
    _Points("Whitepaper", PointSignal.PAGE_CATEGORY, "whitepaper", 10),
    _Points("Pricing page", PointSignal.PAGE_CATEGORY, "pricing", 15),
    _Points("Case study", PointSignal.PAGE_CATEGORY, "case_study", 10),
    _Points("ROI calculator", PointSignal.PAGE_CATEGORY, "roi_calculator", 10),
    _Points("Comparison page", PointSignal.PAGE_CATEGORY, "comparison", 10),
    _Points("Implementation page", PointSignal.PAGE_CATEGORY, "implementation", 5),
    _Points("Integration docs", PointSignal.PAGE_CATEGORY, "integration_docs", 5),
    _Points("Security page", PointSignal.PAGE_CATEGORY, "security", 5),
    _Points("Demo page", PointSignal.PAGE_CATEGORY, "demo", 10),
    _Points("Product page", PointSignal.PAGE_CATEGORY, "product", 3, 5),
    _Points("Blog post", PointSignal.PAGE_CATEGORY, "blog", 2, 5),
    _Points("Educational content", PointSignal.PAGE_CATEGORY, "educational", 2, 5),
    _Points("Careers page", PointSignal.PAGE_CATEGORY, "careers", -5, 3),
    _Points("Webinar attended", PointSignal.TOUCHPOINT_KIND, "webinar", 15),
    _Points("Email open", PointSignal.TOUCHPOINT_KIND, "email_open", 1, 10),
    _Points("Email click", PointSignal.TOUCHPOINT_KIND, "email_click", 3, 5),
    _Points("Email reply", PointSignal.TOUCHPOINT_KIND, "email_reply", 10),
    _Points("Reply to sales outreach", PointSignal.TOUCHPOINT_KIND, "sales_reply", 15),
    _Points("Chat message", PointSignal.TOUCHPOINT_KIND, "chat_message", 5, 3),
    _Points("Meeting", PointSignal.TOUCHPOINT_KIND, "meeting", 20),
    _Points("Demo request", PointSignal.FORM_TYPE, "demo_request", 30),
    _Points("Contact sales", PointSignal.FORM_TYPE, "contact_sales", 30),
    _Points("Free trial", PointSignal.FORM_TYPE, "trial", 20),
    _Points("Gated content form", PointSignal.FORM_TYPE, "gated_content", 5),
    _Points("Newsletter sign-up", PointSignal.FORM_TYPE, "newsletter", 5, 1),
    _Points("Webinar registration", PointSignal.FORM_TYPE, "webinar_registration", 5),
    _Points("C-level", PointSignal.SENIORITY, "c_level", 15, 1),
    _Points("Vice president", PointSignal.SENIORITY, "vp", 10, 1),
    _Points("Director", PointSignal.SENIORITY, "director", 10, 1),
    _Points("Manager", PointSignal.SENIORITY, "manager", 5, 1),
)

ICP_DEFAULTS: dict[str, Any] = {
    "industries": ["Manufacturing", "Transportation", "Technology", "Finance", "Healthcare"],
    "min_employees": 200,
    "max_employees": 5000,
    "countries": [],
    "regions": ["NA", "EMEA"],
    "technologies": ["Salesforce", "HubSpot", "Snowflake", "NetSuite", "Slack", "Segment"],
    "funding_stages": ["series_b", "series_c_plus", "private_equity", "public"],
    "seniorities": ["c_level", "vp", "director", "manager"],
    "departments": ["executive", "operations", "finance", "sales", "marketing", "it"],
    "title_keywords": ["operations", "revenue", "finance", "sales", "marketing", "supply chain"],
}


@dataclass(frozen=True)
class _Rule:
    reason_code: str
    name: str
    category: str
    action: str
    priority: int
    parameters: dict[str, Any]
    description: str


DISQUALIFICATION_RULES: tuple[_Rule, ...] = (
    _Rule("spam", "Spam or throwaway address", RuleCategory.SPAM, RuleAction.DISQUALIFY, 5,
          {"domains": list(DISPOSABLE_DOMAINS), "name_patterns": list(SPAM_NAME_PATTERNS)},
          "Disposable mail domains and junk names such as 'test' or 'asdf'."),
    _Rule("competitor", "Competitor", RuleCategory.COMPETITOR, RuleAction.DISQUALIFY, 10,
          {"use_account_flag": True, "domains": list(COMPETITOR_DOMAINS)},
          "Someone from a competitor researching us: never routed to sales."),
    _Rule("analyst", "Industry analyst", RuleCategory.ANALYST, RuleAction.DISQUALIFY, 20,
          {"domains": list(ANALYST_DOMAINS),
           "title_keywords": ["industry analyst", "research director", "principal analyst"]},
          "Analyst firms: handled by analyst relations, not sales."),
    _Rule("student", "Student or academic", RuleCategory.STUDENT, RuleAction.ROUTE_COMMUNITY, 30,
          {"domain_suffixes": list(ACADEMIC_DOMAIN_SUFFIXES),
           "title_keywords": list(STUDENT_TITLE_KEYWORDS)},
          "Academic email domains and student titles: research, not a purchase. Kept in touch "
          "through the community path rather than a dead pool."),
    _Rule("job_seeker", "Job seeker", RuleCategory.JOB_SEEKER, RuleAction.DISQUALIFY, 40,
          {"min_job_applications": 1, "min_careers_views": 2},
          "A job application, or careers pages without any evaluation activity."),
    _Rule("existing_customer_support", "Existing customer with a support need",
          RuleCategory.EXISTING_CUSTOMER_SUPPORT, RuleAction.ROUTE_SUCCESS, 50,
          {"min_support_requests": 1, "min_support_views": 2},
          "Customers asking for help go to customer success, not to a new-business SDR."),
    _Rule("non_decision_maker_existing_account", "Non-decision-maker at an existing account",
          RuleCategory.NON_DECISION_MAKER, RuleAction.NURTURE, 60,
          {"seniorities": ["individual", "student"]},
          "Individual contributors at customer accounts: nurture, the account team knows them."),
    _Rule("below_minimum_fit", "Below minimum fit", RuleCategory.MINIMUM_FIT,
          RuleAction.DISQUALIFY, 90, {"min_company_fit": 20, "min_role_fit": 15},
          "Company or role fit too low for any sales conversation."),
)  # fmt: skip


@transaction.atomic
def scoring_defaults_ensure() -> None:
    """Create the default point rules, ICP and disqualifiers that are missing; keep the rest.

    A point rule is identified by (signal, value), a disqualifier by its reason code, and the
    ICP by its name; the default ICP is made active only when no other profile is.
    """
    existing_points = set(PointRule.objects.values_list("signal", "value"))
    PointRule.objects.bulk_create(
        [
            PointRule(
                name=rule.name,
                signal=rule.signal,
                value=rule.value,
                points=rule.points,
                max_times=rule.max_times,
            )
            for rule in POINT_RULES
            if (str(rule.signal), rule.value) not in existing_points
        ]
    )
    if not IdealCustomerProfile.objects.filter(name=DEFAULT_ICP_NAME).exists():
        has_active = IdealCustomerProfile.objects.filter(is_active=True).exists()
        IdealCustomerProfile.objects.create(
            name=DEFAULT_ICP_NAME, is_active=not has_active, **ICP_DEFAULTS
        )
    existing_codes = set(DisqualificationRule.objects.values_list("reason_code", flat=True))
    DisqualificationRule.objects.bulk_create(
        [
            DisqualificationRule(
                name=rule.name,
                category=rule.category,
                reason_code=rule.reason_code,
                action=rule.action,
                priority=rule.priority,
                parameters=rule.parameters,
                description=rule.description,
            )
            for rule in DISQUALIFICATION_RULES
            if rule.reason_code not in existing_codes
        ]
    )
