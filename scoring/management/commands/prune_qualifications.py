from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from leadqual.progress import ProgressBar
from scoring import services


class Command(BaseCommand):
    help = (
        "Delete retired qualifications older than --older-than days. Kept whatever their age: "
        "each lead's current and first qualification, and any a rep's feedback or the last "
        "Salesforce push points at. Every qualification is kept unless this is run."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--older-than",
            type=int,
            required=True,
            metavar="DAYS",
            help="Delete retired qualifications computed more than this many days ago.",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Count what would be deleted; delete nothing."
        )
        parser.add_argument("--batch-size", type=int, default=services.PRUNE_BATCH)

    def handle(self, *args: Any, **options: Any) -> None:
        days, batch_size = options["older_than"], options["batch_size"]
        if days < 1:
            raise CommandError(f"--older-than must be at least 1 day (got {days}).")
        if batch_size < 1:
            raise CommandError(f"--batch-size must be at least 1 (got {batch_size}).")
        bar = ProgressBar(self.stdout, 0, "Deleting")
        result = services.qualifications_prune(
            older_than_days=days,
            dry_run=options["dry_run"],
            batch_size=batch_size,
            progress=bar.update,
        )
        cutoff = f"{result.before:%Y-%m-%d %H:%M %Z}"
        if result.dry_run:
            self.stdout.write(
                f"{result.prunable:,} retired qualifications computed before {cutoff} would be "
                "deleted (dry run: nothing was)."
            )
            return
        if result.deleted:
            bar.finish()
        self.stdout.write(
            self.style.SUCCESS(
                f"Deleted {result.deleted:,} retired qualifications computed before {cutoff}."
            )
        )
