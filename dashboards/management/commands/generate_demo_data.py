from __future__ import annotations

from argparse import ArgumentParser
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from leadqual.demo.load import DemoWorldConflict, anchor_parse, demo_world_load
from leadqual.demo.world import PERSONA_LABELS, PERSONA_SHARES
from leadqual.progress import ProgressBar

# A world older than this no longer tells the demo's "ready right now" story.
AGED_AFTER = timedelta(days=2)
_SHARES = ", ".join(f"{PERSONA_LABELS[p]} {share:.0%}" for p, share in PERSONA_SHARES.items())


class Command(BaseCommand):
    help = (
        "Load a realistic synthetic demo world: accounts with buying committees, leads with "
        f"touchpoints, intent surges, trigger events, reps and territories, and historical "
        f"outcomes. Personas: {_SHARES}. The same --seed and --anchor give the same world. "
        "Does nothing when a demo world is already loaded, unless --reset."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--leads", type=int, default=5000, help="How many leads (default 5000)."
        )
        parser.add_argument("--seed", type=int, default=42, help="Random seed (default 42).")
        parser.add_argument(
            "--anchor",
            default=None,
            help=(
                "The world's 'now': YYYY-MM-DD (00:00 UTC) or an ISO date and time "
                "(default: this minute, so the world's recent activity is recent)."
            ),
        )
        parser.add_argument(
            "--reset",
            action="store_true",
            help="Delete the demo world already loaded (only its rows) and load a new one.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        leads: int = options["leads"]
        seed: int = options["seed"]
        if leads < 1:
            raise CommandError(f"--leads must be at least 1 (got {leads}).")
        if seed < 0:
            raise CommandError(f"--seed must be zero or positive (got {seed}).")
        anchor = None
        if options["anchor"]:
            try:
                anchor = anchor_parse(options["anchor"])
            except ValueError:
                raise CommandError(
                    "--anchor must be a date as YYYY-MM-DD or a date and time as "
                    f"YYYY-MM-DDTHH:MM (got {options['anchor']!r})."
                ) from None

        bar = ProgressBar(self.stdout, total=1, label="Demo world")

        def progress(stage: str, done: int, total: int) -> None:
            bar.label = f"{stage:<28}"
            bar.update(done, total)

        try:
            result = demo_world_load(
                leads=leads, seed=seed, anchor=anchor, reset=options["reset"], progress=progress
            )
        except DemoWorldConflict as exc:
            raise CommandError(str(exc)) from exc
        info = result.info
        described = f"seed {info.seed}, anchor {info.anchor}, {info.leads:,} leads"
        if not result.loaded:
            self.stdout.write(
                f"A demo world is already loaded ({described}); nothing to do. "
                "Use --reset to replace it."
            )
            self._warn_if_aged(info.anchor)
            return
        bar.finish()
        if result.deleted:
            removed = ", ".join(f"{n:,} {name}" for name, n in result.deleted.items())
            self.stdout.write(f"Removed the previous demo world: {removed}.")
        counts = ", ".join(f"{n:,} {name.replace('_', ' ')}" for name, n in result.counts.items())
        self.stdout.write(
            self.style.SUCCESS(
                f"Loaded the demo world ({described}) in {result.seconds:.1f}s: {counts}."
            )
        )

    def _warn_if_aged(self, label: str) -> None:
        try:
            anchored = anchor_parse(label)
        except ValueError:
            return
        age = timezone.now() - anchored
        if age >= AGED_AFTER:
            self.stdout.write(
                self.style.WARNING(
                    f"It was anchored {age.days} day{'s' if age.days != 1 else ''} ago: its "
                    "buyers' recent activity has aged since. --reset brings its clock back to now."
                )
            )
