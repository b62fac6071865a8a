"""The demo world: a seeded, realistic synthetic CRM built from the seed article's patterns.

Pure: numpy and pandas only, no ORM and no settings. `world_generate` returns plain frames
(one per table, rows referring to each other by position) plus a `truth` frame that the
database never sees: each lead's persona and hidden readiness. Tests read the truth; the model
must not, so nothing about it is written to the database.

The story
---------
Every lead has a persona (shares in `PERSONA_SHARES`) and a *snapshot* moment T. Its
touchpoints all happen before T. Historical leads (created 400 to 60 days before the anchor)
then get an outcome at T + delay, with one delay distribution for both outcomes so the timing
gives nothing away: converted (an opportunity opens that moment) or closed. Current leads
(created in the last 60 days) have no outcome yet.

Outcomes come from a hidden readiness process, a logistic of

    persona base + company fit + seniority + buying-committee size + third-party intent surge
    near T + trigger event (funding, new leader, initiative, job postings) in the 120 days
    before T + a depth of evaluation that the buyer's behaviour only partly shows + noise

so no single observable decides the outcome. Active buyers act in concentrated bursts of
bottom-funnel activity (pricing with long dwell, ROI calculator, implementation, integration
docs, security, comparison pages, demo requests, replies, colleagues active at the same time);
long-term researchers spread educational touches over months and glance at pricing for under
ten seconds. Some researchers also download three case studies, attend a webinar and visit
pricing twice, exactly like some buyers (the seed's Lead A / Lead B), so point scores overlap.
Competitors, students, job seekers and analysts almost never convert; existing customers with
support needs rarely do.

The anchor is the world's "now": the same seed and anchor give the same world, row for row.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from accounts.titles import committee_role_for, title_seniority_department
from leadqual.demo.feeds import AccountFeeds, account_feeds_generate, intent_deliveries

Array = npt.NDArray[Any]

DAY_SECONDS = 86400


class Persona(StrEnum):
    ACTIVE_BUYER = "active_buyer"
    RESEARCHER = "researcher"
    COLD = "cold"
    EXISTING_CUSTOMER = "existing_customer"
    STUDENT = "student"
    JOB_SEEKER = "job_seeker"
    COMPETITOR = "competitor"
    ANALYST = "analyst"


# Share of leads per persona; the generator hits these exactly (rounded to whole leads).
PERSONA_SHARES: dict[Persona, float] = {
    Persona.ACTIVE_BUYER: 0.12,
    Persona.RESEARCHER: 0.24,
    Persona.COLD: 0.38,
    Persona.EXISTING_CUSTOMER: 0.08,
    Persona.STUDENT: 0.07,
    Persona.JOB_SEEKER: 0.06,
    Persona.COMPETITOR: 0.04,
    Persona.ANALYST: 0.01,
}
PERSONAS: tuple[Persona, ...] = tuple(PERSONA_SHARES)
_P = {persona: index for index, persona in enumerate(PERSONAS)}

PERSONA_LABELS: dict[Persona, str] = {
    Persona.ACTIVE_BUYER: "active buyers",
    Persona.RESEARCHER: "long-term researchers",
    Persona.COLD: "cold leads",
    Persona.EXISTING_CUSTOMER: "existing customers with support needs",
    Persona.STUDENT: "students",
    Persona.JOB_SEEKER: "job seekers",
    Persona.COMPETITOR: "competitors",
    Persona.ANALYST: "industry analysts",
}

HISTORY_DAYS = 400  # historical leads are created between 400 ...
CURRENT_DAYS = 60  # ... and 60 days before the anchor; current ones in the last 60 days
HISTORICAL_SHARE = (HISTORY_DAYS - CURRENT_DAYS) / HISTORY_DAYS
# Current buying episodes: this share is live (its committee active in the last
# CURRENT_LIVE_DAYS days), the rest went quiet up to CURRENT_COOLED_DAYS days ago.
CURRENT_LIVE_SHARE = 0.7
CURRENT_LIVE_DAYS = 3.0
CURRENT_COOLED_DAYS = 40.0
LEADS_PER_ACCOUNT = 8
MIN_ACCOUNTS = 50
# Outcome delay after the snapshot, in days: log-normal, the same for wins and losses.
OUTCOME_DELAY_MEDIAN_DAYS = 14.0
OUTCOME_DELAY_MAX_DAYS = 45.0

VENDOR_SITE = "https://www.flowpilot.example"
STAFF_EMAIL_DOMAIN = "flowpilot.example"

# --- firmographics --------------------------------------------------------------------------

# (industry, share of accounts, revenue per employee in USD, deal-size multiplier)
INDUSTRIES: tuple[tuple[str, float, float, float], ...] = (
    ("Manufacturing", 0.13, 250_000, 1.00),
    ("Transportation", 0.09, 220_000, 0.95),
    ("Technology", 0.16, 300_000, 1.10),
    ("Finance", 0.09, 400_000, 1.30),
    ("Healthcare", 0.09, 180_000, 1.15),
    ("Retail", 0.09, 200_000, 0.85),
    ("Consulting", 0.07, 180_000, 0.80),
    ("Media", 0.05, 250_000, 0.80),
    ("Energy", 0.04, 600_000, 1.20),
    ("Telecommunications", 0.04, 450_000, 1.10),
    ("Insurance", 0.04, 380_000, 1.20),
    ("Construction", 0.04, 230_000, 0.90),
    ("Education", 0.03, 120_000, 0.60),
    ("Hospitality", 0.04, 90_000, 0.70),
)
INDUSTRY_NAMES: tuple[str, ...] = tuple(row[0] for row in INDUSTRIES)
# The target market; scoring.defaults' ideal customer profile says the same.
TARGET_INDUSTRIES: tuple[str, ...] = (
    "Manufacturing", "Transportation", "Technology", "Finance", "Healthcare",
)  # fmt: skip
TARGET_MIN_EMPLOYEES = 200
TARGET_MAX_EMPLOYEES = 5000
TARGET_REGIONS: tuple[str, ...] = ("NA", "EMEA")

_INDUSTRY_SUFFIXES: dict[str, tuple[str, ...]] = {
    "Manufacturing": ("Manufacturing", "Industries", "Components", "Fabrication", "Machining",
                      "Plastics"),
    "Transportation": ("Logistics", "Freight", "Shipping", "Transport", "Carriers", "Fleet"),
    "Technology": ("Software", "Analytics", "Systems", "Labs", "Cloud", "Data"),
    "Finance": ("Capital", "Financial", "Payments", "Lending", "Bancorp", "Advisors"),
    "Healthcare": ("Health", "Medical", "Clinics", "Care", "Diagnostics", "Pharma"),
    "Retail": ("Retail", "Outfitters", "Market", "Goods", "Stores", "Brands"),
    "Consulting": ("Consulting", "Advisory", "Group", "Associates", "Strategy", "Partners"),
    "Media": ("Media", "Studios", "Publishing", "Digital", "Broadcasting", "Press"),
    "Energy": ("Energy", "Power", "Solar", "Utilities", "Renewables", "Grid"),
    "Telecommunications": ("Telecom", "Networks", "Wireless", "Communications", "Fiber",
                           "Connect"),
    "Insurance": ("Insurance", "Assurance", "Mutual", "Underwriters", "Risk", "Cover"),
    "Construction": ("Construction", "Builders", "Engineering", "Contractors", "Structures",
                     "Development"),
    "Education": ("Learning", "Academy", "Education", "Training", "Tutoring", "Courseware"),
    "Hospitality": ("Hotels", "Hospitality", "Resorts", "Dining", "Travel", "Inns"),
}  # fmt: skip

_NAME_PREFIXES: tuple[str, ...] = (
    "Northwind", "Bluepeak", "Ironbridge", "Silverline", "Redwood", "Clearwater", "Summit",
    "Granite", "Harbor", "Pinecrest", "Brightpath", "Crescent", "Evergreen", "Falcon", "Highland",
    "Keystone", "Lakeside", "Meridian", "Oakridge", "Pioneer", "Quantum", "Riverbend", "Stonegate",
    "Trident", "Unity", "Vanguard", "Westfield", "Apex", "Beacon", "Cedar", "Delta", "Eagle",
    "Frontier", "Horizon", "Juniper", "Kestrel", "Lumen", "Maple", "Nova", "Orion", "Paragon",
    "Quartz", "Radiant", "Sterling", "Titan", "Upland", "Vertex", "Willow", "Zenith", "Atlas",
    "Bramble", "Cobalt", "Driftwood", "Ember", "Fjord", "Glacier", "Hawthorne", "Indigo", "Jasper",
    "Kinetic", "Larch", "Monarch", "Nimbus", "Onyx", "Prairie", "Quill", "Ridgeway", "Sable",
    "Tamarack", "Umber", "Verdant", "Wren", "Yarrow", "Alder", "Birch", "Canyon", "Dune", "Elm",
    "Flint", "Grove", "Heron", "Iris", "Juno", "Kodiak", "Linden", "Mesa", "Noble", "Oasis",
    "Pelican", "Raven", "Sierra", "Tundra", "Vista", "Alpine", "Bayview", "Coral", "Dover",
    "Everest", "Foxglove", "Goldcrest",
)  # fmt: skip
_NAME_QUALIFIERS: tuple[str, ...] = (
    "Group", "Holdings", "International", "Solutions", "Global", "Worldwide", "Co", "Partners",
    "Enterprises", "Ventures",
)  # fmt: skip

# (region, share) and (country, share, states, language) per region.
REGION_SHARES: tuple[tuple[str, float], ...] = (
    ("NA", 0.50), ("EMEA", 0.28), ("APAC", 0.14), ("LATAM", 0.08),
)  # fmt: skip
_COUNTRIES: dict[str, tuple[tuple[str, float, tuple[str, ...], str], ...]] = {
    "NA": (
        ("US", 0.85, ("CA", "NY", "TX", "IL", "WA", "MA", "GA", "CO", "FL", "NC", "PA", "OH"),
         "en"),
        ("CA", 0.15, ("ON", "BC", "QC", "AB"), "en"),
    ),
    "EMEA": (
        ("GB", 0.30, (), "en"), ("DE", 0.22, (), "de"), ("FR", 0.14, (), "fr"),
        ("NL", 0.10, (), "nl"), ("ES", 0.07, (), "es"), ("IT", 0.06, (), "it"),
        ("SE", 0.05, (), "sv"), ("IE", 0.04, (), "en"), ("CH", 0.02, (), "de"),
    ),
    "APAC": (
        ("AU", 0.35, ("NSW", "VIC", "QLD"), "en"), ("JP", 0.20, (), "ja"),
        ("SG", 0.20, (), "en"), ("IN", 0.20, ("MH", "KA", "DL"), "en"), ("NZ", 0.05, (), "en"),
    ),
    "LATAM": (
        ("BR", 0.40, ("SP", "RJ"), "pt"), ("MX", 0.30, (), "es"), ("AR", 0.10, (), "es"),
        ("CL", 0.10, (), "es"), ("CO", 0.10, (), "es"),
    ),
}  # fmt: skip
_COUNTRY_TLD = {
    "GB": ".co.uk",
    "DE": ".de",
    "FR": ".fr",
    "NL": ".nl",
    "AU": ".com.au",
    "JP": ".co.jp",
    "BR": ".com.br",
    "MX": ".com.mx",
    "IN": ".in",
    "ES": ".es",
    "IT": ".it",
    "SE": ".se",
    "CH": ".ch",
}

TECHNOLOGIES: tuple[tuple[str, float], ...] = (
    ("Salesforce", 0.45), ("HubSpot", 0.30), ("Marketo", 0.12), ("Snowflake", 0.20),
    ("SAP", 0.15), ("NetSuite", 0.12), ("Slack", 0.50), ("Microsoft Dynamics", 0.12),
    ("Zendesk", 0.20), ("Segment", 0.10), ("AWS", 0.45), ("Azure", 0.30), ("Google Cloud", 0.20),
    ("Oracle", 0.10), ("Workday", 0.15), ("Outreach", 0.10), ("Gong", 0.08), ("Pardot", 0.06),
    ("Jira", 0.35), ("Tableau", 0.15),
)  # fmt: skip
# What the product integrates with; scoring.defaults' ideal customer profile says the same.
TARGET_TECHNOLOGIES: tuple[str, ...] = (
    "Salesforce", "HubSpot", "Snowflake", "NetSuite", "Slack", "Segment",
)  # fmt: skip

# (name, domain) of the vendor's competitors; their accounts carry is_competitor.
COMPETITORS: tuple[tuple[str, str], ...] = (
    ("Leadwise", "leadwise.io"), ("ScoreStack", "scorestack.com"),
    ("PipeSignal", "pipesignal.com"), ("Qualifyr", "qualifyr.io"),
    ("Funnelcraft", "funnelcraft.com"), ("Convertly", "convertly.ai"),
)  # fmt: skip
COMPETITOR_DOMAINS: tuple[str, ...] = tuple(domain for _, domain in COMPETITORS)

# (domain, country) of universities; students mostly write from these.
ACADEMIC_DOMAINS: tuple[tuple[str, str], ...] = (
    ("stanford.edu", "US"), ("mit.edu", "US"), ("umich.edu", "US"), ("berkeley.edu", "US"),
    ("utexas.edu", "US"), ("nyu.edu", "US"), ("gatech.edu", "US"), ("ox.ac.uk", "GB"),
    ("cam.ac.uk", "GB"), ("ucl.ac.uk", "GB"), ("ed.ac.uk", "GB"), ("unimelb.edu.au", "AU"),
    ("sydney.edu.au", "AU"), ("u-tokyo.ac.jp", "JP"), ("iitb.ac.in", "IN"),
    ("tsinghua.edu.cn", "CN"), ("auckland.ac.nz", "NZ"),
)  # fmt: skip
ACADEMIC_SUFFIXES: tuple[str, ...] = (
    ".edu", ".ac.uk", ".edu.au", ".ac.jp", ".ac.in", ".edu.cn", ".ac.nz",
)  # fmt: skip
ANALYST_DOMAINS: tuple[str, ...] = ("gartner.com", "forrester.com", "idc.com")
FREE_MAIL: tuple[tuple[str, float], ...] = (
    ("gmail.com", 0.55), ("outlook.com", 0.15), ("yahoo.com", 0.10), ("hotmail.com", 0.10),
    ("icloud.com", 0.06), ("proton.me", 0.04),
)  # fmt: skip

_FIRST_NAMES: tuple[str, ...] = (
    "James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda", "David",
    "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah",
    "Charles", "Karen", "Daniel", "Nancy", "Matthew", "Lisa", "Anthony", "Betty", "Mark",
    "Margaret", "Steven", "Sandra", "Paul", "Ashley", "Andrew", "Emily", "Joshua", "Donna",
    "Kenneth", "Michelle", "Kevin", "Carol", "Brian", "Amanda", "George", "Melissa", "Timothy",
    "Deborah", "Ronald", "Stephanie", "Jason", "Rebecca", "Ryan", "Laura", "Jacob", "Sharon",
    "Gary", "Cynthia", "Nicholas", "Kathleen", "Eric", "Amy", "Jonathan", "Angela", "Priya",
    "Rahul", "Ananya", "Arjun", "Wei", "Mei", "Hiroshi", "Yuki", "Sofia", "Lucas", "Mateo",
    "Camila", "Valentina", "Diego", "Gabriel", "Isabella", "Lukas", "Anna", "Leon", "Mia",
    "Jonas", "Lea", "Louis", "Chloe", "Hugo", "Manon", "Lars", "Ingrid", "Sven", "Astrid",
    "Fatima", "Omar", "Aisha", "Yusuf", "Olivia", "Noah", "Emma", "Liam", "Ava", "Ethan",
    "Harper", "Aiden", "Zoe", "Caleb", "Nora", "Owen", "Grace", "Mason", "Chen", "Jin", "Min-jun",
    "Seo-yeon", "Kofi", "Amara", "Tariq", "Leila",
)  # fmt: skip
_LAST_NAMES: tuple[str, ...] = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor",
    "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez",
    "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright",
    "Scott", "Torres", "Nguyen", "Hill", "Flores", "Green", "Adams", "Nelson", "Baker", "Hall",
    "Rivera", "Campbell", "Mitchell", "Carter", "Roberts", "Patel", "Shah", "Kumar", "Singh",
    "Gupta", "Wang", "Li", "Zhang", "Liu", "Chen", "Tanaka", "Suzuki", "Sato", "Watanabe",
    "Kim", "Park", "Choi", "Muller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer",
    "Wagner", "Becker", "Dubois", "Laurent", "Bernard", "Moreau", "Rossi", "Russo", "Ferrari",
    "Esposito", "Silva", "Santos", "Oliveira", "Souza", "Costa", "Pereira", "Andersson",
    "Johansson", "Karlsson", "Nilsson", "Jansen", "de Vries", "van Dijk", "Bakker", "Murphy",
    "Kelly", "O'Brien", "Walsh", "Byrne", "Ahmed", "Hassan", "Ali", "Okafor", "Mensah", "Cohen",
    "Levi", "Novak", "Kowalski", "Nowak", "Horvat", "Popescu", "Ivanova", "Petrov",
)  # fmt: skip

# --- people ---------------------------------------------------------------------------------

_TITLES: dict[Persona, tuple[str, ...]] = {
    Persona.ACTIVE_BUYER: (
        "Director of Operations", "VP Operations", "CFO", "Chief Financial Officer",
        "VP Engineering", "Head of Revenue Operations", "Director of Marketing",
        "Marketing Director", "COO", "IT Director", "Procurement Manager",
        "Sales Operations Manager", "VP Sales", "Director of IT", "Head of Marketing Operations",
        "Operations Manager", "CTO", "Director of Finance", "Security Architect",
        "Senior Data Engineer", "VP Manufacturing", "Director of Supply Chain",
    ),
    Persona.RESEARCHER: (
        "Marketing Manager", "Marketing Director", "Operations Analyst", "Business Analyst",
        "Consultant", "Product Manager", "Marketing Specialist", "Content Strategist",
        "Data Analyst", "Director of Operations", "Growth Marketing Manager",
        "Sales Operations Analyst", "Project Manager", "Demand Generation Manager",
    ),
    Persona.COLD: (
        "Marketing Manager", "Owner", "Founder", "Office Manager", "Account Manager",
        "Software Engineer", "Engineer", "Marketing Coordinator", "Operations Manager",
        "Sales Manager", "Director of Sales", "VP Marketing", "Business Analyst", "Consultant",
        "IT Manager", "Customer Service Manager", "HR Manager", "Accountant", "",
    ),
    Persona.EXISTING_CUSTOMER: (
        "Operations Analyst", "Systems Administrator", "IT Manager", "Salesforce Administrator",
        "Support Engineer", "Operations Coordinator", "Data Analyst",
        "Marketing Operations Specialist", "IT Support Specialist", "Sales Operations Analyst",
    ),
    Persona.COMPETITOR: (
        "Product Marketing Manager", "Competitive Intelligence Analyst", "Product Manager",
        "Account Executive", "Sales Engineer", "VP Product", "Growth Manager",
    ),
    Persona.STUDENT: (
        "Student", "PhD candidate", "Research assistant", "MBA student", "Graduate student",
        "Undergraduate student",
    ),
    Persona.JOB_SEEKER: (
        "", "", "Sales Development Representative", "Account Executive", "Software Engineer",
        "Marketing Coordinator", "Recent graduate", "Customer Success Manager",
        "Business Development Representative",
    ),
    Persona.ANALYST: (
        "Principal Analyst", "Research Director", "Senior Analyst", "VP Research",
        "Industry Analyst",
    ),
}  # fmt: skip
_EXTRA_CONTACT_TITLES: tuple[str, ...] = (
    "CEO", "CFO", "VP Operations", "IT Director", "Procurement Manager", "General Counsel",
    "Operations Manager", "Head of Sales",
)  # fmt: skip

# (source, weight) per persona, and the custom "lead_source_detail" each source shows.
_SOURCES: dict[Persona, tuple[tuple[str, float], ...]] = {
    Persona.ACTIVE_BUYER: (("organic", .25), ("paid_search", .15), ("referral", .20),
                           ("event", .10), ("outbound", .15), ("partner", .08), ("webinar", .07)),
    Persona.RESEARCHER: (("organic", .35), ("paid_search", .15), ("webinar", .25),
                         ("content_syndication", .15), ("event", .05), ("referral", .05)),
    Persona.COLD: (("organic", .25), ("paid_search", .20), ("content_syndication", .15),
                   ("event", .15), ("outbound", .15), ("webinar", .10)),
    Persona.EXISTING_CUSTOMER: (("organic", .50), ("referral", .10), ("webinar", .20),
                                ("event", .20)),
    Persona.COMPETITOR: (("organic", .50), ("webinar", .30), ("paid_search", .20)),
    Persona.STUDENT: (("organic", .70), ("webinar", .20), ("paid_search", .10)),
    Persona.JOB_SEEKER: (("organic", .85), ("paid_search", .10), ("referral", .05)),
    Persona.ANALYST: (("organic", .40), ("webinar", .30), ("event", .30)),
}  # fmt: skip
_SOURCE_DETAILS: dict[str, tuple[str, ...]] = {
    "organic": ("Google organic", "Bing organic", "Direct"),
    "paid_search": ("Google Ads - brand", "Google Ads - lead scoring", "LinkedIn Ads"),
    "webinar": ("Webinar: pipeline quality masterclass", "Webinar: AI lead scoring 101"),
    "referral": ("Customer referral", "Partner referral", "G2 review page"),
    "event": ("SaaStr booth", "Dreamforce booth", "RevOps Summit"),
    "outbound": ("SDR sequence", "ABM campaign"),
    "partner": ("Partner: Salesforce AppExchange", "Partner: HubSpot marketplace"),
    "content_syndication": ("Content syndication - TechTarget", "Content syndication - Madison"),
}
LEAD_SOURCES: tuple[str, ...] = tuple(_SOURCE_DETAILS)
BUDGET_BANDS: tuple[str, ...] = ("<$10k", "$10k-$50k", "$50k-$250k", "$250k+")

# --- touchpoints ----------------------------------------------------------------------------

# name: (kind, page_category, form_type, chat/reply text group)
_ITEMS: dict[str, tuple[str, str, str, str]] = {
    "home": ("page_view", "home", "", ""),
    "pricing": ("page_view", "pricing", "", ""),
    "roi": ("page_view", "roi_calculator", "", ""),
    "implementation": ("page_view", "implementation", "", ""),
    "integration_docs": ("page_view", "integration_docs", "", ""),
    "security": ("page_view", "security", "", ""),
    "comparison": ("page_view", "comparison", "", ""),
    "case_study_view": ("page_view", "case_study", "", ""),
    "case_study_download": ("content_download", "case_study", "", ""),
    "product": ("page_view", "product", "", ""),
    "demo_page": ("page_view", "demo", "", ""),
    "whitepaper_view": ("page_view", "whitepaper", "", ""),
    "whitepaper_download": ("content_download", "whitepaper", "", ""),
    "webinar_page": ("page_view", "webinar", "", ""),
    "webinar_attend": ("webinar", "webinar", "", ""),
    "blog": ("page_view", "blog", "", ""),
    "educational": ("page_view", "educational", "", ""),
    "careers": ("page_view", "careers", "", ""),
    "support": ("page_view", "support", "", ""),
    "docs": ("page_view", "docs", "", ""),
    "other": ("page_view", "other", "", ""),
    "email_open": ("email_open", "", "", ""),
    "email_click_blog": ("email_click", "blog", "", ""),
    "email_click_webinar": ("email_click", "webinar", "", ""),
    "email_click_case": ("email_click", "case_study", "", ""),
    "email_reply_buyer": ("email_reply", "", "", "buyer_reply"),
    "email_reply_generic": ("email_reply", "", "", "generic_reply"),
    "sales_reply_buyer": ("sales_reply", "", "", "buyer_reply"),
    "meeting": ("meeting", "", "", ""),
    "form_demo": ("form_submit", "demo", "demo_request", ""),
    "form_contact": ("form_submit", "pricing", "contact_sales", ""),
    "form_trial": ("form_submit", "product", "trial", ""),
    "form_newsletter": ("form_submit", "blog", "newsletter", ""),
    "form_gated": ("form_submit", "whitepaper", "gated_content", ""),
    "form_webinar_reg": ("form_submit", "webinar", "webinar_registration", ""),
    "form_job": ("form_submit", "careers", "job_application", ""),
    "form_support": ("form_submit", "support", "support", ""),
    "chat_buyer": ("chat_message", "pricing", "", "buyer_eval"),
    "chat_researcher": ("chat_message", "blog", "", "researcher_q"),
    "chat_support": ("chat_message", "support", "", "support_q"),
    "chat_student": ("chat_message", "educational", "", "student_q"),
    "chat_jobseeker": ("chat_message", "careers", "", "jobseeker_q"),
    "chat_competitor": ("chat_message", "pricing", "", "competitor_q"),
}
ITEM_NAMES: tuple[str, ...] = tuple(_ITEMS)
_I = {name: index for index, name in enumerate(ITEM_NAMES)}

# Where in an evaluation an item sits (0: first look, 1: decision): a buyer's burst runs in
# this order, roughly, so pricing comes after the implementation pages.
_STAGE: dict[str, float] = {
    "home": 0.05, "blog": 0.1, "educational": 0.1, "whitepaper_view": 0.15,
    "whitepaper_download": 0.15, "webinar_page": 0.2, "webinar_attend": 0.2, "email_open": 0.3,
    "email_click_case": 0.3, "case_study_view": 0.3, "case_study_download": 0.3, "product": 0.35,
    "docs": 0.45, "comparison": 0.5, "integration_docs": 0.55, "implementation": 0.6,
    "security": 0.65, "pricing": 0.72, "roi": 0.76, "chat_buyer": 0.7, "demo_page": 0.85,
}  # fmt: skip

KINDS: tuple[str, ...] = (
    "page_view", "content_download", "email_open", "email_click", "email_reply", "form_submit",
    "webinar", "chat_message", "meeting", "sales_reply",
)  # fmt: skip
PAGE_CATEGORIES: tuple[str, ...] = (
    "", "home", "pricing", "roi_calculator", "implementation", "integration_docs", "security",
    "comparison", "case_study", "product", "demo", "whitepaper", "webinar", "blog", "educational",
    "careers", "support", "docs", "other",
)  # fmt: skip
FORM_TYPES: tuple[str, ...] = (
    "", "demo_request", "contact_sales", "trial", "newsletter", "gated_content",
    "webinar_registration", "job_application", "support",
)  # fmt: skip
BOTTOM_FUNNEL_CATEGORIES: frozenset[str] = frozenset(
    {"pricing", "roi_calculator", "implementation", "integration_docs", "security", "comparison"}
)

_CATEGORY_PATHS: dict[str, tuple[str, ...]] = {
    "home": ("/", "/platform"),
    "pricing": ("/pricing", "/pricing?plan=team", "/pricing?plan=enterprise", "/pricing#faq"),
    "roi_calculator": ("/roi-calculator", "/roi-calculator/results"),
    "implementation": ("/implementation", "/implementation/timeline",
                       "/implementation/onboarding-plan"),
    "integration_docs": ("/docs/integrations/salesforce", "/docs/integrations/hubspot",
                         "/docs/integrations/snowflake", "/docs/integrations/netsuite",
                         "/docs/integrations/slack", "/docs/integrations/segment"),
    "security": ("/security", "/security/soc2", "/security/questionnaire", "/trust/gdpr"),
    "comparison": (*(f"/compare/flowpilot-vs-{name.lower()}" for name, _ in COMPETITORS),
                   "/compare/alternatives"),
    "product": ("/product", "/product/lead-scoring", "/product/routing", "/product/analytics",
                "/product/integrations"),
    "demo": ("/demo",),
    "whitepaper": ("/resources/whitepapers/state-of-lead-qualification",
                   "/resources/whitepapers/buyer-intent-guide",
                   "/resources/whitepapers/revops-benchmark-report",
                   "/resources/ebooks/ai-for-sales-teams"),
    "webinar": ("/webinars/pipeline-quality-masterclass", "/webinars/ai-lead-scoring-101",
                "/webinars/revops-roundtable"),
    "blog": ("/blog/what-is-lead-scoring", "/blog/mql-vs-sql", "/blog/intent-data-explained",
             "/blog/sales-and-marketing-alignment", "/blog/lead-routing-best-practices",
             "/blog/buying-committees", "/blog/speed-to-lead", "/blog/predictive-scoring-myths",
             "/blog/abm-playbook", "/blog/revops-metrics"),
    "educational": ("/learn/lead-qualification-frameworks", "/learn/bant-vs-meddic",
                    "/learn/what-is-intent-data", "/learn/glossary"),
    "careers": ("/careers", "/careers/sales-development-representative",
                "/careers/account-executive", "/careers/software-engineer",
                "/careers/customer-success-manager"),
    "support": ("/support", "/support/articles/reset-sso", "/support/articles/sync-errors",
                "/support/articles/user-permissions", "/support/status"),
    "docs": ("/docs", "/docs/getting-started", "/docs/api", "/docs/admin/users",
             "/docs/routing-rules"),
    "other": ("/about", "/partners", "/events", "/legal/privacy"),
}  # fmt: skip
_CASE_STUDY_CUSTOMERS = ("alderway", "brightmoor", "calloway")
_FORM_PATHS: dict[str, str] = {
    "demo_request": "/demo", "contact_sales": "/contact-sales", "trial": "/trial",
    "newsletter": "/blog/subscribe", "gated_content": "/resources/download",
    "webinar_registration": "/webinars/register", "job_application": "/careers/apply",
    "support": "/support/new-ticket",
}  # fmt: skip

_TEXTS: dict[str, tuple[str, ...]] = {
    "buyer_eval": (
        "We're evaluating options this quarter. What does a typical implementation timeline "
        "look like?",
        "Do you integrate with Salesforce and Snowflake out of the box?",
        "What would pricing look like for about 150 users? Budget is approved for Q3.",
        "Can you send your SOC 2 report? Security review is the last step on our side.",
        "We're comparing you with Leadwise. What's the main difference in routing?",
        "Our contract with our current vendor ends in two months; how fast can we switch?",
        "Who should I talk to about an enterprise agreement? Our CFO wants a quote this week.",
        "Is there an ROI case we can share with our leadership team?",
    ),
    "researcher_q": (
        "Do you have any benchmarks on lead-to-opportunity conversion by industry?",
        "Is the webinar recording available?",
        "Just browsing. What's the difference between scoring and qualification?",
        "Where can I find more articles on intent data?",
    ),
    "support_q": (
        "Our Salesforce sync has been failing since yesterday, error 401.",
        "How do I reset SSO for a user on our account?",
        "The routing rules page is not loading for our admin.",
        "How do I add a new user to our workspace?",
        "We're seeing duplicate leads after the last import, can you help?",
        "Where do I download last month's invoice?",
    ),
    "student_q": (
        "Hi, I'm writing my thesis on lead scoring models. Can I use some of your data?",
        "For my thesis I'm comparing lead qualification tools; is there a student license?",
        "I'm a student researching AI in sales for a class project.",
        "Could I interview someone from your team for my dissertation?",
    ),
    "jobseeker_q": (
        "Are you hiring SDRs in Austin?",
        "I applied for the account executive role last week; who is the recruiter?",
        "Do you sponsor visas for engineering roles?",
        "What's the interview process like for customer success?",
    ),
    "competitor_q": (
        "What does your enterprise tier include compared with the team plan?",
        "How do you price, per seat or per lead?",
        "Do you publish your model's accuracy anywhere?",
    ),
    "buyer_reply": (
        "Thanks, yes, let's set up a call next week. Adding our CFO.",
        "Tuesday 10am works. Can you bring someone technical for the integration questions?",
        "We reviewed the proposal internally; a few questions on the implementation plan.",
        "Please send the security questionnaire answers and a quote for 200 seats.",
    ),
    "generic_reply": (
        "Thanks for the article.",
        "Not right now, maybe next year.",
        "Please remove me from this list.",
        "Interesting, I'll share it with my team.",
        "Thanks, I'm just researching for now.",
    ),
}
_PROPERTIES: dict[str, tuple[str, ...]] = {
    "web": ('{"device": "desktop"}', '{"device": "mobile"}',
            '{"device": "desktop", "referrer": "google"}',
            '{"device": "desktop", "referrer": "linkedin"}', '{"device": "tablet"}'),
    "email": ('{"campaign": "monthly-newsletter"}', '{"campaign": "webinar-invite"}',
              '{"campaign": "sdr-sequence"}', '{"campaign": "product-update"}'),
}  # fmt: skip

# Dwell time on a page view, seconds: (median, log-sd) per page category.
_DWELL: dict[str, tuple[float, float]] = {
    "home": (20, 0.7), "pricing": (45, 0.8), "roi_calculator": (240, 0.6),
    "implementation": (200, 0.6), "integration_docs": (180, 0.6), "security": (150, 0.6),
    "comparison": (120, 0.6), "case_study": (110, 0.6), "product": (60, 0.7), "demo": (40, 0.6),
    "whitepaper": (90, 0.6), "webinar": (40, 0.6), "blog": (95, 0.7), "educational": (150, 0.7),
    "careers": (70, 0.7), "support": (80, 0.7), "docs": (120, 0.7), "other": (25, 0.7),
}  # fmt: skip
_PERSONA_DWELL = {Persona.ACTIVE_BUYER: 1.3, Persona.COLD: 0.45, Persona.STUDENT: 1.1}


@dataclass(frozen=True)
class _Component:
    """One strand of a persona's activity: how many touches, which ones, and when."""

    persona: Persona
    timing: str  # spread | burst | early | final | recent
    mix: Mapping[str, float] = field(default_factory=dict)
    base: int = 0
    lam: float = 0.0
    prob: float = 1.0
    # Buyers' hidden evaluation depth raises the Poisson mean (exp) or the probability (logit).
    depth_coef: float = 0.0
    script: tuple[str, ...] = ()
    only_early: bool = False


