"""REST API of qualification: leads, feedback and the model registry (accounts, with their
roll-up and stored qualification, are in `scoring.account_apis`, built on the pieces here).

One APIView per operation (`<Noun><Verb>Api`) with nested Input and Output serializers; the
views parse, call one selector or service, and shape the answer. Reads take a token of scope
"read" or a signed-in user with the model permissions named on each view; writes (feedback,
model activation) are a person's act and take a signed-in user only, never a token.

Lists are keyset-paginated: `page_size` (1 to MAX_PAGE_SIZE) and the opaque `cursor` of the
previous page's `next_cursor`.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Model
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers
from rest_framework.exceptions import APIException, NotFound, ValidationError
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import ApiScope, ApiToken, Lead
from leadqual.api import api_user, error_responses, scope_required
from scoring import selectors, services
from scoring.models import (
    FeedbackReason,
    FeedbackVerdict,
    ModelKind,
    ModelStatus,
    ModelVersion,
    Qualification,
    Tier,
)
from scoring.selectors import CurrentAssignment, Page, Position

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
# The largest id a database here can hold (a signed 64-bit integer). A larger one in a filter
# is refused as input: SQLite cannot even bind it in a foreign-key comparison.
MAX_ID = 2**63 - 1

_Row = TypeVar("_Row", bound=Model)

# --- permissions ----------------------------------------------------------------------------


def _is_token(request: Request) -> bool:
    return isinstance(request.auth, ApiToken)


def session_permission_required(*perms: str) -> type[BasePermission]:
    """A person's act: a logged-in user holding every one of `perms`. No API token of any
    scope passes: an integration must not accept a lead for a rep or switch the live model."""

    class SessionPermissionRequired(BasePermission):
        message = (
            f"This operation needs a logged-in user with {', '.join(perms)}; API tokens "
            "cannot perform it."
        )

        def has_permission(self, request: Request, view: APIView) -> bool:
            if _is_token(request):
                return False
            user = request.user
            return bool(user and user.is_authenticated and user.has_perms(perms))

    return SessionPermissionRequired


# Reads: a "read" token, or a logged-in person holding the view's required_perms.
READ = [scope_required(ApiScope.READ)]
LEAD_READ = ("accounts.view_lead", "scoring.view_qualification")
# The roll-up shows tiers and probabilities of the account's leads.
ACCOUNT_READ = ("accounts.view_account", "accounts.view_lead", "scoring.view_qualification")
MODEL_READ = ("scoring.view_modelversion",)


# --- pagination -----------------------------------------------------------------------------


def _encode_cursor(position: Position | None) -> str | None:
    if position is None:
        return None
    value = position.value.isoformat() if isinstance(position.value, datetime) else position.value
    raw = json.dumps([value, position.pk], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str | None, *, parse: Callable[[str], Any]) -> Position | None:
    """The position a cursor names; a ValidationError on `cursor` for anything not ours."""
    if not cursor:
        return None
    invalid = ValidationError({"cursor": ["Invalid cursor: pass a next_cursor as returned."]})
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value, pk = json.loads(raw)
        if not isinstance(value, str) or not isinstance(pk, int) or isinstance(pk, bool):
            raise invalid
        return Position(parse(value), pk)
    except (binascii.Error, ValueError, TypeError, OverflowError) as exc:
        raise invalid from exc


def _parse_datetime(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError("naive datetime in a cursor")
    # In UTC now, where the database compares it: a forged "0001-01-01T00:00+05:00" fails here
    # (OverflowError) as a bad cursor rather than in the query as a server error.
    return moment.astimezone(UTC)


def _parse_text(value: str) -> str:
    return value


class PageInputSerializer(serializers.Serializer):
    cursor = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=500,
        help_text="The next_cursor of the previous page.",
    )
    page_size = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_PAGE_SIZE, default=DEFAULT_PAGE_SIZE
    )


def _paginated(name: str, item: type[serializers.Serializer]) -> type[serializers.Serializer]:
    """The envelope of a page of `item`s, named `name` in the schema."""

    class PageSerializer(serializers.Serializer):
        results = item(many=True)
        next_cursor = serializers.CharField(
            allow_null=True, help_text="Pass as `cursor` for the next page; null on the last."
        )
        next = serializers.URLField(allow_null=True, help_text="The next page's URL.")

        class Meta:
            ref_name = name

    return PageSerializer


def _page_response(
    request: Request,
    page: Page[_Row],
    output: type[serializers.Serializer],
    context: dict[str, Any] | None = None,
) -> Response:
    cursor = _encode_cursor(page.next_position)
    next_url = None
    if cursor is not None:
        query = request.query_params.copy()
        query["cursor"] = cursor
        next_url = request.build_absolute_uri(f"{request.path}?{query.urlencode()}")
    data = {"results": page.items, "next_cursor": cursor, "next": next_url}
    return Response(output(data, context=context or {}).data)


def _query_input(
    serializer_class: type[serializers.Serializer], request: Request
) -> dict[str, Any]:
    serializer = serializer_class(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


# --- shared output pieces -------------------------------------------------------------------


def _responses(ok: dict[int, Any], *errors: int) -> dict[int, Any]:
    """Success responses plus the errors an operation answers, in the one error shape."""
    return {**ok, **error_responses(401, 403, *errors)}


class NestedField(serializers.Field):
    """A nested object that `get` finds for the instance (None shows as null), rendered by
    one `serializer_class` built once per serializer rather than once per row.

    A SerializerMethodField that builds a serializer per row rebuilds its fields every time:
    about a millisecond a row, most of the cost of a 200-row page.
    """

    serializer_class: type[serializers.Serializer]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(source="*", read_only=True, **kwargs)
        self.nested = self.serializer_class()

    def get(self, instance: Any) -> Any:
        raise NotImplementedError

    def to_representation(self, value: Any) -> Any:
        found = self.get(value)
        return None if found is None else self.nested.to_representation(found)


class UserRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    name = serializers.CharField(source="get_full_name")

    class Meta:
        ref_name = "UserRef"


class AccountRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    domain = serializers.CharField()

    class Meta:
        ref_name = "AccountRef"


class QualificationSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    computed_at = serializers.DateTimeField()
    is_current = serializers.BooleanField()
    tier = serializers.ChoiceField(choices=Tier.choices)
    conversion_probability = serializers.FloatField(allow_null=True)
    confidence = serializers.CharField()
    point_score = serializers.IntegerField()
    disqualification_reason = serializers.CharField(
        help_text="The reason code of the rule that decided; empty when the model did."
    )
    needs_review = serializers.BooleanField()
    model_version_id = serializers.IntegerField(allow_null=True)

    class Meta:
        ref_name = "QualificationSummary"


# The summary with the predicted ranges and the fit scores, shared by the detail and a history
# row (a comment, not a docstring: drf-spectacular would print it on both schemas).
class QualificationFiguresSerializer(QualificationSummarySerializer):
    timeline_days_low = serializers.IntegerField(allow_null=True)
    timeline_days_high = serializers.IntegerField(allow_null=True)
    deal_size_low = serializers.DecimalField(
        max_digits=14, decimal_places=2, allow_null=True, coerce_to_string=False
    )
    deal_size_high = serializers.DecimalField(
        max_digits=14, decimal_places=2, allow_null=True, coerce_to_string=False
    )
    fit_company = serializers.IntegerField(allow_null=True)
    fit_role = serializers.IntegerField(allow_null=True)
    fit_technology = serializers.IntegerField(allow_null=True)
    fit_timing = serializers.IntegerField(allow_null=True)


class QualificationDetailSerializer(QualificationFiguresSerializer):
    behaviour = serializers.DictField()
    intent = serializers.DictField()
    contributions = serializers.DictField()
    brief = serializers.DictField()
    recommended_action = serializers.CharField()

    class Meta:
        ref_name = "QualificationDetail"


class AssignmentSerializer(serializers.Serializer):
    assignment_id = serializers.IntegerField()
    status = serializers.CharField()
    queue = serializers.CharField()
    rep_user_id = serializers.IntegerField(allow_null=True)
    rep_name = serializers.CharField()
    assigned_at = serializers.DateTimeField()
    sla_due_at = serializers.DateTimeField(allow_null=True)
    reason = serializers.CharField()

    class Meta:
        ref_name = "CurrentAssignment"


@extend_schema_field(QualificationSummarySerializer(allow_null=True))
class CurrentQualificationSummaryField(NestedField):
    serializer_class = QualificationSummarySerializer

    def get(self, instance: Lead) -> Qualification | None:
        return selectors.lead_current_qualification(instance)


@extend_schema_field(QualificationDetailSerializer(allow_null=True))
class CurrentQualificationDetailField(NestedField):
    serializer_class = QualificationDetailSerializer

    def get(self, instance: Lead) -> Qualification | None:
        return selectors.lead_current_qualification(instance)


@extend_schema_field(AssignmentSerializer(allow_null=True))
class CurrentAssignmentField(NestedField):
    """The assignment the view looked up, passed in the context (routing provides it)."""

    serializer_class = AssignmentSerializer

    def get(self, instance: Lead) -> CurrentAssignment | None:
        assignment: CurrentAssignment | None = self.context.get("assignment")
        return assignment


class LeadSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    external_id = serializers.CharField(allow_null=True)
    name = serializers.CharField()
    title = serializers.CharField()
    status = serializers.CharField()
    # The serializer metaclass takes declared fields out of the class, so a field may share a
    # name with Field's own attributes; the stubs cannot know.
    source = serializers.CharField()  # type: ignore[assignment]
    country = serializers.CharField()
    account = AccountRefSerializer(allow_null=True)
    owner = UserRefSerializer(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    # Typed as the base: the detail shows the full qualification in its place.
    qualification: NestedField = CurrentQualificationSummaryField(allow_null=True)

    class Meta:
        ref_name = "LeadSummary"


def _lead_id_parameter(description: str) -> OpenApiParameter:
    return OpenApiParameter(
        "lead_id", OpenApiTypes.INT, OpenApiParameter.PATH, description=description
    )


def _get_lead(request: Request, lead_id: int) -> Lead:
    try:
        return selectors.lead_get_for_user(user=api_user(request), lead_id=lead_id)
    except Lead.DoesNotExist as exc:
        # The same answer for a lead that does not exist and one the caller may not see.
        raise NotFound(f"No lead {lead_id} that you can see.") from exc


# --- leads ----------------------------------------------------------------------------------


class LeadListApi(APIView):
    """Leads the caller may see, newest first."""

    permission_classes = READ
    required_perms = LEAD_READ

    class InputSerializer(PageInputSerializer):
        tier = serializers.ChoiceField(
            choices=Tier.choices, required=False, help_text="The current qualification's tier."
        )
        owner = serializers.CharField(
            required=False, help_text='A user id, or "me" for the signed-in user.'
        )
        account = serializers.IntegerField(
            required=False, min_value=1, max_value=MAX_ID, help_text="Account id."
        )
        updated_since = serializers.DateTimeField(
            required=False,
            help_text=(
                "ISO 8601. Leads whose fields changed, or whose current qualification was "
                "computed, at or after this moment."
            ),
        )

        class Meta:
            ref_name = "LeadListInput"

        def validate_owner(self, value: str) -> str:
            if value == "me":
                return value
            # Length first: int() refuses (ValueError) strings of thousands of digits.
            digits = value.isascii() and value.isdigit() and len(value) <= len(str(MAX_ID))
            if not (digits and 1 <= int(value) <= MAX_ID):
                raise serializers.ValidationError(f'Give a user id (1 to {MAX_ID}) or "me".')
            return value

    OutputSerializer = _paginated("LeadPage", LeadSummarySerializer)

    @extend_schema(
        operation_id="leads_list",
        parameters=[InputSerializer],
        responses=_responses({200: OutputSerializer}, 400),
        tags=["leads"],
    )
    def get(self, request: Request) -> Response:
        params = _query_input(self.InputSerializer, request)
        owner_id: int | None = None
        if params.get("owner") == "me":
            if _is_token(request):
                raise ValidationError({"owner": ['"me" needs a signed-in user, not a token.']})
            owner_id = request.user.pk
        elif "owner" in params:
            owner_id = int(params["owner"])
        page = selectors.lead_list(
            user=api_user(request),
            filters=selectors.LeadFilters(
                tier=params.get("tier"),
                owner_id=owner_id,
                account_id=params.get("account"),
                updated_since=params.get("updated_since"),
            ),
            after=_decode_cursor(params.get("cursor"), parse=_parse_datetime),
            limit=params["page_size"],
        )
        return _page_response(request, page, self.OutputSerializer)


class LeadDetailApi(APIView):
    """One lead with its current qualification (and brief) and its current assignment."""

    permission_classes = READ
    required_perms = LEAD_READ

    class OutputSerializer(LeadSummarySerializer):
        seniority = serializers.CharField()
        department = serializers.CharField()
        language = serializers.CharField()
        converted_at = serializers.DateTimeField(allow_null=True)
        closed_at = serializers.DateTimeField(allow_null=True)
        requalify_requested_at = serializers.DateTimeField(allow_null=True)
        qualification = CurrentQualificationDetailField(allow_null=True)
        assignment = CurrentAssignmentField(allow_null=True)

        class Meta:
            ref_name = "LeadDetail"

    @extend_schema(
        operation_id="leads_retrieve",
        parameters=[_lead_id_parameter("Lead id.")],
        responses=_responses({200: OutputSerializer}, 404),
        tags=["leads"],
    )
    def get(self, request: Request, lead_id: int) -> Response:
        lead = _get_lead(request, lead_id)
        assignment = selectors.lead_current_assignment(lead_id=lead.pk)
        return Response(self.OutputSerializer(lead, context={"assignment": assignment}).data)


class LeadQualificationListApi(APIView):
    """A lead's qualification history, newest first."""

    permission_classes = READ
    required_perms = LEAD_READ

    class InputSerializer(PageInputSerializer):
        class Meta:
            ref_name = "LeadQualificationListInput"

    class ItemSerializer(QualificationFiguresSerializer):
        recommended_action = serializers.CharField()

        class Meta:
            ref_name = "QualificationHistoryItem"

    OutputSerializer = _paginated("QualificationPage", ItemSerializer)

    @extend_schema(
        operation_id="leads_qualifications_list",
        parameters=[_lead_id_parameter("Lead id."), InputSerializer],
        responses=_responses({200: OutputSerializer}, 400, 404),
        tags=["leads"],
    )
    def get(self, request: Request, lead_id: int) -> Response:
        params = _query_input(self.InputSerializer, request)
        lead = _get_lead(request, lead_id)
        page = selectors.lead_qualification_history(
            lead=lead,
            after=_decode_cursor(params.get("cursor"), parse=_parse_datetime),
            limit=params["page_size"],
        )
        return _page_response(request, page, self.OutputSerializer)


