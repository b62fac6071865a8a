"""The Salesforce client: the only module in the project that imports simple_salesforce.

It logs in (username + password + security token over SOAP, a session id + instance URL, OAuth
client credentials, OAuth JWT bearer, or the OAuth password flow), returns plain typed records
and raises the project's own exceptions (``accounts.salesforce.errors``). On top of
simple-salesforce, which has no retry, it adds:

* bounded retries with exponential backoff and full jitter on 5xx, UNABLE_TO_LOCK_ROW,
  QUERY_TIMEOUT, timeouts and connection resets;
* exactly one re-login when the session expires (401 INVALID_SESSION_ID), then the call again.
  simple-salesforce's own re-login is bypassed on purpose: it may recurse without end on
  sObject calls (docs/salesforce.md §0.7), so the client always hands it a direct session;
* API usage from every ``Sforce-Limit-Info`` header, and a stop (SalesforceLimitExceeded) before
  the next call once usage reaches SALESFORCE_API_USAGE_STOP_SHARE of the org's limit.

Records are dicts keyed by the SELECTed paths as written ("Id", "Owner.Name"), with values
typed from describe (bool, int, float, aware datetime, date, str or None), the same whether they
came through REST or Bulk API 2.0, so the sync maps one shape.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
import logging
import random
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from json import JSONDecodeError
from typing import Any, Literal, TypeVar

import requests
import simple_salesforce
from simple_salesforce import Salesforce, SalesforceLogin
from simple_salesforce.bulk2 import Operation
from simple_salesforce.exceptions import (
    SalesforceAuthenticationFailed,
    SalesforceExpiredSession,
    SalesforceMoreThanOneRecord,
    SalesforceOperationError,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)

from accounts.salesforce.errors import (
    SalesforceAuthError,
    SalesforceBulkJobFailed,
    SalesforceConfigError,
    SalesforceConvertedLead,
    SalesforceDisabled,
    SalesforceError,
    SalesforceLimitExceeded,
    SalesforceNotFound,
    SalesforceQueryError,
    SalesforceRecordRejected,
    SalesforceRetryable,
    SalesforceSessionExpired,
)
from accounts.salesforce.transport import build_session

logger = logging.getLogger(__name__)

T = TypeVar("T")
SObjectRecord = dict[str, Any]
AuthMode = Literal["session", "password", "oauth_password", "jwt", "client_credentials"]
COLLECTION_BATCH = 200  # sObject Collections take at most 200 records per call.
RETRYABLE_CODES = frozenset(
    {"UNABLE_TO_LOCK_ROW", "QUERY_TIMEOUT", "SERVER_UNAVAILABLE", "UNKNOWN_EXCEPTION"}
)
QUERY_CODES = frozenset(
    {
        "MALFORMED_QUERY",
        "INVALID_FIELD",
        "INVALID_TYPE",
        "INVALID_QUERY_FILTER_OPERATOR",
        "INVALID_QUERY_LOCATOR",
        "INVALIDJOB",
        "INVALIDENTITY",
    }
)
_LIMIT_INFO = re.compile(r"api-usage=(\d+)/(\d+)")


# --- configuration ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SalesforceConfig:
    username: str = ""
    password: str = ""
    security_token: str = ""
    domain: str = "login"
    instance_url: str = ""
    session_id: str = ""
    consumer_key: str = ""
    consumer_secret: str = ""
    private_key_file: str = ""
    private_key: str = ""
    api_version: str = "59.0"
    usage_stop_share: float = 0.8
    max_retries: int = 4
    backoff_seconds: float = 1.0
    max_backoff_seconds: float = 30.0
    timeout_seconds: float = 60.0
    bulk_poll_seconds: float = 2.0
    loopback_url: str = ""

    @classmethod
    def from_settings(cls) -> SalesforceConfig:
        """The SALESFORCE_* settings; SalesforceDisabled when SALESFORCE_ENABLED is off."""
        from django.conf import settings

        if not settings.SALESFORCE_ENABLED:
            raise SalesforceDisabled(
                "Salesforce is disabled: set SALESFORCE_ENABLED=1 and credentials "
                "(see docs/salesforce.md)",
                code="SALESFORCE_DISABLED",
            )
        return cls(
            username=settings.SALESFORCE_USERNAME,
            password=settings.SALESFORCE_PASSWORD,
            security_token=settings.SALESFORCE_SECURITY_TOKEN,
            domain=settings.SALESFORCE_DOMAIN or "login",
            instance_url=settings.SALESFORCE_INSTANCE_URL,
            session_id=settings.SALESFORCE_SESSION_ID,
            consumer_key=settings.SALESFORCE_CONSUMER_KEY,
            consumer_secret=settings.SALESFORCE_CONSUMER_SECRET,
            private_key_file=settings.SALESFORCE_PRIVATE_KEY_FILE,
            api_version=settings.SALESFORCE_API_VERSION,
            usage_stop_share=settings.SALESFORCE_API_USAGE_STOP_SHARE,
            max_retries=settings.SALESFORCE_MAX_RETRIES,
            backoff_seconds=settings.SALESFORCE_RETRY_BACKOFF_SECONDS,
            max_backoff_seconds=settings.SALESFORCE_RETRY_MAX_BACKOFF_SECONDS,
            timeout_seconds=settings.SALESFORCE_TIMEOUT_SECONDS,
            bulk_poll_seconds=settings.SALESFORCE_BULK_POLL_SECONDS,
            loopback_url=settings.SALESFORCE_LOOPBACK_URL,
        )

    @property
    def auth_mode(self) -> AuthMode:
        """Which login the settings describe; the most specific wins."""
        if self.session_id and self.instance_url:
            return "session"
        if self.consumer_key and self.username and (self.private_key_file or self.private_key):
            return "jwt"
        if self.consumer_key and self.consumer_secret and self.username and self.password:
            return "oauth_password"
        if self.consumer_key and self.consumer_secret:
            if self.domain in ("login", "test"):
                raise SalesforceConfigError(
                    "OAuth client credentials need the org's My Domain in SALESFORCE_DOMAIN "
                    f"(e.g. 'acme.my'), not {self.domain!r}",
                    code="CONFIG",
                )
            return "client_credentials"
        if self.username and self.password:
            return "password"
        raise SalesforceConfigError(
            "No usable Salesforce login: give SALESFORCE_USERNAME + SALESFORCE_PASSWORD (+ "
            "SALESFORCE_SECURITY_TOKEN), SALESFORCE_INSTANCE_URL + SALESFORCE_SESSION_ID, "
            "SALESFORCE_CONSUMER_KEY + SALESFORCE_CONSUMER_SECRET (client credentials) or "
            "SALESFORCE_USERNAME + SALESFORCE_CONSUMER_KEY + SALESFORCE_PRIVATE_KEY_FILE (JWT)",
            code="CONFIG",
        )


# --- typed results ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ApiUsage:
    used: int
    limit: int

    @property
    def share(self) -> float:
        return self.used / self.limit if self.limit else 1.0


@dataclass(frozen=True)
class RecordError:
    code: str
    message: str
    fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class SaveResult:
    """One record's outcome in a write (collections report per record, in request order)."""

    id: str | None
    success: bool
    created: bool | None = None
    errors: tuple[RecordError, ...] = ()

    @property
    def is_converted_lead(self) -> bool:
        return any(e.code == "CANNOT_UPDATE_CONVERTED_LEAD" for e in self.errors)

    @property
    def is_retryable(self) -> bool:
        return any(e.code in RETRYABLE_CODES for e in self.errors)


