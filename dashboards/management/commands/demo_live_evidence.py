from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from leadqual.demo.live_evidence import DemoWorldMissing, demo_live_evidence_send
from scoring.triggers import TRIGGER_LABELS


class Command(BaseCommand):
    help = (
        "After the demo world is qualified and routed: send what arrives next through the "
        "real feeds, ingest and revisit run (a closed and a dormant lead active again, a "
        "funding round, a competitor in the news, a new contact at an engaged company, a "
        "'not buying now' revisit date come due), so leads resurface with their reasons and "
        "go back to their previous owners. Does nothing when already sent for this world."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--wait",
            type=float,
            default=120.0,
            help="With a worker: seconds to wait for the resurfaced leads to be routed.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = demo_live_evidence_send(wait_seconds=options["wait"])
        except DemoWorldMissing as exc:
            raise CommandError(str(exc)) from exc
        if not result.sent:
            self.stdout.write("The demo's live evidence was sent already; nothing to do.")
            return
        for scene in result.scenes:
            self.stdout.write(f"  {TRIGGER_LABELS[scene.trigger]:<36} {scene.what}")
        total = sum(n for n, _ in result.resurfaced.values())
        back = sum(b for _, b in result.resurfaced.values())
        self.stdout.write(
            self.style.SUCCESS(
                f"{total} leads resurfaced in {result.seconds:.1f}s, {back} routed back to "
                "their previous owner:"
            )
        )
        for trigger, (n, b) in result.resurfaced.items():
            self.stdout.write(f"  {TRIGGER_LABELS.get(trigger, trigger):<36} {n:>3} ({b} back)")