# --- feedback -------------------------------------------------------------------------------


class LeadFeedbackCreateApi(APIView):
    """A rep accepts or rejects a lead, with a reason: a label for training and rule tuning."""

    permission_classes = [session_permission_required("scoring.add_feedback")]

    class InputSerializer(serializers.Serializer):
        verdict = serializers.ChoiceField(choices=FeedbackVerdict.choices)
        reason = serializers.ChoiceField(choices=FeedbackReason.choices)
        comment = serializers.CharField(required=False, allow_blank=True, max_length=5000)
        qualification_id = serializers.IntegerField(
            required=False,
            min_value=1,
            help_text="The qualification the rep saw; default: the lead's current one.",
        )
        revisit_on = serializers.DateField(
            required=False,
            allow_null=True,
            help_text=(
                "Reason bad_timing only: the day the lead resurfaces for its rep (future, at "
                "most a year ahead; default: the timing trigger's revisit days, 90)."
            ),
        )

        class Meta:
            ref_name = "FeedbackInput"

    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        lead_id = serializers.IntegerField()
        qualification_id = serializers.IntegerField(allow_null=True)
        user_id = serializers.IntegerField(allow_null=True)
        verdict = serializers.ChoiceField(choices=FeedbackVerdict.choices)
        reason = serializers.ChoiceField(choices=FeedbackReason.choices)
        comment = serializers.CharField()
        revisit_on = serializers.DateField(allow_null=True)
        created_at = serializers.DateTimeField()

        class Meta:
            ref_name = "Feedback"

    @extend_schema(
        operation_id="leads_feedback_create",
        # A person's act: no API token is accepted. (Security requirement objects, which
        # drf-spectacular's own type hint, a list of names, does not describe.)
        auth=[{"cookieAuth": []}],  # type: ignore[list-item]
        parameters=[_lead_id_parameter("Lead id.")],
        request=InputSerializer,
        responses=_responses({201: OutputSerializer}, 400, 404),
        examples=[
            OpenApiExample(
                "Not buying now (resurfaces in the timing trigger's revisit days)",
                value={"verdict": "reject", "reason": "bad_timing", "comment": "Budget in Q3"},
                request_only=True,
            )
        ],
        tags=["leads"],
    )
    def post(self, request: Request, lead_id: int) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        lead = _get_lead(request, lead_id)
        user = request.user
        assert isinstance(user, User)  # session_permission_required let only a person in
        try:
            feedback = services.feedback_create(lead=lead, user=user, **serializer.validated_data)
        except DjangoValidationError as exc:
            raise ValidationError(exc.message_dict) from exc
        return Response(self.OutputSerializer(feedback).data, status=201)


