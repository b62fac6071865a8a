"""The history importer: values, files, the mapping, rows, and the database writes."""

from __future__ import annotations

import codecs
import datetime as dt
import os
import subprocess
import sys
import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from accounts.importers import (
    ColumnType,
    CsvFileError,
    Mapping,
    MappingError,
    ParsedRow,
    RowError,
    boolean_parse,
    bytes_decode,
    column_type_infer,
    country_code,
    csv_read,
    date_order_infer,
    date_parse,
    delimiter_parse,
    delimiter_sniff,
    history_import,
    mapping_check_header,
    mapping_load,
    mapping_parse,
    mapping_unmapped_columns,
    number_parse,
    plan_build,
    rows_parse,
)
from accounts.models import Account, Lead, LeadStatus, Opportunity, OpportunityStage
from tests.accounts.conftest import MAPPINGS, REPO, WriteFile
from tests.factories import AccountFactory, LeadFactory

UTC = dt.UTC

# --- Values ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [("yes", True), ("Yes", True), ("TRUE", True), ("true", True), ("1", True), ("y", True),
     ("Y", True), ("t", True), ("no", False), ("No", False), ("FALSE", False), ("0", False),
     ("n", False), (" false ", False)],
)  # fmt: skip
def test_boolean_parse_accepts_yes_no_true_false_and_digits(text: str, expected: bool) -> None:
    assert boolean_parse(text) is expected


@pytest.mark.parametrize("text", ["maybe", "2", "", "yess", "oui"])
def test_boolean_parse_rejects_anything_else(text: str) -> None:
    with pytest.raises(ValueError, match="not a yes/no value"):
        boolean_parse(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("42", 42), ("-7", -7), ("+3", 3), ("2.5", 2.5), (".5", 0.5), ("1e3", 1000.0),
     ("1,234", 1234), ("1,234,567", 1234567), ("12,345.67", 12345.67), ("$1,054", 1054),
     ("1 234", 1234), ("1\u00a0234,5", None), ("1'234.5", 1234.5), ("€ 99", 99)],
)  # fmt: skip
def test_number_parse_reads_thousands_separators_only_in_groups_of_three(
    text: str, expected: float | None
) -> None:
    if expected is None:  # a decimal comma under the default decimal point is refused
        with pytest.raises(ValueError):
            number_parse(text)
    else:
        assert number_parse(text) == expected


def test_number_parse_returns_int_for_whole_numbers_and_float_otherwise() -> None:
    assert isinstance(number_parse("674"), int)
    assert isinstance(number_parse("2.0"), float)


@pytest.mark.parametrize("text", ["2,5", "1,23", "12,34,567", "abc", "nan", "inf", "1.2.3", "5%"])
def test_number_parse_refuses_ambiguous_and_non_numbers(text: str) -> None:
    with pytest.raises(ValueError, match="is not a number"):
        number_parse(text)


def test_number_parse_names_the_decimal_option_for_a_decimal_comma() -> None:
    with pytest.raises(ValueError, match='decimal = ","'):
        number_parse("2,5")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("2,5", 2.5), ("1.234,5", 1234.5), ("1.234.567", 1234567), ("1 234,5", 1234.5), ("7", 7)],
)
def test_number_parse_with_a_decimal_comma(text: str, expected: float) -> None:
    assert number_parse(text, decimal=",") == expected


