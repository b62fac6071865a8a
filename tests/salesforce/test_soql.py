"""The loopback server's SOQL subset, as a pure parser and evaluator."""

from __future__ import annotations

import datetime as dt

import pytest

from accounts.salesforce.loopback.soql import SoqlError, bind, parse
from accounts.salesforce.loopback.store import OrgStore

TODAY = dt.date(2025, 5, 10)


def _run(store: OrgStore, text: str, *, include_deleted: bool = False) -> list[str]:
    _, rows = store.select(text, include_deleted=include_deleted)
    return [r["LastName"] for r in rows]


@pytest.fixture
def store() -> OrgStore:
    store = OrgStore()
    store.seed(
        "Lead",
        [
            {
                "LastName": "A",
                "Company": "Acme",
                "AnnualRevenue": 10.0,
                "Status": "Working - Contacted",
                "SystemModstamp": dt.datetime(2025, 5, 1, 8, 0, tzinfo=dt.UTC),
            },
            {
                "LastName": "B",
                "Company": "Beta",
                "SystemModstamp": dt.datetime(2025, 5, 2, 8, 0, tzinfo=dt.UTC),
            },
            {
                "LastName": "C",
                "Company": "Acme",
                "AnnualRevenue": 30.0,
                "SystemModstamp": dt.datetime(2025, 5, 2, 8, 0, tzinfo=dt.UTC),
            },
        ],
    )
    return store


def test_and_or_not_parentheses_and_in(store: OrgStore) -> None:
    assert _run(
        store, "SELECT LastName FROM Lead WHERE Company = 'ACME' AND NOT (AnnualRevenue > 20)"
    ) == ["A"]
    assert _run(
        store,
        "SELECT LastName FROM Lead WHERE LastName IN ('a', 'b') OR AnnualRevenue >= 30 "
        "ORDER BY LastName DESC",
    ) == ["C", "B", "A"]
    assert _run(
        store, "SELECT LastName FROM Lead WHERE LastName NOT IN ('A') ORDER BY LastName"
    ) == ["B", "C"]


def test_null_comparisons_and_null_ordering(store: OrgStore) -> None:
    assert _run(store, "SELECT LastName FROM Lead WHERE AnnualRevenue = null") == ["B"]
    assert _run(store, "SELECT LastName FROM Lead ORDER BY AnnualRevenue") == ["B", "A", "C"]
    assert _run(store, "SELECT LastName FROM Lead ORDER BY AnnualRevenue DESC") == ["C", "A", "B"]
    assert _run(store, "SELECT LastName FROM Lead ORDER BY AnnualRevenue ASC NULLS LAST") == [
        "A",
        "C",
        "B",
    ]


def test_datetime_literals_ties_limit_and_offset(store: OrgStore) -> None:
    since = (
        "SELECT LastName FROM Lead WHERE SystemModstamp >= 2025-05-02T08:00:00Z "
        "ORDER BY SystemModstamp, Id"
    )
    assert _run(store, since) == ["B", "C"]  # a tie on SystemModstamp: both, >= not >
    assert _run(store, since + " LIMIT 1 OFFSET 1") == ["C"]
    assert _run(
        store, "SELECT LastName FROM Lead WHERE SystemModstamp < 2025-05-02T10:00:00+02:00"
    ) == ["A"]


def test_count_and_relationship_paths_bind(store: OrgStore) -> None:
    query = bind(parse("SELECT COUNT() FROM Lead"), store.schema, TODAY)
    assert query.count_only
    query = bind(parse("SELECT Id, Owner.Name, Lead.Company FROM Lead"), store.schema, TODAY)
    assert [f.name for f in query.chains["Owner.Name"]] == ["OwnerId", "Name"]


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("SELECT FROM Lead", "MALFORMED_QUERY"),
        ("SELECT Id FROM Lead WHERE", "MALFORMED_QUERY"),
        ("SELECT Id FROM Lead LIMIT x", "MALFORMED_QUERY"),
        ("SELECT Nope FROM Lead", "INVALID_FIELD"),
        ("SELECT Boss.Name FROM Lead", "INVALID_FIELD"),
        ("SELECT Id FROM Nope", "INVALID_TYPE"),
        (
            "SELECT Id FROM Lead WHERE SystemModstamp > '2025-01-01'",
            "INVALID_QUERY_FILTER_OPERATOR",
        ),
        ("SELECT Id FROM Lead WHERE IsConverted = 'yes'", "INVALID_QUERY_FILTER_OPERATOR"),
    ],
)
def test_bad_soql_gets_salesforce_error_codes(store: OrgStore, text: str, code: str) -> None:
    with pytest.raises(SoqlError) as caught:
        bind(parse(text), store.schema, TODAY)
    assert caught.value.code == code


def test_last_n_days_is_relative_to_the_org_clock(store: OrgStore) -> None:
    store.clock.set(dt.datetime(2025, 5, 3, 12, 0, tzinfo=dt.UTC))
    assert sorted(
        _run(store, "SELECT LastName FROM Lead WHERE SystemModstamp >= LAST_N_DAYS:1")
    ) == ["B", "C"]