# --- models ---------------------------------------------------------------------------------


class ModelVersionSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=ModelKind.choices)
    status = serializers.ChoiceField(choices=ModelStatus.choices)
    trained_at = serializers.DateTimeField()
    data_from = serializers.DateTimeField(allow_null=True)
    data_to = serializers.DateTimeField(allow_null=True)
    training_rows = serializers.IntegerField()
    activated_at = serializers.DateTimeField(allow_null=True)
    activated_by = UserRefSerializer(allow_null=True)
    notes = serializers.CharField()
    headline_metrics = serializers.SerializerMethodField()

    class Meta:
        ref_name = "ModelVersionSummary"

    @extend_schema_field(serializers.DictField(child=serializers.FloatField(allow_null=True)))
    def get_headline_metrics(self, version: ModelVersion) -> dict[str, float | int | None]:
        return selectors.model_version_headline_metrics(version)


class ModelVersionDetailSerializer(ModelVersionSummarySerializer):
    feature_names = serializers.ListField(child=serializers.CharField())
    params = serializers.DictField()
    metrics = serializers.DictField(help_text="Every holdout and training metric stored.")

    class Meta:
        ref_name = "ModelVersionDetail"


def _model_id_parameter() -> OpenApiParameter:
    return OpenApiParameter(
        "model_id", OpenApiTypes.INT, OpenApiParameter.PATH, description="Model version id."
    )


