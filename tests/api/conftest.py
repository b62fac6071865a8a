"""Fixtures for the REST API tests: tokens of each scope and clients that send them.

`ingest_client` / `read_client` send `Authorization: Bearer <key>` of a fresh token of that
scope; `api_token` issues any other (`api_token(scope="read", name="CRM")` -> (token, key)).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from accounts.models import ApiScope, ApiToken
from accounts.services import api_token_issue

IssueToken = Callable[..., tuple[ApiToken, str]]


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> Iterator[None]:
    # The rate-limit counters live in the cache, which outlives a test's database rollback.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api_token(db: None) -> IssueToken:
    def issue(
        *, scope: str = ApiScope.INGEST, name: str = "Test integration"
    ) -> tuple[ApiToken, str]:
        return api_token_issue(name=name, scope=scope, created_by=None)

    return issue


def bearer_client(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


@pytest.fixture
def ingest_key(api_token: IssueToken) -> str:
    return api_token(scope=ApiScope.INGEST, name="Website tracker")[1]


@pytest.fixture
def read_key(api_token: IssueToken) -> str:
    return api_token(scope=ApiScope.READ, name="BI export")[1]


@pytest.fixture
def ingest_client(ingest_key: str) -> APIClient:
    return bearer_client(ingest_key)


@pytest.fixture
def read_client(read_key: str) -> APIClient:
    return bearer_client(read_key)
