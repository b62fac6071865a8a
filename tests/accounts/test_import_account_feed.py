"""`manage.py import_account_feed`: vendors' CSV files through the feeds' store functions."""

from __future__ import annotations

import io
import tracemalloc
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from accounts.feed_import import (
    FeedImportError,
    FeedMapping,
    _chunks,
    feed_csv_import,
    feed_mapping_load,
)
from accounts.models import Account, AccountEvent, AccountTechnology, IntentSignal
from tests.accounts.conftest import FEED_MAPPINGS, CommandRun, WriteFile
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
_received: list[dict[str, Any]] = []
HOOKS = override_settings(
    LEADQUAL_AFTER_ACCOUNT_EVIDENCE=["tests.accounts.test_import_account_feed.record_arrivals"]
)


def record_arrivals(payload: list[dict[str, Any]]) -> None:
    _received.extend(payload)


def run(kind: str, path: Path, *options: str, fails: bool = False) -> CommandRun:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command(
            "import_account_feed", "--kind", kind, str(path), *options, stdout=out, stderr=err
        )
    except CommandError as error:
        if not fails:
            raise AssertionError(f"{error}\n{err.getvalue()}") from None
        return CommandRun(stdout=out.getvalue(), stderr=err.getvalue(), error=error)
    if fails:
        pytest.fail("import_account_feed succeeded where it should have failed")
    return CommandRun(stdout=out.getvalue(), stderr=err.getvalue())


EVENTS = """
account_domain,kind,occurred_at,vendor,renews_at,title,source,external_id,details.amount
acme.com,contract_renewal,2026-11-20T09:00:00Z,Acme CRM,2027-03-31,,g2,r-1,
acme.com,funding,2026-11-02T00:00:00+00:00,,,Series B,crunchbase,f-1,25000000
globex.com,competitor_news,2026-11-25T10:00:00Z,Initech,,,news,,
"""


@HOOKS
def test_an_events_file_is_stored_like_the_api_and_a_second_import_is_all_duplicates(
    write_csv: WriteFile, django_capture_on_commit_callbacks: Any
) -> None:
    acme, globex = AccountFactory(domain="acme.com"), AccountFactory(domain="globex.com")
    path = write_csv(EVENTS)
    _received.clear()
    with django_capture_on_commit_callbacks(execute=True):
        first = run("events", path, "--no-progress")
    assert "3 created, 0 duplicates (already stored), 0 bad" in first.stdout
    renewal = AccountEvent.objects.get(external_id="r-1")
    assert (renewal.account_id, renewal.vendor, renewal.renews_at) == (
        acme.pk,
        "Acme CRM",
        date(2027, 3, 31),
    )
    assert renewal.title == "Contract with Acme CRM renews on 2027-03-31"
    assert AccountEvent.objects.get(external_id="f-1").details == {"amount": "25000000"}
    assert AccountEvent.objects.get(account=globex).vendor == "Initech"
    assert sorted(a["kind"] for a in _received) == ["account_event"] * 3

    _received.clear()
    with django_capture_on_commit_callbacks(execute=True):
        again = run("events", path, "--no-progress")
    assert "0 created, 3 duplicates (already stored), 0 bad" in again.stdout
    assert AccountEvent.objects.count() == 3
    assert _received == []  # a re-imported file re-qualifies nobody


BAD_EVENTS = """
account_domain,kind,occurred_at,vendor,renews_at,title
acme.com,funding,2026-11-02T00:00:00Z,,,"Series B,
announced on two lines"
acme.com,contract_renewal,2026-11-20T09:00:00Z,Acme CRM,,
nobody.example,funding,2026-11-02T00:00:00Z,,,
acme.com,funding,2026-11-02,,,
acme.com,party,2026-11-02T00:00:00Z,,,
acme.com,leadership_change,2026-11-03T00:00:00Z,,,New CFO
"""