def _get_model_version(model_id: int) -> ModelVersion:
    try:
        return selectors.model_version_get(model_version_id=model_id)
    except ModelVersion.DoesNotExist as exc:
        raise NotFound(f"No model version {model_id}.") from exc


class ModelListApi(APIView):
    """Model versions, newest first, with status and headline holdout metrics."""

    permission_classes = READ
    required_perms = MODEL_READ

    class InputSerializer(PageInputSerializer):
        kind = serializers.ChoiceField(choices=ModelKind.choices, required=False)
        status = serializers.ChoiceField(choices=ModelStatus.choices, required=False)

        class Meta:
            ref_name = "ModelListInput"

    OutputSerializer = _paginated("ModelVersionPage", ModelVersionSummarySerializer)

    @extend_schema(
        operation_id="models_list",
        parameters=[InputSerializer],
        responses=_responses({200: OutputSerializer}, 400),
        tags=["models"],
    )
    def get(self, request: Request) -> Response:
        params = _query_input(self.InputSerializer, request)
        page = selectors.model_version_list(
            kind=params.get("kind"),
            status=params.get("status"),
            after=_decode_cursor(params.get("cursor"), parse=_parse_datetime),
            limit=params["page_size"],
        )
        return _page_response(request, page, self.OutputSerializer)


