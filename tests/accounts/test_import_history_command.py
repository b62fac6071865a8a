"""`manage.py import_history`: files as customers export them, and the real datasets."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from accounts.models import Account, Lead, LeadStatus, Opportunity
from tests.accounts.conftest import MAPPINGS, RunImport, WriteFile

PEOPLE_MAPPING = """
[source]
name = "crm"
[identity]
email = "Email"
[fields]
name = "Name"
country = "Country"
[attributes]
"Visits" = "numeric"
"Newsletter" = "boolean"
"Segment" = "categorical"
[outcome]
column = "Converted"
[outcome_time]
columns = ["Lead Quality"]
[missing]
values = ["", "Select", "NA"]
"""

PEOPLE = """
Email,Name,Country,Visits,Newsletter,Segment,Converted,Lead Quality
ana@acme.com,Ana Souza,Brazil,"1,204",yes,SMB,TRUE,High
bo@acme.com,Bo Berg,Sweden,3,No,Select,0,Worst
cy@globex.com,Cy Ng,Singapore,NA,TRUE,Mid-market,1,
di@globex.com,Di Roy,India,0,n,Enterprise,no,Low
"""


@pytest.fixture
def people_mapping(write_mapping: WriteFile) -> Path:
    return write_mapping(PEOPLE_MAPPING)


def by_email() -> dict[str, Lead]:
    return {lead.email: lead for lead in Lead.objects.all()}


def test_a_clean_file_imports_with_a_summary(
    write_csv: WriteFile, people_mapping: Path, run_import: RunImport
) -> None:
    run = run_import(write_csv(PEOPLE), people_mapping)
    assert "leads: 4 created, 0 updated, 0 unchanged, 0 skipped" in run.stdout
    assert "outcomes: 2 positive, 2 negative, 0 open" in run.stdout
    assert "Imported in" in run.stdout
    assert run.stderr == ""
    leads = by_email()
    assert leads["ana@acme.com"].attributes == {
        "Visits": 1204,
        "Newsletter": True,
        "Segment": "SMB",
    }
    assert leads["ana@acme.com"].country == "BR"
    assert leads["cy@globex.com"].attributes == {"Newsletter": True, "Segment": "Mid-market"}


def test_booleans_read_yes_no_true_false_and_digits(
    write_csv: WriteFile, people_mapping: Path, run_import: RunImport
) -> None:
    run_import(write_csv(PEOPLE), people_mapping)
    leads = by_email()
    assert [leads[e].attributes["Newsletter"] for e in sorted(leads)] == [True, False, True, False]
    # Converted: TRUE, 0, 1, no.
    assert [leads[e].status for e in sorted(leads)] == [
        LeadStatus.CONVERTED,
        LeadStatus.CLOSED,
        LeadStatus.CONVERTED,
        LeadStatus.CLOSED,
    ]


def test_outcome_time_columns_are_stored_apart_from_the_features(
    write_csv: WriteFile, people_mapping: Path, run_import: RunImport
) -> None:
    run_import(write_csv(PEOPLE), people_mapping)
    for lead in Lead.objects.all():
        assert "Lead Quality" not in lead.attributes
        assert "Converted" not in lead.attributes
    ana = Lead.objects.get(email="ana@acme.com")
    assert ana.outcome_attributes == {"Lead Quality": "High", "Converted": "TRUE"}


def test_a_semicolon_file_with_crlf_is_detected(
    write_csv: WriteFile, people_mapping: Path, run_import: RunImport
) -> None:
    text = PEOPLE.replace(",", ";").replace('"1;204"', "1204")
    run = run_import(write_csv(text, newline="\r\n"), people_mapping)
    assert "semicolon-separated" in run.stdout
    assert Lead.objects.get(email="ana@acme.com").attributes["Visits"] == 1204


def test_the_delimiter_can_be_given(
    write_csv: WriteFile, people_mapping: Path, run_import: RunImport
) -> None:
    text = PEOPLE.replace(",", "\t").replace('"1\t204"', "1204")
    run = run_import(write_csv(text), people_mapping, "--delimiter", "tab")
    assert "tab-separated" in run.stdout
    assert Lead.objects.count() == 4


@pytest.mark.parametrize("explicit", [False, True], ids=["detected", "--encoding"])
def test_a_cp1252_file_keeps_its_accented_names(
    explicit: bool, write_csv: WriteFile, people_mapping: Path, run_import: RunImport
) -> None:
    text = PEOPLE.replace("Ana Souza", "Ana Conceição").replace("Bo Berg", "Björn Ångström")
    options = ["--encoding", "cp1252"] if explicit else []
    run = run_import(write_csv(text, encoding="cp1252"), people_mapping, *options)
    assert "cp1252" in run.stdout
    names = {lead.name for lead in Lead.objects.all()}
    assert {"Ana Conceição", "Björn Ångström"} <= names


def test_a_wrong_encoding_is_refused_with_a_hint(
    write_csv: WriteFile, people_mapping: Path, run_import: RunImport
) -> None:
    path = write_csv(PEOPLE.replace("Bo Berg", "Björn"), encoding="cp1252")
    run = run_import(path, people_mapping, "--encoding", "utf-8", fails=True)
    assert run.error is not None and run.error.returncode == 2
    assert "not valid utf-8: byte 0xf6 on line 3; try --encoding cp1252" in run.stderr
    assert Lead.objects.count() == 0


def test_a_bom_does_not_hide_the_first_column(
    write_csv: WriteFile, people_mapping: Path, run_import: RunImport
) -> None:
    run = run_import(write_csv(PEOPLE, encoding="utf-8-sig"), people_mapping)
    assert "utf-8-sig" in run.stdout
    assert Lead.objects.count() == 4


def test_a_bad_row_is_reported_and_nothing_is_imported(
    write_csv: WriteFile, people_mapping: Path, run_import: RunImport
) -> None:
    bad = PEOPLE.replace("cy@globex.com,Cy Ng,Singapore,NA", "cy@globex.com,Cy Ng,Singapore,a few")
    run = run_import(write_csv(bad), people_mapping, fails=True)
    assert run.error is not None and run.error.returncode == 1
    assert "1 of 4 rows are bad; nothing was imported" in str(run.error)
    assert "row 4, column 'Visits': 'a few' is not a number" in run.stderr
    assert Lead.objects.count() == 0


def test_every_bad_row_is_listed_with_row_column_and_reason(
    write_csv: WriteFile, people_mapping: Path, run_import: RunImport
) -> None:
    bad = PEOPLE.replace("NA,TRUE", "a few,TRUE").replace("Low", "Low,extra")
    run = run_import(write_csv(bad), people_mapping, fails=True)
    assert run.stderr.splitlines() == [
        "2 bad rows (2 problems):",
        "  row 4, column 'Visits': 'a few' is not a number",
        "  row 5: has 9 cells; the header has 8",
    ]
    assert Lead.objects.count() == 0


def test_skip_invalid_imports_the_other_rows(
    write_csv: WriteFile, people_mapping: Path, run_import: RunImport
) -> None:
    bad = PEOPLE.replace("bo@acme.com", "bo(at)acme.com")
    run = run_import(write_csv(bad), people_mapping, "--skip-invalid")
    assert "row 3, column 'Email': 'bo(at)acme.com' is not an email address" in run.stderr
    assert "leads: 3 created, 0 updated, 0 unchanged, 1 skipped" in run.stdout
    assert set(by_email()) == {"ana@acme.com", "cy@globex.com", "di@globex.com"}


def test_the_error_list_is_capped(
    write_csv: WriteFile, people_mapping: Path, run_import: RunImport
) -> None:
    rows = "\n".join(f"p{i}@x.co,P,India,many,yes,SMB,1,High" for i in range(12))
    path = write_csv(PEOPLE.strip().splitlines()[0] + "\n" + rows)
    run = run_import(path, people_mapping, "--max-errors", "5", fails=True)
    listed = [line for line in run.stderr.splitlines() if line.startswith("  row ")]
    assert len(listed) == 5
    assert "... and 7 more (--max-errors)" in run.stderr
    assert "12 of 12 rows are bad" in str(run.error)


def test_reimporting_the_same_file_duplicates_nothing(
    write_csv: WriteFile, people_mapping: Path, run_import: RunImport
) -> None:
    path = write_csv(PEOPLE)
    run_import(path, people_mapping)
    run = run_import(path, people_mapping)
    assert "leads: 0 created, 0 updated, 4 unchanged, 0 skipped" in run.stdout
    assert Lead.objects.count() == 4


def test_generated_identities_are_stable_across_imports(
    write_csv: WriteFile, write_mapping: WriteFile, run_import: RunImport
) -> None:
    mapping = write_mapping(
        '[source]\nname = "web"\n[attributes]\nPages = "numeric"\nBrowser = "categorical"\n'
        '[outcome]\ncolumn = "Revenue"\n'
    )
    first = "Pages,Browser,Revenue\n3,2,FALSE\n3,2,FALSE\n7,1,TRUE\n"
    run_import(write_csv(first), mapping)
    ids = set(Lead.objects.values_list("external_id", flat=True))
    assert len(ids) == 3
    # Rows reordered, one outcome filled in later: the same three leads, one of them updated.
    second = "Pages,Browser,Revenue\n7,1,TRUE\n3,2,TRUE\n3,2,FALSE\n"
    run = run_import(write_csv(second, name="later.csv"), mapping)
    assert "leads: 0 created, 1 updated, 2 unchanged" in run.stdout
    assert set(Lead.objects.values_list("external_id", flat=True)) == ids


def test_dry_run_writes_nothing(
    write_csv: WriteFile, people_mapping: Path, run_import: RunImport
) -> None:
    run = run_import(write_csv(PEOPLE), people_mapping, "--dry-run")
    assert "leads: 4 created" in run.stdout
    assert "Dry run" in run.stdout and "nothing was written" in run.stdout
    assert Lead.objects.count() == 0


def test_mapping_errors_stop_the_import_with_their_reasons(
    write_csv: WriteFile, write_mapping: WriteFile, run_import: RunImport
) -> None:
    mapping = write_mapping(
        PEOPLE_MAPPING.replace('"Visits" = "numeric"', '"Visit count" = "numeric"')
        + '[ignore]\ncolumns = ["Segment"]\n'
    )
    run = run_import(write_csv(PEOPLE), mapping, fails=True)
    assert run.error is not None and run.error.returncode == 2
    assert "problem(s) with the mapping or the file; nothing was imported" in str(run.error)
    assert "column 'Segment' is mapped more than once: attributes, ignore" in run.stderr
    assert Lead.objects.count() == 0


def test_a_mapped_column_missing_from_the_file_is_named(
    write_csv: WriteFile, write_mapping: WriteFile, run_import: RunImport
) -> None:
    mapping = write_mapping(
        PEOPLE_MAPPING.replace('"Visits" = "numeric"', '"Visit count" = "numeric"')
    )
    run = run_import(write_csv(PEOPLE), mapping, fails=True)
    assert "column 'Visit count' (attributes) is not in the file" in run.stderr


def test_unmapped_and_ignored_columns_are_reported(
    write_csv: WriteFile, write_mapping: WriteFile, run_import: RunImport
) -> None:
    mapping = write_mapping(
        PEOPLE_MAPPING.replace('"Segment" = "categorical"\n', "") + '[ignore]\ncolumns = ["Name"]\n'
    )
    mapping = write_mapping(mapping.read_text().replace('name = "Name"\n', ""), name="m2.toml")
    run = run_import(write_csv(PEOPLE), mapping)
    assert "ignored columns: Name" in run.stdout
    assert "columns not in the mapping (not imported): Segment" in run.stdout


def test_a_progress_bar_is_printed_unless_turned_off(
    write_csv: WriteFile, people_mapping: Path, db: None
) -> None:
    import io

    from django.core.management import call_command

    out = io.StringIO()
    call_command(
        "import_history", str(write_csv(PEOPLE)), "--mapping", str(people_mapping), stdout=out
    )
    assert "validating [" in out.getvalue() and "100%" in out.getvalue()
    assert "writing    [" in out.getvalue()


# --- The real datasets -------------------------------------------------------------------------


def timed_import(run_import: RunImport, csv_path: Path, mapping: Path) -> tuple[str, float]:
    started = time.monotonic()
    run = run_import(csv_path, mapping)
    return run.stdout, time.monotonic() - started


@pytest.mark.slow
def test_x_education_leads_import_without_the_leaky_columns(
    datasets_dir: Path, run_import: RunImport
) -> None:
    csv_path = datasets_dir / "x_education_leads" / "Leads.csv"
    stdout, seconds = timed_import(run_import, csv_path, MAPPINGS / "x_education_leads.toml")
    print(f"Leads.csv: 9,240 rows in {seconds:.1f}s")
    assert seconds < 60, f"took {seconds:.1f}s"
    assert "outcomes: 3,561 positive, 5,679 negative, 0 open" in stdout
    assert Lead.objects.count() == 9240
    assert Lead.objects.filter(status=LeadStatus.CONVERTED).count() == 3561
    assert Lead.objects.filter(status=LeadStatus.CLOSED).count() == 9240 - 3561
    leaky = {"Tags", "Lead Quality", "Lead Profile", "Last Notable Activity", "Lead Number"}
    seen_attributes: set[str] = set()
    seen_outcome: set[str] = set()
    for attributes, outcome in Lead.objects.values_list("attributes", "outcome_attributes"):
        seen_attributes.update(attributes)
        seen_outcome.update(outcome)
    assert not {k for k in seen_attributes if k in leaky or k.startswith("Asymmetrique")}
    assert leaky <= seen_outcome
    assert {"TotalVisits", "Lead Origin", "What is your current occupation"} <= seen_attributes
    lead = Lead.objects.get(external_id="x_education:2a272436-5132-4136-86fa-dcc88c88f482")
    assert lead.attributes["Total Time Spent on Website"] == 674
    assert lead.attributes["Page Views Per Visit"] == 2.5
    assert lead.attributes["Do Not Email"] is False
    assert "City" not in lead.attributes  # "Select" is missing, not a category
    assert (lead.source, lead.country) == ("Organic Search", "IN")

    again, _ = timed_import(run_import, csv_path, MAPPINGS / "x_education_leads.toml")
    assert "0 created, 0 updated, 9,240 unchanged" in again


@pytest.mark.slow
def test_online_shoppers_import_with_generated_identities(
    datasets_dir: Path, run_import: RunImport
) -> None:
    csv_path = datasets_dir / "uci_online_shoppers_intention" / "online_shoppers_intention.csv"
    mapping = MAPPINGS / "uci_online_shoppers_intention.toml"
    stdout, seconds = timed_import(run_import, csv_path, mapping)
    print(f"online_shoppers_intention.csv: 12,330 rows in {seconds:.1f}s")
    assert seconds < 60, f"took {seconds:.1f}s"
    assert "outcomes: 1,908 positive, 10,422 negative, 0 open" in stdout
    assert Lead.objects.count() == 12330
    assert Lead.objects.filter(status=LeadStatus.CONVERTED).count() == 1908
    assert Lead.objects.filter(external_id__startswith="uci_shoppers:").count() == 12330
    sample = Lead.objects.order_by("id").first()
    assert sample is not None
    assert set(sample.attributes) == {
        "Administrative", "Administrative_Duration", "Informational", "Informational_Duration",
        "ProductRelated", "ProductRelated_Duration", "BounceRates", "ExitRates", "PageValues",
        "SpecialDay", "Month", "OperatingSystems", "Browser", "Region", "TrafficType",
        "VisitorType", "Weekend",
    }  # fmt: skip
    assert isinstance(sample.attributes["Weekend"], bool)

    again, _ = timed_import(run_import, csv_path, mapping)
    assert "0 created, 0 updated, 12,330 unchanged" in again


@pytest.mark.slow
def test_maven_pipeline_import_with_accounts_and_opportunities(
    datasets_dir: Path, run_import: RunImport
) -> None:
    csv_path = datasets_dir / "maven_crm_sales_opportunities" / "sales_pipeline.csv"
    mapping = MAPPINGS / "maven_crm_sales_opportunities.toml"
    stdout, seconds = timed_import(run_import, csv_path, mapping)
    print(f"sales_pipeline.csv: 8,800 rows in {seconds:.1f}s")
    assert seconds < 60, f"took {seconds:.1f}s"
    assert "outcomes: 4,238 positive, 2,473 negative, 2,089 open" in stdout
    assert "opportunities: 6,711 created" in stdout
    assert Lead.objects.count() == 8800
    assert Lead.objects.filter(status=LeadStatus.CONVERTED).count() == 4238
    assert Lead.objects.filter(status=LeadStatus.CLOSED).count() == 2473
    assert Lead.objects.filter(status=LeadStatus.NEW).count() == 1589 + 500
    assert Account.objects.count() == 85
    assert Opportunity.objects.filter(is_won=True).count() == 4238
    assert Opportunity.objects.filter(is_closed=True, is_won=False).count() == 2473
    won = Opportunity.objects.select_related("lead").get(name="maven_crm:1C1I7A6R")
    assert won.amount == 1054 and won.lead is not None
    assert (
        won.created_at.date().isoformat(),
        won.closed_at and won.closed_at.date().isoformat(),
    ) == (
        "2016-10-20",
        "2017-03-01",
    )
    assert won.lead.converted_at == won.closed_at
