"""A fresh loopback Salesforce org per test, and clients pointed at it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

from accounts.salesforce.client import SalesforceClient, SalesforceConfig
from accounts.salesforce.loopback import (
    DEFAULT_PASSWORD,
    DEFAULT_SECURITY_TOKEN,
    INTEGRATION_USERNAME,
    LoopbackServer,
)


class SleepRecorder:
    """Stands in for time.sleep: records the backoff delays instead of waiting them."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
def sf_server() -> Iterator[LoopbackServer]:
    with LoopbackServer() as server:
        yield server


@pytest.fixture
def sf_config(sf_server: LoopbackServer) -> SalesforceConfig:
    return SalesforceConfig(
        username=INTEGRATION_USERNAME,
        password=DEFAULT_PASSWORD,
        security_token=DEFAULT_SECURITY_TOKEN,
        loopback_url=sf_server.url,
        max_retries=3,
        backoff_seconds=0.5,
        max_backoff_seconds=4.0,
        timeout_seconds=5.0,
        bulk_poll_seconds=0,
    )


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
def sf_client(sf_config: SalesforceConfig, sleeps: SleepRecorder) -> SalesforceClient:
    return SalesforceClient(sf_config, sleep=sleeps)


def client_with(
    config: SalesforceConfig, sleeps: SleepRecorder | None = None, **changes: object
) -> SalesforceClient:
    return SalesforceClient(replace(config, **changes), sleep=sleeps or SleepRecorder())  # type: ignore[arg-type]
