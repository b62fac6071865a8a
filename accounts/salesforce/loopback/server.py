"""A Salesforce-compatible HTTP server on 127.0.0.1, for tests and the demo.

simple-salesforce talks to it unmodified through a session whose adapter rewrites https:// URLs
to this plain-HTTP server (``LoopbackServer.session()``). It answers the SOAP and OAuth logins,
REST query/queryAll/queryMore, sObject CRUD and upsert by external id, composite collections,
describe, limits and Bulk API 2.0 ingest and query jobs, and puts ``Sforce-Limit-Info`` on every
API answer. See docs/salesforce.md.
"""

from __future__ import annotations

import base64
import contextlib
import csv
import html
import io
import json
import re
import secrets
import socket
import threading
import urllib.parse
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import requests

from accounts.salesforce.loopback import soql
from accounts.salesforce.loopback.faults import LOCK_MESSAGE, Faults
from accounts.salesforce.loopback.ids import BULK_JOB_PREFIX, QUERY_LOCATOR_PREFIX, to18
from accounts.salesforce.loopback.store import (
    INTEGRATION_USERNAME,
    Cursor,
    OrgStore,
    SfError,
    to_csv,
)
from accounts.salesforce.transport import LoopbackAdapter

DEFAULT_PASSWORD = "loopback-password"
DEFAULT_SECURITY_TOKEN = "loopbacktoken"
DEFAULT_CONSUMER_KEY = "loopback-consumer-key"
DEFAULT_CONSUMER_SECRET = "loopback-consumer-secret"
COLLECTION_LIMIT = 200
_DATA_PATH = re.compile(r"^/services/data/v(\d+\.\d+)(?:/(.*))?$")


@dataclass
class LoggedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        for key, value in self.headers.items():
            if key.lower() == name.lower():
                return value
        return None


@dataclass
class Answer:
    status: int
    body: bytes = b""
    content_type: str = "application/json;charset=UTF-8"
    headers: dict[str, str] = field(default_factory=dict)


def _json(status: int, payload: Any, **headers: str) -> Answer:
    return Answer(status, json.dumps(payload).encode(), headers=dict(headers))


def _csv_text(rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


@dataclass
class BulkJob:
    id: str
    kind: str  # ingest | query
    operation: str
    object: str
    version: str
    created: str
    state: str
    external_id: str | None = None
    assignment_rule_id: str | None = None
    query: str = ""
    data: str = ""
    polls_left: int = 0
    processed: int = 0
    failed: int = 0
    successful_rows: list[list[str]] = field(default_factory=list)
    failed_rows: list[list[str]] = field(default_factory=list)
    header: list[str] = field(default_factory=list)
    result_rows: list[list[str]] = field(default_factory=list)
    error_message: str = ""

    def info(self, created_by: str) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "id": self.id,
            "operation": self.operation,
            "object": self.object,
            "createdById": created_by,
            "createdDate": self.created,
            "systemModstamp": self.created,
            "state": self.state,
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": float(self.version),
            "jobType": "V2Ingest" if self.kind == "ingest" else "V2Query",
            "lineEnding": "LF",
            "columnDelimiter": "COMMA",
            "numberRecordsProcessed": self.processed,
            "retries": 0,
            "totalProcessingTime": 1,
        }
        if self.kind == "ingest":
            payload.update(
                numberRecordsFailed=self.failed, apiActiveProcessingTime=1, apexProcessingTime=0
            )
            if self.external_id:
                payload["externalIdFieldName"] = self.external_id
        if self.error_message:
            payload["errorMessage"] = self.error_message
        return payload


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    app: LoopbackServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Without this every answer waits ~40 ms on Nagle x delayed ACK (docs: 450 creates, 20 s).
    disable_nagle_algorithm = True
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urllib.parse.urlsplit(self.path)
        request = LoggedRequest(
            method,
            parts.path,
            urllib.parse.parse_qs(parts.query, keep_blank_values=True),
            dict(self.headers.items()),
            body,
        )
        answer = self.server.app.handle(request)
        if answer is None:
            # A dropped connection: no status line at all, like a crashed peer or a reset.
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.send_response(answer.status)
        if answer.status != 204:
            self.send_header("Content-Type", answer.content_type)
            self.send_header("Content-Length", str(len(answer.body)))
        for key, value in answer.headers.items():
            self.send_header(key, value)
        self.end_headers()
        if answer.status != 204 and answer.body:
            self.wfile.write(answer.body)