@pytest.mark.parametrize(
    ("text", "order", "expected"),
    [
        ("2017-03-01", None, dt.datetime(2017, 3, 1, tzinfo=UTC)),
        ("2017-03-01 14:05:09", None, dt.datetime(2017, 3, 1, 14, 5, 9, tzinfo=UTC)),
        ("2017-03-01T14:05:09Z", None, dt.datetime(2017, 3, 1, 14, 5, 9, tzinfo=UTC)),
        ("2017/03/01", None, dt.datetime(2017, 3, 1, tzinfo=UTC)),
        ("13/03/2017", "dmy", dt.datetime(2017, 3, 13, tzinfo=UTC)),
        ("03/13/2017 1:05 PM", "mdy", dt.datetime(2017, 3, 13, 13, 5, tzinfo=UTC)),
        ("01.03.2017", "dmy", dt.datetime(2017, 3, 1, tzinfo=UTC)),
        ("1 Mar 2017", None, dt.datetime(2017, 3, 1, tzinfo=UTC)),
        ("March 1, 2017", None, dt.datetime(2017, 3, 1, tzinfo=UTC)),
        ("01-Mar-2017", None, dt.datetime(2017, 3, 1, tzinfo=UTC)),
    ],
)
def test_date_parse_reads_common_formats_as_aware_datetimes(
    text: str, order: str | None, expected: dt.datetime
) -> None:
    assert date_parse(text, tz=UTC, order=order) == expected


def test_date_parse_reads_naive_values_in_the_given_time_zone() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    parsed = date_parse("2017-07-01 12:00", tz=berlin)
    assert parsed.utcoffset() == dt.timedelta(hours=2)


def test_date_parse_with_an_explicit_format() -> None:
    parsed = date_parse("01|03|17", tz=UTC, fmt="%d|%m|%y")
    assert parsed == dt.datetime(2017, 3, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="does not match the date format"):
        date_parse("2017-03-01", tz=UTC, fmt="%d|%m|%y")


def test_date_parse_refuses_a_slash_date_whose_order_is_unknown() -> None:
    with pytest.raises(ValueError, match="day-first or month-first"):
        date_parse("03/04/2017", tz=UTC)


def test_date_order_is_inferred_from_a_day_above_twelve() -> None:
    assert date_order_infer(["03/04/2017", "25/04/2017"]) == "dmy"
    assert date_order_infer(["03/04/2017", "04/25/2017"]) == "mdy"
    assert date_order_infer(["03/04/2017", "2017-01-01"]) is None
    with pytest.raises(ValueError, match="mixes"):
        date_order_infer(["25/04/2017", "04/25/2017"])


@pytest.mark.parametrize(
    ("values", "expected"),
    [(["Yes", "No", ""], ColumnType.BOOLEAN), (["TRUE", "FALSE", "1"], ColumnType.BOOLEAN),
     (["1", "0", "1"], ColumnType.NUMERIC), (["5", "2.5", "NA"], ColumnType.NUMERIC),
     (["API", "5"], ColumnType.CATEGORICAL), (["", "NA"], ColumnType.CATEGORICAL)],
)  # fmt: skip
def test_auto_type_is_decided_per_column(values: list[str], expected: ColumnType) -> None:
    missing = frozenset({"", "na"})
    assert column_type_infer(values, missing=missing, decimal=".") is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("India", "IN"), ("united states", "US"), ("UK", "GB"), ("de", "DE"), ("unknown", None),
     ("Asia/Pacific Region", None)],
)  # fmt: skip
def test_country_names_become_iso_codes(text: str, expected: str | None) -> None:
    assert country_code(text) == expected


# --- Files -------------------------------------------------------------------------------------


def test_decode_strips_a_utf8_bom() -> None:
    text, encoding = bytes_decode(codecs.BOM_UTF8 + b"Email,Name\n")
    assert (text, encoding) == ("Email,Name\n", "utf-8-sig")


def test_decode_falls_back_to_cp1252_for_windows_exports() -> None:
    text, encoding = bytes_decode("Name\nJosé Müller \u2013 “quoted”\n".encode("cp1252"))
    assert encoding == "cp1252"
    assert "José Müller \u2013 “quoted”" in text  # the en dash is a cp1252-only byte


def test_decode_reads_utf16_with_its_bom() -> None:
    text, encoding = bytes_decode("Name\tCity\nZoë\tKöln\n".encode("utf-16"))
    assert encoding == "utf-16"
    assert text.startswith("Name\tCity")


