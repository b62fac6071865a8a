"""The revisit date of a rep's "not buying now" verdict (the timing-window trigger's evidence).

A Feedback with reason bad_timing always carries a revisit date: the one the rep picked, or,
when they picked none, today plus the timing-window rule's `revisit_days` (90 by default,
tunable in the admin). A date must lie in the future and at most a year ahead; another reason
takes no date at all, since nothing would ever read it. The daily beat task
(scoring-triggers-revisit-due) and the nightly run resurface the lead on that day
(scoring.trigger_services.triggers_on_revisit_due).
"""

from __future__ import annotations

from datetime import date, timedelta

from django.core.exceptions import ValidationError
from django.utils import timezone

from scoring import trigger_selectors as selectors
from scoring.models import FeedbackReason, TriggerKind

REVISIT_MAX_DAYS = 366


def revisit_on_validate(*, revisit_on: date | None, today: date | None = None) -> date:
    """A "not buying now" verdict's revisit date: the rule's default when none is given; in
    the future and within a year otherwise (ValidationError keyed "revisit_on")."""
    day = today or timezone.localdate()
    if revisit_on is None:
        rule = selectors.trigger_rule(kind=TriggerKind.TIMING_WINDOW)
        return day + timedelta(days=rule.revisit_days)
    if revisit_on <= day:
        raise ValidationError({"revisit_on": [f"{revisit_on:%Y-%m-%d} is not in the future."]})
    if revisit_on > day + timedelta(days=REVISIT_MAX_DAYS):
        raise ValidationError(
            {
                "revisit_on": [
                    f"{revisit_on:%Y-%m-%d} is more than a year ahead; pick an earlier day."
                ]
            }
        )
    return revisit_on


def feedback_revisit_on(
    *, reason: str, revisit_on: date | None, today: date | None = None
) -> date | None:
    """The revisit date to store with a verdict of this reason (None for any reason but
    bad_timing, which refuses a date: it would never resurface anything)."""
    if reason == FeedbackReason.BAD_TIMING:
        return revisit_on_validate(revisit_on=revisit_on, today=today)
    if revisit_on is not None:
        raise ValidationError(
            {
                "revisit_on": [
                    "Only a “Not buying now” (bad_timing) verdict takes a revisit date; "
                    f"this one's reason is {reason!r}."
                ]
            }
        )
    return None