_LEAD_A_SCRIPT = (
    "implementation",
    "case_study_download",
    "case_study_download",
    "case_study_download",
    "webinar_attend",
    "pricing",
    "pricing",
)
_LEAD_B_SCRIPT = (
    "case_study_download",
    "case_study_download",
    "case_study_download",
    "webinar_attend",
    "pricing",
    "pricing",
)

_COMPONENTS: tuple[_Component, ...] = (
    # Active buyers: a burst of evaluation, sometimes after a few early touches.
    _Component(Persona.ACTIVE_BUYER, "burst", base=5, lam=7.0, depth_coef=0.15, mix={
        "pricing": 14, "roi": 6, "implementation": 7, "integration_docs": 8, "security": 5,
        "comparison": 8, "case_study_view": 5, "case_study_download": 4, "product": 10,
        "demo_page": 3, "docs": 4, "home": 6, "blog": 5, "educational": 2, "whitepaper_view": 2,
        "webinar_page": 1, "email_click_case": 2, "email_open": 4}),
    _Component(Persona.ACTIVE_BUYER, "early", base=1, lam=2.0, only_early=True, mix={
        "blog": 30, "educational": 20, "home": 15, "whitepaper_download": 10,
        "webinar_attend": 5, "product": 10, "email_open": 10}),
    _Component(Persona.ACTIVE_BUYER, "final", base=1, prob=0.55, depth_coef=0.9, mix={
        "form_demo": 6, "form_contact": 3, "form_trial": 1}),
    _Component(Persona.ACTIVE_BUYER, "final", base=1, lam=0.5, prob=0.35, depth_coef=0.6, mix={
        "email_reply_buyer": 4, "sales_reply_buyer": 4, "meeting": 2}),
    _Component(Persona.ACTIVE_BUYER, "burst", base=1, lam=0.3, prob=0.3, mix={"chat_buyer": 1}),
    _Component(Persona.ACTIVE_BUYER, "burst", prob=0.25, script=_LEAD_A_SCRIPT),
    # Long-term researchers: top-funnel content spread over months.
    _Component(Persona.RESEARCHER, "spread", base=5, lam=9.0, mix={
        "blog": 26, "educational": 16, "whitepaper_view": 6, "whitepaper_download": 8,
        "case_study_view": 5, "case_study_download": 4, "webinar_page": 3, "webinar_attend": 4,
        "home": 6, "product": 6, "pricing": 4, "comparison": 2, "docs": 2, "other": 2,
        "email_open": 12, "email_click_blog": 5, "email_click_webinar": 3}),
    _Component(Persona.RESEARCHER, "spread", base=1, lam=0.6, prob=0.55, mix={
        "form_newsletter": 4, "form_gated": 5, "form_webinar_reg": 3}),
    _Component(Persona.RESEARCHER, "spread", prob=0.35, script=_LEAD_B_SCRIPT),
    _Component(Persona.RESEARCHER, "spread", base=1, prob=0.08,
               mix={"email_reply_generic": 1}),
    _Component(Persona.RESEARCHER, "spread", base=1, prob=0.05, mix={"chat_researcher": 1}),
    _Component(Persona.RESEARCHER, "final", base=1, prob=0.04, mix={"form_demo": 1}),
    # Cold leads: a few touches and bounces.
    _Component(Persona.COLD, "spread", base=1, lam=2.2, mix={
        "home": 20, "blog": 20, "product": 12, "pricing": 8, "educational": 8, "other": 8,
        "email_open": 18, "email_click_blog": 4, "case_study_view": 2}),
    _Component(Persona.COLD, "spread", base=1, prob=0.18, mix={
        "form_newsletter": 6, "form_gated": 3, "form_webinar_reg": 2, "form_demo": 0.6,
        "form_contact": 0.4}),
    _Component(Persona.COLD, "spread", base=1, prob=0.04, mix={"email_reply_generic": 1}),
    # Existing customers with support needs.
    _Component(Persona.EXISTING_CUSTOMER, "spread", base=2, lam=5.0, mix={
        "support": 30, "docs": 25, "integration_docs": 10, "home": 6, "product": 6, "blog": 5,
        "pricing": 3, "email_open": 10, "email_click_blog": 3, "webinar_attend": 2}),
    _Component(Persona.EXISTING_CUSTOMER, "recent", base=1, lam=0.5, prob=0.6,
               mix={"form_support": 1}),
    _Component(Persona.EXISTING_CUSTOMER, "recent", base=1, lam=0.4, prob=0.4,
               mix={"chat_support": 1}),
    # Competitors doing research on the vendor.
    _Component(Persona.COMPETITOR, "spread", base=3, lam=6.0, mix={
        "comparison": 18, "pricing": 16, "case_study_view": 8, "case_study_download": 10,
        "product": 14, "integration_docs": 6, "whitepaper_download": 8, "webinar_attend": 5,
        "blog": 5, "security": 3, "implementation": 3, "email_open": 4}),
    _Component(Persona.COMPETITOR, "spread", base=1, prob=0.3, mix={
        "form_gated": 6, "form_webinar_reg": 3, "form_demo": 1}),
    _Component(Persona.COMPETITOR, "spread", base=1, prob=0.1, mix={"chat_competitor": 1}),
    # Students.
    _Component(Persona.STUDENT, "spread", base=2, lam=4.5, mix={
        "blog": 25, "educational": 30, "whitepaper_download": 12, "case_study_view": 6,
        "docs": 6, "pricing": 4, "careers": 5, "home": 6, "webinar_attend": 3, "email_open": 3}),
    _Component(Persona.STUDENT, "spread", base=1, prob=0.45, mix={
        "form_gated": 6, "form_newsletter": 3, "form_webinar_reg": 2}),
    _Component(Persona.STUDENT, "spread", base=1, prob=0.15, mix={"chat_student": 1}),
    # Job seekers.
    _Component(Persona.JOB_SEEKER, "spread", base=2, lam=3.5, mix={
        "careers": 45, "home": 12, "blog": 8, "product": 10, "other": 10, "case_study_view": 4,
        "educational": 3}),
    _Component(Persona.JOB_SEEKER, "final", base=1, prob=0.7, mix={"form_job": 1}),
    _Component(Persona.JOB_SEEKER, "spread", base=1, prob=0.06, mix={"chat_jobseeker": 1}),
    # Industry analysts.
    _Component(Persona.ANALYST, "spread", base=3, lam=5.0, mix={
        "comparison": 15, "pricing": 12, "case_study_download": 12, "whitepaper_download": 14,
        "product": 15, "webinar_attend": 8, "blog": 8, "security": 4, "integration_docs": 4,
        "email_open": 6}),
    _Component(Persona.ANALYST, "spread", base=1, prob=0.4, mix={
        "form_gated": 5, "form_webinar_reg": 3, "form_contact": 1}),
)  # fmt: skip

