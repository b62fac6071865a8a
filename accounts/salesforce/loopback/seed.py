"""A small, realistic org for the demo and for tests that need volume: reps, accounts with
contacts, leads (some converted), opportunities with outcomes, tasks and events, and on request
a history of leads whose outcome is known, enough for leadqual to train on what it pulls."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from typing import Any

from accounts.salesforce.loopback.schema import ACCOUNT_TECHNOLOGIES, OPPORTUNITY_STAGES
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
# How likely a past lead was to convert, by what the lead record says: buyers are senior, come
# referred or ask, work at bigger companies. The model has something real to learn from.
_TITLE_PROPENSITY = {
    "VP Sales": 0.55,
    "CTO": 0.5,
    "CFO": 0.45,
    "Director of Engineering": 0.45,
    "Head of Operations": 0.4,
    "Procurement Lead": 0.35,
    "IT Manager": 0.25,
    "Marketing Manager": 0.2,
    "Software Engineer": 0.08,
    "Student": 0.02,
}
_SOURCE_PROPENSITY = {
    "Partner Referral": 0.15,
    "Phone Inquiry": 0.1,
    "Web": 0.05,
    "Other": 0.0,
    "Purchased List": -0.15,
}


_INCUMBENTS = ["Acme CRM", "Globex Cloud", "Initech Suite"]


def _account_feed_values(index: int, now: dt.datetime) -> dict[str, Any]:
    """Every other account has a fiscal year not starting in January, every third a contract
    renewing within the year with its incumbent, most a few technologies."""
    values: dict[str, Any] = {}
    if index % 2 == 0:
        values["Fiscal_Year_Start_Month__c"] = float((4, 7, 10)[(index // 2) % 3])
    if index % 3 == 0:
        values["Contract_Renewal_Date__c"] = (now + dt.timedelta(days=20 + 37 * index % 340)).date()
        values["Incumbent_Vendor__c"] = _INCUMBENTS[index % len(_INCUMBENTS)]
    if index % 4 != 3:
        picks = [
            ACCOUNT_TECHNOLOGIES[(index + k * 3) % len(ACCOUNT_TECHNOLOGIES)] for k in range(3)
        ]
        values["Technologies__c"] = ";".join(dict.fromkeys(picks))
    return values


@dataclass
class SeededOrg:
    user_ids: list[str] = field(default_factory=list)
    account_ids: list[str] = field(default_factory=list)
    contact_ids: list[str] = field(default_factory=list)
    lead_ids: list[str] = field(default_factory=list)
    opportunity_ids: list[str] = field(default_factory=list)
    history_lead_ids: list[str] = field(default_factory=list)


def seed_org(
    store: OrgStore,
    *,
    leads: int = 200,
    accounts: int | None = None,
    seed: int = 7,
    history: int = 0,
) -> SeededOrg:
    """Fill ``store`` deterministically. Records are spread over the last 90 days of
    SystemModstamp so incremental windows have something to cut.

    ``history`` of the ``leads`` are past leads with a known outcome (see `_seed_history`);
    the rest are the open pipeline."""
    if not 0 <= history <= leads:
        raise ValueError(f"history must be between 0 and leads ({leads}), not {history}")
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
                # From the index, not rng: the seeded org stays the same as before these
                # fields were added.
                **_account_feed_values(i, now),
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
    open_leads = leads - history
    for i in range(open_leads):
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
    converted = max(open_leads // 50, 1) if open_leads else 0
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
    for lead_id in out.lead_ids[converted : converted + open_leads // 2]:
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
    if history:
        _seed_history(store, out, domains, count=history, start=open_leads, seed=seed)
    return out


def _seed_history(
    store: OrgStore,
    out: SeededOrg,
    domains: list[tuple[str, str]],
    *,
    count: int,
    start: int,
    seed: int,
) -> None:
    """Past leads, created 4 to 14 months ago, each with its outcome: converted (with a
    Closed Won or Closed Lost opportunity on its account) or "Closed - Not Converted".

    Written as a data load would, with the dates of back then, rather than through
    convert_lead(), which converts today. Its own random stream, so adding history leaves
    the open pipeline of the same seed as it was.
    """
    rng = random.Random(seed * 7919 + count)
    now = store.clock.now()
    today = now.date()
    leads: list[dict[str, object]] = []
    deals: list[dict[str, object] | None] = []
    for n in range(count):
        i = start + n
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        title, source = rng.choice(list(_TITLE_PROPENSITY)), rng.choice(_SOURCE)
        employees = rng.choice([10, 50, 200, 1000])
        chance = _TITLE_PROPENSITY[title] + _SOURCE_PROPENSITY[source]
        chance += 0.1 if employees >= 1000 else (-0.05 if employees <= 10 else 0.0)
        converted = rng.random() < max(chance, 0.01)
        account = rng.randrange(len(domains)) if converted or rng.random() < 0.6 else None
        company, domain = (
            domains[account] if account is not None else (f"Startup {i}", f"startup{i}.example.com")
        )
        created = now - dt.timedelta(days=rng.randint(120, 420), seconds=rng.randint(0, 86399))
        decided = created + dt.timedelta(days=rng.randint(5, 60), seconds=rng.randint(0, 86399))
        row: dict[str, object] = {
            "FirstName": first,
            "LastName": last,
            "Company": company,
            "Title": title,
            "Email": f"{first.lower()}.{last.lower()}.{i}@{domain}",
            "LeadSource": source,
            "Industry": rng.choice(_INDUSTRY),
            "Country": rng.choice(_COUNTRY),
            "NumberOfEmployees": employees,
            "OwnerId": rng.choice(out.user_ids),
            "External_Id__c": f"LQ-{i + 1:06d}",
            "CreatedDate": created,
            "LastModifiedDate": decided,
            "SystemModstamp": decided,
        }
        deal = None
        if converted and account is not None:
            row.update(IsConverted=True, Status="Closed - Converted", ConvertedDate=decided.date())
            row["ConvertedAccountId"] = out.account_ids[account]
            close = min(decided.date() + dt.timedelta(days=rng.randint(10, 90)), today)
            deal = {
                "Name": f"{company} - new business",
                "AccountId": out.account_ids[account],
                "StageName": "Closed Won" if rng.random() < 0.55 else "Closed Lost",
                "CloseDate": close,
                "Amount": float(rng.choice([5, 12, 30, 80, 150]) * 1000),
                "OwnerId": row["OwnerId"],
                "LeadSource": source,
                "CreatedDate": decided,
                "SystemModstamp": min(
                    dt.datetime.combine(close, dt.time(12), tzinfo=dt.UTC),
                    now - dt.timedelta(seconds=60),
                ),
            }
        else:
            row["Status"] = "Closed - Not Converted"
        leads.append(row)
        deals.append(deal)
    # The opportunities first: a converted lead names the one it became.
    deal_ids = iter(store.seed("Opportunity", [d for d in deals if d is not None]))
    for row, deal in zip(leads, deals, strict=True):
        if deal is not None:
            row["ConvertedOpportunityId"] = next(deal_ids)
    out.history_lead_ids = store.seed("Lead", leads)
    out.lead_ids.extend(out.history_lead_ids)
    out.opportunity_ids.extend(
        str(row["ConvertedOpportunityId"]) for row in leads if "ConvertedOpportunityId" in row
    )
