"""The next step for the rep who holds a lead. Pure: a handoff package in, a `NextStep` out.

The brief's recommended action ("Route to Mid-market SDR with context brief...") is written
for whoever routes the lead; once it is in a rep's queue, that sentence is the same on every
row and tells the rep nothing. What the rep needs is this lead's step: how and how soon
(the approach's timing), what to open with (the first talking point), who else to reach at
the account, and by when (the SLA deadline, shown once wherever the step is shown).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from routing.handoff import (
    CHAMPION,
    CHANNEL_EMAIL,
    CHANNEL_EMAIL_THEN_PHONE,
    CHANNEL_PHONE,
    ECONOMIC_BUYER,
    TECHNICAL_EVALUATOR,
    CommitteeMember,
    HandoffPackage,
)

# The channels that mean "reach out now"; review, nurture and none do not.
_OUTREACH = (CHANNEL_PHONE, CHANNEL_EMAIL, CHANNEL_EMAIL_THEN_PHONE)
# Who a rep tries to bring in next, most decisive first.
_REACH_ORDER = (ECONOMIC_BUYER, CHAMPION, TECHNICAL_EVALUATOR)


@dataclass(frozen=True, slots=True)
class NextStep:
    do: str  # how and how soon: "Call today, while they are active."
    open_with: str = ""  # the first talking point
    reach: str = ""  # the stakeholder to reach next, or how to find one
    due_at: datetime | None = None  # the first touch's deadline, until it happens

    @property
    def is_empty(self) -> bool:
        return not (self.do or self.open_with or self.reach)


def _who(member: CommitteeMember) -> str:
    return f"{member.name} ({member.role_label.lower()})"


def stakeholder_to_reach(package: HandoffPackage) -> str:
    """The person at the account to bring in next, or how to find one ("" when no one)."""
    sm = package.stakeholders
    lead = next((m for m in sm.people if m.is_this_lead), None)
    if sm.single_contact:
        first = (package.lead.name.split() or [package.lead.email])[0]
        return f"Ask {first} who else is involved: the only known contact."
    own_role = lead.committee_role if lead else ""
    others = [m for m in sm.people if not m.is_this_lead]
    for role in _REACH_ORDER:
        if role == own_role:
            continue
        holders = [m for m in others if m.committee_role == role]
        active = [m for m in holders if m.is_active]
        if active:
            return f"Bring in {_who(active[0])}: active this month."
        if holders:
            return f"Re-engage {_who(holders[0])}: quiet this month."
        if role == ECONOMIC_BUYER:
            return "Find the economic buyer: no one in that role is mapped yet."
    active = [m for m in others if m.is_active]
    return f"Multi-thread with {_who(active[0])}: active this month." if active else ""


def next_step(package: HandoffPackage) -> NextStep:
    """This lead's next step for the rep who holds it."""
    assignment = package.assignment
    due = None
    if assignment is not None and assignment.first_touch_at is None:
        due = assignment.sla_due_at
    outreach = package.approach.channel in _OUTREACH
    return NextStep(
        do=package.approach.timing,
        open_with=package.talking_points[0] if package.talking_points and outreach else "",
        reach=stakeholder_to_reach(package) if outreach else "",
        due_at=due,
    )