# Days between a lead's creation and its snapshot, per persona (uniform low..high).
_SPAN_DAYS: dict[Persona, tuple[float, float]] = {
    Persona.RESEARCHER: (45, 300), Persona.COLD: (0, 90), Persona.EXISTING_CUSTOMER: (10, 200),
    Persona.COMPETITOR: (10, 150), Persona.STUDENT: (3, 60), Persona.JOB_SEEKER: (1, 45),
    Persona.ANALYST: (20, 200),
}  # fmt: skip

# --- the hidden readiness process -----------------------------------------------------------

_BASE_LOGIT: dict[Persona, float] = {
    Persona.ACTIVE_BUYER: -2.3, Persona.RESEARCHER: -3.5, Persona.COLD: -4.0,
    Persona.EXISTING_CUSTOMER: -3.5, Persona.STUDENT: -8.0, Persona.JOB_SEEKER: -8.0,
    Persona.COMPETITOR: -8.0, Persona.ANALYST: -8.0,
}  # fmt: skip
_SENIORITY_LOGIT: dict[str, float] = {
    "c_level": 0.45, "vp": 0.45, "director": 0.35, "manager": 0.1, "individual": -0.3,
    "student": -1.0, "": -0.3,
}  # fmt: skip
FIT_WEIGHT = 1.6
DEPTH_WEIGHT = 0.9  # buyers; the behaviour shows it only partly
COLLEAGUE_WEIGHT = 0.45
INTENT_WEIGHT = 0.35  # per unit of surge above baseline, up to 3
EVENT_WEIGHT = 0.6
NOISE_SD = 0.9
INTENT_WINDOW_DAYS = 45
EVENT_WINDOW_DAYS = 120

