from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import Account
from leadqual.progress import ProgressBar
from scoring import account_services
from scoring.account_scoring import PRIORITY_LABELS
from scoring.models import AccountQualificationReason


class Command(BaseCommand):
    help = (
        "Score accounts (engagement, committee coverage, cross-functional interest, intent, "
        "timing) and store a new current AccountQualification for each whose result changed. "
        "Accounts whose priority changed get their leads re-qualified."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--account",
            type=int,
            action="append",
            dest="accounts",
            metavar="ID",
            help="Only this account (repeatable); default: every account.",
        )
        parser.add_argument("--chunk-size", type=int, default=account_services.ACCOUNT_CHUNK)
        parser.add_argument(
            "--no-requalify",
            action="store_true",
            help="Do not re-qualify the leads of accounts whose priority changed.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["chunk_size"] < 1:
            raise CommandError("--chunk-size must be at least 1.")
        ids = options["accounts"]
        if ids:
            found = set(Account.objects.filter(pk__in=ids).values_list("pk", flat=True))
            missing = sorted(set(ids) - found)
            if missing:
                raise CommandError(f"No account with id {', '.join(map(str, missing))}.")
        bar = ProgressBar(self.stdout, total=0, label="accounts")
        result = account_services.accounts_qualify(
            account_ids=ids,
            reason=AccountQualificationReason.MANUAL,
            chunk_size=options["chunk_size"],
            requalify_leads=not options["no_requalify"],
            progress=bar.update,
        )
        bar.finish()
        self.stdout.write(
            f"{result.accounts} accounts scored in {result.seconds:.1f}s: {result.stored} "
            f"changed, {len(result.priority_changes)} changed priority."
        )
        for account_id, (before, after) in sorted(result.priority_changes.items())[:20]:
            self.stdout.write(
                f"  account {account_id}: {PRIORITY_LABELS.get(before, 'not scored')} -> "
                f"{PRIORITY_LABELS[after]}"
            )
