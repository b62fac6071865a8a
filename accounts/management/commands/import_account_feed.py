"""manage.py import_account_feed --kind {events,intent,technologies} FILE: a vendor's CSV in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.feed_import import (
    KINDS,
    FeedImportError,
    FeedImportReport,
    feed_csv_import,
    feed_mapping_load,
)
from accounts.importers import delimiter_parse
from accounts.management.commands.import_history import (
    EXIT_BAD_ROWS,
    EXIT_UNUSABLE,
    PhaseProgress,
)


class Command(BaseCommand):
    help = (
        "Import an account feed from CSV: account events, intent signals or technologies "
        "(see docs/feeds.md, 'CSV import'). All or nothing: any bad row stops the import, "
        "unless --skip-invalid is given. Re-importing a file is safe: stored rows are "
        "duplicates."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--kind", required=True, choices=sorted(KINDS), help="the feed")
        parser.add_argument("csv", type=Path, help="the CSV file")
        parser.add_argument(
            "--mapping",
            type=Path,
            help="a TOML column mapping (docs/mappings/); without one the columns are named "
            "as the API's fields",
        )
        parser.add_argument("--delimiter", help="a character, or tab/comma/semicolon/pipe")
        parser.add_argument("--encoding", help="the file's encoding (default utf-8)")
        parser.add_argument(
            "--timezone",
            help="the time zone of date-times written without an offset (e.g. UTC)",
        )
        parser.add_argument(
            "--source", help="the data vendor, for rows without a source (default 'csv')"
        )
        parser.add_argument(
            "--skip-invalid",
            action="store_true",
            help="store the valid rows and report the bad ones (default: store nothing)",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="validate and count, writing each chunk and rolling it back",
        )
        parser.add_argument(
            "--chunk-size", type=int, default=1000, help="rows per transaction (default 1000)"
        )
        parser.add_argument(
            "--max-errors", type=int, default=50, help="problems to list (default 50)"
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            delimiter = options["delimiter"]
            if delimiter is not None:
                delimiter = delimiter_parse(delimiter)
            mapping = feed_mapping_load(options["mapping"]) if options["mapping"] else None
            report = feed_csv_import(
                path=options["csv"],
                kind=options["kind"],
                mapping=mapping,
                encoding=options["encoding"],
                delimiter=delimiter,
                time_zone=options["timezone"],
                source=options["source"],
                skip_invalid=options["skip_invalid"],
                dry_run=options["dry_run"],
                chunk_size=options["chunk_size"],
                progress=PhaseProgress(self.stdout, enabled=not options["no_progress"]),
            )
        except ValueError as error:  # a bad --delimiter
            raise CommandError(str(error), returncode=EXIT_UNUSABLE) from None
        except FeedImportError as error:
            for problem in error.problems:
                self.stderr.write(f"  - {problem}")
            raise CommandError(
                f"{len(error.problems)} problem(s) with the mapping or the file; nothing was "
                "stored.",
                returncode=EXIT_UNUSABLE,
            ) from None
        self._problems_write(report, options["max_errors"])
        self._summary_write(report)
        if report.failed_chunk:
            first, last = report.failed_chunk
            raise CommandError(
                f"The chunk of lines {first}-{last} failed and was rolled back "
                f"({report.failure}); the {report.created + report.duplicates:,} rows before "
                "it are stored. Running the file again is safe: they come back as duplicates.",
                returncode=EXIT_UNUSABLE,
            )
        if not report.accepted:
            raise CommandError(
                f"{report.bad_rows:,} of {report.rows:,} rows are bad; nothing was stored. Fix "
                "them, or run again with --skip-invalid to store the other rows.",
                returncode=EXIT_BAD_ROWS,
            )

    def _problems_write(self, report: FeedImportReport, limit: int) -> None:
        if not report.problems:
            return
        self.stderr.write(f"{report.bad_rows:,} bad rows ({len(report.problems):,} problems):")
        for problem in report.problems[: max(0, limit)]:
            self.stderr.write(f"  {problem}")
        if len(report.problems) > limit:
            self.stderr.write(f"  ... and {len(report.problems) - limit:,} more (--max-errors)")

    def _summary_write(self, report: FeedImportReport) -> None:
        out = self.stdout
        out.write(f"{report.path}: {report.rows:,} rows of {report.kind}, {report.encoding}")
        if report.ignored_columns:
            out.write(f"  columns not imported: {', '.join(report.ignored_columns)}")
        if not report.accepted and not report.dry_run:
            return
        out.write(
            f"  {report.created:,} created, {report.duplicates:,} duplicates (already stored), "
            f"{report.bad_rows:,} bad"
        )
        if report.dry_run:
            out.write(f"Dry run in {report.seconds:.1f}s: nothing was written.")
        elif not report.failed_chunk:
            out.write(self.style.SUCCESS(f"Imported in {report.seconds:.1f}s."))