INTENT_TOPICS: tuple[str, ...] = (
    "Lead scoring", "Sales automation", "Revenue operations", "CRM integration",
    "Marketing automation", "Predictive analytics", "Sales intelligence", "Lead routing",
)  # fmt: skip
INTENT_SOURCES: tuple[str, ...] = ("Bombora", "G2", "TechTarget")

# --- reps, teams and territories --------------------------------------------------------------


@dataclass(frozen=True)
class TerritorySpec:
    name: str
    regions: tuple[str, ...]
    countries: tuple[str, ...]
    description: str


@dataclass(frozen=True)
class RepSpec:
    username: str
    first_name: str
    last_name: str
    role: str  # routing.models.RepRole values
    team: str
    territories: tuple[str, ...]
    skills: tuple[str, ...]
    languages: tuple[str, ...]
    max_open_leads: int
    max_leads_per_day: int
    weight: float
    # Out of office as days relative to the anchor (from, until), or None.
    out_of_office: tuple[float, float] | None = None

    @property
    def email(self) -> str:
        return f"{self.username}@{STAFF_EMAIL_DOMAIN}"


@dataclass(frozen=True)
class PoolSpec:
    name: str
    reps: tuple[str, ...]
    is_fallback: bool
    description: str


@dataclass(frozen=True)
class RoutingRuleSpec:
    name: str
    priority: int
    pool: str
    territory: str | None = None
    tiers: tuple[str, ...] = ("sales_ready",)
    min_employees: int | None = None
    min_deal_size: int | None = None
    languages: tuple[str, ...] = ()
    required_skill: str = ""
    strategy: str = "weighted_round_robin"


TERRITORIES: tuple[TerritorySpec, ...] = tuple(
    TerritorySpec(
        name=name,
        regions=(region,),
        countries=tuple(country for country, *_ in _COUNTRIES[region]),
        description=description,
    )
    for name, region, description in (
        ("North America", "NA", "United States and Canada."),
        ("EMEA", "EMEA", "Europe, Middle East and Africa."),
        ("APAC", "APAC", "Asia-Pacific."),
        ("LATAM", "LATAM", "Latin America."),
    )
)
_ALL_TERRITORIES = tuple(t.name for t in TERRITORIES)

REPS: tuple[RepSpec, ...] = (
    RepSpec("maria.garcia", "Maria", "Garcia", "sdr", "NA Mid-Market", ("North America",),
            ("mid_market", "manufacturing", "transportation"), ("en", "es"), 60, 15, 1.0),
    RepSpec("james.carter", "James", "Carter", "sdr", "NA Enterprise", ("North America",),
            ("enterprise", "finance"), ("en",), 40, 10, 1.0),
    RepSpec("priya.natarajan", "Priya", "Natarajan", "sdr", "NA Enterprise", ("North America",),
            ("enterprise", "technology", "healthcare"), ("en",), 50, 12, 1.5),
    RepSpec("ethan.walker", "Ethan", "Walker", "sdr", "NA Mid-Market", ("North America",),
            ("mid_market", "technology"), ("en",), 60, 15, 1.0),
    RepSpec("tom.becker", "Tom", "Becker", "sdr", "EMEA", ("EMEA",),
            ("mid_market", "manufacturing"), ("en", "de"), 50, 12, 1.0),
    RepSpec("claire.dubois", "Claire", "Dubois", "sdr", "EMEA", ("EMEA",),
            ("enterprise", "healthcare"), ("en", "fr"), 45, 12, 1.0),
    RepSpec("sofia.rossi", "Sofia", "Rossi", "sdr", "EMEA", ("EMEA",),
            ("mid_market", "retail"), ("en", "it", "es"), 50, 12, 1.0, out_of_office=(-2, 12)),
    RepSpec("kenji.watanabe", "Kenji", "Watanabe", "sdr", "APAC", ("APAC",),
            ("enterprise", "manufacturing"), ("en", "ja"), 40, 10, 1.0),
    RepSpec("emily.chen", "Emily", "Chen", "sdr", "APAC", ("APAC",),
            ("mid_market", "technology"), ("en", "zh"), 50, 12, 1.0),
    RepSpec("lucas.oliveira", "Lucas", "Oliveira", "sdr", "LATAM", ("LATAM",),
            ("mid_market",), ("en", "pt", "es"), 50, 12, 1.0),
    RepSpec("daniel.kim", "Daniel", "Kim", "ae", "Enterprise AE", ("North America", "EMEA"),
            ("enterprise", "finance", "technology"), ("en", "ko"), 30, 5, 2.0),
    RepSpec("hannah.schmidt", "Hannah", "Schmidt", "success", "Customer Success",
            _ALL_TERRITORIES, ("customer_success",), ("en", "de"), 80, 20, 1.0),
    RepSpec("olivia.brown", "Olivia", "Brown", "manager", "Sales Management", _ALL_TERRITORIES,
            ("enterprise", "mid_market"), ("en",), 10, 3, 1.0),
)  # fmt: skip

POOLS: tuple[PoolSpec, ...] = (
    PoolSpec("NA Enterprise", ("james.carter", "priya.natarajan", "daniel.kim"), False,
             "Enterprise accounts in North America."),
    PoolSpec("NA Mid-Market", ("maria.garcia", "ethan.walker"), False,
             "Mid-market accounts in North America."),
    PoolSpec("EMEA", ("tom.becker", "claire.dubois", "sofia.rossi"), False, "EMEA SDRs."),
    PoolSpec("APAC", ("kenji.watanabe", "emily.chen"), False, "APAC SDRs."),
    PoolSpec("LATAM", ("lucas.oliveira",), False, "LATAM SDR."),
    PoolSpec("Customer Success", ("hannah.schmidt",), False, "Existing customers."),
    PoolSpec("Overflow", ("maria.garcia", "ethan.walker", "tom.becker", "priya.natarajan"), True,
             "Where leads go when no rule matches or no one in the chosen pool has capacity."),
)  # fmt: skip

ROUTING_RULES: tuple[RoutingRuleSpec, ...] = (
    RoutingRuleSpec("NA enterprise (1,000+ employees)", 10, "NA Enterprise",
                    territory="North America", min_employees=1000, required_skill="enterprise"),
    RoutingRuleSpec("Large deals (predicted $100k+)", 15, "NA Enterprise",
                    territory="North America", min_deal_size=100_000),
    RoutingRuleSpec("NA mid-market", 20, "NA Mid-Market", territory="North America",
                    strategy="least_loaded"),
    RoutingRuleSpec("EMEA", 30, "EMEA", territory="EMEA"),
    RoutingRuleSpec("APAC", 40, "APAC", territory="APAC"),
    RoutingRuleSpec("LATAM", 50, "LATAM", territory="LATAM"),
)  # fmt: skip


# --- output ---------------------------------------------------------------------------------


@dataclass
class DemoWorld:
    """The generated rows. Frames refer to each other by position (account, lead: -1 none).

    accounts, leads, stakeholders, touchpoints, intent_signals, account_events,
    opportunities and technologies carry exactly the database's columns (with positions
    instead of ids; the feeds' rows come from `leadqual.demo.feeds`);
    `truth` (one row per lead: persona, snapshot_at, readiness, converted, episode) is the
    hidden state that is never loaded.
    """

    seed: int
    anchor: datetime
    accounts: pd.DataFrame
    leads: pd.DataFrame
    truth: pd.DataFrame
    stakeholders: pd.DataFrame
    touchpoints: pd.DataFrame
    intent_signals: pd.DataFrame
    account_events: pd.DataFrame
    opportunities: pd.DataFrame
    technologies: pd.DataFrame
    reps: tuple[RepSpec, ...] = REPS
    territories: tuple[TerritorySpec, ...] = TERRITORIES
    pools: tuple[PoolSpec, ...] = POOLS
    routing_rules: tuple[RoutingRuleSpec, ...] = ROUTING_RULES

    def counts(self) -> dict[str, int]:
        return {
            "accounts": len(self.accounts),
            "leads": len(self.leads),
            "stakeholders": len(self.stakeholders),
            "touchpoints": len(self.touchpoints),
            "intent_signals": len(self.intent_signals),
            "account_events": len(self.account_events),
            "opportunities": len(self.opportunities),
            "technologies": len(self.technologies),
            "reps": len(self.reps),
        }


