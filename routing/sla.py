"""SLA clocks in business hours. Pure: no ORM, no settings.

"Sales Ready: one hour in business hours" means a lead that arrives at 16:30 on a Friday is due
at 09:30 on Monday, not at 17:30 on Friday evening when nobody is there to call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class BusinessHours:
    timezone: str = "UTC"
    opens: time = time(9, 0)
    closes: time = time(17, 0)
    # Monday is 0, as in datetime.weekday().
    workdays: frozenset[int] = field(default_factory=lambda: frozenset({0, 1, 2, 3, 4}))

    def __post_init__(self) -> None:
        if self.opens >= self.closes:
            raise ValueError("Business hours must open before they close.")
        if not self.workdays or not self.workdays <= set(range(7)):
            raise ValueError("Workdays must be a non-empty subset of 0 (Monday) to 6 (Sunday).")


def _open_window(moment: datetime, hours: BusinessHours) -> tuple[datetime, datetime]:
    """The business window that contains `moment`, or the next one to open."""
    day = moment
    for _ in range(14):
        if day.weekday() in hours.workdays:
            start = day.replace(
                hour=hours.opens.hour, minute=hours.opens.minute, second=0, microsecond=0
            )
            end = day.replace(
                hour=hours.closes.hour, minute=hours.closes.minute, second=0, microsecond=0
            )
            if moment < end:
                return max(start, moment), end
        day = (day + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        moment = max(moment, day)
    raise ValueError("No business hours within two weeks.")  # unreachable with valid workdays


def sla_deadline(start: datetime, duration: timedelta, hours: BusinessHours) -> datetime:
    """When `duration` of business time has passed since `start` (an aware datetime)."""
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware")
    if duration < timedelta(0):
        raise ValueError("duration must not be negative")
    zone = ZoneInfo(hours.timezone)
    moment = start.astimezone(zone)
    remaining = duration
    while True:
        window_start, window_end = _open_window(moment, hours)
        available = window_end - window_start
        if remaining <= available:
            return (window_start + remaining).astimezone(start.tzinfo)
        remaining -= available
        moment = window_end


def business_time_between(start: datetime, end: datetime, hours: BusinessHours) -> timedelta:
    """Business time elapsed from `start` to `end` (zero if end is before start)."""
    zone = ZoneInfo(hours.timezone)
    moment, stop = start.astimezone(zone), end.astimezone(zone)
    total = timedelta(0)
    while moment < stop:
        window_start, window_end = _open_window(moment, hours)
        if window_start >= stop:
            break
        total += min(window_end, stop) - window_start
        moment = window_end
    return total
