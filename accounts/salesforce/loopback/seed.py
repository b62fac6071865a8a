"""A small, realistic org for the demo and for tests that need volume: reps, accounts with
contacts, leads (some converted), opportunities with outcomes, tasks and events."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field

from accounts.salesforce.loopback.schema import OPPORTUNITY_STAGES
from accounts.salesforce.loopback.store import OrgStore

_FIRST = [
    "Ana",
    "Ben",
    "Chloe",
    "Dev",
    "Eva",
    "Femi",
    "Gus",
    "Hana",
    "Ivan",
    "Jia",
    "Kofi",
    "Lena",
    "Marco",
    "Nia",
    "Omar",
    "Pia",
    "Raj",
    "Sara",
    "Tom",
    "Uma",
    "Vic",
    "Wen",
    "Yusuf",
    "Zoe",
]
_LAST = [
    "Adams",
    "Baker",
    "Chen",
    "Diaz",
    "Evans",
    "Fischer",
    "Garcia",
    "Haddad",
    "Ito",
    "Jones",
    "Khan",
    "Lopez",
    "Martin",
    "Novak",
    "Okafor",
    "Patel",
    "Rossi",
    "Smith",
    "Tanaka",
    "Weber",
]
_COMPANY = [
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Stark",
    "Wayne",
    "Hooli",
    "Vandelay",
    "Soylent",
    "Tyrell",
    "Cyberdyne",
    "Wonka",
    "Gringotts",
    "Aperture",
    "Massive Dynamic",
]
_SUFFIX = ["Corp", "Inc", "GmbH", "Ltd", "Labs", "Systems", "Group"]
_INDUSTRY = ["Technology", "Finance", "Healthcare", "Manufacturing", "Retail", "Education"]
_TITLE = [
    "VP Sales",
    "CTO",
    "Head of Operations",
    "IT Manager",
    "Software Engineer",
    "CFO",
    "Student",
    "Marketing Manager",
    "Director of Engineering",
    "Procurement Lead",
]
_COUNTRY = ["United States", "Germany", "United Kingdom", "France", "Canada", "Japan"]
_SOURCE = ["Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other"]


@dataclass
class SeededOrg:
    user_ids: list[str] = field(default_factory=list)
    account_ids: list[str] = field(default_factory=list)
    contact_ids: list[str] = field(default_factory=list)
    lead_ids: list[str] = field(default_factory=list)
    opportunity_ids: list[str] = field(default_factory=list)


def seed_org(
    store: OrgStore, *, leads: int = 200, accounts: int | None = None, seed: int = 7
) -> SeededOrg:
    """Fill ``store`` deterministically. Records are spread over the last 90 days of
    SystemModstamp so incremental windows have something to cut."""
    rng = random.Random(seed)
    now = store.clock.now()
    out = SeededOrg()
    account_count = accounts if accounts is not None else max(leads // 5, 3)

    def stamp() -> dt.datetime:
        return now - dt.timedelta(seconds=rng.randint(60, 90 * 86400))

    reps = [
        {
            "Username": f"{f.lower()}.{n.lower()}@loopback.example.com",
            "FirstName": f,
            "LastName": n,
            "Email": f"{f.lower()}.{n.lower()}@loopback.example.com",
            "Title": "Account Executive",
            "Department": "Sales",
            "IsActive": True,
        }
        for f, n in [("Alex", "Rivera"), ("Sam", "Okoye"), ("Kim", "Larsen"), ("Jo", "Moreau")]
    ]
    out.user_ids = store.seed("User", reps)
    account_rows = []
    domains = []
    for i in range(account_count):
        name = f"{rng.choice(_COMPANY)} {rng.choice(_SUFFIX)} {i + 1}"
        domain = name.lower().replace(" ", "") + ".example.com"
        domains.append((name, domain))
        account_rows.append(
            {
                "Name": name,
                "Industry": rng.choice(_INDUSTRY),
                "Website": f"https://{domain}",
                "AnnualRevenue": float(rng.choice([1, 5, 20, 100, 500]) * 1_000_000),
                "NumberOfEmployees": rng.choice([10, 50, 200, 1000, 5000]),
                "BillingCountry": rng.choice(_COUNTRY),
                "OwnerId": rng.choice(out.user_ids),
                "SystemModstamp": stamp(),
            }
        )
    out.account_ids = store.seed("Account", account_rows)
    contact_rows = []
    for account_id, (_, domain) in zip(out.account_ids, domains, strict=True):
        for _ in range(rng.randint(1, 3)):
            first, last = rng.choice(_FIRST), rng.choice(_LAST)
            contact_rows.append(
                {
                    "FirstName": first,
                    "LastName": last,
                    "Email": f"{first.lower()}.{last.lower()}@{domain}",
                    "Title": rng.choice(_TITLE),
                    "AccountId": account_id,
                    "SystemModstamp": stamp(),
                }
            )
    out.contact_ids = store.seed("Contact", contact_rows)
    lead_rows = []
    for i in range(leads):
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        company, domain = (
            rng.choice(domains)
            if rng.random() < 0.7
            else (f"Startup {i}", f"startup{i}.example.com")
        )
        lead_rows.append(
            {
                "FirstName": first,
                "LastName": last,
                "Company": company,
                "Title": rng.choice(_TITLE),
                "Email": f"{first.lower()}.{last.lower()}.{i}@{domain}",
                "LeadSource": rng.choice(_SOURCE),
                "Industry": rng.choice(_INDUSTRY),
                "Country": rng.choice(_COUNTRY),
                "NumberOfEmployees": rng.choice([10, 50, 200, 1000]),
                "OwnerId": rng.choice(out.user_ids),
                "External_Id__c": f"LQ-{i + 1:06d}",
                "SystemModstamp": stamp(),
            }
        )
    out.lead_ids = store.seed("Lead", lead_rows)
    # A few converted leads: read-only from now on, as in a real org.
    converted = max(leads // 50, 1)
    for lead_id in out.lead_ids[:converted]:
        store.convert_lead(lead_id)
    opportunity_rows: list[dict[str, object]] = []
    for account_id in out.account_ids:
        if rng.random() < 0.6:
            stage = rng.choice(OPPORTUNITY_STAGES)[0]
            close = (now - dt.timedelta(days=rng.randint(-60, 300))).date()
            opportunity_rows.append(
                {
                    "Name": f"Deal {len(opportunity_rows) + 1}",
                    "AccountId": account_id,
                    "StageName": stage,
                    "CloseDate": close,
                    "Amount": float(rng.choice([5, 12, 30, 80, 150]) * 1000),
                    "OwnerId": rng.choice(out.user_ids),
                    "SystemModstamp": stamp(),
                }
            )
    out.opportunity_ids = store.seed("Opportunity", opportunity_rows)
    task_rows: list[dict[str, object]] = []
    event_rows: list[dict[str, object]] = []
    # Activities on open leads (a conversion re-parents a lead's activities to the contact).
    for lead_id in out.lead_ids[converted : converted + leads // 2]:
        task_rows.append(
            {
                "Subject": rng.choice(["Call", "Email: pricing", "Follow up"]),
                "WhoId": lead_id,
                "Status": rng.choice(["Not Started", "Completed"]),
                "TaskSubtype": rng.choice(["Call", "Email", "Task"]),
                "ActivityDate": (now - dt.timedelta(days=rng.randint(0, 60))).date(),
                "SystemModstamp": stamp(),
            }
        )
        if rng.random() < 0.2:
            start = now - dt.timedelta(days=rng.randint(0, 60))
            event_rows.append(
                {
                    "Subject": "Demo",
                    "WhoId": lead_id,
                    "StartDateTime": start,
                    "ActivityDateTime": start,
                    "EndDateTime": start + dt.timedelta(minutes=30),
                    "DurationInMinutes": 30,
                    "SystemModstamp": stamp(),
                }
            )
    store.seed("Task", task_rows)
    store.seed("Event", event_rows)
    return out