def test_every_bad_row_is_reported_with_its_line_and_reason_and_nothing_is_stored(
    write_csv: WriteFile,
) -> None:
    AccountFactory(domain="acme.com")
    result = run("events", write_csv(BAD_EVENTS), "--no-progress", fails=True)
    assert result.error is not None and result.error.returncode == 1
    # Line numbers are the file's lines: the quoted title spans lines 2-3, so the renewal is
    # on line 4.
    assert "line 4: renews_at: A contract renewal needs its renewal date." in result.stderr
    assert "line 5: account_domain: No account has domain 'nobody.example'." in result.stderr
    assert "line 6: occurred_at: Needs a time zone offset" in result.stderr
    assert 'line 7: kind: "party" is not a known kind' in result.stderr
    assert "4 bad rows" in result.stderr
    assert "line 2" not in result.stderr and "line 8" not in result.stderr
    assert "4 of 6 rows are bad; nothing was stored" in str(result.error)
    assert AccountEvent.objects.count() == 0


def test_skip_invalid_stores_the_good_rows_and_reports_the_bad_ones(
    write_csv: WriteFile,
) -> None:
    AccountFactory(domain="acme.com")
    result = run("events", write_csv(BAD_EVENTS), "--no-progress", "--skip-invalid")
    assert "2 created, 0 duplicates (already stored), 4 bad" in result.stdout
    assert "line 4: renews_at" in result.stderr
    assert sorted(AccountEvent.objects.values_list("title", flat=True)) == [
        "New CFO",
        "Series B,\nannounced on two lines",
    ]


def test_a_dry_run_counts_and_reports_and_writes_nothing(write_csv: WriteFile) -> None:
    AccountFactory(domain="acme.com")
    good = run("events", write_csv(BAD_EVENTS), "--no-progress", "--dry-run", fails=True)
    assert "2 created, 0 duplicates (already stored), 4 bad" in good.stdout
    assert "line 7: kind" in good.stderr
    assert AccountEvent.objects.count() == 0


SURGE = """
Domain,Company Name,Topic Name,Composite Score,Week Start,Topic Cluster
acme.com,Acme Inc,CRM Software,68,2026-11-23,Sales Tech
acme.com,Acme Inc,Data Warehousing,61,2026-11-23,Data
globex.com,Globex,CRM Software,abc,2026-11-23,Sales Tech
"""


def test_the_sample_bombora_mapping_renames_columns_and_reads_bare_dates_in_its_zone(
    write_csv: WriteFile,
) -> None:
    AccountFactory(domain="acme.com")
    AccountFactory(domain="globex.com")
    mapping = str(FEED_MAPPINGS / "bombora_intent.toml")
    result = run(
        "intent", write_csv(SURGE), "--mapping", mapping, "--skip-invalid", "--no-progress"
    )
    assert "2 created, 0 duplicates (already stored), 1 bad" in result.stdout
    assert "line 4: Composite Score (surge_score): Must be a number" in result.stderr
    signal = IntentSignal.objects.get(topic="CRM Software")
    assert signal.source == "bombora"
    assert signal.surge_score == 68
    assert signal.observed_at == datetime(2026, 11, 23, tzinfo=UTC)
    assert "columns not imported" not in result.stdout  # "" ignores them silently


def test_a_technologies_file_fills_the_tech_stack_and_lists_unknown_columns(
    write_csv: WriteFile,
) -> None:
    account = AccountFactory(domain="acme.com", tech_stack=[])
    text = """
account_domain;name;category;Notes
acme.com;Snowflake;Data warehouse;seen on careers page
acme.com;  HubSpot ;CRM;
acme.com;snowflake;;
"""
    result = run("technologies", write_csv(text), "--no-progress", "--source", "builtwith")
    assert "2 created, 1 duplicates (already stored), 0 bad" in result.stdout
    assert "columns not imported: Notes" in result.stdout
    account.refresh_from_db()
    assert sorted(account.tech_stack) == ["hubspot", "snowflake"]
    assert set(AccountTechnology.objects.values_list("source", flat=True)) == {"builtwith"}


