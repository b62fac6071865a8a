"""Seniority, department and buying-committee role from a job title: keyword rules shared by
everything that learns about a person from a title (the Salesforce pull, the demo world)."""

from __future__ import annotations

_C_LEVEL = {
    "ceo": "executive",
    "cfo": "finance",
    "coo": "operations",
    "cto": "engineering",
    "cio": "it",
    "cmo": "marketing",
    "cro": "sales",
    "ciso": "security",
    "cpo": "product",
}
_DEPARTMENT_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("academic", ("student", "phd", "professor", "lecturer", "research assistant", "postdoc",
                  "graduate", "academic")),
    ("security", ("security", "infosec")),
    ("finance", ("finance", "financial", "controller", "accountant", "accounting", "treasury",
                 "procurement", "purchasing")),
    ("it", (" it ", "it director", "director of it", "head of it", "information technology",
            "systems", "salesforce admin", "infrastructure", "it manager", "it support",
            "administrator")),
    ("engineering", ("engineer", "engineering", "developer", "architect", "devops")),
    ("product", ("product",)),
    ("hr", ("hr ", "human resources", "people", "talent", "recruit")),
    ("marketing", ("marketing", "demand gen", "growth", "content", "brand", "communications")),
    ("sales", ("sales", "account executive", "account manager", "business development",
               "revenue", "customer success")),
    ("operations", ("operations", "supply chain", "logistics", "manufacturing", "office manager",
                    "project manager", "customer service")),
    ("executive", ("chief", "founder", "owner", "president", "general manager",
                   "managing director", "general counsel")),
)  # fmt: skip


def title_seniority_department(title: str) -> tuple[str, str]:
    """Seniority and department (the values of accounts.models' choices) from a job title.

    Keyword rules, most specific first: "VP Engineering" is (vp, engineering), "CFO" is
    (c_level, finance), "PhD candidate" is (student, academic), "" is ("", "").
    """
    text = f" {title.strip().lower().replace(',', ' ').replace('-', ' ')} "
    words = text.split()
    if not words:
        return "", ""
    academic = any(k in text for k in ("student", "phd", "research assistant", "postdoc"))
    acronym = next((w for w in words if w in _C_LEVEL), None)
    if academic:
        seniority = "student"
    elif acronym or " chief " in text:
        seniority = "c_level"
    elif any(w in ("vp", "svp", "evp") for w in words) or "vice president" in text:
        seniority = "vp"
    elif "director" in words or " head of " in text:
        seniority = "director"
    elif any(w in ("manager", "lead", "supervisor") for w in words):
        seniority = "manager"
    elif words[0] in ("owner", "founder", "president"):
        seniority = "c_level"
    else:
        seniority = "individual"
    if acronym and not academic:
        return seniority, _C_LEVEL[acronym]
    for department, keywords in _DEPARTMENT_WORDS:
        if any(k in text for k in keywords):
            return seniority, department
    return seniority, "other"


def committee_role_for(title: str, seniority: str, department: str) -> str:
    """The buying-committee role a title suggests (accounts.models.CommitteeRole values)."""
    lowered = title.lower()
    if any(k in lowered for k in ("procurement", "purchasing", "legal", "counsel")):
        return "blocker"
    if department in ("engineering", "it", "security") and seniority != "c_level":
        return "technical_evaluator"
    if seniority in ("c_level", "vp"):
        return "economic_buyer"
    if seniority in ("director", "manager"):
        return "champion"
    if seniority == "individual":
        return "user"
    return ""
