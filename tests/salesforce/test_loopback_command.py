"""manage.py salesforce_loopback: seeds an org, serves it, prints the settings to use."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from accounts.management.commands import salesforce_loopback
from accounts.salesforce.client import SalesforceClient, SalesforceConfig
from accounts.salesforce.loopback.seed import seed_org
from accounts.salesforce.loopback.store import OrgStore


def test_the_command_prints_settings_that_log_in(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, int] = {}

    def check_then_stop() -> None:
        # Runs while the server is up: log in with exactly what the command printed.
        settings = dict(
            line.split("=", 1)
            for line in out.getvalue().splitlines()
            if line.startswith("SALESFORCE_")
        )
        client = SalesforceClient(
            SalesforceConfig(
                username=settings["SALESFORCE_USERNAME"],
                password=settings["SALESFORCE_PASSWORD"],
                security_token=settings["SALESFORCE_SECURITY_TOKEN"],
                loopback_url=settings["SALESFORCE_LOOPBACK_URL"],
                bulk_poll_seconds=0,
            )
        )
        seen["leads"] = client.count("SELECT COUNT() FROM Lead")
        raise KeyboardInterrupt

    monkeypatch.setattr(salesforce_loopback, "wait_forever", check_then_stop)
    out = io.StringIO()
    call_command("salesforce_loopback", "--port", "0", "--seed-leads", "40", stdout=out)
    assert seen["leads"] == 40
    assert "SALESFORCE_ENABLED=1" in out.getvalue() and "Stopping." in out.getvalue()


def test_the_seeded_org_is_realistic_and_deterministic() -> None:
    first, second = OrgStore(), OrgStore()
    org = seed_org(first, leads=100)
    seed_org(second, leads=100)
    leads = first.all("Lead")
    assert len(leads) == len(org.lead_ids) == 100
    assert [r["Company"] for r in leads] == [r["Company"] for r in second.all("Lead")]
    assert sum(r["IsConverted"] for r in leads) == 2
    assert all(len(r["Id"]) == 18 for r in leads)
    opportunities = first.all("Opportunity")
    assert opportunities and all(
        r["IsClosed"] == r["StageName"].startswith("Closed") for r in opportunities
    )
