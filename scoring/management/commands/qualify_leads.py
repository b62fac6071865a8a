from __future__ import annotations

import os
import time
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.dateparse import parse_datetime

from leadqual.progress import ProgressBar
from scoring import account_services, selectors, services
from scoring.models import AccountQualificationReason


def _since(value: str) -> datetime:
    parsed = parse_datetime(value)
    if parsed is None:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise CommandError(
                f"--since {value!r} is not a date or time; use e.g. 2026-11-01 or "
                "2026-11-01T08:00:00+00:00."
            ) from None
    if parsed.tzinfo is None:
        raise CommandError(f"--since {value!r} needs a time zone, e.g. 2026-11-01T00:00:00+00:00.")
    return parsed


class Command(BaseCommand):
    help = (
        "Re-qualify leads: features, fit, rules, model, tier and brief, stored as a new current "
        "Qualification for each lead. Chunked; each chunk is written atomically."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument("--all", action="store_true", help="Every lead in the database.")
        group.add_argument(
            "--unqualified", action="store_true", help="Only leads with no assessment yet."
        )
        group.add_argument(
            "--since",
            type=str,
            help="Leads updated or with new touchpoints since this ISO time (with time zone).",
        )
        parser.add_argument("--chunk-size", type=int, default=services.DEFAULT_CHUNK)
        parser.add_argument(
            "--processes",
            type=int,
            default=os.cpu_count() or 1,
            help=(
                "Processes to spread the chunks over (default: one per core). Used on PostgreSQL "
                "for runs of more than one chunk; otherwise the run stays in this process."
            ),
        )
        parser.add_argument(
            "--no-accounts",
            action="store_true",
            help=(
                "Do not score the accounts first (by default every account is scored before "
                "the leads, as in the nightly run: a lead's Sales Ready bar reads its "
                "account's priority)."
            ),
        )
        parser.add_argument(
            "--no-notify",
            action="store_true",
            help="Do not hand the qualified leads on (LEADQUAL_AFTER_QUALIFY: routing).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["chunk_size"] < 1:
            raise CommandError("--chunk-size must be at least 1.")
        if options["processes"] < 1:
            raise CommandError("--processes must be at least 1.")
        if options["unqualified"]:
            ids = selectors.lead_ids_unqualified()
        else:
            since = None if options["all"] else _since(options["since"])
            ids = selectors.lead_ids_for_qualification(since=since)
        if not ids:
            self.stdout.write("No leads to qualify.")
            return
        if not options["no_accounts"]:
            self._accounts_first()
        processes = options["processes"]
        if processes > 1 and services.processes_possible(len(ids), options["chunk_size"]):
            chunks = -(-len(ids) // options["chunk_size"])
            self.stdout.write(f"{chunks} chunks over {min(processes, chunks)} processes")
        bar = ProgressBar(self.stdout, len(ids), "Qualifying")
        result = services.leads_qualify_in_processes(
            lead_ids=ids,
            processes=processes,
            chunk_size=options["chunk_size"],
            progress=bar.update,
            notify=False,
        )
        bar.finish(f"Qualified {result.leads:,} leads")
        for tier, count in sorted(result.tiers.items()):
            self.stdout.write(f"  {tier:<12} {count:>8,}")
        rate = result.leads / result.seconds if result.seconds else 0.0
        self.stdout.write(f"{rate:,.0f} leads/s")
        if options["no_notify"] or not settings.LEADQUAL_AFTER_QUALIFY:
            return
        # Without a broker the hooks' tasks run here, which takes a while on a big run.
        hooks = ", ".join(settings.LEADQUAL_AFTER_QUALIFY)
        self.stdout.write(f"Handing {result.leads:,} leads on to {hooks} ...")
        started = time.perf_counter()
        services.qualified_notify(ids)
        self.stdout.write(f"  done in {time.perf_counter() - started:.1f}s")

    def _accounts_first(self) -> None:
        # The leads are qualified right after, so a priority change needs no re-qualification
        # of its own (as in the nightly task).
        bar = ProgressBar(self.stdout, total=0, label="Scoring accounts")
        scored = account_services.accounts_qualify(
            reason=AccountQualificationReason.MANUAL, requalify_leads=False, progress=bar.update
        )
        bar.finish(
            f"Scored {scored.accounts:,} accounts: {scored.stored:,} changed, "
            f"{len(scored.priority_changes):,} changed priority"
        )
