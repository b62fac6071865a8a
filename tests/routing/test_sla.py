from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from routing.sla import BusinessHours, business_time_between, sla_deadline

HOURS = BusinessHours(timezone="America/New_York", opens=time(9), closes=time(17))
NY = HOURS.timezone


def _ny(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(NY))


def test_inside_business_hours_the_clock_runs_straight():
    assert sla_deadline(_ny(2026, 11, 24, 10, 15), timedelta(hours=1), HOURS) == _ny(
        2026, 11, 24, 11, 15
    )


def test_a_friday_evening_lead_is_due_monday_morning():
    friday = _ny(2026, 11, 27, 16, 30)
    assert sla_deadline(friday, timedelta(hours=1), HOURS) == _ny(2026, 11, 30, 9, 30)


def test_a_lead_arriving_at_night_starts_its_clock_when_the_office_opens():
    assert sla_deadline(_ny(2026, 11, 24, 3, 0), timedelta(hours=1), HOURS) == _ny(
        2026, 11, 24, 10, 0
    )


def test_the_deadline_keeps_the_callers_time_zone():
    start = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)  # 10:00 in New York
    due = sla_deadline(start, timedelta(hours=1), HOURS)
    assert due.tzinfo == UTC and due == datetime(2026, 11, 24, 16, 0, tzinfo=UTC)


def test_long_durations_span_several_days():
    due = sla_deadline(_ny(2026, 11, 24, 9, 0), timedelta(hours=20), HOURS)
    assert due == _ny(2026, 11, 26, 13, 0)


def test_business_time_between_skips_nights_and_weekends():
    elapsed = business_time_between(_ny(2026, 11, 27, 16, 0), _ny(2026, 11, 30, 10, 0), HOURS)
    assert elapsed == timedelta(hours=2)


def test_bad_configuration_and_naive_times_are_refused():
    with pytest.raises(ValueError, match="open before"):
        BusinessHours(opens=time(18), closes=time(9))
    with pytest.raises(ValueError, match="Workdays"):
        BusinessHours(workdays=frozenset({7}))
    with pytest.raises(ValueError, match="timezone-aware"):
        sla_deadline(datetime(2026, 11, 24, 10), timedelta(hours=1), HOURS)