class LoopbackServer:
    """The org (``store``), its fault switches (``faults``) and the HTTP front."""

    def __init__(
        self, *, host: str = "127.0.0.1", port: int = 0, store: OrgStore | None = None
    ) -> None:
        self.store = store or OrgStore()
        self.faults = Faults()
        self.host, self._port = host, port
        self.tokens: dict[str, str] = {}
        self.last_token: str | None = None
        # username -> (password, security token)
        self.credentials: dict[str, tuple[str, str]] = {
            INTEGRATION_USERNAME: (DEFAULT_PASSWORD, DEFAULT_SECURITY_TOKEN)
        }
        # consumer key -> (secret, PEM public key for JWT or None: signature not checked)
        self.connected_apps: dict[str, tuple[str, str | None]] = {
            DEFAULT_CONSUMER_KEY: (DEFAULT_CONSUMER_SECRET, None)
        }
        self.requests_log: deque[LoggedRequest] = deque(maxlen=50_000)
        self.jobs: dict[str, BulkJob] = {}
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle --------------------------------------------------------------------------

    def start(self) -> LoopbackServer:
        self._httpd = _HTTPServer((self.host, self._port), _Handler)
        self._httpd.app = self
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            # A short poll keeps stop() (and so every test teardown) quick.
            kwargs={"poll_interval": 0.05},
            name="sf-loopback",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._httpd is not None, "start() the server first"
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """The plain-HTTP address (SALESFORCE_LOOPBACK_URL)."""
        return f"http://{self.host}:{self.port}"

    @property
    def instance_url(self) -> str:
        """What logins answer: simple-salesforce only builds https:// URLs."""
        return f"https://{self.host}:{self.port}"

    def session(self, *, timeout: float = 10.0) -> requests.Session:
        """A requests.Session wired to this server (every https:// URL is rewritten)."""
        session = requests.Session()
        # REQUESTS_CA_BUNDLE / HTTPS_PROXY in the environment would override the session.
        session.trust_env = False
        adapter = LoopbackAdapter(f"{self.host}:{self.port}", timeout=timeout)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        return session

    # --- auth back-doors --------------------------------------------------------------------

    def issue_token(self, user_id: str | None = None) -> str:
        token = f"{self.store.org_id}!AQ{secrets.token_urlsafe(24)}"
        self.tokens[token] = user_id or self.store.integration_user_id
        self.last_token = token
        return token

    def expire_token(self, token: str | None = None) -> str:
        """Expire one token (the last issued by default). New logins get fresh, valid tokens:
        rejecting every token would send simple-salesforce's SFType into endless re-logins."""
        token = token or self.last_token
        if token is None:
            raise RuntimeError("no token has been issued yet")
        self.faults.expired_tokens.add(token)
        return token

    def add_user(
        self, username: str, *, password: str, security_token: str = "", **fields: Any
    ) -> str:
        user_id = self.store.seed(
            "User",
            [
                {
                    "Username": username,
                    "Email": username,
                    "LastName": fields.pop("LastName", username.split("@")[0]),
                    **fields,
                }
            ],
        )[0]
        self.credentials[username] = (password, security_token)
        return user_id

    def add_connected_app(
        self, consumer_key: str, secret: str, *, public_key_pem: str | None = None
    ) -> None:
        self.connected_apps[consumer_key] = (secret, public_key_pem)

    def requests_to(self, method: str, path_regex: str) -> list[LoggedRequest]:
        pattern = re.compile(path_regex)
        return [r for r in list(self.requests_log) if r.method == method and pattern.search(r.path)]

    # --- HTTP -------------------------------------------------------------------------------

    def handle(self, request: LoggedRequest) -> Answer | None:
        self.requests_log.append(request)
        path = request.path
        try:
            is_login = request.method == "POST" and (
                re.match(r"^/services/Soap/u/[\d.]+/?$", path) is not None
                or path.rstrip("/") == "/services/oauth2/token"
            )
            if is_login and (injection := self.faults.take_injection("POST", path, login=True)):
                return None if injection.body is None else _json(injection.status, injection.body)
            if request.method == "POST" and re.match(r"^/services/Soap/u/[\d.]+/?$", path):
                return self._soap_login(request)
            if request.method == "POST" and path.rstrip("/") == "/services/oauth2/token":
                return self._oauth_token(request)
            token = (request.header("Authorization") or "").removeprefix("Bearer ").strip()
            if token not in self.tokens or token in self.faults.expired_tokens:
                return _json(
                    401,
                    [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}],
                    **{"WWW-Authenticate": "Token"},
                )
            injection = self.faults.take_injection(request.method, path)
            if injection is not None:
                if injection.body is None:
                    return None
                return _json(injection.status, injection.body, **self._usage_header())
            used, limit, over = self.faults.count_call()
            usage = {"Sforce-Limit-Info": f"api-usage={used}/{limit}"}
            if over:
                return _json(
                    403,
                    [
                        {
                            "message": "TotalRequests Limit exceeded.",
                            "errorCode": "REQUEST_LIMIT_EXCEEDED",
                        }
                    ],
                    **usage,
                )
            match = _DATA_PATH.match(path)
            if match is None:
                raise SfError(404, "NOT_FOUND", "The requested resource does not exist")
            version = match.group(1)
            segments = [urllib.parse.unquote(s) for s in (match.group(2) or "").split("/") if s]
            with self.store.acting_as(self.tokens[token]):
                answer = self._route(request, version, segments)
            if answer is None:
                return None
            answer.headers.update(usage)
            return answer
        except SfError as error:
            return _json(error.status, error.body(), **self._usage_header())
        except soql.SoqlError as error:
            return _json(
                400, [{"message": error.message, "errorCode": error.code}], **self._usage_header()
            )

    def _usage_header(self) -> dict[str, str]:
        return {"Sforce-Limit-Info": f"api-usage={self.faults.api_used}/{self.faults.api_limit}"}

    def _route(self, request: LoggedRequest, version: str, seg: list[str]) -> Answer | None:
        method = request.method
        head = seg[0] if seg else ""
        if head in ("query", "queryAll"):
            if len(seg) == 1 and method == "GET":
                return self._query(request, version, include_deleted=head == "queryAll")
            if len(seg) == 2 and method == "GET":
                return self._query_more(seg[1], version)
        if head == "sobjects":
            return self._sobjects(request, version, seg[1:])
        if head == "limits" and method == "GET":
            used, limit = self.faults.api_used, self.faults.api_limit
            return _json(
                200,
                {
                    "DailyApiRequests": {"Max": limit, "Remaining": max(limit - used, 0)},
                    "DailyBulkApiBatches": {"Max": 15000, "Remaining": 15000},
                    "DailyBulkV2QueryJobs": {"Max": 10000, "Remaining": 10000},
                    "DailyBulkV2QueryFileStorageMB": {"Max": 1048576, "Remaining": 1048576},
                },
            )
        if head == "composite" and len(seg) >= 2 and seg[1] == "sobjects":
            return self._collections(request, version, seg[2:])
        if head == "jobs" and len(seg) >= 2 and seg[1] in ("ingest", "query"):
            return self._bulk(request, version, seg[1], seg[2:])
        if not seg and method == "GET":
            return _json(
                200,
                {
                    "sobjects": f"/services/data/v{version}/sobjects",
                    "query": f"/services/data/v{version}/query",
                },
            )
        raise SfError(404, "NOT_FOUND", "The requested resource does not exist")

    # --- logins -----------------------------------------------------------------------------

    def _soap_login(self, request: LoggedRequest) -> Answer:
        text = request.body.decode("utf-8", "replace")

        def element(name: str) -> str:
            found = re.search(rf"<(?:\w+:)?{name}>(.*?)</(?:\w+:)?{name}>", text, re.S)
            return html.unescape(found.group(1)) if found else ""

        username, given = element("username"), element("password")
        stored = self.credentials.get(username)
        if stored is None or given not in (
            stored[0] + stored[1],
            stored[0] if not stored[1] else None,
        ):
            fault = (
                '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope '
                'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
                'xmlns:sf="urn:fault.partner.soap.sforce.com"><soapenv:Body><soapenv:Fault>'
                "<faultcode>sf:INVALID_LOGIN</faultcode>"
                "<faultstring>INVALID_LOGIN: Invalid username, "
                "password, security token; or user locked out.</faultstring><detail>"
                "<sf:LoginFault><sf:exceptionCode>INVALID_LOGIN</sf:exceptionCode><sf:exceptionMessage>"
                "Invalid username, password, security token; or user locked out."
                "</sf:exceptionMessage>"
                "</sf:LoginFault></detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>"
            )
            return Answer(500, fault.encode(), "text/xml;charset=UTF-8")
        user_id = self._user_id(username)
        token = self.issue_token(user_id)
        org, base = self.store.org_id, self.instance_url
        body = (
            '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope '
            'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
            'xmlns="urn:partner.soap.sforce.com">'
            "<soapenv:Body><loginResponse><result>"
            f"<metadataServerUrl>{base}/services/Soap/m/59.0/{org}</metadataServerUrl>"
            "<passwordExpired>false</passwordExpired><sandbox>false</sandbox>"
            f"<serverUrl>{base}/services/Soap/u/59.0/{org}</serverUrl>"
            f"<sessionId>{html.escape(token)}</sessionId><userId>{user_id}</userId>"
            f"<userInfo><organizationId>{org}</organizationId><userName>{html.escape(username)}</userName>"
            "</userInfo></result></loginResponse></soapenv:Body></soapenv:Envelope>"
        )
        return Answer(200, body.encode(), "text/xml;charset=UTF-8")

    def _user_id(self, username: str) -> str:
        found = self.store.find_by("User", "Username", username)
        return found[0] if found else self.store.integration_user_id

    def _oauth_token(self, request: LoggedRequest) -> Answer:
        form = {
            k: v[0]
            for k, v in urllib.parse.parse_qs(request.body.decode(), keep_blank_values=True).items()
        }
        grant = form.get("grant_type", "")
        fail = _json(400, {"error": "invalid_grant", "error_description": "authentication failure"})
        bad_client = _json(
            400, {"error": "invalid_client_id", "error_description": "client identifier invalid"}
        )
        if grant == "password":
            app = self.connected_apps.get(form.get("client_id", ""))
            if app is None:
                return bad_client
            if app[0] != form.get("client_secret"):
                return _json(
                    400,
                    {"error": "invalid_client", "error_description": "invalid client credentials"},
                )
            stored = self.credentials.get(form.get("username", ""))
            if stored is None or form.get("password") not in (stored[0] + stored[1], stored[0]):
                return fail
            user_id = self._user_id(form["username"])
        elif grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            try:
                claims = jwt.decode(form.get("assertion", ""), options={"verify_signature": False})
            except jwt.PyJWTError:
                return _json(
                    400, {"error": "invalid_grant", "error_description": "invalid assertion"}
                )
            app = self.connected_apps.get(str(claims.get("iss", "")))
            if app is None:
                return bad_client
            if app[1] is not None:
                try:
                    jwt.decode(
                        form["assertion"], app[1], algorithms=["RS256"], audience=claims.get("aud")
                    )
                except jwt.PyJWTError:
                    return _json(
                        400, {"error": "invalid_grant", "error_description": "invalid assertion"}
                    )
            if claims.get("sub") not in self.credentials:
                return _json(
                    400,
                    {
                        "error": "invalid_grant",
                        "error_description": "user hasn't approved this consumer",
                    },
                )
            user_id = self._user_id(str(claims["sub"]))
        elif grant == "client_credentials":
            auth = (request.header("Authorization") or "").removeprefix("Basic ").strip()
            try:
                key, _, secret = base64.b64decode(auth).decode().partition(":")
            except ValueError:
                return bad_client
            app = self.connected_apps.get(key)
            if app is None:
                return bad_client
            if app[0] != secret:
                return _json(
                    400,
                    {"error": "invalid_client", "error_description": "invalid client credentials"},
                )
            user_id = self.store.integration_user_id
        else:
            return _json(
                400,
                {
                    "error": "unsupported_grant_type",
                    "error_description": "grant type not supported",
                },
            )
        token = self.issue_token(user_id)
        return _json(
            200,
            {
                "access_token": token,
                "instance_url": self.instance_url,
                "id": f"{self.instance_url}/id/{self.store.org_id}/{user_id}",
                "token_type": "Bearer",
                "issued_at": str(int(self.store.clock.now().timestamp() * 1000)),
                "signature": "bG9vcGJhY2s=",
                "scope": "api",
            },
        )

    # --- query ------------------------------------------------------------------------------

    @staticmethod
    def _page_size(request: LoggedRequest) -> int:
        option = request.header("Sforce-Query-Options") or ""
        found = re.search(r"batchSize\s*=\s*(\d+)", option)
        return min(max(int(found.group(1)), 200), 2000) if found else 2000

    def _query(self, request: LoggedRequest, version: str, *, include_deleted: bool) -> Answer:
        text = (request.query.get("q") or [""])[0]
        if not text:
            raise SfError(400, "MALFORMED_QUERY", "unexpected end of query")
        query, rows = self.store.select(text, include_deleted=include_deleted)
        if query.count_only:
            return _json(200, {"totalSize": len(rows), "done": True, "records": []})
        with self.store.lock:
            projected = [self.store.project(query, row, version) for row in rows]
        cursor = Cursor(projected, len(projected), query.object_name, self._page_size(request))
        locator = f"{QUERY_LOCATOR_PREFIX}{secrets.token_hex(6)}"
        with self.store.lock:
            self.store.cursors[locator] = cursor
        return self._page(cursor, locator, 0, version)

    def _page(self, cursor: Cursor, locator: str, offset: int, version: str) -> Answer:
        end = offset + cursor.page_size
        cursor.pages_served += 1
        payload: dict[str, Any] = {
            "totalSize": cursor.total,
            "done": end >= cursor.total,
            "records": cursor.rows[offset:end],
        }
        if not payload["done"]:
            payload["nextRecordsUrl"] = f"/services/data/v{version}/query/{locator}-{end}"
        else:
            with self.store.lock:
                self.store.cursors.pop(locator, None)
        return _json(200, payload)

    def _query_more(self, identifier: str, version: str) -> Answer | None:
        locator, _, offset_text = identifier.rpartition("-")
        with self.store.lock:
            cursor = self.store.cursors.get(locator)
        if cursor is None or not offset_text.isdigit():
            raise SfError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        page_number = cursor.pages_served + 1
        if self.faults.on_query_page is not None:
            self.faults.on_query_page(locator, page_number)
        if self.faults.take_crash(page_number):
            return None
        return self._page(cursor, locator, int(offset_text), version)

    # --- sObjects ---------------------------------------------------------------------------

    @staticmethod
    def _auto_assign(request: LoggedRequest) -> bool:
        # REST applies the active assignment rule unless told FALSE (help article 000395506).
        return (request.header("Sforce-Auto-Assign") or "TRUE").strip().upper() != "FALSE"

    @staticmethod
    def _body(request: LoggedRequest) -> Any:
        if not request.body:
            return {}
        try:
            return json.loads(request.body)
        except ValueError as exc:
            raise SfError(400, "JSON_PARSER_ERROR", f"Unexpected character in body: {exc}") from exc

    def _sobjects(self, request: LoggedRequest, version: str, seg: list[str]) -> Answer:
        method, store = request.method, self.store
        if not seg and method == "GET":
            return _json(
                200,
                {
                    "encoding": "UTF-8",
                    "maxBatchSize": 200,
                    "sobjects": [o.global_entry(version) for o in store.schema.values()],
                },
            )
        obj = store.object(seg[0]).name
        if len(seg) == 1:
            if method == "GET":
                return _json(
                    200,
                    {"objectDescribe": store.object(obj).global_entry(version), "recentItems": []},
                )
            if method == "POST":
                record_id = store.create(
                    obj, self._body(request), auto_assign=self._auto_assign(request)
                )
                return _json(201, {"id": record_id, "success": True, "errors": []})
        if len(seg) == 2 and seg[1] == "describe" and method == "GET":
            return _json(200, store.object(obj).describe(version))
        if len(seg) == 2 and seg[1] in ("updated", "deleted") and method == "GET":
            return self._replication(request, obj, seg[1])
        if len(seg) == 2:
            record_id = seg[1]
            if method == "GET":
                fields = (request.query.get("fields") or [""])[0]
                record = store.get(obj, record_id)
                return _json(
                    200,
                    store.serialize(obj, record, version, fields.split(",") if fields else None),
                )
            if method == "PATCH":
                store.update(
                    obj, record_id, self._body(request), auto_assign=self._auto_assign(request)
                )
                return Answer(204)
            if method == "DELETE":
                store.delete(obj, record_id)
                return Answer(204)
        if len(seg) == 3:
            ext_field = seg[1]
            if method == "GET":
                value = urllib.parse.unquote_plus(seg[2])
                found = store.find_by(obj, ext_field, value)
                if len(found) > 1:
                    return _json(
                        300, [f"/services/data/v{version}/sobjects/{obj}/{i}" for i in found]
                    )
                if not found:
                    raise SfError(404, "NOT_FOUND", "The requested resource does not exist")
                return _json(200, store.serialize(obj, store.get(obj, found[0]), version))
            if method == "PATCH":
                try:
                    record_id, created = store.upsert(
                        obj,
                        ext_field,
                        seg[2],
                        self._body(request),
                        auto_assign=self._auto_assign(request),
                    )
                except SfError as error:
                    if error.status == 300:
                        found = store.find_by(obj, ext_field, seg[2])
                        return _json(
                            300, [f"/services/data/v{version}/sobjects/{obj}/{i}" for i in found]
                        )
                    raise
                return _json(
                    201 if created else 200,
                    {"id": record_id, "success": True, "errors": [], "created": created},
                )
        raise SfError(405, "METHOD_NOT_ALLOWED", f"HTTP Method '{method}' not allowed")

    def _replication(self, request: LoggedRequest, obj: str, kind: str) -> Answer:
        try:
            start = soql.parse_datetime_literal((request.query.get("start") or [""])[0])
            end = soql.parse_datetime_literal((request.query.get("end") or [""])[0])
        except ValueError as exc:
            raise SfError(
                400, "INVALID_REPLICATION_DATE", "start and end must be datetimes"
            ) from exc
        if start >= end:
            raise SfError(
                400, "INVALID_REPLICATION_DATE", "startDate must chronologically precede endDate"
            )
        start, end = start.replace(second=0), end.replace(second=0)
        rows = [r for r in self.store.all(obj) if start <= r["SystemModstamp"] <= end]
        covered = end.strftime("%Y-%m-%dT%H:%M:%S.000+0000")
        if kind == "updated":
            return _json(
                200,
                {
                    "ids": [r["Id"] for r in rows if not r["IsDeleted"]],
                    "latestDateCovered": covered,
                },
            )
        deleted = [
            {
                "id": r["Id"],
                "deletedDate": r["SystemModstamp"].strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
            }
            for r in rows
            if r["IsDeleted"]
        ]
        return _json(
            200,
            {
                "deletedRecords": deleted,
                "earliestDateAvailable": "2000-01-01T00:00:00.000+0000",
                "latestDateCovered": covered,
            },
        )

    # --- composite collections ---------------------------------------------------------------

    def _collections(self, request: LoggedRequest, version: str, seg: list[str]) -> Answer:
        store, method = self.store, request.method
        if method == "GET" and len(seg) == 1:
            ids = (request.query.get("ids") or [""])[0].split(",")
            fields = (request.query.get("fields") or [""])[0]
            out: list[Any] = []
            for record_id in ids:
                try:
                    out.append(
                        store.serialize(
                            seg[0],
                            store.get(seg[0], record_id),
                            version,
                            fields.split(",") if fields else None,
                        )
                    )
                except SfError:
                    out.append(None)
            return _json(200, out)
        if method == "DELETE" and not seg:
            ids = [i for i in (request.query.get("ids") or [""])[0].split(",") if i]
            all_or_none = (request.query.get("allOrNone") or ["false"])[0].lower() == "true"
            items: list[tuple[str, dict[str, Any]]] = [("delete", {"id": i}) for i in ids]
            return _json(200, self._apply_items(items, all_or_none, auto_assign=True))
        body = self._body(request)
        records = body.get("records") if isinstance(body, dict) else None
        if not isinstance(records, list):
            raise SfError(400, "JSON_PARSER_ERROR", "records is required")
        if len(records) > COLLECTION_LIMIT:
            raise SfError(
                400,
                "EXCEEDED_ID_LIMIT",
                "record limit reached. cannot submit more than 200 records into this call",
            )
        all_or_none = bool(body.get("allOrNone"))
        auto_assign = self._auto_assign(request)
        if method == "POST" and not seg:
            return _json(
                200, self._apply_items([("create", r) for r in records], all_or_none, auto_assign)
            )
        if method == "PATCH" and not seg:
            return _json(
                200, self._apply_items([("update", r) for r in records], all_or_none, auto_assign)
            )
        if method == "PATCH" and len(seg) == 2:
            items = [
                ("upsert", {**r, "attributes": {"type": seg[0]}, "__ext": seg[1]}) for r in records
            ]
            return _json(200, self._apply_items(items, all_or_none, auto_assign))
        raise SfError(405, "METHOD_NOT_ALLOWED", f"HTTP Method '{method}' not allowed")

    def _apply_items(
        self, items: list[tuple[str, dict[str, Any]]], all_or_none: bool, auto_assign: bool
    ) -> list[dict[str, Any]]:
        """Per-item results in request order; allOrNone rolls every item back on one failure."""
        store = self.store
        results: list[dict[str, Any]] = []
        undo: list[tuple[str, str, dict[str, Any] | None]] = []
        with store.lock:
            for action, raw in items:
                values = {
                    k: v for k, v in raw.items() if k not in ("attributes", "id", "Id", "__ext")
                }
                obj = (raw.get("attributes") or {}).get("type") or ""
                record_id = raw.get("id") or raw.get("Id") or ""
                try:
                    if self.faults.take_locked_record():
                        raise SfError(400, "UNABLE_TO_LOCK_ROW", LOCK_MESSAGE)
                    if action == "delete":
                        obj = store.object_for_id(record_id) or ""
                        if not obj:
                            raise SfError(404, "ENTITY_IS_DELETED", "entity is deleted")
                    if not obj:
                        raise SfError(400, "INVALID_TYPE", "Must send a concrete entity type.")
                    before = (
                        store.records[store.object(obj).name].get(to18(record_id))
                        if record_id
                        else None
                    )
                    result: dict[str, Any] = {"success": True, "errors": []}
                    if action == "create":
                        record_id = store.create(obj, values, auto_assign=auto_assign)
                    elif action == "update":
                        store.update(obj, record_id, values, auto_assign=auto_assign)
                    elif action == "delete":
                        store.delete(obj, record_id)
                    else:
                        ext = raw["__ext"]
                        fdef = store.object(obj).field(ext)
                        key = fdef.name if fdef else ext
                        ext_value = next(
                            (v for k, v in raw.items() if k.lower() == key.lower()), None
                        )
                        if ext_value in (None, ""):
                            raise SfError(400, "MISSING_ARGUMENT", f"{ext} not specified", [ext])
                        matches = store.find_by(obj, key, ext_value)
                        before = (
                            store.records[store.object(obj).name][matches[0]]
                            if len(matches) == 1
                            else None
                        )
                        record_id, created = store.upsert(
                            obj, key, str(ext_value), values, auto_assign=auto_assign
                        )
                        result["created"] = created
                    undo.append((store.object(obj).name, to18(record_id), before))
                    results.append({"id": to18(record_id), **result})
                except SfError as error:
                    failed: dict[str, Any] = {
                        "success": False,
                        "errors": [
                            {
                                "statusCode": error.code,
                                "message": error.message,
                                "fields": error.fields,
                            }
                        ],
                    }
                    if record_id:
                        failed["id"] = record_id
                    results.append(failed)
            if all_or_none and any(not r["success"] for r in results):
                for obj_name, record_id, before in reversed(undo):
                    if before is None:
                        store.records[obj_name].pop(record_id, None)
                    else:
                        store.records[obj_name][record_id] = before
                rolled = {
                    "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                    "message": "Record rolled back because not all records were valid and the "
                    "request was using AllOrNone header",
                    "fields": [],
                }
                results = [
                    r if not r["success"] else {"success": False, "errors": [rolled]}
                    for r in results
                ]
        return results

    # --- Bulk API 2.0 -----------------------------------------------------------------------

    def _bulk(self, request: LoggedRequest, version: str, kind: str, seg: list[str]) -> Answer:
        method = request.method
        created_by = self.tokens.get(
            (request.header("Authorization") or "").removeprefix("Bearer ").strip(), ""
        )
        if not seg and method == "POST":
            return _json(200, self._create_job(request, version, kind).info(created_by))
        if not seg and method == "GET":
            return _json(
                200,
                {
                    "done": True,
                    "records": [j.info(created_by) for j in self.jobs.values() if j.kind == kind],
                },
            )
        job = self.jobs.get(seg[0])
        if job is None or job.kind != kind:
            raise SfError(404, "NOT_FOUND", "The requested resource does not exist")
        if len(seg) == 1:
            if method == "GET":
                if job.state in ("UploadComplete", "InProgress"):
                    if job.polls_left > 0:
                        job.polls_left -= 1
                        job.state = "InProgress"
                    else:
                        self._finish_job(job)
                return _json(200, job.info(created_by))
            if method == "PATCH":
                state = self._body(request).get("state")
                if state == "UploadComplete" and job.kind == "ingest" and job.state == "Open":
                    job.state = "UploadComplete"
                    job.polls_left = self.faults.bulk_polls_in_progress
                    if job.polls_left == 0:
                        self._finish_job(job)
                elif state == "Aborted" and job.state not in ("JobComplete", "Failed"):
                    job.state = "Aborted"
                else:
                    raise SfError(
                        400, "INVALIDJOBSTATE", f"Cannot move job from {job.state} to {state}"
                    )
                return _json(200, job.info(created_by))
            if method == "DELETE":
                self.jobs.pop(job.id, None)
                return Answer(204)
        if len(seg) == 2 and kind == "ingest":
            if seg[1] == "batches" and method == "PUT":
                if job.state != "Open":
                    raise SfError(409, "INVALIDJOBSTATE", f"Job {job.id} is not Open")
                job.data += request.body.decode("utf-8")
                return Answer(201)
            if method == "GET" and seg[1] in (
                "successfulResults",
                "failedResults",
                "unprocessedRecords",
            ):
                rows = {
                    "successfulResults": job.successful_rows,
                    "failedResults": job.failed_rows,
                }.get(seg[1])
                if rows is None:
                    rows = [] if job.state != "Aborted" else list(csv.reader(io.StringIO(job.data)))
                return Answer(200, _csv_text(rows).encode(), "text/csv")
        if len(seg) == 2 and kind == "query" and seg[1] == "results" and method == "GET":
            if job.state != "JobComplete":
                raise SfError(412, "JOB_NOT_COMPLETE", "Job is not complete")
            offset = 0
            locator = (request.query.get("locator") or [""])[0]
            if locator:
                try:
                    offset = int(base64.b64decode(locator).decode())
                except ValueError as exc:
                    raise SfError(400, "INVALIDLOCATOR", "invalid locator") from exc
            max_records = int((request.query.get("maxRecords") or ["50000"])[0])
            page = job.result_rows[offset : offset + max_records]
            end = offset + len(page)
            next_locator = (
                base64.b64encode(str(end).encode()).decode()
                if end < len(job.result_rows)
                else "null"
            )
            return Answer(
                200,
                _csv_text([job.header, *page]).encode(),
                "text/csv",
                {"Sforce-Locator": next_locator, "Sforce-NumberOfRecords": str(len(page))},
            )
        raise SfError(404, "NOT_FOUND", "The requested resource does not exist")

    def _create_job(self, request: LoggedRequest, version: str, kind: str) -> BulkJob:
        body = self._body(request)
        now = self.store.clock.now().strftime("%Y-%m-%dT%H:%M:%S.000+0000")
        job_id = self.store.ids.new(BULK_JOB_PREFIX)
        operation = str(body.get("operation", ""))
        if kind == "query":
            if operation not in ("query", "queryAll"):
                raise SfError(400, "INVALIDJOB", f"Invalid operation: {operation}")
            text = str(body.get("query", ""))
            query, rows = self.store.select(text, include_deleted=operation == "queryAll")
            if query.count_only:
                raise SfError(400, "INVALIDJOB", "COUNT() is not supported by the Bulk API")
            job = BulkJob(
                job_id,
                kind,
                operation,
                query.object_name,
                version,
                now,
                "UploadComplete",
                query=text,
                polls_left=self.faults.bulk_polls_in_progress,
            )
            with self.store.lock:
                job.header = [
                    ".".join(
                        [
                            *(f.relationship_name or f.name for f in query.chains[p][:-1]),
                            query.chains[p][-1].name,
                        ]
                    )
                    for p in query.paths
                ]
                job.result_rows = [
                    [to_csv(self.store.get_path(row, query.chains[p])) for p in query.paths]
                    for row in rows
                ]
            job.processed = len(job.result_rows)
        else:
            if operation not in ("insert", "update", "upsert", "delete", "hardDelete"):
                raise SfError(400, "INVALIDJOB", f"Invalid operation: {operation}")
            obj = self.store.object(str(body.get("object", ""))).name
            external = body.get("externalIdFieldName")
            if operation == "upsert" and not external:
                raise SfError(400, "INVALIDJOB", "External ID was blank for upsert")
            job = BulkJob(
                job_id,
                kind,
                operation,
                obj,
                version,
                now,
                "Open",
                external_id=external,
                assignment_rule_id=body.get("assignmentRuleId"),
            )
        self.jobs[job_id] = job
        return job

    def _finish_job(self, job: BulkJob) -> None:
        if job.kind == "query" or job.state == "JobComplete":
            job.state = "JobComplete"
            return
        store = self.store
        reader = csv.reader(io.StringIO(job.data))
        header = next(reader, [])
        # Bulk 2.0 applies the assignment rule only when the job names one (assignmentRuleId).
        auto_assign = bool(job.assignment_rule_id)
        for row in reader:
            if not any(row):
                continue
            raw = dict(zip(header, row, strict=False))
            # An empty cell leaves the field alone; #N/A sets it to null.
            values: dict[str, Any] = {
                k: (None if v == "#N/A" else v) for k, v in raw.items() if v != ""
            }
            record_id = values.pop("Id", "") or ""
            created = False
            try:
                if job.operation == "insert":
                    record_id, created = (
                        store.create(job.object, values, auto_assign=auto_assign),
                        True,
                    )
                elif job.operation == "update":
                    store.update(job.object, record_id, values, auto_assign=auto_assign)
                elif job.operation == "upsert":
                    assert job.external_id is not None
                    key = next(
                        (k for k in values if k.lower() == job.external_id.lower()), job.external_id
                    )
                    ext_value = (
                        values.pop(key, "") if job.external_id.lower() != "id" else record_id
                    )
                    record_id, created = store.upsert(
                        job.object, job.external_id, str(ext_value), values, auto_assign=auto_assign
                    )
                elif job.operation == "delete":
                    store.delete(job.object, record_id)
                else:
                    store.hard_delete(job.object, record_id)
                job.successful_rows.append([record_id, "true" if created else "false", *row])
            except SfError as error:
                fields = ",".join(error.fields)
                job.failed_rows.append(
                    [record_id, f"{error.code}:{error.message}:{fields} --", *row]
                )
                job.failed += 1
            job.processed += 1
        job.successful_rows.insert(0, ["sf__Id", "sf__Created", *header])
        job.failed_rows.insert(0, ["sf__Id", "sf__Error", *header])
        job.state = "JobComplete"
