"""REST endpoints of the CRM record: event ingest (POST /api/v1/events, /api/v1/events/batch).

Both take an "ingest" token (or a logged-in person allowed to add touchpoints) and count
against the ingest rate limit, a batch as one request. The event's shape and its checks live
in accounts.events; the serializers here declare that shape for the OpenAPI schema and hand
the raw input to the same checks, so the schema and the validation cannot drift apart
(tests/api/test_events_api.py compares their field names).
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.events import event_parse
from accounts.ingest import (
    ITEM_STATUS_CHOICES,
    MAX_BATCH,
    IngestItem,
    ItemStatus,
    events_ingest,
)
from accounts.models import ApiScope, FormType, PageCategory, TouchpointKind
from leadqual.api import IngestRateThrottle, RequestTooLarge, error_responses, scope_required

INGEST_PERMS = ("accounts.add_touchpoint",)
# 10,000 events of 5 KB each. Django's DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB) is sized for
# forms and stays in force everywhere else.
MAX_BATCH_BODY_BYTES = 50 * 1024 * 1024


_EXAMPLE_EVENT = {
    "external_id": "evt-2026-11-26-7f3a",
    "kind": "page_view",
    "occurred_at": "2026-11-26T21:04:05Z",
    "url": "https://example.com/pricing",
    "page_category": "pricing",
    "duration_seconds": 42,
    "properties": {"utm_source": "newsletter"},
    "person": {"email": "jordan.lee@acme.com", "external_id": "visitor-123"},
}


class PersonInputSerializer(serializers.Serializer):
    email = serializers.EmailField(required=False, max_length=254)
    external_id = serializers.CharField(required=False, max_length=255)
    name = serializers.CharField(required=False, allow_blank=True, max_length=255)
    title = serializers.CharField(required=False, allow_blank=True, max_length=255)
    company_domain = serializers.CharField(required=False, allow_blank=True, max_length=255)


class EventInputSerializer(serializers.Serializer):
    """One event. The fields document the shape; `accounts.events.event_parse` checks it."""

    external_id = serializers.CharField(
        max_length=255, help_text="Unique per event: sending it again changes nothing."
    )
    kind = serializers.ChoiceField(choices=TouchpointKind.choices)
    occurred_at = serializers.DateTimeField(
        help_text="ISO 8601 with a time zone offset; at most an hour ahead of the server."
    )
    url = serializers.URLField(required=False, allow_blank=True, max_length=1000)
    page_category = serializers.ChoiceField(
        choices=PageCategory.choices, required=False, allow_blank=True
    )
    duration_seconds = serializers.IntegerField(required=False, allow_null=True, min_value=0)
    form_type = serializers.ChoiceField(choices=FormType.choices, required=False, allow_blank=True)
    text = serializers.CharField(required=False, allow_blank=True, max_length=20_000)
    properties = serializers.DictField(required=False)
    person = PersonInputSerializer(
        help_text="Found by external_id, else by email; created when new (needs the email)."
    )

    def to_internal_value(self, data: Any) -> Any:
        _, errors = event_parse(data, now=timezone.now())
        if errors:
            raise serializers.ValidationError(errors)
        return data


class EventOutputSerializer(serializers.Serializer):
    # Never "invalid" here (that is a 400), but one enum for both endpoints in the schema.
    status = serializers.ChoiceField(choices=ITEM_STATUS_CHOICES)
    touchpoint_id = serializers.IntegerField()
    lead_id = serializers.IntegerField()


class EventBatchItemOutputSerializer(serializers.Serializer):
    def get_fields(self) -> dict[str, serializers.Field]:
        # Declared here, not as attributes: a field named "errors" would hide Serializer.errors.
        return {
            "index": serializers.IntegerField(),
            "status": serializers.ChoiceField(choices=ITEM_STATUS_CHOICES),
            "touchpoint_id": serializers.IntegerField(allow_null=True),
            "lead_id": serializers.IntegerField(allow_null=True),
            "errors": serializers.DictField(
                child=serializers.ListField(child=serializers.CharField()),
                required=False,
                help_text='Invalid items only: {"events[3].occurred_at": ["..."]}.',
            ),
        }


class EventCreateApi(APIView):
    """POST /api/v1/events: one event. 201 when stored, 200 when it was already (a replay);
    400 with field errors, storing nothing, when it is invalid."""

    permission_classes = [scope_required(ApiScope.INGEST)]
    required_perms = INGEST_PERMS
    throttle_classes = [IngestRateThrottle]
    parser_classes = [JSONParser]

    InputSerializer = EventInputSerializer
    OutputSerializer = EventOutputSerializer

    @extend_schema(
        operation_id="events_create",
        request=EventInputSerializer,
        responses={
            201: EventOutputSerializer,
            200: OpenApiResponse(EventOutputSerializer, description="Already stored: a replay."),
            **error_responses(400, 401, 403, 429),
        },
        examples=[OpenApiExample("A page view", value=_EXAMPLE_EVENT, request_only=True)],
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = events_ingest(events=[serializer.validated_data])
        item = result.items[0]
        if item.status == ItemStatus.INVALID:
            # Found out while matching the person (e.g. a new person without an email);
            # nothing was stored.
            raise serializers.ValidationError(item.errors)
        created = item.status == ItemStatus.CREATED
        return Response(
            self.OutputSerializer(item).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class EventBatchCreateApi(APIView):
    """POST /api/v1/events/batch: up to 10,000 events, answered item by item.

    The valid events are stored and the invalid ones reported with their errors (paths like
    `events[3].occurred_at`): one malformed event must not cost a tracker the rest of its
    buffer. Only a malformed batch (not a list, empty, too long) is refused whole, with 400.
    """

    permission_classes = [scope_required(ApiScope.INGEST)]
    required_perms = INGEST_PERMS
    throttle_classes = [IngestRateThrottle]
    parser_classes = [JSONParser]

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "EventBatchInput"

        events = serializers.ListField(
            child=EventInputSerializer(), min_length=1, max_length=MAX_BATCH
        )

        def to_internal_value(self, data: Any) -> Any:
            # The items are checked one by one by the service, which reports each; here only
            # the envelope, so one bad item does not refuse the batch.
            if not isinstance(data, dict):
                raise serializers.ValidationError(
                    {"non_field_errors": ['Expected an object: {"events": [...]}.']}
                )
            unknown = sorted(str(key) for key in data.keys() - {"events"})
            errors = {key: ["Unknown field."] for key in unknown}
            events = data.get("events")
            if not isinstance(events, list):
                errors["events"] = ["Must be a list of events."]
            elif not 1 <= len(events) <= MAX_BATCH:
                errors["events"] = [
                    f"Must hold between 1 and {MAX_BATCH} events (got {len(events)})."
                ]
            if errors:
                raise serializers.ValidationError(errors)
            return {"events": events}

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "EventBatchOutput"

        created = serializers.IntegerField()
        duplicates = serializers.IntegerField()
        invalid = serializers.IntegerField()
        leads_created = serializers.IntegerField()
        items = EventBatchItemOutputSerializer(many=True)

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # authenticated, allowed and not throttled
        http_request = request._request
        length = int(http_request.META.get("CONTENT_LENGTH") or 0)
        if length > MAX_BATCH_BODY_BYTES:
            raise RequestTooLarge(
                f"The batch is {length:,} bytes; at most {MAX_BATCH_BODY_BYTES:,} are accepted. "
                "Send fewer events per batch."
            )
        started = getattr(http_request, "_read_started", False)
        if length and not started and not hasattr(http_request, "_body"):
            # Read here, under this endpoint's own limit: once `_body` is set, Django's
            # HttpRequest.body (which DRF's JSON parser reads) no longer applies
            # DATA_UPLOAD_MAX_MEMORY_SIZE.
            http_request._body = http_request.read()

    @extend_schema(
        operation_id="events_batch_create",
        request=InputSerializer,
        responses={200: OutputSerializer, **error_responses(400, 401, 403, 413, 429)},
        examples=[
            OpenApiExample(
                "Two events",
                value={
                    "events": [
                        _EXAMPLE_EVENT,
                        {
                            **_EXAMPLE_EVENT,
                            "external_id": "evt-2026-11-26-7f3b",
                            "kind": "form_submit",
                            "form_type": "demo_request",
                            "url": "https://example.com/demo",
                            "page_category": "demo",
                            "duration_seconds": None,
                        },
                    ]
                },
                request_only=True,
            )
        ],
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = events_ingest(events=serializer.validated_data["events"])
        # Built as plain dicts: OutputSerializer documents the shape, but running a
        # serializer over 10,000 items would cost more than storing them.
        return Response(
            {
                "created": result.created,
                "duplicates": result.duplicates,
                "invalid": result.invalid,
                "leads_created": result.leads_created,
                "items": [_item_output(item) for item in result.items],
            }
        )


def _item_output(item: IngestItem) -> dict[str, Any]:
    out: dict[str, Any] = {
        "index": item.index,
        "status": item.status,
        "touchpoint_id": item.touchpoint_id,
        "lead_id": item.lead_id,
    }
    if item.errors:
        prefix = f"events[{item.index}]"
        out["errors"] = {
            (prefix if path == "non_field_errors" else f"{prefix}.{path}"): messages
            for path, messages in item.errors.items()
        }
    return out
