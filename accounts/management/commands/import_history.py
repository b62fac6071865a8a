"""manage.py import_history CSV --mapping MAPPING: load a CRM export of past leads with outcomes."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TextIO, cast

from django.core.management.base import BaseCommand, CommandError, CommandParser, OutputWrapper

from accounts.importers import (
    HistoryImportError,
    ImportReport,
    delimiter_parse,
    history_import,
    mapping_load,
)
from leadqual.progress import ProgressBar

# Exit statuses: 1 the file has bad rows (nothing imported), 2 the mapping or the file as a
# whole is unusable (Django's own usage errors also exit 2).
EXIT_BAD_ROWS = 1
EXIT_UNUSABLE = 2


class _RawStream:
    """self.stdout without the newline OutputWrapper adds to every write, so that a terminal
    progress bar can redraw its line."""

    def __init__(self, out: OutputWrapper) -> None:
        self.out = out

    def write(self, text: str) -> int:
        self.out.write(text, ending="")
        return len(text)

    def flush(self) -> None:
        self.out.flush()

    def isatty(self) -> bool:
        return bool(self.out.isatty())


class PhaseProgress:
    """One progress bar per phase of the import (validating, writing)."""

    def __init__(self, out: OutputWrapper, *, enabled: bool = True) -> None:
        self.stream = cast(TextIO, _RawStream(out))
        self.enabled = enabled
        self.bars: dict[str, ProgressBar] = {}
        self.finished: set[str] = set()

    def __call__(self, phase: str, done: int, total: int) -> None:
        if not self.enabled or phase in self.finished:
            return
        bar = self.bars.get(phase)
        if bar is None:
            bar = self.bars[phase] = ProgressBar(self.stream, total, label=f"{phase:<10}")
        bar.update(done, total)
        if done >= total:
            bar.finish()
            self.finished.add(phase)


class Command(BaseCommand):
    help = (
        "Import a CRM export (CSV) of past leads with their outcomes, through a TOML mapping "
        "(see docs/importing.md). All or nothing: any bad row stops the import unless "
        "--skip-invalid is given."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("csv", type=Path, help="the CSV file")
        parser.add_argument(
            "--mapping", type=Path, required=True, help="the TOML mapping (docs/mappings/)"
        )
        parser.add_argument(
            "--delimiter",
            help="the field delimiter: a character, or tab/comma/semicolon/pipe (default: "
            "the mapping's, else detected)",
        )
        parser.add_argument(
            "--encoding",
            help="the file's encoding, e.g. utf-8, cp1252, latin-1 (default: the mapping's, "
            "else a BOM, then utf-8, cp1252, latin-1 in that order)",
        )
        parser.add_argument(
            "--skip-invalid",
            action="store_true",
            help="import the valid rows and report the bad ones (default: import nothing)",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="do the whole import and roll it back: validate and report, write nothing",
        )
        parser.add_argument(
            "--max-errors", type=int, default=50, help="bad rows to list (default 50)"
        )
        parser.add_argument(
            "--batch-size", type=int, default=1000, help="rows per bulk write (default 1000)"
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        delimiter = options["delimiter"]
        try:
            if delimiter is not None:
                delimiter = delimiter_parse(delimiter)
            mapping = mapping_load(options["mapping"])
            report = history_import(
                path=options["csv"],
                mapping=mapping,
                encoding=options["encoding"],
                delimiter=delimiter,
                skip_invalid=options["skip_invalid"],
                dry_run=options["dry_run"],
                batch_size=max(1, options["batch_size"]),
                progress=PhaseProgress(self.stdout, enabled=not options["no_progress"]),
            )
        except ValueError as error:  # a bad --delimiter
            raise CommandError(str(error), returncode=EXIT_UNUSABLE) from None
        except HistoryImportError as error:
            for problem in error.problems:
                self.stderr.write(f"  - {problem}")
            raise CommandError(
                f"{len(error.problems)} problem(s) with the mapping or the file; nothing was "
                "imported.",
                returncode=EXIT_UNUSABLE,
            ) from None
        self._errors_write(report, options["max_errors"])
        self._summary_write(report)
        if not report.accepted:
            raise CommandError(
                f"{report.bad_rows:,} of {report.rows:,} rows are bad; nothing was imported. Fix "
                "them, or run again with --skip-invalid to import the other rows.",
                returncode=EXIT_BAD_ROWS,
            )

    def _errors_write(self, report: ImportReport, limit: int) -> None:
        if not report.errors:
            return
        self.stderr.write(f"{report.bad_rows:,} bad rows ({len(report.errors):,} problems):")
        for error in report.errors[: max(0, limit)]:
            self.stderr.write(f"  {error}")
        if len(report.errors) > limit:
            self.stderr.write(f"  ... and {len(report.errors) - limit:,} more (--max-errors)")

    def _summary_write(self, report: ImportReport) -> None:
        out = self.stdout
        delimiter = {"\t": "tab", ",": "comma", ";": "semicolon", "|": "pipe"}.get(
            report.delimiter, report.delimiter
        )
        out.write(
            f"{report.path}: {report.rows:,} rows, {report.encoding}, {delimiter}-separated "
            f"(source {report.source!r})"
        )
        if report.accepted:
            out.write(
                f"  leads: {report.created:,} created, {report.updated:,} updated, "
                f"{report.unchanged:,} unchanged, {report.skipped:,} skipped"
            )
            out.write(
                f"  outcomes: {report.positives:,} positive, {report.negatives:,} negative, "
                f"{report.open:,} open"
            )
            out.write(
                f"  accounts: {report.accounts_created:,} created, "
                f"{report.leads_matched_by_email:,} leads matched to an account by email"
            )
            if (
                report.opportunities_created
                or report.opportunities_updated
                or (report.opportunities_deleted)
            ):
                out.write(
                    f"  opportunities: {report.opportunities_created:,} created, "
                    f"{report.opportunities_updated:,} updated, "
                    f"{report.opportunities_deleted:,} deleted"
                )
            if report.ignored_columns:
                out.write(f"  ignored columns: {', '.join(report.ignored_columns)}")
            if report.unmapped_columns:
                out.write(
                    "  columns not in the mapping (not imported): "
                    + ", ".join(report.unmapped_columns)
                )
            for warning in report.warnings:
                out.write(f"  warning: {warning}")
            if report.dry_run:
                out.write(f"Dry run in {report.seconds:.1f}s: nothing was written.")
            else:
                out.write(self.style.SUCCESS(f"Imported in {report.seconds:.1f}s."))
