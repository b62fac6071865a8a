"""REST endpoints of the account feeds (docs/feeds.md).

POST /api/v1/account-events, /api/v1/intent-signals, /api/v1/technologies: one item; 201 when
stored, 200 when it was already (a replay), 400 with field errors (storing nothing).

POST /api/v1/account-events/batch ({"events": [...]}), /api/v1/intent-signals/batch
({"signals": [...]}), /api/v1/technologies/batch ({"technologies": [...]}): up to 10,000
items, answered item by item. As /api/v1/events/batch does, the valid items are stored and the
invalid ones reported with their index and errors (paths like `events[3].renews_at`): one bad
row in a vendor's nightly file must not cost the rest. Only a malformed envelope is refused
whole.

Same auth (an "ingest" token), rate limit, body limit and error shape as /api/v1/events. The
serializers document the shape for the OpenAPI schema; accounts.feed_records checks it, so the
two cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.account_feeds import (
    ITEM_STATUS_CHOICES,
    MAX_BATCH,
    FeedItem,
    FeedResult,
    ItemStatus,
    account_events_store,
    intent_signals_store,
    technologies_store,
)
from accounts.apis import MAX_BATCH_BODY_BYTES
from accounts.events import Errors
from accounts.feed_records import account_event_parse, intent_parse, technology_parse
from accounts.models import AccountEventKind, ApiScope
from leadqual.api import IngestRateThrottle, RequestTooLarge, error_responses, scope_required

FEED_PERMS = ("accounts.add_accountevent",)
Store = Callable[..., FeedResult]

_EXAMPLE_RENEWAL = {
    "external_id": "g2-renewal-88121",
    "account_domain": "acme.com",
    "kind": "contract_renewal",
    "occurred_at": "2026-11-26T09:00:00Z",
    "vendor": "Acme CRM",
    "renews_at": "2027-03-31",
    "source": "g2",
}
_EXAMPLE_INTENT = {
    "external_id": "bombora-2026-48-acme-crm",
    "account_domain": "acme.com",
    "topic": "CRM software",
    "surge_score": 3.4,
    "observed_at": "2026-11-26T00:00:00Z",
    "source": "bombora",
}
_EXAMPLE_TECHNOLOGY = {
    "account_domain": "acme.com",
    "name": "Snowflake",
    "category": "Data warehouse",
    "seen_at": "2026-11-26T00:00:00Z",
    "source": "builtwith",
}


class _AccountFields(serializers.Serializer):
    account_domain = serializers.CharField(
        required=False, max_length=255, help_text="The account's domain (acme.com)."
    )
    account_id = serializers.IntegerField(required=False, min_value=1)
    account_salesforce_id = serializers.CharField(required=False, max_length=18)


class AccountEventInputSerializer(_AccountFields):
    """One account event. Name the account by one of the account_* fields."""

    external_id = serializers.CharField(
        required=False,
        max_length=255,
        help_text="Unique per source: sending it again changes nothing. Without one, the same "
        "account, kind, occurred_at, title and source is the same event.",
    )
    kind = serializers.ChoiceField(choices=AccountEventKind.choices)
    occurred_at = serializers.DateTimeField(help_text="ISO 8601 with a time zone offset.")
    title = serializers.CharField(required=False, max_length=255)
    details = serializers.DictField(required=False)
    # "source" shadows Field.source for mypy only: the serializer metaclass pops declared
    # fields off the class.
    source = serializers.CharField(  # type: ignore[assignment]
        required=False, max_length=100, help_text='Default "api".'
    )
    vendor = serializers.CharField(
        required=False,
        max_length=200,
        help_text="contract_renewal: the incumbent vendor; competitor_news: the competitor.",
    )
    renews_at = serializers.DateField(
        required=False, help_text="contract_renewal only (required there): the renewal date."
    )

    def to_internal_value(self, data: Any) -> Any:
        return _checked(account_event_parse, data)


class IntentSignalInputSerializer(_AccountFields):
    """One third-party intent signal."""

    external_id = serializers.CharField(
        required=False,
        max_length=255,
        help_text="Unique per source. Without one, the same account, topic, source and "
        "observed_at is the same signal.",
    )
    topic = serializers.CharField(max_length=200)
    surge_score = serializers.FloatField(
        min_value=0, max_value=1000, help_text="Against the baseline: 3.4 is a 340% surge."
    )
    observed_at = serializers.DateTimeField()
    source = serializers.CharField(required=False, max_length=100)  # type: ignore[assignment]

    def to_internal_value(self, data: Any) -> Any:
        return _checked(intent_parse, data)


class TechnologyInputSerializer(_AccountFields):
    """One technology seen at an account; one row per account and (normalised) name."""

    name = serializers.CharField(max_length=100)
    category = serializers.CharField(required=False, max_length=100)
    seen_at = serializers.DateTimeField(required=False, help_text="Default: now.")
    source = serializers.CharField(required=False, max_length=100)  # type: ignore[assignment]

    def to_internal_value(self, data: Any) -> Any:
        return _checked(technology_parse, data)


def _checked(parse: Callable[..., tuple[Any, Errors]], data: Any) -> Any:
    _, errors = parse(data, now=timezone.now())
    if errors:
        raise serializers.ValidationError(errors)
    return data


class FeedItemOutputSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=ITEM_STATUS_CHOICES)
    record_id = serializers.IntegerField()
    account_id = serializers.IntegerField()


class FeedBatchItemOutputSerializer(serializers.Serializer):
    def get_fields(self) -> dict[str, serializers.Field]:
        # Declared here: a field named "errors" would hide Serializer.errors.
        return {
            "index": serializers.IntegerField(),
            "status": serializers.ChoiceField(choices=ITEM_STATUS_CHOICES),
            "record_id": serializers.IntegerField(allow_null=True),
            "account_id": serializers.IntegerField(allow_null=True),
            "errors": serializers.DictField(
                child=serializers.ListField(child=serializers.CharField()),
                required=False,
                help_text='Invalid items only: {"events[3].renews_at": ["..."]}.',
            ),
        }


class FeedBatchOutputSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    invalid = serializers.IntegerField()
    items = FeedBatchItemOutputSerializer(many=True)


class _FeedCreateApi(APIView):
    permission_classes = [scope_required(ApiScope.INGEST)]
    required_perms = FEED_PERMS
    throttle_classes = [IngestRateThrottle]
    parser_classes = [JSONParser]
    store: ClassVar[Store]
    InputSerializer: ClassVar[type[serializers.Serializer]]

    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = type(self).store(items=[serializer.validated_data], all_or_nothing=True)
        item = result.items[0]
        if item.status == ItemStatus.INVALID:  # e.g. an unknown account; nothing stored
            raise serializers.ValidationError(item.errors)
        return Response(
            FeedItemOutputSerializer(item).data,
            status=status.HTTP_201_CREATED if item.status == ItemStatus.CREATED else 200,
        )


class _FeedBatchCreateApi(APIView):
    permission_classes = [scope_required(ApiScope.INGEST)]
    required_perms = FEED_PERMS
    throttle_classes = [IngestRateThrottle]
    parser_classes = [JSONParser]
    store: ClassVar[Store]
    envelope: ClassVar[str]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        _batch_body_read(request)

    def post(self, request: Request) -> Response:
        items = _envelope_check(request.data, self.envelope)
        result = type(self).store(items=items)
        return Response(
            {
                "created": result.created,
                "duplicates": result.duplicates,
                "invalid": result.invalid,
                "items": [_item_output(item, self.envelope) for item in result.items],
            }
        )


def _batch_body_read(request: Request) -> None:
    """The body limit of /api/v1/events/batch, read early under it (see EventBatchCreateApi)."""
    http_request = request._request
    length = int(http_request.META.get("CONTENT_LENGTH") or 0)
    if length > MAX_BATCH_BODY_BYTES:
        raise RequestTooLarge(
            f"The batch is {length:,} bytes; at most {MAX_BATCH_BODY_BYTES:,} are accepted. "
            "Send fewer items per batch."
        )
    started = getattr(http_request, "_read_started", False)
    if length and not started and not hasattr(http_request, "_body"):
        http_request._body = http_request.read()


def _envelope_check(data: Any, key: str) -> list[Any]:
    """Only the envelope; the items are checked one by one by the service."""
    if not isinstance(data, dict):
        raise serializers.ValidationError(
            {"non_field_errors": [f'Expected an object: {{"{key}": [...]}}.']}
        )
    errors = {str(k): ["Unknown field."] for k in sorted(map(str, data.keys() - {key}))}
    items = data.get(key)
    if not isinstance(items, list):
        errors[key] = ["Must be a list."]
    elif not 1 <= len(items) <= MAX_BATCH:
        errors[key] = [f"Must hold between 1 and {MAX_BATCH} items (got {len(items)})."]
    if errors:
        raise serializers.ValidationError(errors)
    assert isinstance(items, list)
    return items


def _item_output(item: FeedItem, envelope: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "index": item.index,
        "status": item.status,
        "record_id": item.record_id,
        "account_id": item.account_id,
    }
    if item.errors:
        prefix = f"{envelope}[{item.index}]"
        out["errors"] = {
            (prefix if path == "non_field_errors" else f"{prefix}.{path}"): messages
            for path, messages in item.errors.items()
        }
    return out


def _batch_input(name: str, key: str, child: serializers.Serializer) -> type:
    return type(
        name,
        (serializers.Serializer,),
        {key: serializers.ListField(child=child, min_length=1, max_length=MAX_BATCH)},
    )


def _single_schema(operation_id: str, serializer: type, example: dict[str, Any]) -> Any:
    return extend_schema(
        operation_id=operation_id,
        request=serializer,
        responses={
            201: FeedItemOutputSerializer,
            200: OpenApiResponse(FeedItemOutputSerializer, description="Already stored."),
            **error_responses(400, 401, 403, 429),
        },
        examples=[OpenApiExample("An item", value=example, request_only=True)],
    )


def _batch_schema(operation_id: str, request: type, key: str, example: dict[str, Any]) -> Any:
    return extend_schema(
        operation_id=operation_id,
        request=request,
        responses={200: FeedBatchOutputSerializer, **error_responses(400, 401, 403, 413, 429)},
        examples=[OpenApiExample("A batch", value={key: [example]}, request_only=True)],
    )


class AccountEventCreateApi(_FeedCreateApi):
    """POST /api/v1/account-events: one account event."""

    store = staticmethod(account_events_store)
    InputSerializer = AccountEventInputSerializer

    @_single_schema("account_events_create", AccountEventInputSerializer, _EXAMPLE_RENEWAL)
    def post(self, request: Request) -> Response:
        return super().post(request)


class AccountEventBatchCreateApi(_FeedBatchCreateApi):
    """POST /api/v1/account-events/batch: up to 10,000 account events, item by item."""

    store = staticmethod(account_events_store)
    envelope = "events"

    @_batch_schema(
        "account_events_batch_create",
        _batch_input("AccountEventBatchInput", "events", AccountEventInputSerializer()),
        "events",
        _EXAMPLE_RENEWAL,
    )
    def post(self, request: Request) -> Response:
        return super().post(request)


class IntentSignalCreateApi(_FeedCreateApi):
    """POST /api/v1/intent-signals: one intent signal."""

    store = staticmethod(intent_signals_store)
    InputSerializer = IntentSignalInputSerializer

    @_single_schema("intent_signals_create", IntentSignalInputSerializer, _EXAMPLE_INTENT)
    def post(self, request: Request) -> Response:
        return super().post(request)


class IntentSignalBatchCreateApi(_FeedBatchCreateApi):
    """POST /api/v1/intent-signals/batch: up to 10,000 intent signals, item by item."""

    store = staticmethod(intent_signals_store)
    envelope = "signals"

    @_batch_schema(
        "intent_signals_batch_create",
        _batch_input("IntentSignalBatchInput", "signals", IntentSignalInputSerializer()),
        "signals",
        _EXAMPLE_INTENT,
    )
    def post(self, request: Request) -> Response:
        return super().post(request)


class TechnologyCreateApi(_FeedCreateApi):
    """POST /api/v1/technologies: one technology seen at an account."""

    store = staticmethod(technologies_store)
    InputSerializer = TechnologyInputSerializer

    @_single_schema("technologies_create", TechnologyInputSerializer, _EXAMPLE_TECHNOLOGY)
    def post(self, request: Request) -> Response:
        return super().post(request)


class TechnologyBatchCreateApi(_FeedBatchCreateApi):
    """POST /api/v1/technologies/batch: up to 10,000 technologies, item by item."""

    store = staticmethod(technologies_store)
    envelope = "technologies"

    @_batch_schema(
        "technologies_batch_create",
        _batch_input("TechnologyBatchInput", "technologies", TechnologyInputSerializer()),
        "technologies",
        _EXAMPLE_TECHNOLOGY,
    )
    def post(self, request: Request) -> Response:
        return super().post(request)