def anchor_default(now: datetime | None = None) -> datetime:
    """The moment of generation, to the minute (UTC): the default "now" of the world, so that
    what the story makes recent ("12 touchpoints in the past 7 days") is recent when the demo
    is first opened."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return moment.replace(second=0, microsecond=0)


def persona_counts(leads: int) -> dict[Persona, int]:
    """Leads per persona for a world of this size: the shares, rounded; cold takes the rest."""
    counts = {p: round(leads * share) for p, share in PERSONA_SHARES.items()}
    counts[Persona.COLD] += leads - sum(counts.values())
    if counts[Persona.COLD] < 0:  # tiny worlds: take the excess from the largest persona
        largest = max(counts, key=lambda p: counts[p])
        counts[largest] += counts[Persona.COLD]
        counts[Persona.COLD] = 0
    return counts


def world_generate(*, leads: int, seed: int, anchor: datetime) -> DemoWorld:
    """Build the whole world for `leads` leads. Deterministic in (leads, seed, anchor)."""
    if leads < 1:
        raise ValueError("A demo world needs at least one lead.")
    if anchor.tzinfo is None:
        raise ValueError("The anchor must be an aware datetime.")
    return _Builder(leads=leads, seed=seed, anchor=anchor).build()


def world_digest(world: DemoWorld) -> str:
    """A hash of every generated row, for "same seed, same world" checks."""
    digest = hashlib.sha256()
    for name in (
        "accounts",
        "leads",
        "truth",
        "stakeholders",
        "touchpoints",
        "intent_signals",
        "account_events",
        "opportunities",
        "technologies",
    ):
        frame: pd.DataFrame = getattr(world, name)
        digest.update(name.encode())
        digest.update(frame.to_csv(index=False).encode())
    return digest.hexdigest()


# --- the builder ----------------------------------------------------------------------------


def _sigmoid(x: Array) -> Array:
    return np.asarray(1.0 / (1.0 + np.exp(-x)))


def _weights(values: Sequence[float] | Array) -> Array:
    w = np.asarray(values, dtype=float)
    return np.asarray(w / w.sum())


def _choice_index(rng: np.random.Generator, size: int, weights: Sequence[float] | Array) -> Array:
    return rng.choice(len(weights), size=size, p=_weights(weights))


def _slug(text: str) -> str:
    out = "".join(c if c.isalnum() else "-" for c in text.lower())
    return "-".join(part for part in out.split("-") if part)


def _dedupe(values: Sequence[str], render: Any) -> list[str]:
    """Make strings unique: the k-th repeat of v becomes render(v, k) (k = 1, 2, ...)."""
    series = pd.Series(list(values), dtype=object)
    repeat = series.groupby(series, sort=False).cumcount().to_numpy()
    out = list(values)
    for index in np.flatnonzero(repeat).tolist():
        out[index] = render(out[index], int(repeat[index]))
    if len(set(out)) != len(out):  # a rendered value hit an original one: number them all
        seen: dict[str, int] = {}
        for i, value in enumerate(out):
            count = seen.get(value, 0)
            seen[value] = count + 1
            if count:
                out[i] = render(value, count + 100)
    return out


class _Builder:
    def __init__(self, *, leads: int, seed: int, anchor: datetime) -> None:
        self.n = leads
        self.seed = seed
        self.anchor = anchor.astimezone(UTC)
        self.anchor_s = int(self.anchor.timestamp())
        # One stream per stage, so a change in one stage does not reshuffle the others (a new
        # stage takes a new stream at the end: the first ones stay as they were).
        children = np.random.SeedSequence(seed).spawn(15)
        (
            self.rng_accounts,
            self.rng_personas,
            self.rng_time,
            self.rng_signals,
            self.rng_outcome,
            self.rng_people,
            self.rng_touch,
            self.rng_touch_detail,
            self.rng_stake,
            self.rng_opps,
            self.rng_anon,
            self.rng_owner,
            self.rng_dates,
            self.rng_status,
            self.rng_feeds,
        ) = (np.random.default_rng(child) for child in children)

    # time helpers: the generator thinks in float days relative to the anchor (negative: past)
    def _ts(self, days: Array) -> pd.Series:
        seconds = self.anchor_s + np.round(np.asarray(days, dtype=float) * DAY_SECONDS)
        values = seconds.astype("int64").astype("datetime64[s]")
        return pd.Series(pd.to_datetime(values, utc=True))

    def _ts_nullable(self, days: Array) -> pd.Series:
        days = np.asarray(days, dtype=float)
        out = self._ts(np.nan_to_num(days))
        out[np.isnan(days)] = pd.NaT
        return out

    def build(self) -> DemoWorld:
        self._accounts()
        self._personas_and_accounts()
        self._timeline()
        self._signals()
        self._readiness()
        # After the readiness: the feeds are evidence correlated with buying through the
        # episodes, not causes of it.
        feeds = self._feeds()
        self._people()
        touchpoints = self._touchpoints()
        stakeholders = self._stakeholders()
        opportunities = self._opportunities()
        self._account_owners()
        return DemoWorld(
            seed=self.seed,
            anchor=self.anchor,
            accounts=self._accounts_frame(),
            leads=self._leads_frame(),
            truth=self._truth_frame(),
            stakeholders=stakeholders,
            touchpoints=touchpoints,
            intent_signals=self._intent_with(feeds),
            account_events=self._events_with(feeds),
            opportunities=opportunities,
            technologies=feeds.technologies,
        )

    # --- accounts ---------------------------------------------------------------------------

    def _accounts(self) -> None:
        rng = self.rng_accounts
        n_competitors = len(COMPETITORS)
        n = max(MIN_ACCOUNTS, self.n // LEADS_PER_ACCOUNT)
        n_regular = n - n_competitors
        industry = _choice_index(rng, n_regular, [row[1] for row in INDUSTRIES])
        region = _choice_index(rng, n_regular, [share for _, share in REGION_SHARES])
        region_names = np.array([name for name, _ in REGION_SHARES], dtype=object)[region]
        country = np.empty(n_regular, dtype=object)
        state = np.full(n_regular, "", dtype=object)
        for r, (rname, _) in enumerate(REGION_SHARES):
            idx = np.flatnonzero(region == r)
            options = _COUNTRIES[rname]
            pick = _choice_index(rng, len(idx), [share for _, share, _, _ in options])
            country[idx] = np.array([c for c, *_ in options], dtype=object)[pick]
            for o, (_, _, states, _) in enumerate(options):
                if states:
                    sub = idx[pick == o]
                    state[sub] = np.array(states, dtype=object)[
                        rng.integers(0, len(states), len(sub))
                    ]
        employees = np.clip(np.round(rng.lognormal(math.log(250), 1.3, n_regular)), 5, 150_000)
        employees = employees.astype(np.int64)
        rev_per = np.array([row[2] for row in INDUSTRIES])[industry]
        revenue = np.round(employees * rev_per * rng.lognormal(0, 0.4, n_regular), -3)
        revenue[rng.random(n_regular) < 0.1] = np.nan

        # Tech stack: 3..8 technologies, popularity-weighted, without replacement
        # (Efraimidis-Spirakis keys, so it is one vectorised sort).
        tech_names = np.array([t for t, _ in TECHNOLOGIES], dtype=object)
        keys = rng.random((n_regular, len(TECHNOLOGIES))) ** (
            1.0 / np.array([w for _, w in TECHNOLOGIES])
        )
        order = np.argsort(-keys, axis=1)
        sizes = rng.integers(3, 9, n_regular)
        tech_stack = [sorted(tech_names[order[i, : sizes[i]]].tolist()) for i in range(n_regular)]
        target_tech = np.array([t in TARGET_TECHNOLOGIES for t in tech_names])
        n_target_tech = np.array(
            [target_tech[order[i, : sizes[i]]].sum() for i in range(n_regular)]
        )

        funding = np.empty(n_regular, dtype=object)
        bands = (
            (employees < 50, ("bootstrapped", "seed", "series_a", ""), (0.3, 0.4, 0.2, 0.1)),
            (
                (employees >= 50) & (employees < 250),
                ("series_a", "series_b", "bootstrapped", "seed", ""),
                (0.3, 0.3, 0.15, 0.1, 0.15),
            ),
            (
                (employees >= 250) & (employees < 2000),
                ("series_b", "series_c_plus", "private_equity", "public", ""),
                (0.2, 0.3, 0.25, 0.05, 0.2),
            ),
            (
                employees >= 2000,
                ("public", "private_equity", "series_c_plus", ""),
                (0.5, 0.3, 0.1, 0.1),
            ),
        )
        for mask, stages, shares in bands:
            idx = np.flatnonzero(mask)
            funding[idx] = np.array(stages, dtype=object)[_choice_index(rng, len(idx), shares)]

        target_industry = np.isin(
            np.array(INDUSTRY_NAMES, dtype=object)[industry], TARGET_INDUSTRIES
        )
        in_band = (employees >= TARGET_MIN_EMPLOYEES) & (employees <= TARGET_MAX_EMPLOYEES)
        near_band = (employees >= 50) & (employees <= 20_000)
        size_fit = np.where(in_band, 1.0, np.where(near_band, 0.5, 0.1))
        region_fit = np.select(
            [region_names == "NA", region_names == "EMEA", region_names == "APAC"],
            [1.0, 1.0, 0.6],
            0.4,
        )
        tech_fit = np.select([n_target_tech >= 2, n_target_tech == 1], [1.0, 0.6], 0.2)
        fit = (
            0.35 * np.where(target_industry, 1.0, 0.3)
            + 0.3 * size_fit
            + 0.15 * region_fit
            + 0.2 * tech_fit
        )

        # Names: prefix + industry noun, then a qualifier, then a number for huge worlds.
        prefix = rng.integers(0, len(_NAME_PREFIXES), n_regular)
        suffix_pick = rng.integers(0, 6, n_regular)
        nouns = [_INDUSTRY_SUFFIXES[name] for name in INDUSTRY_NAMES]
        names = [
            f"{_NAME_PREFIXES[prefix[i]]} {nouns[industry[i]][suffix_pick[i]]}"
            for i in range(n_regular)
        ]
        qualifiers = _NAME_QUALIFIERS

        def qualify(name: str, k: int) -> str:
            if k <= len(qualifiers):
                return f"{name} {qualifiers[k - 1]}"
            return f"{name} {qualifiers[(k - 1) % len(qualifiers)]} {k // len(qualifiers) + 1}"

        names = _dedupe(names, qualify)
        domains = [
            _slug(names[i]) + _COUNTRY_TLD.get(str(country[i]), ".com") for i in range(n_regular)
        ]
        domains = _dedupe(
            domains, lambda d, k: d.split(".", 1)[0] + f"-{k + 1}." + d.split(".", 1)[1]
        )

        # About one account in ten is a customer, good-fit ones more often.
        customer = rng.random(n_regular) < 0.1 * fit / fit.mean()
        tier = np.select([employees >= 2000, employees >= 200], ["Tier 1", "Tier 2"], "Tier 3")
        segment = np.select(
            [employees >= 1000, employees >= 100], ["Enterprise", "Mid-Market"], "SMB"
        )

        comp_employees = rng.integers(40, 900, n_competitors)
        self.acc = pd.DataFrame(
            {
                "name": names + [name for name, _ in COMPETITORS],
                "domain": domains + list(COMPETITOR_DOMAINS),
                "industry": np.concatenate(
                    [
                        np.array(INDUSTRY_NAMES, dtype=object)[industry],
                        np.full(n_competitors, "Technology", dtype=object),
                    ]
                ),
                "employee_count": np.concatenate([employees, comp_employees]),
                "annual_revenue": np.concatenate([revenue, comp_employees * 250_000.0]),
                "country": np.concatenate([country, np.full(n_competitors, "US", dtype=object)]),
                "state": np.concatenate([state, np.full(n_competitors, "CA", dtype=object)]),
                "region": np.concatenate(
                    [region_names, np.full(n_competitors, "NA", dtype=object)]
                ),
                "tech_stack": tech_stack
                + [["AWS", "HubSpot", "Salesforce", "Slack"]] * n_competitors,
                "funding_stage": np.concatenate(
                    [funding, np.full(n_competitors, "series_b", dtype=object)]
                ),
                "is_customer": np.concatenate([customer, np.zeros(n_competitors, dtype=bool)]),
                "is_competitor": np.concatenate(
                    [np.zeros(n_regular, dtype=bool), np.ones(n_competitors, dtype=bool)]
                ),
                "tier": np.concatenate([tier, np.full(n_competitors, "Tier 3", dtype=object)]),
                "segment": np.concatenate(
                    [segment, np.full(n_competitors, "Mid-Market", dtype=object)]
                ),
            }
        )
        self.acc_fit = np.concatenate([fit, np.full(n_competitors, 0.3)])
        self.acc_industry = np.concatenate([industry, np.full(n_competitors, 2)])
        self.n_regular_accounts = n_regular

    # --- personas, buying episodes and who works where --------------------------------------

    def _personas_and_accounts(self) -> None:
        rng = self.rng_personas
        counts = persona_counts(self.n)
        persona = np.concatenate([np.full(counts[p], _P[p], dtype=np.int8) for p in PERSONAS])
        rng.shuffle(persona)
        self.persona = persona
        n = self.n
        account = np.full(n, -1, dtype=np.int64)
        email_kind = np.full(n, "corporate", dtype=object)  # corporate | free | academic | analyst
        episode = np.full(n, -1, dtype=np.int64)

        regular = np.arange(self.n_regular_accounts)
        is_customer = self.acc["is_customer"].to_numpy()[regular]
        sizes = self.acc["employee_count"].to_numpy()[regular].astype(float)
        fit = self.acc_fit[regular]
        size_w = np.sqrt(sizes)
        customers = regular[is_customer]
        if len(customers) == 0:  # tiny worlds still need a customer for the support persona
            customers = regular[:1]
            self.acc.loc[0, "is_customer"] = True

        def pick(idx: Array, pool: Array, weights: Array) -> None:
            account[idx] = pool[_choice_index(rng, len(idx), weights)]

        # Active buyers: most come in buying episodes (a committee at one account at one time).
        buyers = np.flatnonzero(persona == _P[Persona.ACTIVE_BUYER])
        free_buyers = buyers[rng.random(len(buyers)) < 0.05]
        email_kind[free_buyers] = "free"
        committee = np.setdiff1d(buyers, free_buyers)
        sizes_needed = len(committee)
        episode_sizes: list[int] = []
        while sum(episode_sizes) < sizes_needed:
            episode_sizes.append(int(_choice_index(rng, 1, [0.45, 0.3, 0.15, 0.1])[0]) + 1)
        if episode_sizes:
            episode_sizes[-1] -= sum(episode_sizes) - sizes_needed
        n_episodes = len(episode_sizes) + len(free_buyers)
        episode_of = np.repeat(np.arange(len(episode_sizes)), episode_sizes)
        episode[committee] = episode_of
        episode[free_buyers] = np.arange(len(episode_sizes), n_episodes)
        ep_weight = fit**3 * np.where(is_customer, 0.3, 1.0) * sizes**0.2
        ep_account = regular[_choice_index(rng, len(episode_sizes), ep_weight)]
        account[committee] = ep_account[episode_of] if len(committee) else account[committee]
        self.episode_account = np.concatenate([ep_account, np.full(len(free_buyers), -1)])
        self.n_episodes = n_episodes

        for p, share_at_account, weight in (
            (Persona.RESEARCHER, 0.75, size_w * (fit + 0.3)),
            (Persona.COLD, 0.60, size_w),
            (Persona.JOB_SEEKER, 0.35, np.ones(len(regular))),
        ):
            idx = np.flatnonzero(persona == _P[p])
            at = rng.random(len(idx)) < share_at_account
            pick(idx[at], regular, weight)
            email_kind[idx[~at]] = "free"
        idx = np.flatnonzero(persona == _P[Persona.EXISTING_CUSTOMER])
        pick(idx, customers, np.sqrt(sizes[customers]))
        idx = np.flatnonzero(persona == _P[Persona.COMPETITOR])
        account[idx] = self.n_regular_accounts + rng.integers(0, len(COMPETITORS), len(idx))
        idx = np.flatnonzero(persona == _P[Persona.STUDENT])
        academic = rng.random(len(idx)) < 0.75
        email_kind[idx[academic]] = "academic"
        email_kind[idx[~academic]] = "free"
        email_kind[persona == _P[Persona.ANALYST]] = "analyst"

        self.account = account
        self.email_kind = email_kind
        self.episode = episode

    # --- when things happen -----------------------------------------------------------------

    def _timeline(self) -> None:
        rng = self.rng_time
        n = self.n
        persona = self.persona
        delay = np.clip(
            rng.lognormal(math.log(OUTCOME_DELAY_MEDIAN_DAYS), 0.6, n),
            1.0,
            OUTCOME_DELAY_MAX_DAYS,
        )
        historical = rng.random(n) < HISTORICAL_SHARE
        created = np.where(
            historical,
            rng.uniform(-HISTORY_DAYS, -CURRENT_DAYS, n),
            rng.uniform(-CURRENT_DAYS, 0, n),
        )
        snapshot = np.zeros(n)
        burst = np.zeros(n)
        has_early = np.zeros(n, dtype=bool)

        for p, (low, high) in _SPAN_DAYS.items():
            idx = np.flatnonzero(persona == _P[p])
            snapshot[idx] = created[idx] + rng.uniform(low, high, len(idx))
            burst[idx] = np.minimum(2.0, np.maximum(snapshot[idx] - created[idx], 0.0))

        # Buyers: one moment per episode; colleagues' snapshots fall within days of it.
        buyers = np.flatnonzero(self.episode >= 0)
        ep_hist = rng.random(self.n_episodes) < HISTORICAL_SHARE
        # A current committee's outcome still lies ahead of the anchor, so its evaluation is
        # under way: most are live this week, the rest cooled some time in the past month.
        live = rng.random(self.n_episodes) < CURRENT_LIVE_SHARE
        current_time = np.where(
            live,
            -rng.uniform(0, CURRENT_LIVE_DAYS, self.n_episodes),
            -rng.uniform(CURRENT_LIVE_DAYS, CURRENT_COOLED_DAYS, self.n_episodes),
        )
        ep_time = np.where(ep_hist, rng.uniform(-380, -47, self.n_episodes), current_time)
        self.episode_time = ep_time
        ep = self.episode[buyers]
        historical[buyers] = ep_hist[ep]
        snapshot[buyers] = ep_time[ep] - rng.uniform(0, 4, len(buyers))
        burst[buyers] = rng.uniform(3, 14, len(buyers))
        has_early[buyers] = rng.random(len(buyers)) < 0.35
        early_len = np.where(has_early[buyers], rng.uniform(20, 110, len(buyers)), 0.0)
        created[buyers] = (
            snapshot[buyers] - burst[buyers] - early_len - rng.uniform(0, 2, len(buyers))
        )

        # Historical: created in [-400, -60], outcome (snapshot + delay) before the anchor.
        hist = historical
        snapshot = np.where(hist, np.minimum(snapshot, -1.0 - delay), np.minimum(snapshot, 0.0))
        # Out-of-window creation times move inside it by a random margin, not onto its edge.
        margin = rng.uniform(0.0, 30.0, n)
        window_low = np.where(hist, -HISTORY_DAYS, -CURRENT_DAYS)
        window_high = np.where(hist, -CURRENT_DAYS, -0.01)
        created = np.where(created > window_high, window_high - margin, created)
        created = np.where(created < window_low, window_low + margin / 6, created)
        created = np.clip(created, window_low, window_high)
        # At least a quarter of an hour between creation and snapshot: touches fit between.
        snapshot = np.maximum(snapshot, np.minimum(created + 0.01, np.where(hist, -1.0, 0.0)))
        burst = np.clip(np.minimum(burst, snapshot - created), 0.0, None)

        self.historical = historical
        self.created = created
        self.snapshot = snapshot
        self.burst = burst
        self.has_early = has_early
        self.delay = delay

    # --- third-party intent and trigger events ----------------------------------------------

    def _signals(self) -> None:
        rng = self.rng_signals
        n_acc = len(self.acc)
        # Episode-driven: a surge before the committee shows up (often), a trigger event before.
        has_account = self.episode_account >= 0
        ep = np.flatnonzero(has_account & (rng.random(self.n_episodes) < 0.55))
        n_surges = rng.integers(1, 4, len(ep))
        ep_rep = np.repeat(ep, n_surges)
        surge_acc = [self.episode_account[ep_rep]]
        surge_day = [self.episode_time[ep_rep] - rng.uniform(4, 40, len(ep_rep))]
        surge_score = [rng.lognormal(math.log(2.4), 0.35, len(ep_rep))]
        # Noise: any account may surge at any time, a bit less strongly.
        noise = rng.poisson(0.8, n_acc)
        noise_acc = np.repeat(np.arange(n_acc), noise)
        surge_acc.append(noise_acc)
        surge_day.append(rng.uniform(-HISTORY_DAYS - 20, 0, len(noise_acc)))
        surge_score.append(rng.lognormal(math.log(1.7), 0.4, len(noise_acc)))
        acc = np.concatenate(surge_acc)
        day = np.concatenate(surge_day)
        score = np.round(np.clip(np.concatenate(surge_score), 1.05, 9.0), 2)
        order = np.lexsort((acc, day))
        acc, day, score = acc[order], day[order], score[order]
        self.intent_frame = pd.DataFrame(
            {
                "account": acc,
                "topic": np.array(INTENT_TOPICS, dtype=object)[
                    rng.integers(0, len(INTENT_TOPICS), len(acc))
                ],
                "surge_score": score,
                "observed_at": self._ts(day),
                "source": np.array(INTENT_SOURCES, dtype=object)[
                    rng.integers(0, len(INTENT_SOURCES), len(acc))
                ],
            }
        )
        self.intent_day = day

        ep = np.flatnonzero(has_account & (rng.random(self.n_episodes) < 0.45))
        ev_acc = [self.episode_account[ep]]
        ev_day = [self.episode_time[ep] - rng.uniform(14, 120, len(ep))]
        ev_kind = [_choice_index(rng, len(ep), [0.25, 0.3, 0.3, 0.15, 0.0])]
        noise = rng.poisson(0.5, n_acc)
        noise_acc = np.repeat(np.arange(n_acc), noise)
        ev_acc.append(noise_acc)
        ev_day.append(rng.uniform(-HISTORY_DAYS - 120, 0, len(noise_acc)))
        ev_kind.append(_choice_index(rng, len(noise_acc), [0.2, 0.3, 0.2, 0.25, 0.05]))
        acc = np.concatenate(ev_acc)
        day = np.concatenate(ev_day)
        kind = np.concatenate(ev_kind)
        order = np.lexsort((acc, day))
        acc, day, kind = acc[order], day[order], kind[order]
        kinds = ("funding", "leadership_change", "initiative", "job_posting", "acquisition")
        titles: list[str] = []
        details: list[dict[str, Any]] = []
        sources: list[str] = []
        rounds = ("Seed", "Series A", "Series B", "Series C", "Series D")
        roles = (
            "VP Operations",
            "Chief Revenue Officer",
            "CFO",
            "VP Marketing",
            "CIO",
            "VP Manufacturing",
            "Head of Revenue Operations",
        )
        initiatives = (
            "a digital transformation initiative",
            "an expansion into new markets",
            "a revenue operations program",
            "an ERP migration",
            "a customer experience overhaul",
            "a sales productivity program",
        )
        areas = (
            "marketing technology",
            "revenue operations",
            "sales development",
            "data engineering",
        )
        u = rng.random((len(acc), 3))
        for i in range(len(acc)):
            k = kinds[kind[i]]
            if k == "funding":
                rnd = rounds[int(u[i, 0] * len(rounds))]
                amount = int(5 + u[i, 1] * 95)
                titles.append(f"Raised ${amount}M {rnd}")
                details.append({"amount_usd": amount * 1_000_000, "round": rnd})
                sources.append("Crunchbase")
            elif k == "leadership_change":
                role = roles[int(u[i, 0] * len(roles))]
                person = (
                    f"{_FIRST_NAMES[int(u[i, 1] * len(_FIRST_NAMES))]} "
                    f"{_LAST_NAMES[int(u[i, 2] * len(_LAST_NAMES))]}"
                )
                titles.append(f"New {role}: {person}")
                details.append({"role": role, "person": person})
                sources.append("LinkedIn")
            elif k == "initiative":
                what = initiatives[int(u[i, 0] * len(initiatives))]
                titles.append(f"Announced {what}")
                details.append({"initiative": what})
                sources.append("Press release")
            elif k == "job_posting":
                area = areas[int(u[i, 0] * len(areas))]
                count = int(2 + u[i, 1] * 6)
                titles.append(f"Hiring {count} {area} roles")
                details.append({"area": area, "openings": count})
                sources.append("LinkedIn")
            else:
                titles.append("Acquired a smaller competitor")
                details.append({})
                sources.append("News")
        self.events_frame = pd.DataFrame(
            {
                "account": acc,
                "kind": np.array(kinds, dtype=object)[kind],
                "occurred_at": self._ts(day),
                "title": titles,
                "details": details,
                "source": sources,
            }
        )
        self.event_day = day
        self.event_kind = kind

    def _feeds(self) -> AccountFeeds:
        """Renewals, competitor news, "alternatives" research, technographics, fiscal years
        (`leadqual.demo.feeds`)."""
        feeds = account_feeds_generate(
            rng=self.rng_feeds,
            anchor=self.anchor,
            accounts=self.acc,
            n_regular=self.n_regular_accounts,
            competitors=[name for name, _ in COMPETITORS],
            episode_account=self.episode_account,
            episode_time=self.episode_time,
        )
        self.acc_fiscal_year = feeds.fiscal_year_start_month
        return feeds

    def _events_with(self, feeds: AccountFeeds) -> pd.DataFrame:
        """The company events and the feeds' renewals and news, in time order."""
        events = self.events_frame.assign(vendor="", renews_at=None)
        merged = pd.concat([events, feeds.events], ignore_index=True)
        merged = merged.sort_values(["occurred_at", "account"], kind="stable", ignore_index=True)
        # None, not pandas' NaN, where there is no date: the loader writes it as NULL.
        merged["renews_at"] = pd.Series(
            [d if isinstance(d, str) else None for d in merged["renews_at"]], dtype=object
        )
        return merged

    def _intent_with(self, feeds: AccountFeeds) -> pd.DataFrame:
        """Every intent signal in time order, with the vendor's id and when it arrived."""
        merged = pd.concat([self.intent_frame, feeds.intent], ignore_index=True)
        merged = merged.sort_values(["observed_at", "account"], kind="stable", ignore_index=True)
        observed = (merged["observed_at"] - self.anchor).dt.total_seconds() / DAY_SECONDS
        received, ids = intent_deliveries(
            rng=self.rng_feeds,
            observed_days=observed.to_numpy(),
            sources=merged["source"].tolist(),
            seed=self.seed,
        )
        return merged.assign(received_at=self._ts(received), external_id=ids)

    def _window_any(self, event_acc: Array, event_day: Array, value: Array, window: float) -> Array:
        """Per lead: the largest value of an account event in (snapshot - window, snapshot]."""
        leads = pd.DataFrame(
            {"lead": np.arange(self.n), "account": self.account, "snapshot": self.snapshot}
        )
        leads = leads[leads["account"] >= 0]
        events = pd.DataFrame({"account": event_acc, "day": event_day, "value": value})
        joined = leads.merge(events, on="account", how="inner")
        inside = (joined["day"] <= joined["snapshot"]) & (
            joined["day"] > joined["snapshot"] - window
        )
        best = joined[inside].groupby("lead")["value"].max()
        out = np.zeros(self.n)
        out[best.index.to_numpy()] = best.to_numpy()
        return out

    # --- the hidden readiness ---------------------------------------------------------------

    def _readiness(self) -> None:
        rng = self.rng_outcome
        n = self.n
        persona = self.persona
        # Titles first: seniority enters readiness.
        titles = np.empty(n, dtype=object)
        rng_people = self.rng_people
        for p in PERSONAS:
            idx = np.flatnonzero(persona == _P[p])
            options = _TITLES[p]
            titles[idx] = np.array(options, dtype=object)[
                rng_people.integers(0, len(options), len(idx))
            ]
        self.titles = titles
        lookup = {t: title_seniority_department(t) for t in set(titles.tolist())}
        self.seniority = np.array([lookup[t][0] for t in titles], dtype=object)
        self.department = np.array([lookup[t][1] for t in titles], dtype=object)

        fit = np.where(self.account >= 0, self.acc_fit[np.maximum(self.account, 0)], 0.35)
        fit = np.where(self.email_kind == "academic", 0.1, fit)
        buyer = persona == _P[Persona.ACTIVE_BUYER]
        depth_latent = rng.normal(0, 1, n)
        # What the behaviour shows of the depth: a noisy reflection.
        self.depth = 0.8 * depth_latent + 0.6 * rng.normal(0, 1, n)
        episode_size = np.bincount(self.episode[self.episode >= 0], minlength=self.n_episodes)
        colleagues = np.zeros(n, dtype=np.int64)
        in_episode = self.episode >= 0
        colleagues[in_episode] = episode_size[self.episode[in_episode]] - 1
        surge = self._window_any(
            self.intent_frame["account"].to_numpy(),
            self.intent_day,
            self.intent_frame["surge_score"].to_numpy(),
            INTENT_WINDOW_DAYS,
        )
        triggered = self._window_any(
            self.events_frame["account"].to_numpy(),
            self.event_day,
            (self.event_kind < 4).astype(float),
            EVENT_WINDOW_DAYS,
        )
        base = np.array([_BASE_LOGIT[p] for p in PERSONAS])[persona]
        seniority_term = np.array([_SENIORITY_LOGIT.get(s, 0.0) for s in self.seniority])
        z = (
            base
            + FIT_WEIGHT * (fit - 0.5)
            + seniority_term
            + np.where(buyer, DEPTH_WEIGHT, 0.3) * depth_latent
            + COLLEAGUE_WEIGHT * np.minimum(colleagues, 3)
            + INTENT_WEIGHT * np.clip(surge - 1.0, 0.0, 3.0)
            + EVENT_WEIGHT * triggered
            + NOISE_SD * rng.normal(0, 1, n)
        )
        self.readiness = _sigmoid(z)
        self.converted = (rng.random(n) < self.readiness) & self.historical
        self.fit = fit
        self.depth_latent = depth_latent
        self.colleagues = colleagues

    # --- names, emails, sources -------------------------------------------------------------

    def _people(self) -> None:
        rng = self.rng_people
        n = self.n
        first = np.array(_FIRST_NAMES, dtype=object)[rng.integers(0, len(_FIRST_NAMES), n)]
        last = np.array(_LAST_NAMES, dtype=object)[rng.integers(0, len(_LAST_NAMES), n)]
        names = [f"{f} {la}" for f, la in zip(first, last, strict=True)]
        pattern = _choice_index(rng, n, [0.6, 0.25, 0.1, 0.05])
        acc_domains = self.acc["domain"].to_numpy()
        acc_competitor = self.acc["is_competitor"].to_numpy()
        free = np.array([d for d, _ in FREE_MAIL], dtype=object)[
            _choice_index(rng, n, [w for _, w in FREE_MAIL])
        ]
        academic_pick = rng.integers(0, len(ACADEMIC_DOMAINS), n)
        analyst = np.array(ANALYST_DOMAINS, dtype=object)[rng.integers(0, len(ANALYST_DOMAINS), n)]
        subdomain = rng.random(n) < 0.03
        sub_label = np.array(["eu", "us", "uk", "corp", "mail"], dtype=object)[
            rng.integers(0, 5, n)
        ]
        birth_year = rng.integers(70, 100, n)
        domains: list[str] = []
        locals_: list[str] = []
        for i in range(n):
            f = "".join(c for c in first[i].lower() if c.isalpha())
            la = "".join(c for c in last[i].lower() if c.isalpha())
            kind = self.email_kind[i]
            if kind == "corporate" and self.account[i] >= 0:
                domain = acc_domains[self.account[i]]
                if subdomain[i] and not acc_competitor[self.account[i]]:
                    # A subsidiary's mail domain: matching finds the parent account.
                    domain = f"{sub_label[i]}.{domain}"
            elif kind == "academic":
                domain = ACADEMIC_DOMAINS[academic_pick[i]][0]
            elif kind == "analyst":
                domain = analyst[i]
            else:
                domain = free[i]
            if kind == "free":
                local = f"{f}.{la}{birth_year[i]}" if pattern[i] == 0 else f"{f}{la}"
            else:
                local = (f"{f}.{la}", f"{f[0]}{la}", f"{f}_{la}", f)[pattern[i]]
            domains.append(domain)
            locals_.append(local)
        emails = _dedupe(
            [f"{lo}@{d}" for lo, d in zip(locals_, domains, strict=True)],
            lambda e, k: e.replace("@", f"{k + 1}@", 1),
        )
        self.names = names
        self.emails = emails
        self.email_domains = domains

        # Country and language: the account's, the university's, or anywhere.
        country = np.empty(n, dtype=object)
        state = np.full(n, "", dtype=object)
        at = self.account >= 0
        country[at] = self.acc["country"].to_numpy()[self.account[at]]
        state[at] = self.acc["state"].to_numpy()[self.account[at]]
        region = _choice_index(rng, n, [s for _, s in REGION_SHARES])
        for r, (rname, _) in enumerate(REGION_SHARES):
            options = _COUNTRIES[rname]
            idx = np.flatnonzero(~at & (region == r))
            country[idx] = np.array([c for c, *_ in options], dtype=object)[
                _choice_index(rng, len(idx), [s for _, s, _, _ in options])
            ]
        acad = np.flatnonzero(self.email_kind == "academic")
        country[acad] = np.array([c for _, c in ACADEMIC_DOMAINS], dtype=object)[
            academic_pick[acad]
        ]
        language_of = {c: lang for opts in _COUNTRIES.values() for c, _, _, lang in opts}
        self.country = country
        self.state = state
        self.language = np.array([language_of.get(c, "en") for c in country], dtype=object)

        source = np.empty(n, dtype=object)
        for p in PERSONAS:
            idx = np.flatnonzero(self.persona == _P[p])
            sources = _SOURCES[p]
            source[idx] = np.array([s for s, _ in sources], dtype=object)[
                _choice_index(rng, len(idx), [w for _, w in sources])
            ]
        self.source = source
        detail_pick = rng.random(n)
        budget_known = rng.random(n) < 0.45
        budget_noise = rng.random(n) < 0.2
        employees = np.where(
            at, self.acc["employee_count"].to_numpy()[np.maximum(self.account, 0)], 30
        )
        band = np.select([employees < 100, employees < 500, employees < 2000], [0, 1, 2], 3)
        band = np.where(budget_noise, rng.integers(0, 4, n), band)
        contact = np.array(["email", "phone", "either"], dtype=object)[rng.integers(0, 3, n)]
        attributes: list[dict[str, Any]] = []
        for i in range(n):
            details = _SOURCE_DETAILS[source[i]]
            attrs: dict[str, Any] = {
                "lead_source_detail": details[int(detail_pick[i] * len(details))],
                "preferred_contact": contact[i],
            }
            if budget_known[i]:
                attrs["annual_budget_band"] = BUDGET_BANDS[band[i]]
            attributes.append(attrs)
        self.attributes = attributes

    # --- touchpoints ------------------------------------------------------------------------

    def _touchpoints(self) -> pd.DataFrame:
        rng = self.rng_touch
        persona = self.persona
        stage = np.array([_STAGE.get(name, 0.5) for name in ITEM_NAMES])
        lead_parts: list[Array] = []
        item_parts: list[Array] = []
        day_parts: list[Array] = []
        for comp in _COMPONENTS:
            leads = np.flatnonzero(persona == _P[comp.persona])
            if comp.only_early:
                leads = leads[self.has_early[leads]]
            if len(leads) == 0:
                continue
            depth = self.depth[leads]
            if comp.prob < 1.0:
                logit = math.log(comp.prob / (1 - comp.prob)) + comp.depth_coef * depth
                leads = leads[rng.random(len(leads)) < _sigmoid(logit)]
                depth = self.depth[leads]
                lam = np.full(len(leads), comp.lam)
            else:
                lam = comp.lam * np.exp(comp.depth_coef * depth)
            if comp.script:
                counts = np.full(len(leads), len(comp.script))
                items = np.tile(np.array([_I[s] for s in comp.script]), len(leads))
            else:
                counts = comp.base + rng.poisson(lam)
                names = list(comp.mix)
                items = np.array([_I[s] for s in names])[
                    _choice_index(rng, int(counts.sum()), [comp.mix[s] for s in names])
                ]
            li = np.repeat(leads, counts)
            days = self._touch_days(comp.timing, li, stage[items], rng)
            lead_parts.append(li)
            item_parts.append(items)
            day_parts.append(days)

        li = np.concatenate(lead_parts)
        item = np.concatenate(item_parts)
        day = np.concatenate(day_parts)
        lead_account = self.account[li]

        # Anonymous company-level visits: during buying episodes (before the committee's
        # snapshots) and, as noise, at any account at any time.
        rng_anon = self.rng_anon
        ep = np.flatnonzero((self.episode_account >= 0) & (rng_anon.random(self.n_episodes) < 0.6))
        n_ep = 1 + rng_anon.poisson(2.0, len(ep))
        ep_rep = np.repeat(ep, n_ep)
        anon_ep_items = np.array(
            [
                _I[s]
                for s in (
                    "pricing",
                    "product",
                    "security",
                    "integration_docs",
                    "implementation",
                    "case_study_view",
                )
            ]
        )[_choice_index(rng_anon, len(ep_rep), [3, 3, 1, 1, 1, 2])]
        anon_ep_day = self.episode_time[ep_rep] - rng_anon.uniform(4, 18, len(ep_rep))
        n_acc = len(self.acc)
        noise = rng_anon.poisson(0.6, n_acc)
        noise_acc = np.repeat(np.arange(n_acc), noise)
        noise_items = np.array([_I[s] for s in ("home", "blog", "product", "careers")])[
            _choice_index(rng_anon, len(noise_acc), [4, 3, 2, 1])
        ]
        noise_day = rng_anon.uniform(-HISTORY_DAYS, 0, len(noise_acc))
        li = np.concatenate([li, np.full(len(ep_rep) + len(noise_acc), -1)])
        item = np.concatenate([item, anon_ep_items, noise_items])
        day = np.concatenate([day, anon_ep_day, noise_day])
        account = np.concatenate([lead_account, self.episode_account[ep_rep], noise_acc])

        # Grouped by lead, in time order: how a lead's history is read, and on PostgreSQL it
        # makes the inserts into the (lead, occurred_at) index append-only.
        order = np.lexsort((np.round(day * DAY_SECONDS), li))
        li, item, day, account = li[order], item[order], day[order], account[order]
        return self._touch_frame(li, item, day, account)

    def _touch_days(self, timing: str, li: Array, stage: Array, rng: np.random.Generator) -> Array:
        created = self.created[li]
        snapshot = self.snapshot[li]
        burst = self.burst[li]
        u = rng.random(len(li))
        if timing == "spread":
            days = created + u * (snapshot - created)
        elif timing == "burst":
            position = np.clip(stage + rng.normal(0, 0.15, len(li)), 0.0, 1.0)
            days = snapshot - burst * (1.0 - position) - u * 0.05
        elif timing == "early":
            days = created + u * np.maximum(snapshot - burst - created - 1.0, 0.0)
        elif timing == "final":
            days = snapshot - u * np.minimum(2.0, burst)
        elif timing == "recent":
            days = snapshot - u * np.minimum(30.0, snapshot - created)
        else:  # pragma: no cover - a typo in _COMPONENTS
            raise ValueError(timing)
        # Touches never sit exactly on the snapshot moment, nor before the lead exists.
        return np.minimum(np.maximum(days, created), np.maximum(snapshot - 1.0 / 1440, created))

    def _touch_frame(self, li: Array, item: Array, day: Array, account: Array) -> pd.DataFrame:
        """The touchpoint rows; `account` is every touch's company (the lead's, if any)."""
        rng = self.rng_touch_detail
        m = len(li)
        kind_of = np.array([KINDS.index(_ITEMS[name][0]) for name in ITEM_NAMES])
        cat_of = np.array([PAGE_CATEGORIES.index(_ITEMS[name][1]) for name in ITEM_NAMES])
        form_of = np.array([FORM_TYPES.index(_ITEMS[name][2]) for name in ITEM_NAMES])
        kind = kind_of[item]
        cat = cat_of[item]
        form = form_of[item]
        persona = np.where(li >= 0, self.persona[np.maximum(li, 0)], -1)

        # URL vocabulary: "" first, then category pages, case studies by industry, forms.
        urls: list[str] = [""]
        properties: list[str] = ["{}"]
        url_index: dict[str, int] = {}
        cat_offset = np.zeros(len(PAGE_CATEGORIES), dtype=np.int64)
        cat_count = np.zeros(len(PAGE_CATEGORIES), dtype=np.int64)
        for c, category in enumerate(PAGE_CATEGORIES):
            if category == "case_study":
                paths = [
                    f"/customers/{_slug(ind)}-{cust}"
                    for ind in INDUSTRY_NAMES
                    for cust in _CASE_STUDY_CUSTOMERS
                ]
            else:
                paths = list(_CATEGORY_PATHS.get(category, ()))
            cat_offset[c] = len(urls)
            cat_count[c] = len(paths)
            for path in paths:
                url_index[path] = len(urls)
                urls.append(VENDOR_SITE + path)
        form_offset = np.zeros(len(FORM_TYPES), dtype=np.int64)
        for f, form_type in enumerate(FORM_TYPES):
            if form_type:
                path = _FORM_PATHS[form_type]
                if path not in url_index:
                    url_index[path] = len(urls)
                    urls.append(VENDOR_SITE + path)
                form_offset[f] = url_index[path]
        counts = np.maximum(cat_count[cat], 1)
        url = cat_offset[cat] + (rng.random(m) * counts).astype(np.int64)
        # Case studies: buyers mostly read their own industry's.
        case = np.flatnonzero(cat == PAGE_CATEGORIES.index("case_study"))
        case_industry = (url[case] - cat_offset[cat[case]]) // len(_CASE_STUDY_CUSTOMERS)
        own_industry = np.where(
            account[case] >= 0, self.acc_industry[np.maximum(account[case], 0)], -1
        )
        matched = (
            (persona[case] == _P[Persona.ACTIVE_BUYER])
            & (own_industry >= 0)
            & (rng.random(len(case)) < 0.7)
        )
        case_industry = np.where(matched, own_industry, case_industry)
        url[case] = (
            cat_offset[cat[case]]
            + case_industry * len(_CASE_STUDY_CUSTOMERS)
            + rng.integers(0, len(_CASE_STUDY_CUSTOMERS), len(case))
        )
        url = np.where(form > 0, form_offset[form], url)
        no_url = np.isin(
            kind, [KINDS.index(k) for k in ("email_open", "email_reply", "sales_reply", "meeting")]
        )
        url = np.where(no_url, 0, url)
        url = np.where(cat == 0, 0, url)

        # Properties: device/referrer for web, campaign for email, industry for case studies.
        prop_offsets: dict[str, int] = {}
        for group, values in _PROPERTIES.items():
            prop_offsets[group] = len(properties)
            properties.extend(values)
        case_prop_offset = len(properties)
        properties.extend(json.dumps({"industry": ind}) for ind in INDUSTRY_NAMES)
        is_email = np.isin(kind, [KINDS.index(k) for k in ("email_open", "email_click")])
        prop = np.where(
            is_email,
            prop_offsets["email"] + rng.integers(0, len(_PROPERTIES["email"]), m),
            prop_offsets["web"] + rng.integers(0, len(_PROPERTIES["web"]), m),
        )
        prop = np.where(
            np.isin(kind, [KINDS.index(k) for k in ("email_reply", "sales_reply", "meeting")]),
            0,
            prop,
        )
        prop[case] = case_prop_offset + case_industry

        # Text for chats and replies.
        texts: list[str] = [""]
        text_offset: dict[str, tuple[int, int]] = {}
        for group, values in _TEXTS.items():
            text_offset[group] = (len(texts), len(values))
            texts.extend(values)
        text_off = np.zeros(len(ITEM_NAMES), dtype=np.int64)
        text_cnt = np.zeros(len(ITEM_NAMES), dtype=np.int64)
        for i, name in enumerate(ITEM_NAMES):
            group = _ITEMS[name][3]
            if group:
                text_off[i], text_cnt[i] = text_offset[group]
        text = np.where(
            text_cnt[item] > 0,
            text_off[item] + (rng.random(m) * np.maximum(text_cnt[item], 1)).astype(np.int64),
            0,
        )

        # Dwell: page views by category and persona; webinars by attendance; others none.
        medians = np.array([_DWELL.get(c, (30.0, 0.7))[0] for c in PAGE_CATEGORIES])
        sds = np.array([_DWELL.get(c, (30.0, 0.7))[1] for c in PAGE_CATEGORIES])
        factor = np.ones(m)
        for p, mult in _PERSONA_DWELL.items():
            factor[persona == _P[p]] = mult
        buyer = persona == _P[Persona.ACTIVE_BUYER]
        bottom = np.isin(cat, [PAGE_CATEGORIES.index(c) for c in BOTTOM_FUNNEL_CATEGORIES])
        depth = np.where(li >= 0, self.depth[np.maximum(li, 0)], 0.0)
        factor = np.where(buyer & bottom, factor * 1.4 * np.exp(0.45 * depth), factor)
        dwell = medians[cat] * factor * rng.lognormal(0, 1, m) ** sds[cat]
        pricing = cat == PAGE_CATEGORIES.index("pricing")
        researcher_pricing = pricing & (persona == _P[Persona.RESEARCHER])
        # The seed's Lead B: pricing visits under ten seconds (curiosity, not evaluation).
        dwell = np.where(researcher_pricing, rng.uniform(1.5, 9.45, m), dwell)
        webinar = kind == KINDS.index("webinar")
        dwell = np.where(webinar, rng.uniform(900, 3600, m), dwell)
        has_dwell = (kind == KINDS.index("page_view")) | webinar
        duration = np.where(has_dwell, np.maximum(np.round(dwell), 1), -1).astype(np.int64)

        occurred = self._ts(day)
        durations = pd.array(duration, dtype="Int64")
        durations[duration < 0] = pd.NA
        return pd.DataFrame(
            {
                "lead": li.astype(np.int64),
                # A lead's touchpoints reach the account through the lead; only anonymous
                # company-level visits name the account themselves.
                "account": np.where(li >= 0, -1, account).astype(np.int64),
                "kind": pd.Categorical.from_codes(kind, categories=list(KINDS)),
                "occurred_at": occurred,
                "url": pd.Categorical.from_codes(url, categories=urls),
                "page_category": pd.Categorical.from_codes(cat, categories=list(PAGE_CATEGORIES)),
                "duration_seconds": durations,
                "form_type": pd.Categorical.from_codes(form, categories=list(FORM_TYPES)),
                "text": pd.Categorical.from_codes(text, categories=texts),
                # Zero-padded so that text order is row order (append-only unique index).
                "external_id": [f"demo-{self.seed}-{i:09d}" for i in range(m)],
                "properties": pd.Categorical.from_codes(prop, categories=properties),
                "created_at": occurred,
            }
        )

    # --- buying committees ------------------------------------------------------------------

    def _stakeholders(self) -> pd.DataFrame:
        rng = self.rng_stake
        competitor = self.acc["is_competitor"].to_numpy()
        lead_rows = np.flatnonzero((self.account >= 0) & ~competitor[np.maximum(self.account, 0)])
        roles = {
            t: committee_role_for(t, *title_seniority_department(t))
            for t in set(self.titles.tolist())
        }
        regular = np.arange(self.n_regular_accounts)
        extra_acc = regular[rng.random(len(regular)) < 0.25]
        extra_n = rng.integers(1, 3, len(extra_acc))
        extra = np.repeat(extra_acc, extra_n)
        titles = np.array(_EXTRA_CONTACT_TITLES, dtype=object)[
            rng.integers(0, len(_EXTRA_CONTACT_TITLES), len(extra))
        ]
        first = np.array(_FIRST_NAMES, dtype=object)[rng.integers(0, len(_FIRST_NAMES), len(extra))]
        last = np.array(_LAST_NAMES, dtype=object)[rng.integers(0, len(_LAST_NAMES), len(extra))]
        domains = self.acc["domain"].to_numpy()
        extra_names = [f"{f} {la}" for f, la in zip(first, last, strict=True)]
        extra_emails = [
            f"{f.lower()}.{''.join(c for c in la.lower() if c.isalpha())}@{domains[a]}"
            for f, la, a in zip(first, last, extra, strict=True)
        ]
        extra_created = self._ts(-HISTORY_DAYS - rng.uniform(10, 500, len(extra)))
        return pd.DataFrame(
            {
                "account": np.concatenate([self.account[lead_rows], extra]),
                "lead": np.concatenate([lead_rows, np.full(len(extra), -1)]),
                "name": [self.names[i] for i in lead_rows] + extra_names,
                "email": [self.emails[i] for i in lead_rows] + extra_emails,
                "title": [self.titles[i] for i in lead_rows] + titles.tolist(),
                "committee_role": [roles[self.titles[i]] for i in lead_rows]
                + [committee_role_for(t, *title_seniority_department(t)) for t in titles],
                "role_inferred": np.concatenate(
                    [np.ones(len(lead_rows), dtype=bool), np.zeros(len(extra), dtype=bool)]
                ),
                "created_at": pd.concat(
                    [self._ts(self.created[lead_rows]), extra_created], ignore_index=True
                ),
            }
        )

    # --- deals ------------------------------------------------------------------------------

    def _opportunities(self) -> pd.DataFrame:
        rng = self.rng_opps
        won_leads = np.flatnonzero(self.converted)
        k = len(won_leads)
        outcome_day = self.snapshot + self.delay
        self.outcome_day = outcome_day
        acc = self.account[won_leads]
        employees = np.where(
            acc >= 0, self.acc["employee_count"].to_numpy()[np.maximum(acc, 0)], 50
        ).astype(float)
        multipliers = np.array([row[3] for row in INDUSTRIES])
        industry_mult = np.where(acc >= 0, multipliers[self.acc_industry[np.maximum(acc, 0)]], 0.9)
        amount = np.round(
            18_000 * (employees / 300) ** 0.45 * industry_mult * rng.lognormal(0, 0.35, k), -2
        )
        amount = np.clip(amount, 2_000, 2_000_000)
        timeline = np.clip(
            rng.lognormal(np.log(35 * (employees / 300) ** 0.2), 0.5, k) + 20, 14, 240
        )
        created = outcome_day[won_leads]
        closes = created + timeline
        win_p = _sigmoid(
            -0.2 + 0.6 * self.depth_latent[won_leads] + 1.0 * (self.fit[won_leads] - 0.5)
        )
        won = rng.random(k) < win_p
        closed = closes <= 0.0
        elapsed = np.clip(-created / timeline, 0.0, 0.999)
        open_stage = np.array(["discovery", "evaluation", "proposal", "negotiation"], dtype=object)[
            (elapsed * 4).astype(int)
        ]
        stage = np.where(closed, np.where(won, "closed_won", "closed_lost"), open_stage)
        acc_names = self.acc["name"].to_numpy()
        names = [
            f"{acc_names[a] if a >= 0 else self.names[lead]} - New business"
            for a, lead in zip(acc, won_leads, strict=True)
        ]
        self.timeline_days = timeline
        return pd.DataFrame(
            {
                "account": acc,
                "lead": won_leads,
                "name": names,
                "stage": stage,
                "amount": amount,
                "created_at": self._ts(created),
                "closed_at": self._ts_nullable(np.where(closed, closes, np.nan)),
                "is_closed": closed,
                "is_won": closed & won,
            }
        )

    # --- owners -----------------------------------------------------------------------------

    def _account_owners(self) -> None:
        rng = self.rng_owner
        rep_index = {rep.username: i for i, rep in enumerate(REPS)}
        region = self.acc["region"].to_numpy()
        customer = self.acc["is_customer"].to_numpy()
        employees = self.acc["employee_count"].to_numpy()
        competitor = self.acc["is_competitor"].to_numpy()
        owners_by_region = {
            "NA": ("daniel.kim", "james.carter", "priya.natarajan"),
            "EMEA": ("daniel.kim", "claire.dubois", "tom.becker"),
            "APAC": ("kenji.watanabe", "emily.chen"),
            "LATAM": ("lucas.oliveira",),
        }
        owned = (customer | ((employees >= 2000) & (rng.random(len(region)) < 0.3))) & ~competitor
        owner = np.full(len(region), -1, dtype=np.int64)
        u = rng.random(len(region))
        for i in np.flatnonzero(owned):
            options = owners_by_region[str(region[i])]
            owner[i] = rep_index[options[int(u[i] * len(options))]]
        self.acc_owner = owner

    def _lead_owners(self, status: Array) -> Array:
        """The SDR who worked the lead: every historical lead and the current "working" ones.

        Assigned by region whatever the outcome, so ownership says nothing about it.
        """
        rng = self.rng_owner
        region_of = {c: r for r, opts in _COUNTRIES.items() for c, *_ in opts}
        sdrs: dict[str, list[int]] = {}
        for i, rep in enumerate(REPS):
            if rep.role == "sdr":
                for territory in rep.territories:
                    name = next(t.regions[0] for t in TERRITORIES if t.name == territory)
                    sdrs.setdefault(name, []).append(i)
        region = np.array([region_of.get(c, "NA") for c in self.country], dtype=object)
        worked = self.historical | (status == "working")
        owner = np.full(self.n, -1, dtype=np.int64)
        u = rng.random(self.n)
        for name, options in sdrs.items():
            idx = np.flatnonzero(worked & (region == name))
            owner[idx] = np.array(options)[(u[idx] * len(options)).astype(np.int64)]
        return owner

    # --- frames -----------------------------------------------------------------------------

    def _accounts_frame(self) -> pd.DataFrame:
        rng = self.rng_dates
        n = len(self.acc)
        acc = self.acc
        attributes = [
            {"account_tier": t, "crm_segment": s}
            for t, s in zip(acc["tier"], acc["segment"], strict=True)
        ]
        return pd.DataFrame(
            {
                "name": acc["name"],
                "domain": acc["domain"],
                "industry": acc["industry"],
                "employee_count": acc["employee_count"].astype(np.int64),
                "annual_revenue": acc["annual_revenue"].astype(float),
                "country": acc["country"],
                "state": acc["state"],
                "region": acc["region"],
                "tech_stack": acc["tech_stack"],
                "funding_stage": acc["funding_stage"],
                "is_customer": acc["is_customer"].astype(bool),
                "is_competitor": acc["is_competitor"].astype(bool),
                "owner_rep": self.acc_owner,
                "fiscal_year_start_month": self.acc_fiscal_year,
                "attributes": attributes,
                "created_at": self._ts(-HISTORY_DAYS - rng.uniform(30, 1500, n)),
                "updated_at": self._ts(-rng.uniform(0, 30, n)),
            }
        )

    def _leads_frame(self) -> pd.DataFrame:
        n = self.n
        outcome = self.snapshot + self.delay
        converted = self.converted
        closed = self.historical & ~converted
        rng = self.rng_status
        status = np.where(
            converted,
            "converted",
            np.where(closed, "closed", np.where(rng.random(n) < 0.35, "working", "new")),
        )
        persona = self.persona
        reasons = ("No response", "Not interested", "Bad timing", "No budget", "Not a fit")
        special = {
            _P[Persona.COMPETITOR]: "Competitor",
            _P[Persona.STUDENT]: "Student or academic",
            _P[Persona.JOB_SEEKER]: "Job seeker",
            _P[Persona.ANALYST]: "Analyst",
            _P[Persona.EXISTING_CUSTOMER]: "Existing customer, routed to support",
        }
        pick = rng.integers(0, len(reasons), n)
        outcome_attributes: list[dict[str, Any]] = []
        for i in range(n):
            if converted[i]:
                outcome_attributes.append({"disposition": "Converted to opportunity"})
            elif closed[i]:
                outcome_attributes.append(
                    {"disposition": special.get(int(persona[i]), reasons[pick[i]])}
                )
            else:
                outcome_attributes.append({})
        return pd.DataFrame(
            {
                "account": self.account,
                "email": self.emails,
                "external_id": [f"demo-{self.seed}-lead-{i}" for i in range(n)],
                "name": self.names,
                "title": self.titles,
                "seniority": self.seniority,
                "department": self.department,
                "source": self.source,
                "country": self.country,
                "state": self.state,
                "language": self.language,
                "status": status,
                "owner_rep": self._lead_owners(status),
                "attributes": self.attributes,
                "outcome_attributes": outcome_attributes,
                "created_at": self._ts(self.created),
                "updated_at": self._ts(np.where(self.historical, outcome, self.snapshot)),
                "converted_at": self._ts_nullable(np.where(converted, outcome, np.nan)),
                "closed_at": self._ts_nullable(np.where(closed, outcome, np.nan)),
            }
        )

    def _truth_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "persona": pd.Categorical.from_codes(
                    self.persona.astype(np.int64), categories=[str(p) for p in PERSONAS]
                ),
                "historical": self.historical,
                "snapshot_at": self._ts(self.snapshot),
                "readiness": self.readiness,
                "converted": self.converted,
                "episode": self.episode,
                "colleagues": self.colleagues,
                "fit": self.fit,
            }
        )