@dataclass(frozen=True)
class QueryPage:
    records: list[SObjectRecord]
    total_size: int
    # The nextRecordsUrl to resume with (query_pages(locator=...)), None on the last page.
    next_locator: str | None

    @property
    def done(self) -> bool:
        return self.next_locator is None


@dataclass(frozen=True)
class BulkFailure:
    id: str | None
    code: str
    message: str
    row: dict[str, str]


@dataclass(frozen=True)
class BulkIngestResult:
    job_ids: tuple[str, ...]
    processed: int
    failed: int
    successful: list[dict[str, str]] = field(default_factory=list)  # sf__Id, sf__Created, columns
    failures: list[BulkFailure] = field(default_factory=list)


@dataclass(frozen=True)
class FieldDescribe:
    name: str
    type: str
    length: int
    createable: bool
    updateable: bool
    nillable: bool
    external_id: bool
    custom: bool
    reference_to: tuple[str, ...]
    relationship_name: str | None
    picklist_values: tuple[str, ...]


@dataclass(frozen=True)
class SObjectDescribe:
    name: str
    label: str
    key_prefix: str | None
    fields: dict[str, FieldDescribe]

    def field(self, name: str) -> FieldDescribe | None:
        """Case-insensitive, like Salesforce."""
        return self.fields.get(name) or next(
            (f for key, f in self.fields.items() if key.lower() == name.lower()), None
        )

    def relationship(self, name: str) -> FieldDescribe | None:
        return next(
            (
                f
                for f in self.fields.values()
                if (f.relationship_name or "").lower() == name.lower()
            ),
            None,
        )


