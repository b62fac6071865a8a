"""manage.py salesforce_loopback: run the Salesforce-compatible loopback server for the demo."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.salesforce.loopback import (
    DEFAULT_PASSWORD,
    DEFAULT_SECURITY_TOKEN,
    INTEGRATION_USERNAME,
    LoopbackServer,
)
from accounts.salesforce.loopback.seed import seed_org


def wait_forever() -> None:
    """Block the main thread while the server thread serves (until Ctrl-C)."""
    threading.Event().wait()


class Command(BaseCommand):
    help = (
        "Run a Salesforce-compatible server on loopback (plain HTTP), seeded with a small "
        "realistic org, and print the settings that point leadqual at it. Ctrl-C stops it; "
        "its data lives in memory only."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--host", default="127.0.0.1", help="Interface to bind (default 127.0.0.1)."
        )
        parser.add_argument(
            "--port", type=int, default=8765, help="Port (default 8765; 0 picks one)."
        )
        parser.add_argument(
            "--seed-leads",
            type=int,
            default=200,
            help="Leads to seed, with accounts and deals (default 200).",
        )
        parser.add_argument(
            "--seed-history",
            type=int,
            default=0,
            help="Of the seeded leads, how many are past leads with a known outcome "
            "(converted with a won or lost deal, or closed): history to train on (default 0).",
        )
        parser.add_argument(
            "--env-file",
            type=Path,
            default=None,
            help="Also write the settings to this file (KEY=VALUE lines) once the server "
            "answers, for a script to wait for and source (make demo SALESFORCE=loopback).",
        )
        parser.add_argument(
            "--assignment-rule",
            action="store_true",
            help="Activate a lead assignment rule (owner: the first rep) to show Auto-Assign.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        leads, history = options["seed_leads"], options["seed_history"]
        if leads < 1 or not 0 <= history <= leads:
            raise CommandError(
                f"--seed-leads must be at least 1 and --seed-history between 0 and it "
                f"(got {leads} and {history})."
            )
        server = LoopbackServer(host=options["host"], port=options["port"])
        org = seed_org(server.store, leads=leads, history=history)
        if options["assignment_rule"]:
            server.store.set_lead_assignment_rule(org.user_ids[0])
        try:
            server.start()
        except OSError as exc:
            raise CommandError(
                f"Could not listen on {options['host']}:{options['port']}: {exc.strerror}"
            ) from exc
        settings_lines = [
            "SALESFORCE_ENABLED=1",
            f"SALESFORCE_LOOPBACK_URL={server.url}",
            f"SALESFORCE_USERNAME={INTEGRATION_USERNAME}",
            f"SALESFORCE_PASSWORD={DEFAULT_PASSWORD}",
            f"SALESFORCE_SECURITY_TOKEN={DEFAULT_SECURITY_TOKEN}",
            "SALESFORCE_BULK_POLL_SECONDS=0",
        ]
        env_file: Path | None = options["env_file"]
        if env_file is not None:
            # Written whole, then renamed: a script waiting for the file never reads half.
            partial = env_file.with_name(env_file.name + ".partial")
            partial.write_text("\n".join(settings_lines) + "\n")
            os.replace(partial, env_file)
        self.stdout.write(
            f"Salesforce loopback server on {server.url}: {len(org.lead_ids)} leads, "
            f"{len(org.account_ids)} accounts, {len(org.opportunity_ids)} opportunities, "
            f"{len(org.user_ids)} reps."
        )
        self.stdout.write("Point leadqual at it with these environment variables:\n")
        self.stdout.write("\n".join(settings_lines))
        self.stdout.write("\nCtrl-C to stop.")
        try:
            wait_forever()
        except KeyboardInterrupt:
            self.stdout.write("Stopping.")
        finally:
            server.stop()
