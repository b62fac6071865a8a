from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from dashboards.services import metrics_snapshot_take


class Command(BaseCommand):
    help = (
        "Take a metrics snapshot now, with the RevOps report, as the hourly "
        "dashboards-metrics-snapshot job does: the RevOps pages show the latest one. Reads "
        "every lead once (seconds on a large database). `make demo` ends with it."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write("Taking a metrics snapshot (the RevOps report reads every lead) ...")
        snapshot = metrics_snapshot_take()
        report = snapshot.report
        counts = (
            f"Snapshot #{snapshot.pk} taken at {snapshot.taken_at:%Y-%m-%d %H:%M %Z}: "
            f"{snapshot.leads:,} leads, {snapshot.qualified:,} qualified "
            f"({snapshot.sales_ready:,} Sales Ready)"
        )
        if not report:
            # metrics_snapshot_take logged why; a command that `make demo` ends with must not
            # pass for a snapshot the RevOps pages cannot show.
            raise CommandError(
                f"{counts}, but the RevOps report failed (see the log above), so the RevOps "
                "pages still show the previous report, if any."
            )
        live = report.get("live") or {}
        self.stdout.write(
            self.style.SUCCESS(
                f"{counts}; outcome figures over {live.get('leads', 0):,} live leads (scored "
                "before their outcome by a model that had not trained on them)."
            )
        )