class ModelDetailApi(APIView):
    """One model version with all its metrics."""

    permission_classes = READ
    required_perms = MODEL_READ

    OutputSerializer = ModelVersionDetailSerializer

    @extend_schema(
        operation_id="models_retrieve",
        parameters=[_model_id_parameter()],
        responses=_responses({200: OutputSerializer}, 404),
        tags=["models"],
    )
    def get(self, request: Request, model_id: int) -> Response:
        return Response(self.OutputSerializer(_get_model_version(model_id)).data)


class Conflict(APIException):
    status_code = 409
    default_code = "conflict"
    default_detail = "The request conflicts with the resource's state."


class ModelActivateApi(APIView):
    """Make this version the active one of its kind (the previous active one is retired).

    409 when its artifact cannot be loaded: serving it would stop every qualification.
    """

    permission_classes = [session_permission_required("scoring.change_modelversion")]

    OutputSerializer = ModelVersionDetailSerializer

    @extend_schema(
        operation_id="models_activate",
        # A person's act: no API token is accepted. (Security requirement objects, which
        # drf-spectacular's own type hint, a list of names, does not describe.)
        auth=[{"cookieAuth": []}],  # type: ignore[list-item]
        parameters=[_model_id_parameter()],
        request=None,
        responses=_responses({200: OutputSerializer}, 404, 409),
        tags=["models"],
    )
    def post(self, request: Request, model_id: int) -> Response:
        try:
            version = services.model_activate_checked(
                model_version=_get_model_version(model_id), user=request.user
            )
        except DjangoValidationError as exc:
            raise Conflict(" ".join(exc.messages)) from exc
        return Response(self.OutputSerializer(_get_model_version(version.pk)).data)
