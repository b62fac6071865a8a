"""The brief's stored form: fit factors as points and model factors as triples, expanded back to
the whole document on every read, with nothing lost for a brief that does not fit the pattern."""

from __future__ import annotations

import copy
import json

import pytest
from django.db import connection

from scoring.briefs import brief_compact, brief_expand
from scoring.fit import FACTOR_LABELS
from scoring.models import Confidence, Qualification, Tier
from tests.dashboards.sdr_world import seed_brief
from tests.factories import LeadFactory


def _document() -> dict:
    brief = seed_brief()
    brief["fit"]["role"] = {
        "score": 80,
        "factors": [
            {"factor": "role_seniority", "label": "Seniority", "points": 50, "max": 50},
            {"factor": "role_department", "label": "Department", "points": 30, "max": 30},
        ],
    }
    return brief


def test_static_fit_groups_and_plain_factors_are_stored_compactly_and_expand_back():
    brief = _document()
    original = copy.deepcopy(brief)

    stored = brief_compact(brief)

    assert brief == original  # the document itself is left alone
    assert stored["fit"]["role"] == {
        "score": 80,
        "points": [["role_seniority", 50], ["role_department", 30]],
    }
    assert stored["factors"]["positive"] == [
        ["surge_ratio", 0.9, "Activity surge: 12 touchpoints in the past 7 days."]
    ]
    assert len(json.dumps(stored)) < len(json.dumps(original))
    assert brief_expand(copy.deepcopy(stored)) == original
    assert brief_compact(stored) == stored  # compacting twice changes nothing


def test_a_fit_group_with_labels_of_its_own_is_kept_whole():
    brief = _document()
    # The seed world's company group carries a label that is not the fit model's.
    assert brief["fit"]["company"]["factors"][0]["label"] != FACTOR_LABELS["company_size"][0]

    stored = brief_compact(brief)

    assert stored["fit"]["company"] == brief["fit"]["company"]
    assert brief_expand(copy.deepcopy(stored)) == brief


def test_a_factor_with_extra_keys_is_kept_whole():
    brief = _document()
    brief["factors"]["negative"][0]["note"] = "kept"

    stored = brief_compact(brief)

    assert stored["factors"]["negative"] == brief["factors"]["negative"]
    assert brief_expand(copy.deepcopy(stored)) == brief


@pytest.mark.django_db
def test_the_column_holds_the_compact_form_and_every_read_gets_the_document():
    brief = _document()
    qualification = Qualification.objects.create(
        lead=LeadFactory(),
        tier=Tier.SALES_READY,
        confidence=Confidence.HIGH,
        brief=brief,
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT brief FROM {Qualification._meta.db_table} WHERE id = %s", [qualification.pk]
        )
        raw = cursor.fetchone()[0]
    column = json.loads(raw) if isinstance(raw, str) else raw

    assert column == brief_compact(brief)
    assert Qualification.objects.get(pk=qualification.pk).brief == brief
    assert Qualification.objects.values_list("brief", flat=True).get(pk=qualification.pk) == brief
    assert (
        Qualification.objects.values_list("brief__fit__role", flat=True).get(pk=qualification.pk)
        == column["fit"]["role"]
    )


@pytest.mark.django_db
def test_the_behaviour_and_intent_summaries_are_read_from_the_brief():
    brief = _document()
    qualification = Qualification.objects.create(
        lead=LeadFactory(), tier=Tier.SALES_READY, confidence=Confidence.HIGH, brief=brief
    )
    stored = Qualification.objects.get(pk=qualification.pk)

    assert stored.behaviour == {"lines": brief["behaviour"], "content": brief["content"]}
    assert stored.intent == brief["intent"]
    assert Qualification(brief={}).behaviour == {"lines": [], "content": []}
    assert Qualification(brief={}).intent == {}
