"""What every endpoint shares: API tokens, scopes, sessions, the error shape, rate limits."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ApiScope, ApiToken, Touchpoint
from accounts.services import api_token_issue, api_token_revoke
from leadqual.api import error_fields, rate_parse
from tests.api.conftest import IssueToken, bearer_client
from tests.factories import UserFactory

EVENTS_URL = "/api/v1/events"


def page_view(external_id: str = "evt-1", email: str = "jordan.lee@acme.com") -> dict[str, Any]:
    return {
        "external_id": external_id,
        "kind": "page_view",
        "occurred_at": timezone.now().isoformat(),
        "person": {"email": email},
    }


# --- tokens -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_issued_token_stores_only_the_hash_and_a_short_prefix() -> None:
    token, key = api_token_issue(name="Website tracker", scope=ApiScope.INGEST, created_by=None)

    stored = ApiToken.objects.get(pk=token.pk)
    assert key.startswith("lq_") and len(key) > 40
    assert stored.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert stored.prefix == key[:10]
    assert key not in {str(value) for value in stored.__dict__.values()}
    assert stored.is_active


@pytest.mark.django_db
def test_issuing_refuses_an_unknown_scope() -> None:
    with pytest.raises(ValueError, match="Unknown API scope 'write'"):
        api_token_issue(name="X", scope="write", created_by=None)


@pytest.mark.django_db
def test_a_valid_token_is_accepted_and_its_last_use_recorded(api_token: IssueToken) -> None:
    token, key = api_token(scope=ApiScope.INGEST)
    assert token.last_used_at is None
    before = timezone.now()

    response = bearer_client(key).post(EVENTS_URL, page_view(), format="json")

    assert response.status_code == 201, response.json()
    token.refresh_from_db()
    assert token.last_used_at is not None and before <= token.last_used_at <= timezone.now()


@pytest.mark.django_db
def test_last_use_is_written_at_most_once_a_minute(api_token: IssueToken) -> None:
    token, key = api_token(scope=ApiScope.INGEST)
    recent = timezone.now() - timedelta(seconds=20)
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=recent)

    bearer_client(key).post(EVENTS_URL, page_view(), format="json")

    token.refresh_from_db()
    assert token.last_used_at == recent


@pytest.mark.django_db
def test_revoked_token_gets_401_saying_so(api_token: IssueToken) -> None:
    token, key = api_token(scope=ApiScope.INGEST, name="Old tracker")
    api_token_revoke(token=token)

    response = bearer_client(key).post(EVENTS_URL, page_view(), format="json")

    assert response.status_code == 401
    body = response.json()["error"]
    assert body["code"] == "authentication_failed"
    assert "'Old tracker'" in body["message"] and "revoked" in body["message"]
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert not Touchpoint.objects.exists()


@pytest.mark.django_db
def test_unknown_token_gets_401() -> None:
    response = bearer_client("lq_not-a-key").post(EVENTS_URL, page_view(), format="json")

    assert response.status_code == 401
    assert "Unknown API token" in response.json()["error"]["message"]


@pytest.mark.django_db
def test_no_credentials_get_401_in_json_not_a_login_redirect() -> None:
    response = APIClient().post(EVENTS_URL, page_view(), format="json")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


@pytest.mark.django_db
def test_a_token_of_the_wrong_scope_gets_403(read_client: APIClient) -> None:
    response = read_client.post(EVENTS_URL, page_view(), format="json")

    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "permission_denied"
    assert "'ingest' scope" in error["message"] and "'read'" in error["message"]
    assert not Touchpoint.objects.exists()


# --- sessions -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_logged_in_user_with_the_permission_can_post_an_event() -> None:
    user: User = UserFactory()
    user.user_permissions.add(Permission.objects.get(codename="add_touchpoint"))
    client = APIClient()
    client.force_login(user)

    response = client.post(EVENTS_URL, page_view(), format="json")

    assert response.status_code == 201, response.json()


@pytest.mark.django_db
def test_a_logged_in_user_without_the_permission_gets_403(sdr_client: Client) -> None:
    response = sdr_client.post(EVENTS_URL, page_view(), content_type="application/json")

    assert response.status_code == 403
    assert "accounts.add_touchpoint" in response.json()["error"]["message"]


@pytest.mark.django_db
def test_session_posts_still_need_the_csrf_token() -> None:
    user: User = UserFactory(is_superuser=True)
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)

    response = client.post(EVENTS_URL, page_view(), content_type="application/json")

    assert response.status_code == 403
    assert "CSRF" in response.json()["error"]["message"]


# --- schema and docs ----------------------------------------------------------------------


@pytest.mark.django_db
def test_schema_needs_credentials_and_serves_with_any_token(read_client: APIClient) -> None:
    assert APIClient().get("/api/v1/schema/").status_code == 401

    response = read_client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert response.status_code == 200
    schema = response.json()
    assert schema["info"]["title"] == "leadqual API"
    assert "/api/v1/events/batch" in schema["paths"]
    assert schema["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


@pytest.mark.django_db
def test_docs_page_renders_for_a_logged_in_user_without_a_cdn(sdr_client: Client) -> None:
    response = sdr_client.get(reverse("api-docs"))

    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    assert "cdn." not in html and "unpkg" not in html and "jsdelivr" not in html


def test_docs_page_without_login_is_not_redirected_to_the_login_page(client: Client) -> None:
    response = client.get(reverse("api-docs"))

    assert response.status_code == 401


# --- the error shape ----------------------------------------------------------------------


@pytest.mark.django_db
def test_validation_errors_have_the_one_shape_with_field_paths(ingest_client: APIClient) -> None:
    event = page_view()
    event["occurred_at"] = "yesterday"
    event["person"] = {"email": "not-an-email"}

    response = ingest_client.post(EVENTS_URL, event, format="json")

    assert response.status_code == 400
    error = response.json()["error"]
    assert set(error) == {"status", "code", "message", "fields"}
    assert (error["status"], error["code"]) == (400, "invalid")
    assert set(error["fields"]) == {"occurred_at", "person.email"}
    assert error["message"].startswith("Invalid input. occurred_at:")


@pytest.mark.django_db
def test_malformed_json_gets_the_error_shape(ingest_client: APIClient) -> None:
    response = ingest_client.post(EVENTS_URL, "{not json", content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"


@pytest.mark.django_db
def test_a_body_over_the_upload_limit_gets_413_in_the_error_shape(
    ingest_client: APIClient, settings: Any
) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    event = page_view()
    event["text"] = "x" * 2000

    response = ingest_client.post(EVENTS_URL, event, format="json")

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"


@pytest.mark.django_db
def test_wrong_method_gets_the_error_shape(ingest_client: APIClient) -> None:
    response = ingest_client.get(EVENTS_URL)

    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_nested_errors_flatten_to_paths() -> None:
    detail = {
        "events": {3: {"occurred_at": ["Bad."]}},
        "person": {"email": ["Bad email."], "non_field_errors": ["Give one."]},
        "items": [{}, {"name": ["Required."]}],
        "non_field_errors": ["Whole input."],
    }

    assert error_fields(detail) == {
        "events[3].occurred_at": ["Bad."],
        "person.email": ["Bad email."],
        "person": ["Give one."],
        "items[1].name": ["Required."],
        "non_field_errors": ["Whole input."],
    }


# --- rate limits --------------------------------------------------------------------------


@pytest.mark.django_db
def test_ingest_over_the_rate_gets_429_with_retry_after(
    settings: Any, api_token: IssueToken
) -> None:
    settings.LEADQUAL_API_INGEST_RATE = "2/min"
    client = bearer_client(api_token(scope=ApiScope.INGEST)[1])
    other = bearer_client(api_token(scope=ApiScope.INGEST, name="Other")[1])

    first = client.post(EVENTS_URL, page_view("evt-1"), format="json")
    second = client.post(EVENTS_URL, page_view("evt-2"), format="json")
    third = client.post(EVENTS_URL, page_view("evt-3"), format="json")
    other_token = other.post(EVENTS_URL, page_view("evt-4"), format="json")

    assert [first.status_code, second.status_code, third.status_code] == [201, 201, 429]
    assert 1 <= int(third["Retry-After"]) <= 60
    error = third.json()["error"]
    assert (error["status"], error["code"]) == (429, "throttled")
    assert not Touchpoint.objects.filter(external_id="evt-3").exists()
    # The limit is per token.
    assert other_token.status_code == 201


@pytest.mark.parametrize(
    ("rate", "expected"),
    [("6000/min", (6000, 60)), ("10/s", (10, 1)), ("100/hour", (100, 3600)), ("5/day", (5, 86400))],
)
def test_rates_parse(rate: str, expected: tuple[int, int]) -> None:
    assert rate_parse(rate) == expected


def test_a_bad_ingest_rate_stops_the_settings_from_loading() -> None:
    loaded = subprocess.run(
        [sys.executable, "-c", "import leadqual.settings"],
        cwd=Path(__file__).resolve().parents[2],
        env={
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "DEBUG": "1",
            "LEADQUAL_API_INGEST_RATE": "100 per minute",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert loaded.returncode != 0
    assert "LEADQUAL_API_INGEST_RATE='100 per minute' is not 'N/period'" in loaded.stderr


@pytest.mark.parametrize("rate", ["fast", "0/min", "10/week", ""])
def test_bad_rates_fail_loudly(rate: str) -> None:
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured, match="N/period"):
        rate_parse(rate)


# --- admin --------------------------------------------------------------------------------


@pytest.fixture
def admin_client_(db: None) -> Client:
    user = User.objects.create_superuser(username="root", email="root@example.com", password="x")
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.django_db
def test_admin_shows_the_key_once_after_issuing(admin_client_: Client) -> None:
    response = admin_client_.post(
        reverse("admin:accounts_apitoken_add"), {"name": "Website tracker", "scope": "ingest"}
    )

    assert response.status_code == 200
    token = ApiToken.objects.get()
    html = response.content.decode()
    keys = [word for word in html.replace('"', " ").split() if word.startswith("lq_")]
    key = next(k for k in keys if len(k) > 40)
    assert hashlib.sha256(key.encode()).hexdigest() == token.key_hash
    assert token.created_by_id == User.objects.get(username="root").pk
    # Never again: not on the token's page, not in the list.
    change = admin_client_.get(reverse("admin:accounts_apitoken_change", args=[token.pk]))
    listing = admin_client_.get(reverse("admin:accounts_apitoken_changelist"))
    assert (change.status_code, listing.status_code) == (200, 200)
    assert key not in change.content.decode()
    assert key not in listing.content.decode()
    assert token.prefix in listing.content.decode()


@pytest.mark.django_db
def test_admin_revokes_by_field_and_by_action(admin_client_: Client) -> None:
    one, _ = api_token_issue(name="One", scope=ApiScope.READ, created_by=None)
    two, _ = api_token_issue(name="Two", scope=ApiScope.INGEST, created_by=None)
    before = timezone.now()
    admin_client_.post(
        reverse("admin:accounts_apitoken_change", args=[one.pk]), {"name": "One", "revoke": "on"}
    )
    admin_client_.post(
        reverse("admin:accounts_apitoken_changelist"),
        {"action": "revoke_selected", "_selected_action": [two.pk]},
    )

    one.refresh_from_db()
    two.refresh_from_db()
    for token in (one, two):
        assert token.revoked_at is not None and before <= token.revoked_at <= timezone.now()