@dataclass(frozen=True)
class LimitInfo:
    max: int
    remaining: int


# --- value conversion ------------------------------------------------------------------------


def parse_sf_datetime(value: str) -> dt.datetime:
    """Salesforce datetimes: "2024-01-15T10:30:00.000+0000" (REST) or "...000Z" (Bulk)."""
    text = value.strip().replace("Z", "+00:00")
    if re.search(r"[+-]\d{4}$", text):
        text = f"{text[:-2]}:{text[-2:]}"
    return dt.datetime.fromisoformat(text).astimezone(dt.UTC)


def soql_datetime(value: dt.datetime) -> str:
    """A SOQL datetime literal (unquoted, UTC, second precision): 2024-01-15T10:30:00Z."""
    if value.tzinfo is None:
        raise ValueError("SOQL datetimes must be timezone-aware")
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def soql_quote(value: str) -> str:
    """A quoted SOQL string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _coerce(value: Any, sf_type: str | None) -> Any:
    if value is None or (
        isinstance(value, str) and value == "" and sf_type not in (None, "string", "textarea")
    ):
        return None
    if sf_type is None:
        return value
    if sf_type == "boolean":
        return value if isinstance(value, bool) else str(value).lower() == "true"
    if sf_type == "int":
        return int(float(value))
    if sf_type in ("double", "currency", "percent"):
        return float(value)
    if sf_type == "datetime":
        return parse_sf_datetime(str(value))
    if sf_type == "date":
        return dt.date.fromisoformat(str(value)[:10])
    return value if isinstance(value, str) else str(value)


def _jsonable(values: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dt.datetime):
            if value.tzinfo is None:
                raise ValueError(f"{key}: datetimes sent to Salesforce must be timezone-aware")
            out[key] = value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")
        elif isinstance(value, dt.date):
            out[key] = value.isoformat()
        elif isinstance(value, Decimal):
            out[key] = float(value)
        else:
            out[key] = value
    return out


def _csv_value(value: Any) -> str:
    # Bulk 2.0: an empty cell leaves the field as it is; #N/A sets it to null.
    if value is None:
        return "#N/A"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


_SELECT = re.compile(r"^\s*select\s+(.*?)\s+from\s+(\w+)", re.I | re.S)


def _select_parts(soql: str) -> tuple[list[str], str]:
    match = _SELECT.match(soql)
    if match is None:
        raise SalesforceQueryError(f"Not a SELECT ... FROM query: {soql!r}", code="MALFORMED_QUERY")
    paths = [p.strip() for p in match.group(1).split(",")]
    return ([] if paths == ["COUNT()"] or paths[0].upper() == "COUNT()" else paths), match.group(2)


def _error_details(content: Any) -> tuple[str, str, tuple[str, ...]]:
    """(errorCode, message, fields) from a Salesforce error body (REST list, Bulk dict, text)."""
    if isinstance(content, list) and content and isinstance(content[0], Mapping):
        first = content[0]
        return (
            str(first.get("errorCode") or first.get("statusCode") or ""),
            str(first.get("message", "")),
            tuple(first.get("fields") or ()),
        )
    if isinstance(content, Mapping):
        return (
            str(
                content.get("errorCode")
                or content.get("exceptionCode")
                or content.get("error")
                or ""
            ),
            str(
                content.get("message")
                or content.get("exceptionMessage")
                or content.get("error_description")
                or ""
            ),
            (),
        )
    return "", str(content)[:500], ()


# --- the client ------------------------------------------------------------------------------


class SalesforceClient:
    """One logged-in connection to one org. Not thread-safe: one per worker or command."""

    def __init__(
        self,
        config: SalesforceConfig,
        *,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config
        self.auth_mode = config.auth_mode
        self._session = session or build_session(
            timeout=config.timeout_seconds, loopback_url=config.loopback_url
        )
        self._session.hooks["response"].append(self._on_response)
        self._sleep = sleep
        self._describes: dict[str, SObjectDescribe] = {}
        self.api_usage: ApiUsage | None = None
        self.retries = 0  # transient faults retried over this client's life
        self.relogins = 0
        self._sf: Salesforce = self._with_retry("login", lambda: self._login())

    @classmethod
    def connect(
        cls, config: SalesforceConfig | None = None, *, session: requests.Session | None = None
    ) -> SalesforceClient:
        """Log in with ``config`` or the SALESFORCE_* settings (SalesforceDisabled when off)."""
        return cls(config or SalesforceConfig.from_settings(), session=session)

    # --- login, usage, retry ----------------------------------------------------------------

    def _login(self) -> Salesforce:
        c = self.config
        version = c.api_version
        try:
            if self.auth_mode == "session":
                return Salesforce(
                    session_id=c.session_id,
                    instance_url=c.instance_url,
                    session=self._session,
                    version=version,
                )
            kwargs: dict[str, Any] = {
                "session": self._session,
                "domain": c.domain,
                "sf_version": version,
            }
            if self.auth_mode == "password":
                kwargs.update(
                    username=c.username, password=c.password, security_token=c.security_token
                )
            elif self.auth_mode == "oauth_password":
                kwargs.update(
                    username=c.username,
                    password=c.password + c.security_token,
                    consumer_key=c.consumer_key,
                    consumer_secret=c.consumer_secret,
                )
            elif self.auth_mode == "jwt":
                kwargs.update(
                    username=c.username,
                    consumer_key=c.consumer_key,
                    privatekey_file=c.private_key_file or None,
                    privatekey=c.private_key or None,
                )
            else:
                kwargs.update(consumer_key=c.consumer_key, consumer_secret=c.consumer_secret)
            session_id, instance = SalesforceLogin(**kwargs)
        except SalesforceAuthenticationFailed as exc:
            if isinstance(exc.code, int) and (exc.code >= 500 or exc.code == 429):
                # A login endpoint that is down is not a refused login.
                raise SalesforceRetryable(
                    f"Salesforce login ({self.auth_mode}): HTTP {exc.code}",
                    code="SERVER_UNAVAILABLE",
                    status=exc.code,
                ) from exc
            raise SalesforceAuthError(
                f"Salesforce login ({self.auth_mode}) refused: {exc.message}",
                code=str(exc.code or ""),
            ) from exc
        except requests.RequestException as exc:
            raise self._map(exc, f"login ({self.auth_mode})", is_query=False) from exc
        # A direct session: simple-salesforce then never re-logs in by itself; we do, once.
        return Salesforce(
            session_id=session_id, instance=instance, session=self._session, version=version
        )

    def _on_response(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        match = _LIMIT_INFO.search(response.headers.get("Sforce-Limit-Info", ""))
        if match:
            self.api_usage = ApiUsage(int(match.group(1)), int(match.group(2)))

    def _check_usage(self) -> None:
        usage = self.api_usage
        if usage is not None and usage.share >= self.config.usage_stop_share:
            raise SalesforceLimitExceeded(
                f"API usage {usage.used}/{usage.limit} ({usage.share:.0%}) has reached the stop "
                f"share of {self.config.usage_stop_share:.0%} (SALESFORCE_API_USAGE_STOP_SHARE)",
                code="API_USAGE_STOP_SHARE",
                used=usage.used,
                limit=usage.limit,
            )

    def _backoff(self, attempt: int) -> float:
        # Full jitter (AWS architecture blog): spreads retries of many workers apart.
        ceiling = min(self.config.max_backoff_seconds, self.config.backoff_seconds * (2**attempt))
        return random.uniform(0, ceiling)

    def _with_retry(self, what: str, fn: Callable[[], T], *, answered_only: bool = False) -> T:
        """Run ``fn`` with bounded retries of transient faults. ``answered_only``: retry only
        when Salesforce answered that it failed (5xx, lock), not after a timeout or reset,
        because a create that timed out may have happened."""
        attempt = 0
        while True:
            try:
                return fn()
            except SalesforceRetryable as error:
                unanswered = error.status is None
                if attempt >= self.config.max_retries or (answered_only and unanswered):
                    raise SalesforceRetryable(
                        f"{what}: still failing after {attempt + 1} attempt(s): {error.message}",
                        code=error.code,
                        status=error.status,
                        url=error.url,
                    ) from error
                delay = self._backoff(attempt)
                attempt += 1
                self.retries += 1
                logger.warning("Salesforce %s: %s; retry %d in %.2fs", what, error, attempt, delay)
                self._sleep(delay)

    def _call(
        self,
        what: str,
        fn: Callable[[Salesforce], T],
        *,
        answered_only: bool = False,
        is_query: bool = False,
    ) -> T:
        """One API operation: usage check, retries, one re-login on an expired session."""

        def attempt() -> T:
            relogged = False
            while True:
                self._check_usage()
                try:
                    return fn(self._sf)
                except Exception as exc:
                    error = self._map(exc, what, is_query=is_query)
                    if not isinstance(error, SalesforceSessionExpired):
                        raise error from exc
                    if relogged or self.auth_mode == "session":
                        reason = (
                            "expired again right after a re-login"
                            if relogged
                            else "expired, and a session id from settings cannot be renewed"
                        )
                        raise SalesforceSessionExpired(
                            f"{what}: the Salesforce session {reason}",
                            code=error.code,
                            status=error.status,
                            url=error.url,
                        ) from exc
                relogged = True
                self.relogins += 1
                logger.info("Salesforce %s: session expired; logging in again", what)
                self._sf = self._login()

        return self._with_retry(what, attempt, answered_only=answered_only)

    def _map(self, exc: Exception, what: str, *, is_query: bool) -> SalesforceError:
        if isinstance(exc, SalesforceError):
            return exc
        if isinstance(exc, requests.Timeout):
            return SalesforceRetryable(f"{what}: timed out ({exc})", code="TIMEOUT")
        if isinstance(exc, requests.ConnectionError | requests.exceptions.ChunkedEncodingError):
            return SalesforceRetryable(
                f"{what}: connection failed ({exc})", code="CONNECTION_ERROR"
            )
        if isinstance(exc, SalesforceAuthenticationFailed):
            return SalesforceAuthError(
                f"{what}: login refused: {exc.message}", code=str(exc.code or "")
            )
        if isinstance(exc, SalesforceOperationError):
            return SalesforceBulkJobFailed(f"{what}: {exc}", code="BULK_JOB_FAILED")
        if isinstance(exc, simple_salesforce.exceptions.SalesforceError):
            code, message, fields = _error_details(exc.content)
            status, url = exc.status, exc.url
            text = f"{what}: {message}"
            kw: dict[str, Any] = {"code": code, "status": status, "url": url, "fields": fields}
            if isinstance(exc, SalesforceExpiredSession) or code == "INVALID_SESSION_ID":
                return SalesforceSessionExpired(text, **kw)
            if code == "REQUEST_LIMIT_EXCEEDED":
                usage = self.api_usage
                return SalesforceLimitExceeded(
                    text,
                    status=status,
                    url=url,
                    used=usage.used if usage else None,
                    limit=usage.limit if usage else None,
                )
            if code in RETRYABLE_CODES or status >= 500 or status in (406, 420, 429):
                return SalesforceRetryable(text, **kw)
            if code == "CANNOT_UPDATE_CONVERTED_LEAD":
                return SalesforceConvertedLead(text, **kw)
            if isinstance(exc, SalesforceResourceNotFound):
                return SalesforceNotFound(text, **kw)
            if is_query or code in QUERY_CODES:
                return SalesforceQueryError(text, **kw)
            if isinstance(exc, SalesforceMoreThanOneRecord):
                return SalesforceRecordRejected(text, **{**kw, "code": code or "MULTIPLE_RECORDS"})
            if isinstance(exc, SalesforceRefusedRequest):
                return SalesforceError(text, **kw)
            if status == 400:
                return SalesforceRecordRejected(text, **kw)
            return SalesforceError(text, **kw)
        if isinstance(exc, JSONDecodeError | KeyError | ValueError):
            return SalesforceError(
                f"{what}: unexpected answer from Salesforce ({exc!r})", code="BAD_RESPONSE"
            )
        raise exc

    # --- describe, limits -------------------------------------------------------------------

    def describe(self, object_name: str) -> SObjectDescribe:
        """Fields and types of one object (cached for this client)."""
        key = object_name.lower()
        if key not in self._describes:
            raw = self._call(
                f"describe {object_name}", lambda sf: getattr(sf, object_name).describe()
            )
            fields = {
                f["name"]: FieldDescribe(
                    name=f["name"],
                    type=f["type"],
                    length=int(f.get("length") or 0),
                    createable=bool(f.get("createable")),
                    updateable=bool(f.get("updateable")),
                    nillable=bool(f.get("nillable")),
                    external_id=bool(f.get("externalId")),
                    custom=bool(f.get("custom")),
                    reference_to=tuple(f.get("referenceTo") or ()),
                    relationship_name=f.get("relationshipName"),
                    picklist_values=tuple(
                        p["value"] for p in f.get("picklistValues") or () if p.get("active", True)
                    ),
                )
                for f in raw["fields"]
            }
            self._describes[key] = SObjectDescribe(
                raw["name"], raw.get("label", raw["name"]), raw.get("keyPrefix"), fields
            )
        return self._describes[key]

    def object_names(self) -> list[str]:
        raw = self._call("describe global", lambda sf: sf.describe())
        return [o["name"] for o in (raw or {}).get("sobjects", [])]

    def limits(self) -> dict[str, LimitInfo]:
        raw = self._call("limits", lambda sf: sf.limits())
        return {
            k: LimitInfo(int(v.get("Max", 0)), int(v.get("Remaining", 0)))
            for k, v in raw.items()
            if isinstance(v, Mapping)
        }

    def _path_type(self, object_name: str, path: str) -> str | None:
        parts = path.split(".")
        describe = self.describe(object_name)
        if len(parts) > 1 and parts[0].lower() == describe.name.lower():
            parts = parts[1:]
        for part in parts[:-1]:
            relation = describe.relationship(part)
            if relation is None or not relation.reference_to:
                return None
            describe = self.describe(relation.reference_to[0])
        found = describe.field(parts[-1])
        return found.type if found else None

    def _shaper(
        self, object_name: str, paths: list[str]
    ) -> Callable[[Mapping[str, Any]], SObjectRecord]:
        types = {path: self._path_type(object_name, path) for path in paths}

        def shape(raw: Mapping[str, Any]) -> SObjectRecord:
            return {path: _coerce(_dig(raw, path), types[path]) for path in paths}

        return shape

    # --- REST queries -----------------------------------------------------------------------

    def count(self, soql: str, *, include_deleted: bool = False) -> int:
        """totalSize of a ``SELECT COUNT() FROM ...`` query."""
        raw = self._call(
            "count", lambda sf: sf.query(soql, include_deleted=include_deleted), is_query=True
        )
        return int(raw["totalSize"])

    def query_pages(
        self,
        soql: str,
        *,
        include_deleted: bool = False,
        batch_size: int | None = None,
        locator: str | None = None,
    ) -> Iterator[QueryPage]:
        """Pages of a REST query (queryAll with ``include_deleted``: deleted rows included),
        following nextRecordsUrl. ``locator`` resumes at a page's ``next_locator``."""
        paths, object_name = _select_parts(soql)
        shape = self._shaper(object_name, paths)
        headers = {"Sforce-Query-Options": f"batchSize={batch_size}"} if batch_size else {}
        if locator is None:
            raw = self._call(
                "query",
                lambda sf: sf.query(soql, include_deleted=include_deleted, headers=headers),
                is_query=True,
            )
        else:
            raw = self._query_more(locator, headers)
        while True:
            next_url = None if raw.get("done", True) else raw.get("nextRecordsUrl")
            yield QueryPage(
                [shape(r) for r in raw.get("records", [])], int(raw.get("totalSize", 0)), next_url
            )
            if next_url is None:
                return
            raw = self._query_more(next_url, headers)

    def _query_more(self, next_url: str, headers: Mapping[str, str]) -> Any:
        return self._call(
            "queryMore",
            lambda sf: sf.query_more(next_url, identifier_is_url=True, headers=dict(headers)),
            is_query=True,
        )

    def query(
        self, soql: str, *, include_deleted: bool = False, batch_size: int | None = None
    ) -> Iterator[SObjectRecord]:
        """Every record of a REST query, page after page."""
        for page in self.query_pages(soql, include_deleted=include_deleted, batch_size=batch_size):
            yield from page.records

    # --- single records ---------------------------------------------------------------------

    @staticmethod
    def _assign_headers(auto_assign: bool) -> dict[str, str]:
        # REST runs the org's lead assignment rule unless told FALSE; it would overwrite the
        # owner we route to (docs/salesforce.md §0.4).
        return {} if auto_assign else {"Sforce-Auto-Assign": "FALSE"}

    def get(
        self, object_name: str, record_id: str, fields: Sequence[str] | None = None
    ) -> SObjectRecord:
        params = {"fields": ",".join(fields)} if fields else None
        raw = self._call(
            f"get {object_name}", lambda sf: getattr(sf, object_name).get(record_id, params=params)
        )
        paths = list(fields) if fields else [k for k in raw if k != "attributes"]
        return self._shaper(object_name, paths)(raw)

    def create(
        self, object_name: str, values: Mapping[str, Any], *, auto_assign: bool = False
    ) -> str:
        body = _jsonable(values)
        raw = self._call(
            f"create {object_name}",
            lambda sf: getattr(sf, object_name).create(
                body, headers=self._assign_headers(auto_assign)
            ),
            answered_only=True,
        )
        return str(raw["id"])

    def update(
        self,
        object_name: str,
        record_id: str,
        values: Mapping[str, Any],
        *,
        auto_assign: bool = False,
    ) -> None:
        body = _jsonable(values)
        self._call(
            f"update {object_name} {record_id}",
            lambda sf: getattr(sf, object_name).update(
                record_id, body, headers=self._assign_headers(auto_assign)
            ),
        )

    def upsert(
        self,
        object_name: str,
        external_id_field: str,
        external_id: str,
        values: Mapping[str, Any],
        *,
        auto_assign: bool = False,
    ) -> SaveResult:
        """Create or update by external id (idempotent). simple-salesforce sends the value raw
        in the path, so it is quoted here."""
        from urllib.parse import quote

        body = _jsonable(values)
        target = f"{external_id_field}/{quote(external_id, safe='')}"

        def call(sf: Salesforce) -> Any:
            response = getattr(sf, object_name).upsert(
                target, body, headers=self._assign_headers(auto_assign), raw_response=True
            )
            return response.json() if response.content else {}

        raw = self._call(f"upsert {object_name} {external_id_field}={external_id}", call)
        return SaveResult(raw.get("id"), True, raw.get("created"))

    def delete(self, object_name: str, record_id: str) -> None:
        self._call(
            f"delete {object_name} {record_id}",
            lambda sf: getattr(sf, object_name).delete(record_id),
        )

    # --- composite collections -------------------------------------------------------------

    def collection_update(
        self,
        object_name: str,
        records: Sequence[Mapping[str, Any]],
        *,
        all_or_none: bool = False,
        auto_assign: bool = False,
    ) -> list[SaveResult]:
        """PATCH composite/sobjects in batches of <= 200; each record needs "Id". One result per
        record, in order; a converted lead comes back as a failed result, not an exception."""
        items = [
            {
                "attributes": {"type": object_name},
                "id": r.get("Id") or r.get("id"),
                **_jsonable({k: v for k, v in r.items() if k not in ("Id", "id")}),
            }
            for r in records
        ]
        return self._collection(
            "PATCH", "composite/sobjects", items, all_or_none, auto_assign, idempotent=True
        )

    def collection_upsert(
        self,
        object_name: str,
        external_id_field: str,
        records: Sequence[Mapping[str, Any]],
        *,
        all_or_none: bool = False,
        auto_assign: bool = False,
    ) -> list[SaveResult]:
        items = [{"attributes": {"type": object_name}, **_jsonable(r)} for r in records]
        path = f"composite/sobjects/{object_name}/{external_id_field}"
        return self._collection("PATCH", path, items, all_or_none, auto_assign, idempotent=True)

    def collection_create(
        self,
        object_name: str,
        records: Sequence[Mapping[str, Any]],
        *,
        all_or_none: bool = False,
        auto_assign: bool = False,
    ) -> list[SaveResult]:
        items = [{"attributes": {"type": object_name}, **_jsonable(r)} for r in records]
        return self._collection(
            "POST", "composite/sobjects", items, all_or_none, auto_assign, idempotent=False
        )

    def _collection(
        self,
        method: str,
        path: str,
        items: list[dict[str, Any]],
        all_or_none: bool,
        auto_assign: bool,
        *,
        idempotent: bool,
    ) -> list[SaveResult]:
        results: list[SaveResult] = []
        headers = self._assign_headers(auto_assign)
        for start in range(0, len(items), COLLECTION_BATCH):
            batch = items[start : start + COLLECTION_BATCH]
            batch_results = self._send_collection(
                method, path, batch, all_or_none, headers, idempotent
            )
            # Items refused for a row lock are sent again (bounded), the others kept.
            for attempt in range(self.config.max_retries):
                pending = [i for i, r in enumerate(batch_results) if r.is_retryable]
                if not pending or not idempotent or all_or_none:
                    break
                self.retries += 1
                self._sleep(self._backoff(attempt))
                again = self._send_collection(
                    method, path, [batch[i] for i in pending], all_or_none, headers, idempotent
                )
                for index, result in zip(pending, again, strict=True):
                    batch_results[index] = result
            results.extend(batch_results)
        return results

    def _send_collection(
        self,
        method: str,
        path: str,
        batch: list[dict[str, Any]],
        all_or_none: bool,
        headers: dict[str, str],
        idempotent: bool,
    ) -> list[SaveResult]:
        payload = {"allOrNone": all_or_none, "records": batch}
        raw = self._call(
            f"{method} {path} ({len(batch)} records)",
            lambda sf: sf.restful(path, method=method, json=payload, headers=headers),
            answered_only=not idempotent,
        )
        return [
            SaveResult(
                id=item.get("id"),
                success=bool(item.get("success")),
                created=item.get("created"),
                errors=tuple(
                    RecordError(
                        str(e.get("statusCode") or e.get("errorCode") or ""),
                        str(e.get("message", "")),
                        tuple(e.get("fields") or ()),
                    )
                    for e in item.get("errors") or ()
                ),
            )
            for item in raw or []
        ]

    # --- Bulk API 2.0 -----------------------------------------------------------------------

    def bulk_query(
        self, soql: str, *, include_deleted: bool = False, page_size: int = 50_000
    ) -> Iterator[SObjectRecord]:
        """Records of a Bulk API 2.0 query job (queryAll with ``include_deleted``), streamed page
        by page (Sforce-Locator); each page fetch is retried on its own."""
        paths, object_name = _select_parts(soql)
        shape = self._shaper(object_name, paths)
        operation = Operation.query_all if include_deleted else Operation.query

        def bulk(sf: Salesforce) -> Any:
            # The handler carries the session id: take a fresh one after a re-login.
            return getattr(sf.bulk2, object_name)._client

        job = self._call(
            "bulk query create", lambda sf: bulk(sf).create_job(operation, soql), is_query=True
        )
        job_id = job["id"]
        self._call(
            f"bulk query {job_id} wait",
            lambda sf: bulk(sf).wait_for_job(job_id, True, self.config.bulk_poll_seconds),
        )
        locator = ""
        while True:
            page = self._call(
                f"bulk query {job_id} results",
                functools.partial(_bulk_results_page, object_name, job_id, locator, page_size),
            )
            reader = csv.DictReader(io.StringIO(page["records"]))
            for row in reader:
                yield shape(row)
            locator = page["locator"]
            if not locator:
                return

    def bulk_ingest(
        self,
        object_name: str,
        operation: Literal["insert", "update", "upsert", "delete"],
        records: Sequence[Mapping[str, Any]],
        *,
        external_id_field: str | None = None,
    ) -> BulkIngestResult:
        """One Bulk API 2.0 ingest job per 10,000 records (simple-salesforce splits). No
        assignmentRuleId is sent, so the lead assignment rule does not run. None becomes #N/A
        (set to null)."""
        if not records:
            return BulkIngestResult((), 0, 0)
        if operation == "upsert" and not external_id_field:
            raise ValueError("bulk upsert needs external_id_field")
        rows = [{k: _csv_value(v) for k, v in r.items()} for r in records]
        wait = self.config.bulk_poll_seconds

        def run(sf: Salesforce) -> list[dict[str, Any]]:
            handler = getattr(sf.bulk2, object_name)
            if operation == "upsert":
                return list(
                    handler.upsert(records=rows, external_id_field=external_id_field, wait=wait)
                )
            return list(getattr(handler, operation)(records=rows, wait=wait))

        jobs = self._call(
            f"bulk {operation} {object_name}", run, answered_only=operation == "insert"
        )
        successful: list[dict[str, str]] = []
        failures: list[BulkFailure] = []
        for job in jobs:
            job_id = job["job_id"]
            ok: str = self._call(
                f"bulk {job_id} successes", _ingest_results(object_name, job_id, "ok")
            )
            bad: str = self._call(
                f"bulk {job_id} failures", _ingest_results(object_name, job_id, "bad")
            )
            successful.extend(csv.DictReader(io.StringIO(ok)))
            for row in csv.DictReader(io.StringIO(bad)):
                code, _, message = (row.pop("sf__Error", "") or "").partition(":")
                failures.append(
                    BulkFailure(row.pop("sf__Id", "") or None, code, message.rstrip(" -"), row)
                )
        return BulkIngestResult(
            tuple(j["job_id"] for j in jobs),
            sum(int(j["numberRecordsProcessed"]) for j in jobs),
            sum(int(j["numberRecordsFailed"]) for j in jobs),
            successful,
            failures,
        )


def _bulk_results_page(
    object_name: str, job_id: str, locator: str, page_size: int, sf: Salesforce
) -> Any:
    # The handler carries the session id: take it from the current login on every page.
    return getattr(sf.bulk2, object_name)._client.get_query_results(job_id, locator, page_size)


def _ingest_results(object_name: str, job_id: str, kind: str) -> Callable[[Salesforce], str]:
    def fetch(sf: Salesforce) -> str:
        handler = getattr(sf.bulk2, object_name)
        if kind == "ok":
            return str(handler.get_successful_records(job_id))
        return str(handler.get_failed_records(job_id))

    return fetch


def _dig(raw: Mapping[str, Any], path: str) -> Any:
    """The value at "Owner.Name" in a nested REST record or a flat Bulk CSV row, matched
    case-insensitively (SOQL is)."""
    if path in raw:
        return raw[path]
    lowered = {k.lower(): v for k, v in raw.items()}
    if path.lower() in lowered:
        return lowered[path.lower()]
    current: Any = raw
    for part in path.split("."):
        if not isinstance(current, Mapping):
            return None
        current = next((v for k, v in current.items() if k.lower() == part.lower()), None)
    return current
