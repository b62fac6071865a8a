"""REST API of accounts: each account with its roll-up and its stored qualification.

Moved out of `scoring.apis` when the account qualification joined the answer (that module
was at its size limit); the permissions, pagination and output pieces are shared with it.
The views parse, call the selectors and shape the answer: the roll-ups of a page in seven
grouped queries, the current account qualifications of the page in one.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Account
from scoring import account_selectors, selectors
from scoring.apis import (
    ACCOUNT_READ,
    READ,
    NestedField,
    PageInputSerializer,
    UserRefSerializer,
    _decode_cursor,
    _page_response,
    _paginated,
    _parse_text,
    _query_input,
    _responses,
)
from scoring.models import AccountPriority, AccountQualification
from scoring.selectors import AccountRollup


class IntentTopicSerializer(serializers.Serializer):
    topic = serializers.CharField()
    max_surge = serializers.FloatField()
    signals = serializers.IntegerField()

    class Meta:
        ref_name = "IntentTopic"


class RecentEventSerializer(serializers.Serializer):
    kind = serializers.CharField()
    title = serializers.CharField()
    occurred_at = serializers.DateTimeField()

    class Meta:
        ref_name = "AccountRecentEvent"


class RollupSerializer(serializers.Serializer):
    leads = serializers.IntegerField()
    qualified_leads = serializers.IntegerField()
    leads_by_tier = serializers.DictField(child=serializers.IntegerField())
    # A CharField, not a second enum of the same choices (the schema would name it twice).
    best_tier = serializers.CharField(
        allow_null=True,
        help_text="The best current tier among the leads (sales_ready, nurture, disqualify).",
    )
    highest_conversion_probability = serializers.FloatField(allow_null=True)
    engaged_stakeholders = serializers.IntegerField(
        help_text=f"Committee members active in the last {selectors.ROLLUP_ACTIVITY_DAYS} days."
    )
    committee_roles_covered = serializers.ListField(child=serializers.CharField())
    touches_30d = serializers.IntegerField()
    intent_signals_30d = serializers.IntegerField()
    max_intent_surge_30d = serializers.FloatField(allow_null=True)
    top_intent_topics = IntentTopicSerializer(many=True)
    events_90d = serializers.IntegerField()
    recent_events = RecentEventSerializer(many=True)

    class Meta:
        ref_name = "AccountRollup"


@extend_schema_field(RollupSerializer)
class RollupField(NestedField):
    """The account's roll-up, computed for the whole page by the view (in the context)."""

    serializer_class = RollupSerializer

    def get(self, instance: Account) -> AccountRollup:
        rollups: dict[int, AccountRollup] = self.context["rollups"]
        return rollups[instance.pk]


class AccountQualificationPartSerializer(serializers.Serializer):
    part = serializers.CharField(
        help_text="engagement, coverage, cross_functional, intent or timing."
    )
    # The serializer metaclass takes declared fields out of the class, so a field may share a
    # name with Field's own attributes; the stubs cannot know.
    label = serializers.CharField()  # type: ignore[assignment]
    points = serializers.IntegerField()
    max = serializers.IntegerField(help_text="The most points this part can give.")
    detail = serializers.CharField(help_text="Why it has its points, as of computed_at.")

    class Meta:
        ref_name = "AccountQualificationPart"


class AccountQualificationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    score = serializers.IntegerField(help_text="0-100: the sum of the parts' points.")
    priority = serializers.ChoiceField(
        choices=AccountPriority.choices,
        help_text="From the score by the admin's thresholds (Account scoring settings).",
    )
    parts = AccountQualificationPartSerializer(many=True)
    roles_engaged = serializers.ListField(
        child=serializers.CharField(),
        help_text="Buying-committee roles with someone active in the activity window.",
    )
    roles_quiet = serializers.ListField(
        child=serializers.CharField(), help_text="Roles someone holds, none of them active."
    )
    roles_missing = serializers.ListField(
        child=serializers.CharField(), help_text="Buying roles no one is mapped to."
    )
    departments = serializers.ListField(
        child=serializers.CharField(), help_text="Departments of the active people."
    )
    play = serializers.ListField(
        child=serializers.CharField(), help_text="The committee roles to reach next, as steps."
    )
    computed_at = serializers.DateTimeField()
    reason = serializers.CharField(
        help_text="What scored it: account_event, intent, technology, new_contact, nightly or "
        "manual."
    )
    reason_detail = serializers.CharField()

    class Meta:
        ref_name = "AccountQualification"


@extend_schema_field(AccountQualificationSerializer(allow_null=True))
class CurrentAccountQualificationField(NestedField):
    """The account's current stored qualification (null: never scored), read for the whole
    page by the view (in the context)."""

    serializer_class = AccountQualificationSerializer

    def get(self, instance: Account) -> AccountQualification | None:
        qualifications: dict[int, AccountQualification] = self.context["qualifications"]
        return qualifications.get(instance.pk)


class AccountSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    domain = serializers.CharField()
    industry = serializers.CharField()
    employee_count = serializers.IntegerField(allow_null=True)
    country = serializers.CharField()
    region = serializers.CharField()
    funding_stage = serializers.CharField()
    is_customer = serializers.BooleanField()
    is_competitor = serializers.BooleanField()
    owner = UserRefSerializer(allow_null=True)
    rollup = RollupField()
    qualification = CurrentAccountQualificationField(allow_null=True)

    class Meta:
        ref_name = "Account"


def _account_context(account_ids: list[int]) -> dict[str, Any]:
    return {
        "rollups": selectors.account_rollups(account_ids=account_ids),
        "qualifications": account_selectors.account_qualifications_current(account_ids=account_ids),
    }


class AccountListApi(APIView):
    """Accounts by name, each with its roll-up and its current stored qualification."""

    permission_classes = READ
    required_perms = ACCOUNT_READ

    class InputSerializer(PageInputSerializer):
        class Meta:
            ref_name = "AccountListInput"

    OutputSerializer = _paginated("AccountPage", AccountSerializer)

    @extend_schema(
        operation_id="accounts_list",
        parameters=[InputSerializer],
        responses=_responses({200: OutputSerializer}, 400),
        tags=["accounts"],
    )
    def get(self, request: Request) -> Response:
        params = _query_input(self.InputSerializer, request)
        page = selectors.account_list(
            after=_decode_cursor(params.get("cursor"), parse=_parse_text),
            limit=params["page_size"],
        )
        return _page_response(
            request, page, self.OutputSerializer, _account_context([a.pk for a in page.items])
        )


class AccountDetailApi(APIView):
    """One account with its roll-up and its current stored qualification (null: never
    scored)."""

    permission_classes = READ
    required_perms = ACCOUNT_READ

    OutputSerializer = AccountSerializer

    @extend_schema(
        operation_id="accounts_retrieve",
        parameters=[
            OpenApiParameter(
                "account_id", OpenApiTypes.INT, OpenApiParameter.PATH, description="Account id."
            )
        ],
        responses=_responses({200: OutputSerializer}, 404),
        tags=["accounts"],
    )
    def get(self, request: Request, account_id: int) -> Response:
        try:
            account = selectors.account_get(account_id=account_id)
        except Account.DoesNotExist as exc:
            raise NotFound(f"No account {account_id}.") from exc
        context = _account_context([account.pk])
        return Response(self.OutputSerializer(account, context=context).data)
