"""The demo's clock: a Sales Ready lead in the SDR's queue is active now, or its brief says
what carries it.

The world is built exactly as `make demo` builds it (the same four commands, the anchor left
to its default: the moment of generation), and every claim is checked against the database,
not against the brief's own words.
"""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.utils import timezone

from accounts.models import Touchpoint
from leadqual.demo.load import demo_world_info
from routing.models import Assignment, AssignmentStatus
from scoring.models import Qualification, Tier

pytestmark = [pytest.mark.slow, pytest.mark.django_db]

ACTIVITY = re.compile(
    r"^Activity: (\d+) touchpoints in past 7 days \(vs\. (\d+) the month before\)"
)
QUIET = re.compile(r"no touch in the past 7 days \(the last one (\d+) days ago\)\.$")


def _make_demo(leads: int) -> None:
    out = io.StringIO()
    call_command("generate_demo_data", "--leads", str(leads), "--seed", "42", stdout=out)
    call_command("train_model", "--if-missing", stdout=out)
    call_command("qualify_leads", "--unqualified", stdout=out)
    call_command("create_demo_users", stdout=out)


def test_the_sdr_queue_s_sales_ready_leads_are_active_now_or_say_what_carries_them() -> None:
    started = timezone.now()
    _make_demo(4000)

    info = demo_world_info()
    assert info is not None
    # Anchored to the moment it was generated, not to midnight.
    assert info.anchor.startswith(started.strftime("%Y-%m-%dT")), info.anchor

    sdr = User.objects.get(username="sdr").sales_rep
    lead_ids = list(
        Assignment.objects.filter(rep=sdr, status=AssignmentStatus.OPEN).values_list(
            "lead_id", flat=True
        )
    )
    assert len(lead_ids) >= 6, "the demo hands the SDR a queue to work"
    now = timezone.now()
    active_now = 0
    for qualification in Qualification.objects.filter(is_current=True, lead_id__in=lead_ids):
        assert qualification.tier == Tier.SALES_READY
        brief = qualification.brief
        match = ACTIVITY.match(brief["behaviour"][0])
        assert match, brief["behaviour"][0]
        recent = int(match.group(1))
        touches = Touchpoint.objects.filter(lead_id=qualification.lead_id)
        # The brief's figure is the database's, as of the assessment.
        as_of = qualification.computed_at
        assert (
            recent
            == touches.filter(
                occurred_at__gt=as_of - timedelta(days=7), occurred_at__lte=as_of
            ).count()
        )
        if recent:
            active_now += 1
            assert brief["ready_basis"] == ""
            continue
        # Quiet this week: the brief says what carries it, and how long it has been quiet.
        basis = brief["ready_basis"]
        assert basis.startswith("Ready on "), basis
        quiet = QUIET.search(basis)
        assert quiet, basis
        last = touches.order_by("-occurred_at").values_list("occurred_at", flat=True).first()
        assert last is not None
        assert abs(int(quiet.group(1)) - (now - last).days) <= 1, (basis, last)
        # It names evidence the model actually weighed in the lead's favour.
        assert any(value > 0 for value in qualification.contributions.values())
    # The demo's story: most of the leads a rep is handed are active this week.
    assert active_now >= 0.6 * len(lead_ids), (active_now, len(lead_ids))
