"""The OpenAPI schema: it generates without a warning, validates, and a schemathesis run
against a live server, driven by it, finds no 5xx response."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from django.conf import settings
from django.core.management import call_command
from django.middleware.csrf import CSRF_SECRET_LENGTH
from django.test import Client
from django.utils.crypto import get_random_string
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from pytest_django.live_server_helper import LiveServer
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err, Ok

from accounts.models import ApiScope
from accounts.services import api_token_issue
from scoring.models import Feedback, ModelStatus, Tier
from tests.account_qualification_world import account_qualification_store
from tests.factories import (
    AccountFactory,
    IntentSignalFactory,
    LeadFactory,
    ModelVersionFactory,
    QualificationFactory,
    StakeholderFactory,
    TouchpointFactory,
    UserFactory,
)

SCHEMA_PATH = "/api/v1/schema/"
# Bounds of the run: examples per operation and a time budget each, so the whole run stays
# under a minute however many operations the API grows to (about a dozen today).
MAX_EXAMPLES = 30
SECONDS_PER_OPERATION = 4.0


def test_the_schema_generates_without_warnings_and_validates(tmp_path: Path) -> None:
    # --fail-on-warn: a view drf-spectacular cannot read (a missing serializer, an ambiguous
    # enum name, an unresolvable authenticator) fails here rather than shipping a vague schema.
    # --validate: the result is checked against the OpenAPI 3 JSON schema.
    out = tmp_path / "schema.yaml"

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))

    text = out.read_text()
    assert "/api/v1/leads/{lead_id}/qualifications:" in text
    assert "/api/v1/events/batch:" in text


@dataclass(frozen=True)
class World:
    # Headers per caller: a read token, an ingest token, and a superuser's browser session.
    credentials: dict[str, dict[str, str]]
    # Ids of rows that exist, by path parameter name.
    existing: dict[str, int]


@dataclass
class Round:
    """The operation under test: its cases and the end of its time budget."""

    cases: st.SearchStrategy[Any]
    until: float = 0.0


def _seed() -> World:
    """A few rows, so that cases with real ids get past the lookups as well as missing ones."""
    owner = UserFactory()
    account = AccountFactory(name="Acme", domain="acme.com")
    leads = [LeadFactory(account=account, owner=owner) for _ in range(3)]
    for lead in leads:
        QualificationFactory(lead=lead, is_current=False, tier=Tier.NURTURE)
        QualificationFactory(lead=lead, tier=Tier.SALES_READY, conversion_probability=0.4)
        TouchpointFactory(lead=lead)
    StakeholderFactory(account=account, lead=leads[0], committee_role="champion")
    IntentSignalFactory(account=account)
    account_qualification_store(account)  # its stored qualification is in the answers too
    # No active model: serving would load it on every ingest. The candidates' artifacts do not
    # load, so activating one is refused (409) and the pipeline keeps running on rules.
    ModelVersionFactory(status=ModelStatus.RETIRED, metrics={"auc": 0.8})
    candidate = ModelVersionFactory()
    _, read_key = api_token_issue(name="schemathesis read", scope=ApiScope.READ, created_by=owner)
    _, ingest_key = api_token_issue(
        name="schemathesis ingest", scope=ApiScope.INGEST, created_by=owner
    )
    # A person who may do everything, so that feedback and activation get past their
    # permission checks too: a session cookie, and the CSRF pair that DRF's session
    # authentication wants on a POST (the same value in the cookie and the header).
    browser = Client()
    browser.force_login(UserFactory(is_superuser=True, is_staff=True))
    session = browser.cookies[settings.SESSION_COOKIE_NAME].value
    csrf = get_random_string(CSRF_SECRET_LENGTH)
    cookies = f"{settings.SESSION_COOKIE_NAME}={session}; {settings.CSRF_COOKIE_NAME}={csrf}"
    return World(
        credentials={
            "read": {"Authorization": f"Bearer {read_key}"},
            "ingest": {"Authorization": f"Bearer {ingest_key}"},
            "session": {"Cookie": cookies, "X-CSRFToken": csrf},
        },
        existing={"lead_id": leads[0].pk, "account_id": account.pk, "model_id": candidate.pk},
    )


def _cases(operation: Any, existing: dict[str, int]) -> st.SearchStrategy[Any]:
    """Valid and invalid input alike (a 400 is an answer, a 500 is a bug), and valid input
    with the ids of rows that exist, which random integers would hardly ever hit."""
    strategies = [
        operation.as_strategy(schemathesis.GenerationMode.POSITIVE),
        operation.as_strategy(schemathesis.GenerationMode.NEGATIVE),
    ]
    names = {p.name for p in operation.path_parameters}
    if names and names <= existing.keys():
        strategies.append(
            operation.as_strategy(path_parameters={name: existing[name] for name in names})
        )
    return st.one_of(strategies)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_schemathesis_finds_no_server_error(live_server: LiveServer) -> None:
    world = _seed()
    schema = schemathesis.openapi.from_url(
        f"{live_server.url}{SCHEMA_PATH}", headers=world.credentials["read"]
    )
    results = list(schema.get_all_operations())
    assert not [r.err() for r in results if isinstance(r, Err)]  # every operation is readable
    operations = [r.ok() for r in results if isinstance(r, Ok)]
    assert len(operations) >= 11, [op.label for op in operations]
    started = time.monotonic()
    current = Round(cases=st.nothing())
    failures: dict[str, str] = {}

    # Each case goes with one of the callers: every operation is exercised both past its
    # authentication and against it.
    @hypothesis_settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(data=st.data(), caller=st.sampled_from(sorted(world.credentials)))
    def check(data: st.DataObject, caller: str) -> None:
        # Drawn before the budget check: Hypothesis replays a failing example and needs the
        # same draws each time.
        case = data.draw(current.cases)
        if time.monotonic() > current.until:
            return  # this operation's time budget is spent
        response = case.call(
            base_url=live_server.url, headers=world.credentials[caller], timeout=10
        )
        case.validate_response(response, checks=[not_a_server_error])

    for operation in operations:
        current.until = time.monotonic() + SECONDS_PER_OPERATION
        current.cases = _cases(operation, world.existing)
        # Every operation runs, failing or not, so that one report names each broken one.
        try:
            check()
        except Exception as exc:  # schemathesis' FailureGroup carries the curl to reproduce
            failures[operation.label] = str(exc)[:2000]

    assert not failures, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())
    assert time.monotonic() - started < 90
    # The session really got past the write operations' permissions: not a run of 403s.
    assert Feedback.objects.exists()
