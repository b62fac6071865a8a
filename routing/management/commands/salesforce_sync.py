from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.salesforce.errors import (
    SalesforceAuthError,
    SalesforceConfigError,
    SalesforceDisabled,
)
from routing.salesforce_sync import SyncAlreadyRunning, SyncSummary, salesforce_sync

# Exit codes: 1 failed (CommandError's default), 2 stopped at the API usage limit.
EXIT_STOPPED = 2


def _objects(value: str) -> list[str]:
    names = [name.strip() for name in value.split(",") if name.strip()]
    if not names:
        raise CommandError("--objects needs at least one Salesforce object, e.g. Lead,Account.")
    return list(dict.fromkeys(names))


class Command(BaseCommand):
    help = (
        "Sync with Salesforce: pull accounts, contacts, leads, opportunities, tasks, events and "
        "users changed since the last run, then push each changed lead's qualification and "
        "routed owner back. Needs SALESFORCE_ENABLED and credentials (docs/salesforce.md)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        direction = parser.add_mutually_exclusive_group()
        direction.add_argument("--pull", action="store_true", help="Only pull from Salesforce.")
        direction.add_argument("--push", action="store_true", help="Only push to Salesforce.")
        parser.add_argument(
            "--objects",
            type=_objects,
            help="Comma-separated objects to pull (default: all), e.g. Lead,Account,User.",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Read from Salesforce and count what would change; write nothing anywhere.",
        )
        parser.add_argument(
            "--json", action="store_true", help="Print the summary as JSON (no progress lines)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        as_json: bool = options["json"]
        progress = None if as_json else self._progress
        try:
            summary = salesforce_sync(
                pull=not options["push"],
                push=not options["pull"],
                objects=options["objects"],
                dry_run=options["dry_run"],
                progress=progress,
            )
        except SalesforceDisabled as exc:
            raise CommandError(
                "Salesforce is disabled: set SALESFORCE_ENABLED=1 and the SALESFORCE_* "
                f"credentials (see docs/salesforce.md). ({exc})"
            ) from exc
        except (SalesforceAuthError, SalesforceConfigError) as exc:
            raise CommandError(f"Could not log in to Salesforce: {exc}") from exc
        except SyncAlreadyRunning as exc:
            raise CommandError(f"{exc} Try again when it has finished.") from exc
        except ValueError as exc:
            raise CommandError(str(exc)) from exc

        if as_json:
            self.stdout.write(json.dumps(summary.as_dict(), indent=2, default=str))
        else:
            self._report(summary)
        if summary.status == "failed":
            raise CommandError("Salesforce sync failed: " + "; ".join(summary.errors))
        if summary.status == "stopped":
            raise CommandError(
                "Salesforce sync stopped: " + "; ".join(summary.errors), returncode=EXIT_STOPPED
            )

    def _progress(self, message: str) -> None:
        self.stdout.write(message)
        self.stdout.flush()

    def _report(self, summary: SyncSummary) -> None:
        prefix = "Dry run: nothing was written. " if summary.dry_run else ""
        if summary.pull is not None:
            for name, counts in summary.pull.counts.items():
                c = counts.as_dict()
                self.stdout.write(
                    f"pull {name}: {c['created']} created, {c['updated']} updated, "
                    f"{c['unchanged']} unchanged, {c['deleted']} deleted, "
                    f"{c['skipped']} skipped, {c['errors']} errors"
                )
            for pull_error in summary.pull.errors[:20]:
                where = f"{pull_error.get('object', '')} {pull_error.get('id', '')}".strip()
                self.stdout.write(f"  {where}: {pull_error.get('message')}")
        if summary.push is not None:
            push = summary.push
            self.stdout.write(
                f"push: {push.pushed} sent, {push.unchanged} unchanged, {push.skipped} converted "
                f"skipped, {push.failed} refused, {push.calls} calls"
                + (f" ({push.pending} would be sent)" if summary.dry_run else "")
            )
            for error in push.errors[:20]:
                self.stdout.write(
                    f"  lead {error.lead_id} ({error.salesforce_id}): {error.code}: {error.message}"
                )
        if summary.account_push is not None:
            accounts = summary.account_push
            self.stdout.write(
                f"account push: {accounts.pushed} sent, {accounts.unchanged} unchanged, "
                f"{accounts.failed} refused, {accounts.calls} calls"
                + (f" ({accounts.pending} would be sent)" if summary.dry_run else "")
            )
            for account_error in accounts.errors[:20]:
                self.stdout.write(
                    f"  account {account_error.account_id} ({account_error.salesforce_id}): "
                    f"{account_error.code}: {account_error.message}"
                )
        usage = summary.api_usage
        if usage is not None:
            self.stdout.write(f"API usage: {usage.used}/{usage.limit} ({usage.share:.0%})")
        if summary.ok:
            self.stdout.write(self.style.SUCCESS(f"{prefix}Salesforce sync finished."))
