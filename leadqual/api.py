"""What every endpoint under /api/v1/ shares: token authentication, scope permissions, the one
error shape, the ingest rate limit, and the login-redirect exemption.

Callers are either an integration holding an API token (`Authorization: Bearer <key>`, issued
in the admin, scoped to "ingest" or "read") or a person logged in to the site (session
authentication, for the browser). A view states both of its doors:

    class LeadListApi(APIView):
        permission_classes = [scope_required(ApiScope.READ)]
        # What a logged-in person needs (Django permissions, "app_label.codename"); a view that
        # declares none is closed to sessions and open to tokens of the scope only.
        required_perms = ("accounts.view_lead",)

For a token, `request.user` is the AnonymousUser and `request.auth` the ApiToken; `api_user()`
turns that into the `user=None` the selectors take for "an integration: every row".
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.middleware import LoginRequiredMiddleware
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured, RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, HttpResponseBase
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions, serializers, status
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle

from accounts.models import ApiToken
from accounts.services import api_key_hash

if TYPE_CHECKING:
    # Not at run time: DRF imports this module (DEFAULT_AUTHENTICATION_CLASSES) while
    # rest_framework.views is still being imported.
    from rest_framework.views import APIView

logger = logging.getLogger(__name__)

API_PATH_PREFIX = "/api/"

# last_used_at is for an operator ("is this integration still sending?"), not an audit log:
# writing it on every request would add a write to each ingest call.
LAST_USED_RESOLUTION = timedelta(minutes=1)


# --- authentication ------------------------------------------------------------------------


class BearerTokenAuthentication(BaseAuthentication):
    """`Authorization: Bearer <key>` with a key from ApiToken; the token becomes request.auth.

    No Authorization header, or another scheme, is left to the next authenticator (the
    session). A Bearer header with an unknown or revoked key is refused (401) rather than
    falling through: the caller meant to use a token and must learn it does not work.
    """

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[AnonymousUser, ApiToken] | None:
        header = get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(
                "Malformed Authorization header: expected 'Bearer <key>', one key, no spaces."
            )
        try:
            key = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed(
                "Malformed Authorization header: the key is not ASCII."
            ) from None
        token = ApiToken.objects.filter(key_hash=api_key_hash(key)).first()
        if token is None:
            raise exceptions.AuthenticationFailed(
                "Unknown API token: check the key, or ask an admin to issue one."
            )
        if not token.is_active:
            raise exceptions.AuthenticationFailed(
                f"API token '{token.name}' ({token.prefix}…) was revoked; ask an admin for a "
                "new one."
            )
        self._touch(token)
        return AnonymousUser(), token

    def authenticate_header(self, request: Request) -> str:
        # Its presence makes DRF answer 401 (not 403) to a request without credentials.
        return f'{self.keyword} realm="api"'

    @staticmethod
    def _touch(token: ApiToken) -> None:
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
            # One column by a filtered UPDATE, not save(): two requests racing here both
            # write "now", within the same minute.
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
            token.last_used_at = now


class BearerTokenScheme(OpenApiAuthenticationExtension):
    """Tells the OpenAPI schema how BearerTokenAuthentication is used."""

    target_class = "leadqual.api.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API token issued in the admin (API tokens), scoped to ingest "
            "or read.",
        }


def api_user(request: Request) -> AbstractBaseUser | None:
    """The person behind a request, or None for an integration's token (which reads every
    row its scope allows: the selectors' `user=None`)."""
    if isinstance(request.auth, ApiToken):
        return None
    user = request.user
    return user if isinstance(user, AbstractBaseUser) else None


# --- permissions ---------------------------------------------------------------------------


def scope_required(scope: str) -> type[BasePermission]:
    """A permission admitting an API token of `scope`, or a logged-in person who holds every
    permission in the view's `required_perms` (a tuple of "app_label.codename").

    A view without `required_perms` is closed to sessions: a forgotten declaration fails shut.
    """

    class ScopeRequired(BasePermission):
        message = f"This endpoint needs an API token with the '{scope}' scope."

        def has_permission(self, request: Request, view: APIView) -> bool:
            auth = request.auth
            if isinstance(auth, ApiToken):
                if auth.scope == scope:
                    return True
                self.message = (
                    f"This endpoint needs an API token with the '{scope}' scope; this token's "
                    f"scope is '{auth.scope}'."
                )
                return False
            user = request.user
            if not (user and user.is_authenticated):
                # DRF turns this into 401 (no credentials), with the Bearer challenge.
                return False
            perms: Sequence[str] | None = getattr(view, "required_perms", None)
            if perms is None:
                self.message = (
                    f"This endpoint is for API tokens with the '{scope}' scope only, not for "
                    "a browser session."
                )
                return False
            if not user.has_perms(perms):
                self.message = "Your role does not allow this: it needs " + ", ".join(perms) + "."
                return False
            return True

    ScopeRequired.__name__ = ScopeRequired.__qualname__ = f"ScopeRequired_{scope}"
    return ScopeRequired