def test_decode_with_a_wrong_explicit_encoding_names_the_line() -> None:
    data = "Name\nAnn\nJosé\n".encode("cp1252")
    with pytest.raises(CsvFileError, match="not valid utf-8: byte 0xe9 on line 3"):
        bytes_decode(data, "utf-8")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("a;b;c\n1;2,5;3\n", ";"), ("a\tb\n1\t2\n", "\t"), ("a|b\n1|2\n", "|"),
     ('a,b\n"x;y",2\n', ","), ('name;note\nAnn;"a, b, c"\nBo;"d, e"\n', ";"), ("single\n1\n", ",")],
)  # fmt: skip
def test_delimiter_is_sniffed(text: str, expected: str) -> None:
    assert delimiter_sniff(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"), [("tab", "\t"), ("\\t", "\t"), (";", ";"), ("semicolon", ";")]
)
def test_delimiter_names_are_understood(text: str, expected: str) -> None:
    assert delimiter_parse(text) == expected


def test_delimiter_must_be_one_character() -> None:
    with pytest.raises(ValueError, match="single character"):
        delimiter_parse(";;")


def test_row_numbers_count_as_a_spreadsheet_does() -> None:
    data = b'id,note\r\n1,"two\r\nlines"\r\n\r\n3,x\r\n'
    table = csv_read(data)
    assert table.header == ["id", "note"]
    # The quoted line break is one spreadsheet row; the blank line is a row of its own.
    assert [(row, cells[0]) for row, cells in table.records] == [(2, "1"), (4, "3")]
    assert table.records[0][1][1] == "two\r\nlines"


def test_an_empty_file_is_refused() -> None:
    with pytest.raises(CsvFileError, match="no header row"):
        csv_read(b"\n\n")


# --- The mapping -------------------------------------------------------------------------------

MINIMAL = {"source": {"name": "crm"}}


def parse(extra: dict[str, Any]) -> Mapping:
    return mapping_parse({**MINIMAL, **extra})


def problems_of(data: dict[str, Any]) -> list[str]:
    with pytest.raises(MappingError) as raised:
        mapping_parse(data)
    return raised.value.problems


def test_unknown_sections_and_keys_are_mapping_errors() -> None:
    problems = problems_of(
        {**MINIMAL, "fileds": {}, "outcome": {"column": "Won", "positve": ["1"]}}
    )
    assert any("unknown section [fileds]" in p for p in problems)
    assert any("unknown key 'positve' in [outcome]" in p for p in problems)


def test_an_unknown_lead_field_is_a_mapping_error() -> None:
    problems = problems_of({**MINIMAL, "fields": {"phone": "Phone"}})
    assert any("unknown key 'phone' in [fields]" in p for p in problems)


def test_the_source_name_is_required_and_restricted() -> None:
    assert any("[source] name is required" in p for p in problems_of({}))
    assert any("must be 1-40 lower-case" in p for p in problems_of({"source": {"name": "My CRM"}}))


def test_an_attribute_type_must_be_known() -> None:
    problems = problems_of({**MINIMAL, "attributes": {"Visits": "integer"}})
    assert any("'Visits': type 'integer' is not one of" in p for p in problems)


def test_a_column_mapped_twice_is_a_mapping_error() -> None:
    problems = problems_of(
        {**MINIMAL, "attributes": {"Tags": "categorical"}, "outcome_time": {"columns": ["Tags"]}}
    )
    assert problems == ["column 'Tags' is mapped more than once: attributes, outcome_time"]


def test_the_outcome_column_cannot_be_an_attribute() -> None:
    problems = problems_of(
        {**MINIMAL, "attributes": {"Converted": "boolean"}, "outcome": {"column": "Converted"}}
    )
    assert problems == [
        "column 'Converted' is the outcome and cannot also be an attribute: a model would "
        "learn the answer from it"
    ]


def test_a_field_column_may_also_be_an_attribute() -> None:
    mapping = parse({"fields": {"country": "Country"}, "attributes": {"Country": "categorical"}})
    assert mapping.fields == {"country": "Country"}
    assert [a.column for a in mapping.attributes] == ["Country"]


