"""The admin of the alternative paths: each path's destination, and the webhook delivery log.

Registered from routing/admin.py. A sales manager gives each path (success, support, community,
nurture, the low-priority pool) one destination: a team with its own queue page, a Salesforce
queue or user as owner, or a webhook. A path without one keeps its leads in the queue, unowned,
and the list says which paths those are.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.validators import URLValidator
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from accounts.admin import ReadOnlyAdmin
from routing.models import (
    ALTERNATIVE_PATHS,
    PathDestination,
    PathDestinationKind,
    Queue,
    WebhookDelivery,
    WebhookDeliveryStatus,
)
from routing.path_services import webhook_deliveries_redeliver


class PathDestinationForm(forms.ModelForm):
    webhook_url = forms.URLField(
        label="Webhook URL",
        required=False,
        max_length=500,
        assume_scheme="https",
        validators=[URLValidator(schemes=["http", "https"])],
        help_text="Webhook: where each lead routed here is POSTed (https, or http on a private "
        "network).",
    )

    class Meta:
        model = PathDestination
        fields = (
            "path",
            "kind",
            "members",
            "salesforce_owner_id",
            "webhook_url",
            "webhook_secret",
            "webhook_timeout_seconds",
            "notes",
        )
        widgets = {"webhook_secret": forms.TextInput(attrs={"size": 60, "autocomplete": "off"})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        members = self.fields.get("members")
        if isinstance(members, forms.ModelMultipleChoiceField):
            members.queryset = (
                get_user_model()
                .objects.filter(is_active=True)
                .order_by("first_name", "last_name", "username")
            )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("kind") == PathDestinationKind.TEAM and not cleaned.get("members"):
            self.add_error(
                "members",
                "A team destination needs at least one member: the people who will see this "
                "path's page and mark its leads handled.",
            )
        return cleaned


@admin.register(PathDestination)
class PathDestinationAdmin(admin.ModelAdmin):
    form = PathDestinationForm
    list_display = ("path", "kind", "holder", "updated_at")
    list_filter = ("kind",)
    filter_horizontal = ("members",)
    readonly_fields = ("deliveries", "updated_at")
    fieldsets = (
        (
            None,
            {
                "fields": ("path", "kind", "notes"),
                "description": (
                    "Where the leads of one alternative path go, so that they are not left "
                    "unowned. Fill in the part for the kind you choose; the others are ignored."
                ),
            },
        ),
        (
            "Team",
            {
                "fields": ("members",),
                "description": (
                    "The members find this path under “Paths” in their navigation: the leads "
                    "waiting there, why, and a button to mark each one handled."
                ),
            },
        ),
        (
            "Salesforce",
            {
                "fields": ("salesforce_owner_id",),
                "description": (
                    "The push makes this queue (00G…) or user (005…) the owner of the path's "
                    "leads. The queue must list Lead among its supported objects "
                    "(docs/paths.md)."
                ),
            },
        ),
        (
            "Webhook",
            {
                "fields": (
                    "webhook_url",
                    "webhook_secret",
                    "webhook_timeout_seconds",
                    "deliveries",
                ),
                "description": (
                    "Each lead routed to the path is POSTed as JSON, signed with HMAC-SHA256 "
                    "of the body under this secret (header X-Leadqual-Signature), retried on "
                    "5xx or no answer, not on 4xx (docs/paths.md)."
                ),
            },
        ),
        (None, {"fields": ("updated_at",)}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[PathDestination]:
        return super().get_queryset(request).prefetch_related("members")

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)
        if self.has_change_permission(request, obj) or (
            obj is None and self.has_add_permission(request)
        ):
            return fieldsets
        # Read-only viewers (RevOps) see that a secret is set, not the secret.
        return [
            (
                name,
                {
                    **options,
                    "fields": tuple(
                        "secret_set" if field == "webhook_secret" else field
                        for field in options["fields"]
                    ),
                },
            )
            for name, options in fieldsets
        ]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return (*super().get_readonly_fields(request, obj), "secret_set")

    @admin.display(description="webhook secret")
    def secret_set(self, obj: PathDestination) -> str:
        return "set (shown to those who may change it)" if obj.webhook_secret else "not set"

    @admin.display(description="held by")
    def holder(self, obj: PathDestination) -> str:
        if obj.kind == PathDestinationKind.TEAM:
            names = [user.get_full_name() or user.get_username() for user in obj.members.all()]
            return f"Team: {', '.join(names)}" if names else "Team: nobody yet"
        if obj.kind == PathDestinationKind.SALESFORCE:
            return f"Salesforce owner {obj.salesforce_owner_id}"
        return f"Webhook {obj.webhook_url}"

    @admin.display(description="delivery log")
    def deliveries(self, obj: PathDestination) -> str:
        if obj.pk is None:
            return "—"
        counts = dict(
            WebhookDelivery.objects.filter(path=obj.path)
            .order_by()
            .values_list("status")
            .annotate(n=Count("pk"))
            .values_list("status", "n")
        )
        url = reverse("admin:routing_webhookdelivery_changelist") + f"?path__exact={obj.path}"
        if not counts:
            return "No deliveries yet."
        parts = format_html_join(
            ", ",
            "{} {}",
            (
                (counts[status], WebhookDeliveryStatus(status).label.lower())
                for status in WebhookDeliveryStatus.values
                if status in counts
            ),
        )
        return format_html('{} · <a href="{}">the delivery log</a>', parts, url)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        configured = set(PathDestination.objects.values_list("path", flat=True))
        without = [Queue(path).label for path in ALTERNATIVE_PATHS if path not in configured]
        if without:
            messages.info(
                request,
                f"No destination yet: {', '.join(without)}. Leads on "
                f"{'that path' if len(without) == 1 else 'those paths'} wait in the queue, "
                "unowned, as before; add a destination to give them a holder.",
            )
        return super().changelist_view(request, extra_context)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    """Every webhook delivery: its status, attempts and the receiver's last answer."""

    list_display = (
        "created_at",
        "path",
        "status",
        "attempts",
        "last_status_code",
        "last_attempt_at",
        "next_attempt_at",
        "delivered_at",
        "assignment",
    )
    list_filter = ("status", "path")
    list_select_related = ("assignment__rep__user",)
    search_fields = ("=assignment__lead__email",)  # turns the box on; see get_search_results
    search_help_text = "A delivery id (X-Leadqual-Delivery), or a lead's exact email address."
    raw_id_fields = ("assignment", "destination")
    date_hierarchy = "created_at"
    show_full_result_count = False
    list_per_page = 50
    actions = ["deliver_again"]
    fields = (
        "delivery_id",
        "path",
        "assignment",
        "destination",
        "url",
        "status",
        "attempts",
        "last_status_code",
        "last_error",
        "created_at",
        "last_attempt_at",
        "next_attempt_at",
        "delivered_at",
        "document",
    )
    readonly_fields = fields

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[WebhookDelivery], search_term: str
    ) -> tuple[QuerySet[WebhookDelivery], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        try:
            # What a receiver quotes: the delivery id from the request's header.
            return queryset.filter(delivery_id=uuid.UUID(term)), False
        except ValueError:
            return queryset.filter(assignment__lead__email__iexact=term), False

    @admin.display(description="body sent")
    def document(self, obj: WebhookDelivery) -> str:
        if not obj.body:
            return "Not built yet: the first attempt builds it."
        try:
            pretty = json.dumps(json.loads(obj.body), indent=2, ensure_ascii=False)
        except ValueError:
            pretty = obj.body
        return format_html("<pre>{}</pre>", pretty)

    def has_redeliver_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("routing.change_webhookdelivery")

    @admin.action(description="Deliver again (failed deliveries)", permissions=["redeliver"])
    def deliver_again(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        count = webhook_deliveries_redeliver(
            delivery_ids=list(queryset.values_list("pk", flat=True))
        )
        if count:
            self.message_user(
                request,
                f"{count} deliver{'y' if count == 1 else 'ies'} sent again, with the same "
                "delivery id and body.",
                messages.SUCCESS,
            )
        else:
            self.message_user(
                request, "Only failed deliveries are sent again; none was selected.", messages.INFO
            )