class IsAuthenticatedOrToken(BasePermission):
    """Any API token, or any logged-in person: for the schema and the docs page."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        return isinstance(request.auth, ApiToken) or bool(
            request.user and request.user.is_authenticated
        )


# --- the one error shape -------------------------------------------------------------------

NON_FIELD = "non_field_errors"


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "too_large"
    default_detail = "The request body is too large."


def error_body(
    *, status_code: int, code: str, message: str, fields: Mapping[str, list[str]] | None = None
) -> dict[str, Any]:
    """{"error": {"status", "code", "message", "fields"}}: every API error looks like this."""
    return {
        "error": {
            "status": status_code,
            "code": code,
            "message": message,
            "fields": dict(fields or {}),
        }
    }


def error_fields(detail: Any, path: str = "") -> dict[str, list[str]]:
    """A ValidationError's nested detail as {"field.path": [messages]}.

    Nested serializers give dicts ("person.email"); lists of objects and ListField children
    give indexes ("events[3].occurred_at"); errors about the whole input sit under
    "non_field_errors".
    """
    out: dict[str, list[str]] = {}

    def walk(node: Any, at: str) -> None:
        if isinstance(node, Mapping):
            for key, value in node.items():
                if isinstance(key, int):
                    walk(value, f"{at}[{key}]")
                elif key == NON_FIELD and at:
                    walk(value, at)
                else:
                    walk(value, f"{at}.{key}" if at else str(key))
        elif isinstance(node, list | tuple):
            if all(isinstance(item, str) for item in node):
                out.setdefault(at or NON_FIELD, []).extend(str(item) for item in node)
            else:
                for index, item in enumerate(node):
                    walk(item, f"{at}[{index}]")
        elif node is not None:
            out.setdefault(at or NON_FIELD, []).append(str(node))

    walk(detail, path)
    return {key: messages for key, messages in out.items() if messages}


class ErrorDetailSerializer(serializers.Serializer):
    def get_fields(self) -> dict[str, serializers.Field]:
        # Declared here, not as attributes: a field named "fields" would hide
        # Serializer.fields.
        return {
            "status": serializers.IntegerField(),
            "code": serializers.CharField(
                help_text="invalid, not_authenticated, permission_denied, throttled, …"
            ),
            "message": serializers.CharField(),
            "fields": serializers.DictField(
                child=serializers.ListField(child=serializers.CharField()),
                help_text='Field errors by path, e.g. {"events[3].occurred_at": ["…"]}.',
            ),
        }


class ErrorSerializer(serializers.Serializer):
    """The body of every API error (for the schema)."""

    error = ErrorDetailSerializer()


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    """Schema entries for the error statuses an endpoint answers:
    `@extend_schema(responses={200: Out, **error_responses(400, 401, 403)})`."""
    descriptions = {
        400: "Invalid input: field errors by path.",
        401: "No credentials, or an unknown or revoked token.",
        403: "A token of another scope, or a role without the permission.",
        404: "Not found (or not visible to the caller).",
        413: "The request body is too large.",
        429: "Rate limit: retry after the Retry-After header's seconds.",
    }
    return {
        code: OpenApiResponse(ErrorSerializer, description=descriptions.get(code, ""))
        for code in codes
    }


def _message_for_fields(fields: Mapping[str, list[str]]) -> str:
    if not fields:
        return "Invalid input."
    first_path, first_messages = next(iter(fields.items()))
    more = len(fields) - 1
    where = "" if first_path == NON_FIELD else f"{first_path}: "
    tail = f" (and {more} more field{'s' if more != 1 else ''})" if more else ""
    return f"Invalid input. {where}{first_messages[0]}{tail}"


def exception_handler(exc: Exception, context: Mapping[str, Any]) -> Response | None:
    """DRF's EXCEPTION_HANDLER: DRF's own handling (status, Retry-After, WWW-Authenticate),
    then the body rewritten into the one error shape. Unexpected exceptions are logged with
    their traceback and answered 500 in the same shape."""
    from rest_framework.views import exception_handler as drf_exception_handler

    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, RequestDataTooBig):
        exc = RequestTooLarge(
            f"The request body is over {settings.DATA_UPLOAD_MAX_MEMORY_SIZE:,} bytes."
        )
    elif isinstance(exc, SuspiciousOperation):
        # Django answers these 400 outside DRF (a malformed Host, too many fields).
        exc = exceptions.ParseError(str(exc) or "Malformed request.")
    response = drf_exception_handler(exc, dict(context))
    if response is None:
        logger.exception("Unhandled error in API view %s", context.get("view"), exc_info=exc)
        return Response(
            error_body(
                status_code=status.HTTP_500_INTERNAL_SERVER_ERROR,
                code="server_error",
                message="Internal server error; it has been logged.",
            ),
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    if isinstance(exc, exceptions.ValidationError):
        fields = error_fields(exc.detail)
        response.data = error_body(
            status_code=response.status_code,
            code="invalid",
            message=_message_for_fields(fields),
            fields=fields,
        )
    elif isinstance(exc, exceptions.APIException):
        detail = exc.detail
        code = getattr(detail, "code", None) or exc.default_code
        response.data = error_body(
            status_code=response.status_code, code=str(code), message=str(detail)
        )
    return response


# --- rate limits ---------------------------------------------------------------------------

_RATE = re.compile(r"^\s*(\d+)\s*/\s*(s|sec|second|m|min|minute|h|hour|d|day)\s*$")
_PERIOD_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def rate_parse(rate: str) -> tuple[int, int]:
    """ "6000/min" -> (6000, 60): requests allowed per window, window in seconds."""
    match = _RATE.match(rate)
    if match is None or int(match.group(1)) < 1:
        raise ImproperlyConfigured(
            f"Rate {rate!r} is not 'N/period' with N ≥ 1 and period s, min, hour or day."
        )
    return int(match.group(1)), _PERIOD_SECONDS[match.group(2)[0]]


class IngestRateThrottle(BaseThrottle):
    """LEADQUAL_API_INGEST_RATE requests per window and per token (per user for a session).

    A batch counts as one request: its size is already capped (10,000 events), and what the
    limit protects against is a runaway client hammering the server, which costs per request.

    A fixed window counted in the shared cache (Redis in production: one atomic INCR per
    request, shared by every web process). DRF's SimpleRateThrottle instead stores each
    request's timestamp, thousands of them per token at ingest rates, rewritten every call.
    """

    def __init__(self) -> None:
        self.retry_after: float | None = None

    def allow_request(self, request: Request, view: APIView) -> bool:
        allowed, window = rate_parse(settings.LEADQUAL_API_INGEST_RATE)
        now = time.time()
        window_start = int(now // window) * window
        key = f"throttle:ingest:{self._ident(request)}:{window}:{window_start}"
        # add() then incr(): atomic on Redis; the key expires with its window.
        cache.add(key, 0, timeout=window + 1)
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add() and incr()
            cache.add(key, 1, timeout=window + 1)
            count = 1
        if count <= allowed:
            return True
        self.retry_after = max(window_start + window - now, 1.0)
        return False

    def wait(self) -> float | None:
        return self.retry_after

    def _ident(self, request: Request) -> str:
        if isinstance(request.auth, ApiToken):
            return f"token{request.auth.pk}"
        if request.user and request.user.is_authenticated:
            return f"user{request.user.pk}"
        return f"ip{self.get_ident(request)}"


# --- login redirect ------------------------------------------------------------------------


class LoginRequiredExceptApiMiddleware(LoginRequiredMiddleware):
    """Django's LoginRequiredMiddleware for the site; the API is left to its own
    authentication, which answers 401/403 in JSON where the site would redirect to /login/."""

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., HttpResponseBase],
        view_args: tuple[Any, ...],
        view_kwargs: dict[str, Any],
    ) -> HttpResponseBase | None:
        if request.path_info.startswith(API_PATH_PREFIX):
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)