def test_two_fields_from_one_column_are_a_mapping_error() -> None:
    problems = problems_of({**MINIMAL, "fields": {"source": "Src", "state": "Src"}})
    assert problems == ["column 'Src' is mapped more than once: fields.source, fields.state"]


def test_outcome_values_must_not_overlap_and_come_in_pairs() -> None:
    problems = problems_of(
        {**MINIMAL, "outcome": {"column": "Stage", "positive": ["Won"], "negative": ["won"]}}
    )
    assert any("positive and negative share the values ['won']" in p for p in problems)
    problems = problems_of({**MINIMAL, "outcome": {"column": "Stage", "positive": ["Won"]}})
    assert any("give both positive and negative values, or neither" in p for p in problems)


def test_an_amount_needs_an_outcome_date() -> None:
    problems = problems_of({**MINIMAL, "outcome": {"column": "Stage", "amount": "Value"}})
    assert problems == [
        "[outcome] amount needs [outcome] date: the opportunity it makes closes then"
    ]


def test_the_pure_half_imports_without_django_settings() -> None:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    code = (
        "from accounts.importers import csv_read, mapping_load; from pathlib import Path; "
        "m = mapping_load(Path('docs/mappings/x_education_leads.toml')); "
        "print(len(csv_read(b'a;b\\n1;2\\n').records), m.source)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1", "x_education"]


def test_header_check_reports_missing_columns() -> None:
    mapping = parse({"identity": {"external_id": "ID"}, "attributes": {"Visits": "numeric"}})
    assert mapping_check_header(mapping, ["ID", "Visit"]) == [
        "column 'Visits' (attributes) is not in the file"
    ]


def test_unmapped_columns_are_listed_apart_from_ignored_ones() -> None:
    mapping = parse({"identity": {"external_id": "ID"}, "ignore": {"columns": ["Notes"]}})
    assert mapping_unmapped_columns(mapping, ["ID", "Notes", "Phone", ""]) == ["Phone"]