def test_an_unusable_mapping_or_header_stops_before_any_row(
    write_csv: WriteFile, write_mapping: WriteFile
) -> None:
    no_account = run("intent", write_csv("topic,surge_score\nCRM,2\n"), fails=True)
    assert no_account.error is not None and no_account.error.returncode == 2
    assert "no column names the account" in no_account.stderr
    assert "no column gives 'observed_at'" in no_account.stderr
    mapping = write_mapping('[feed]\nkind = "intent"\n[columns]\n"Topic" = "subject"\n')
    wrong = run(
        "intent",
        write_csv("Topic,account_domain\nCRM,acme.com\n"),
        "--mapping",
        str(mapping),
        fails=True,
    )
    assert "'Topic' maps to 'subject', which is not a field of the intent feed" in wrong.stderr
    other_kind = run("events", write_csv("a\n1\n"), "--mapping", str(mapping), fails=True)
    assert "the mapping is for --kind intent, not events" in other_kind.stderr


def test_a_chunk_that_fails_is_rolled_back_and_the_chunks_before_it_stay(
    write_csv: WriteFile,
) -> None:
    """An account deleted between the validation and the write pass: its chunk stores
    nothing (not even its good rows), the chunk before it is stored."""
    AccountFactory(domain="acme.com")
    AccountFactory(domain="gone.com")
    text = "account_domain,name\n" + "".join(
        f"{'gone.com' if i == 3 else 'acme.com'},tool {i}\n" for i in range(6)
    )

    def progress(phase: str, done: int, total: int) -> None:
        if phase == "validating" and done == total:
            Account.objects.filter(domain="gone.com").delete()

    report = feed_csv_import(
        path=write_csv(text), kind="technologies", chunk_size=2, progress=progress, now=NOW
    )
    assert report.failed_chunk == (4, 5)
    assert report.created == 2
    assert sorted(AccountTechnology.objects.values_list("name", flat=True)) == [
        "tool 0",
        "tool 1",
    ]
    assert [str(p) for p in report.problems] == [
        "line 5: account_domain: No account has domain 'gone.com'. Feeds do not create "
        "accounts: create or import it first."
    ]


def test_the_progress_display_shows_both_phases(write_csv: WriteFile) -> None:
    AccountFactory(domain="acme.com")
    result = run("technologies", write_csv("account_domain,name\nacme.com,Looker\n"))
    assert "validating [" in result.stdout
    assert "writing    [" in result.stdout
    assert "100%" in result.stdout


def test_the_file_is_read_in_chunks_without_holding_it(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8") as handle:
        handle.write("account_domain,topic,surge_score,observed_at\n")
        for i in range(60_000):
            handle.write(f"account{i}.example.com,Topic {i % 50},{i % 90},2026-11-23T00:00Z\n")
    assert path.stat().st_size > 3_000_000
    from accounts.feed_import import FeedImportReport

    report = FeedImportReport(path=path, kind="intent", encoding="utf-8-sig")
    tracemalloc.start()
    try:
        sizes = [len(chunk) for chunk in _chunks(path, report, 1000)]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sum(sizes) == 60_000 and max(sizes) == 1000
    # The whole file as cells would take well over 20 MB; one chunk is a few hundred KB.
    assert peak < 2_000_000, peak


def test_a_mapping_file_is_checked_whole() -> None:
    with pytest.raises(FeedImportError) as error:
        feed_mapping_load(Path("/nonexistent/mapping.toml"))
    assert "cannot read the mapping" in error.value.problems[0]
    mapping = feed_mapping_load(FEED_MAPPINGS / "bombora_intent.toml")
    assert mapping == FeedMapping(
        columns={
            "Domain": "account_domain",
            "Topic Name": "topic",
            "Composite Score": "surge_score",
            "Week Start": "observed_at",
            "Company Name": "",
            "Topic Cluster": "",
        },
        defaults={"source": "bombora"},
        kind="intent",
        delimiter=",",
        encoding="utf-8",
        timezone="UTC",
    )
