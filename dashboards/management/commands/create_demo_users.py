from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from dashboards.services import demo_users_ensure


class Command(BaseCommand):
    help = (
        "Create (or reset) one demo login per role, SDR, Sales manager and RevOps, plus an "
        "admin superuser, and print them. Safe to run again."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        logins = demo_users_ensure()
        rows = [("username", "password", "role", "name")] + [
            (login.username, login.password, login.role, login.full_name) for login in logins
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        self.stdout.write(self.style.SUCCESS("Demo logins:"))
        for index, row in enumerate(rows):
            cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
            line = ("  " + "  ".join(cells)).rstrip()
            self.stdout.write(self.style.MIGRATE_HEADING(line) if index == 0 else line)