def test_invalid_toml_is_a_mapping_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[source\nname = 'x'")
    with pytest.raises(MappingError, match="not valid TOML"):
        mapping_load(path)


@pytest.mark.parametrize("path", sorted(MAPPINGS.glob("*.toml")), ids=lambda p: p.stem)
def test_shipped_mappings_are_valid(path: Path) -> None:
    mapping = mapping_load(path)
    assert mapping.outcome is not None


def test_shipped_mappings_are_named_after_the_dataset_folders() -> None:
    assert {p.stem for p in MAPPINGS.glob("*.toml")} >= {
        "x_education_leads",
        "uci_online_shoppers_intention",
        "maven_crm_sales_opportunities",
    }


def test_x_education_mapping_keeps_the_leaky_columns_out_of_the_features() -> None:
    mapping = mapping_load(MAPPINGS / "x_education_leads.toml")
    leaky = {
        "Tags", "Lead Quality", "Lead Profile", "Asymmetrique Activity Index",
        "Asymmetrique Profile Index", "Asymmetrique Activity Score",
        "Asymmetrique Profile Score", "Last Notable Activity",
    }  # fmt: skip
    attributes = {a.column for a in mapping.attributes}
    assert leaky <= set(mapping.outcome_time)
    assert not (leaky | {"Lead Number", "Prospect ID", "Converted"}) & attributes


def test_every_shipped_mapping_documents_its_choices_in_comments() -> None:
    for path in MAPPINGS.glob("*.toml"):
        text = path.read_text()
        tomllib.loads(text)
        assert text.count("#") >= 5, f"{path.name} explains too little"


# --- Rows --------------------------------------------------------------------------------------


def parsed(
    mapping: Mapping, text: str, *, tz: dt.tzinfo = UTC
) -> tuple[list[ParsedRow], list[RowError]]:
    table = csv_read(text.encode())
    plan = plan_build(mapping, table, default_tz=tz)
    return rows_parse(plan, table.records)


def test_rows_without_email_or_id_get_a_stable_generated_identity() -> None:
    mapping = parse({"attributes": {"Visits": "numeric"}, "outcome": {"column": "Bought"}})
    first, _ = parsed(mapping, "Visits,Bought\n3,no\n5,no\n3,no\n")
    # Same content, other order, outcome since filled in: the same identities.
    second, _ = parsed(mapping, "Bought,Visits\nno,5\nyes,3\nno,3\n")
    ids = [r.external_id for r in first]
    assert len(set(ids)) == 3
    assert ids[2] == f"{ids[0]}-2"  # an identical row is told apart by its occurrence
    assert sorted(r.external_id or "" for r in second) == sorted(i or "" for i in ids)
    row = first[0]
    assert row.email == f"{(row.external_id or '').split(':')[1]}@crm.import.invalid"
    assert not row.email_is_real


def test_an_external_id_makes_the_identity_and_a_safe_email() -> None:
    mapping = parse({"identity": {"external_id": "ID"}})
    rows, errors = parsed(mapping, "ID\nabc-123\nAB C/9\n")
    assert not errors
    assert rows[0].external_id == "crm:abc-123"
    assert rows[0].email == "abc-123@crm.import.invalid"
    # Not a safe lower-case token: slugged, with a hash so "AB C/9" and "ab-c-9" stay apart.
    assert rows[1].external_id == "crm:AB C/9"
    assert rows[1].email.startswith("ab-c-9-") and rows[1].email.endswith("@crm.import.invalid")


def test_a_real_email_is_normalised_and_wins_over_the_generated_one() -> None:
    mapping = parse({"identity": {"email": "Email", "external_id": "ID"}})
    rows, _ = parsed(mapping, "Email,ID\n Jo.Lee@ACME.com ,7\n,8\n")
    assert (rows[0].email, rows[0].email_is_real, rows[0].external_id) == (
        "jo.lee@acme.com",
        True,
        "crm:7",
    )
    assert (rows[1].email, rows[1].email_is_real) == ("8@crm.import.invalid", False)


def test_bad_cells_are_reported_with_row_column_and_reason() -> None:
    mapping = parse(
        {
            "identity": {"email": "Email"},
            "attributes": {"Visits": "numeric", "Opt out": "boolean"},
        }
    )
    rows, errors = parsed(
        mapping, "Email,Visits,Opt out\na@b.co,3,yes\nnot-an-email,many,perhaps\nc@d.co,1\n"
    )
    assert [r.row for r in rows] == [2]
    assert [str(e) for e in errors] == [
        "row 3, column 'Email': 'not-an-email' is not an email address",
        "row 3, column 'Visits': 'many' is not a number",
        "row 3, column 'Opt out': 'perhaps' is not a yes/no value (yes/no, true/false, y/n, 1/0)",
        "row 4: has 2 cells; the header has 3",
    ]


def test_a_repeated_email_is_an_error_on_the_later_row() -> None:
    mapping = parse({"identity": {"email": "Email"}})
    _, errors = parsed(mapping, "Email\na@b.co\nA@B.co\n")
    assert [str(e) for e in errors] == ["row 3, column 'Email': duplicate of row 2"]


def test_missing_value_tokens_leave_the_attribute_out() -> None:
    mapping = parse(
        {
            "attributes": {"City": "categorical", "Visits": "auto"},
            "missing": {"values": ["Select", "NA"]},
        }
    )
    rows, errors = parsed(mapping, "City,Visits\nSelect,NA\nMumbai,4\nselect,\n")
    assert not errors
    assert [r.attributes for r in rows] == [{}, {"City": "Mumbai", "Visits": 4}, {}]


def test_outcome_values_decide_the_outcome_and_unknown_ones_are_errors() -> None:
    mapping = parse(
        {
            "outcome": {
                "column": "Stage",
                "positive": ["Won"],
                "negative": ["Lost"],
                "open": ["Engaging"],
            }
        }
    )
    rows, errors = parsed(mapping, "Stage\nWon\nlost\nEngaging\n\nWno\n")
    assert [r.outcome for r in rows] == [True, False, None]
    assert [str(e) for e in errors] == [
        "row 6, column 'Stage': 'Wno' is not an outcome the mapping knows (engaging, lost, won)"
    ]


def test_an_outcome_before_the_created_date_is_an_error() -> None:
    mapping = parse(
        {
            "fields": {"created_at": "Created"},
            "outcome": {"column": "Won", "date": "Closed"},
        }
    )
    _, errors = parsed(mapping, "Created,Closed,Won\n2017-05-01,2017-04-01,yes\n")
    assert [str(e) for e in errors] == [
        "row 2, column 'Closed': the outcome date 2017-04-01 is before the created date 2017-05-01"
    ]


def test_ambiguous_slash_dates_stop_the_import_with_one_clear_message() -> None:
    mapping = parse({"fields": {"created_at": "Created"}})
    with pytest.raises(MappingError, match="day_first"):
        parsed(mapping, "Created\n03/04/2017\n05/06/2017\n")
    rows, _ = parsed(mapping, "Created\n03/04/2017\n25/06/2017\n")
    assert rows[0].created_at == dt.datetime(2017, 4, 3, tzinfo=UTC)


def test_names_join_first_and_last_and_countries_become_codes() -> None:
    mapping = parse(
        {
            "fields": {"first_name": "First", "last_name": "Last", "country": "Country"},
        }
    )
    rows, _ = parsed(mapping, "First,Last,Country\nAna,Silva,Brazil\n,Okafor,Atlantis\n")
    assert [(r.fields["name"], r.fields["country"]) for r in rows] == [
        ("Ana Silva", "BR"),
        ("Okafor", ""),
    ]
    assert rows[1].unknown_country == "Atlantis"


def test_a_field_longer_than_the_model_allows_is_an_error() -> None:
    mapping = parse({"fields": {"source": "Source"}})
    _, errors = parsed(mapping, f"Source\n{'x' * 101}\n")
    assert [str(e) for e in errors] == [
        "row 2, column 'Source': is 101 characters long; source holds at most 100"
    ]


# --- Writing (the service) ---------------------------------------------------------------------

DEALS_MAPPING = """
[source]
name = "deals"
[identity]
email = "Email"
external_id = "Deal"
[fields]
name = "Name"
created_at = "Created"
[account]
name = "Company"
domain = "Website"
[attributes]
"Product" = "categorical"
[outcome]
column = "Stage"
positive = ["Won"]
negative = ["Lost"]
open = ["Open"]
date = "Closed"
amount = "Value"
"""
DEALS_CSV = """
Deal,Email,Name,Company,Website,Product,Stage,Created,Closed,Value
D1,ann@globex.com,Ann,Globex,www.globex.com,Pro,Won,2017-01-02,2017-02-01,"1,500"
D2,bo@initech.io,Bo,,,Basic,Lost,2017-01-05,2017-03-01,0
D3,,Cy,Initrode,,Pro,Open,2017-01-09,,
"""


@pytest.fixture
def deals(write_csv: WriteFile, write_mapping: WriteFile) -> tuple[Path, Mapping]:
    mapping = mapping_load(write_mapping(DEALS_MAPPING))
    return write_csv(DEALS_CSV), mapping


@pytest.mark.django_db
def test_import_creates_leads_accounts_and_closed_opportunities(
    deals: tuple[Path, Mapping],
) -> None:
    initech = AccountFactory(name="Initech", domain="initech.io")
    path, mapping = deals
    report = history_import(path=path, mapping=mapping)
    assert report.written and not report.errors
    assert (report.created, report.positives, report.negatives, report.open) == (3, 1, 1, 1)

    ann = Lead.objects.get(email="ann@globex.com")
    assert ann.external_id == "deals:D1"
    assert ann.account is not None and ann.account.domain == "globex.com"
    assert (ann.status, ann.converted_at) == (
        LeadStatus.CONVERTED,
        dt.datetime(2017, 2, 1, tzinfo=UTC),
    )
    assert ann.created_at == dt.datetime(2017, 1, 2, tzinfo=UTC)
    won = Opportunity.objects.get(lead=ann)
    assert (won.stage, won.amount, won.is_won, won.account_id) == (
        OpportunityStage.CLOSED_WON,
        Decimal("1500.00"),
        True,
        ann.account_id,
    )
    assert (won.created_at, won.closed_at) == (ann.created_at, ann.converted_at)

    bo = Lead.objects.get(email="bo@initech.io")
    assert bo.account_id == initech.pk  # matched by email domain
    assert (bo.status, bo.closed_at) == (LeadStatus.CLOSED, dt.datetime(2017, 3, 1, tzinfo=UTC))
    assert Opportunity.objects.get(lead=bo).stage == OpportunityStage.CLOSED_LOST
    assert report.leads_matched_by_email == 1

    cy = Lead.objects.get(external_id="deals:D3")
    assert cy.email == "d3-" + cy.email.split("-", 1)[1]  # "D3" is not lower case: hashed
    assert cy.email.endswith("@deals.import.invalid")
    assert cy.account is not None and cy.account.domain == "initrode.account.import.invalid"
    assert (cy.status, cy.converted_at, cy.closed_at) == (LeadStatus.NEW, None, None)
    assert not Opportunity.objects.filter(lead=cy).exists()
    assert report.accounts_created == 2


@pytest.mark.django_db
def test_reimport_changes_nothing_and_an_edited_row_updates_its_lead(
    deals: tuple[Path, Mapping], write_csv: WriteFile
) -> None:
    path, mapping = deals
    history_import(path=path, mapping=mapping)
    before = {lead.pk: lead.updated_at for lead in Lead.objects.all()}

    again = history_import(path=path, mapping=mapping)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    assert {lead.pk: lead.updated_at for lead in Lead.objects.all()} == before
    assert Opportunity.objects.count() == 2 and Account.objects.count() == 2

    # D1 reopened and D3 won: the lead follows, and the opportunities with it.
    edited = DEALS_CSV.replace("Pro,Won,2017-01-02,2017-02-01", "Pro,Open,2017-01-02,")
    edited = edited.replace("Pro,Open,2017-01-09,,", "Pro,Won,2017-01-09,2017-04-01,900")
    report = history_import(path=write_csv(edited, name="edited.csv"), mapping=mapping)
    assert (report.created, report.updated, report.unchanged) == (0, 2, 1)
    assert (report.opportunities_created, report.opportunities_deleted) == (1, 1)
    ann = Lead.objects.get(email="ann@globex.com")
    assert (ann.status, ann.converted_at) == (LeadStatus.NEW, None)
    assert not Opportunity.objects.filter(lead=ann).exists()
    assert Opportunity.objects.get(lead__external_id="deals:D3").amount == Decimal("900.00")


@pytest.mark.django_db
def test_an_existing_lead_is_updated_without_losing_its_identity_or_other_attributes(
    deals: tuple[Path, Mapping],
) -> None:
    lead = LeadFactory(
        email="ann@globex.com",
        external_id="tracker:77",
        status=LeadStatus.WORKING,
        attributes={"Product": "Old", "Plan": "Team"},
    )
    path, mapping = deals
    report = history_import(path=path, mapping=mapping)
    assert (report.created, report.updated) == (2, 1)
    lead.refresh_from_db()
    assert (lead.email, lead.external_id) == ("ann@globex.com", "tracker:77")
    assert lead.attributes == {"Product": "Pro", "Plan": "Team"}
    assert lead.status == LeadStatus.CONVERTED


@pytest.mark.django_db
def test_an_open_row_does_not_reset_a_status_that_people_set(
    write_csv: WriteFile, write_mapping: WriteFile
) -> None:
    LeadFactory(email="d@e.co", status=LeadStatus.WORKING)
    mapping = mapping_load(
        write_mapping(
            '[source]\nname = "s"\n[identity]\nemail = "Email"\n[outcome]\ncolumn = "Won"\n'
        )
    )
    history_import(path=write_csv("Email,Won\nd@e.co,\n"), mapping=mapping)
    assert Lead.objects.get(email="d@e.co").status == LeadStatus.WORKING


@pytest.mark.django_db
def test_a_file_with_a_bad_row_writes_nothing_unless_told_to_skip_it(
    deals: tuple[Path, Mapping], write_csv: WriteFile
) -> None:
    _, mapping = deals
    bad = DEALS_CSV.replace('"1,500"', "lots")
    path = write_csv(bad, name="bad.csv")
    report = history_import(path=path, mapping=mapping)
    assert not report.written and not report.accepted
    assert [str(e) for e in report.errors] == ["row 2, column 'Value': 'lots' is not an amount"]
    assert Lead.objects.count() == 0 and Account.objects.count() == 0

    report = history_import(path=path, mapping=mapping, skip_invalid=True)
    assert report.written and (report.created, report.skipped) == (2, 1)
    assert not Lead.objects.filter(email="ann@globex.com").exists()


@pytest.mark.django_db
def test_an_id_and_an_email_of_two_different_leads_is_a_conflict(
    deals: tuple[Path, Mapping],
) -> None:
    LeadFactory(email="ann@globex.com", external_id=None)
    LeadFactory(email="someone@else.com", external_id="deals:D1")
    path, mapping = deals
    report = history_import(path=path, mapping=mapping)
    assert not report.written
    assert [e.row for e in report.errors] == [2]
    assert "belong to two different leads" in report.errors[0].reason
    assert Lead.objects.count() == 2


@pytest.mark.django_db
def test_a_dry_run_reports_the_real_counts_and_writes_nothing(
    deals: tuple[Path, Mapping],
) -> None:
    path, mapping = deals
    report = history_import(path=path, mapping=mapping, dry_run=True)
    assert (report.created, report.accounts_created, report.opportunities_created) == (3, 2, 2)
    assert not report.written
    assert Lead.objects.count() == 0 and Account.objects.count() == 0
    assert Opportunity.objects.count() == 0


@pytest.mark.django_db
def test_a_crash_while_writing_leaves_nothing_half_imported(
    deals: tuple[Path, Mapping], monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr("accounts.importers._opportunities_write", crash)
    path, mapping = deals
    with pytest.raises(RuntimeError, match="disk full"):
        history_import(path=path, mapping=mapping)
    assert Lead.objects.count() == 0 and Account.objects.count() == 0


@pytest.mark.django_db
def test_moving_a_column_to_outcome_time_takes_it_out_of_the_features(
    write_csv: WriteFile, write_mapping: WriteFile
) -> None:
    path = write_csv("ID,Visits,Tags,Converted\n1,4,Ringing,0\n")
    head = '[source]\nname = "s"\n[identity]\nexternal_id = "ID"\n[outcome]\ncolumn = "Converted"\n'
    first = mapping_load(write_mapping(head + '[attributes]\nVisits = "numeric"\nTags = "auto"\n'))
    history_import(path=path, mapping=first)
    assert Lead.objects.get().attributes == {"Visits": 4, "Tags": "Ringing"}

    second = write_mapping(
        head + '[attributes]\nVisits = "numeric"\n[outcome_time]\ncolumns = ["Tags"]\n',
        name="second.toml",
    )
    history_import(path=path, mapping=mapping_load(second))
    lead = Lead.objects.get()
    assert lead.attributes == {"Visits": 4}
    assert lead.outcome_attributes == {"Tags": "Ringing", "Converted": "0"}


@pytest.mark.django_db
def test_a_file_without_dates_gives_every_lead_the_same_import_time(
    write_csv: WriteFile, write_mapping: WriteFile
) -> None:
    mapping = mapping_load(
        write_mapping(
            '[source]\nname = "s"\n[attributes]\nx = "numeric"\n[outcome]\ncolumn = "y"\n'
        )
    )
    history_import(path=write_csv("x,y\n1,1\n2,0\n3,\n"), mapping=mapping)
    leads = list(Lead.objects.all())
    assert len({lead.created_at for lead in leads}) == 1
    converted = next(lead for lead in leads if lead.status == LeadStatus.CONVERTED)
    assert converted.converted_at == converted.created_at
