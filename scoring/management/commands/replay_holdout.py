from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from leadqual.progress import ProgressBar
from scoring.replay import holdout_replay


class Command(BaseCommand):
    help = (
        "Score the active conversion model's time-ordered holdout (leads it never trained on) "
        "as of a minute before each lead's outcome, and store those assessments as history, "
        "not as the current qualification. The RevOps live figures then have leads scored "
        "before their outcome to measure. Leads already assessed before their outcome are "
        "skipped, so it is safe to run again (`make demo` runs it)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        bar = ProgressBar(self.stdout, 0, "Replaying the holdout")
        result = holdout_replay(progress=bar.update)
        if not result.replayed:
            self.stdout.write(f"Nothing replayed: {result.reason}.")
            return
        bar.finish(f"Replayed {result.replayed:,} leads")
        for tier, count in sorted(result.tiers.items()):
            self.stdout.write(f"  {tier:<12} {count:>8,}")
        cutoff = f"{result.cutoff:%Y-%m-%d %H:%M %Z}" if result.cutoff else "?"
        which = (
            "exactly the holdout recorded at training"
            if result.matches_training_holdout
            else "not the exact set recorded at training (outcomes were added or changed "
            "since), but every one created after the cutoff, so never a training row"
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"Model #{result.model_version}'s holdout: {result.holdout_leads:,} leads with "
                f"an outcome, created from {cutoff}; {which}. {result.replayed:,} scored as of "
                f"a minute before their outcome and stored as history"
                + (
                    f"; {result.already_assessed:,} already had an assessment from before it."
                    if result.already_assessed
                    else "."
                )
            )
        )
