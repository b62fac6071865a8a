"""Every endpoint under /api/v1/, found by walking the URL configuration, refuses a caller
without credentials and a token of the wrong scope.

The endpoints are discovered, never listed, so an endpoint added later is covered the day it
lands. "Wrong scope" is read from what an operation does: a safe method (GET) is a read, so an
ingest token is refused; any other method writes (ingest, feedback, activation), so a read token
is refused; and no operation admits tokens of both scopes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RegexPattern, RoutePattern

from accounts.models import ApiScope
from accounts.services import api_token_issue, api_token_revoke
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

API_PREFIX = "/api/v1/"
# Pages about the API rather than of it: they need a login or any token, not a given scope.
NOT_ENDPOINTS = ("/api/v1/schema/", "/api/v1/docs/")
SAFE_METHODS = ("get",)
DENIED = (401, 403)
# A value for each path converter; the object need not exist: authentication and permissions
# are checked before a view looks anything up.
SAMPLE_VALUES = {
    "int": "1",
    "str": "x",
    "slug": "x",
    "path": "x",
    "uuid": "00000000-0000-0000-0000-000000000001",
}


@dataclass(frozen=True)
class Operation:
    path: str
    method: str

    def __str__(self) -> str:
        return f"{self.method.upper()} {self.path}"


_CONVERTER = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>[^>]+)>")
_REGEX_GROUP = re.compile(r"\(\?P<[^>]+>[^)]*\)")


def _route_text(pattern: Any) -> str:
    """A concrete URL fragment for a route or regex pattern."""
    if isinstance(pattern, RoutePattern):
        return _CONVERTER.sub(
            lambda m: SAMPLE_VALUES.get(m.group("converter") or "str", "x"), str(pattern)
        )
    if isinstance(pattern, RegexPattern):
        text = _REGEX_GROUP.sub("1", pattern.regex.pattern)
        return text.lstrip("^").rstrip("$").replace("\\", "")
    raise TypeError(f"Unknown URL pattern type {type(pattern).__name__} ({pattern!r})")


def _walk(resolver: URLResolver, prefix: str = "/") -> Iterator[tuple[str, URLPattern]]:
    for entry in resolver.url_patterns:
        text = prefix + _route_text(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _walk(entry, text)
        else:
            yield text, entry


def _methods(pattern: URLPattern) -> list[str]:
    view_class = getattr(pattern.callback, "view_class", None) or getattr(
        pattern.callback, "cls", None
    )
    if view_class is None:
        # A function view under /api/v1/ would escape DRF's authentication entirely.
        raise AssertionError(f"{pattern} is not a class-based DRF view")
    return [
        method
        for method in view_class.http_method_names
        if method not in ("options", "head", "trace") and hasattr(view_class, method)
    ]


def api_operations() -> list[Operation]:
    found: list[Operation] = []
    for path, pattern in _walk(get_resolver()):
        if not path.startswith(API_PREFIX) or path.startswith(NOT_ENDPOINTS):
            continue
        found.extend(Operation(path, method) for method in _methods(pattern))
    return sorted(set(found), key=str)


OPERATIONS = api_operations()


def test_the_walk_finds_the_endpoints_of_every_app() -> None:
    # Guards the walk itself: a walk that found nothing would pass every test below.
    found = {str(op) for op in OPERATIONS}
    for expected in (
        "POST /api/v1/events",
        "POST /api/v1/events/batch",
        "GET /api/v1/leads",
        "GET /api/v1/leads/1",
        "GET /api/v1/leads/1/qualifications",
        "POST /api/v1/leads/1/feedback",
        "GET /api/v1/accounts",
        "GET /api/v1/accounts/1",
        "GET /api/v1/models",
        "GET /api/v1/models/1",
        "POST /api/v1/models/1/activate",
    ):
        assert expected in found, f"{expected} not found; the walk found {sorted(found)}"


def _call(client: Client, operation: Operation) -> Any:
    return getattr(client, operation.method)(operation.path, {}, content_type="application/json")


def _token_client(scope: str, *, revoked: bool = False) -> Client:
    token, key = api_token_issue(name=f"walk {scope}", scope=scope, created_by=UserFactory())
    if revoked:
        api_token_revoke(token=token)
    return Client(HTTP_AUTHORIZATION=f"Bearer {key}")


@pytest.mark.parametrize("operation", OPERATIONS, ids=str)
def test_without_credentials_every_endpoint_answers_401_or_403(operation: Operation) -> None:
    response = _call(Client(), operation)

    assert response.status_code in DENIED, response.content
    # In the one error shape, not a login redirect or an HTML page.
    assert response.json()["error"]["status"] == response.status_code


@pytest.mark.parametrize("operation", OPERATIONS, ids=str)
def test_a_token_of_the_wrong_scope_is_refused(operation: Operation) -> None:
    wrong = ApiScope.INGEST if operation.method in SAFE_METHODS else ApiScope.READ

    response = _call(_token_client(wrong), operation)

    assert response.status_code in DENIED, (wrong, response.content)
    assert response.json()["error"]["status"] == response.status_code


@pytest.mark.parametrize("operation", OPERATIONS, ids=str)
def test_no_endpoint_admits_tokens_of_both_scopes(operation: Operation) -> None:
    admitted = [
        scope
        for scope in ApiScope.values
        if _call(_token_client(scope), operation).status_code not in DENIED
    ]

    assert len(admitted) <= 1, admitted


@pytest.mark.parametrize("operation", OPERATIONS, ids=str)
def test_a_revoked_token_is_refused_whatever_its_scope(operation: Operation) -> None:
    for scope in ApiScope.values:
        response = _call(_token_client(scope, revoked=True), operation)

        assert response.status_code in DENIED, (scope, response.content)
