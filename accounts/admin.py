"""Admin for the CRM record, and the helpers the other apps' admins share.

The big tables (leads: 100,000+, touchpoints: millions) follow three rules: every foreign key a
changelist shows is joined (`list_select_related`), foreign keys to big tables are edited by id
or autocomplete, and nothing counts a big table twice (`BigTableAdmin`).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from functools import cached_property
from typing import Any, Self

from django import forms
from django.contrib import admin
from django.contrib.admin import helpers
from django.contrib.admin.options import IS_POPUP_VAR
from django.contrib.admin.utils import flatten_fieldsets, unquote
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import connections, models
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from accounts.models import (
    Account,
    AccountEvent,
    AccountTechnology,
    ApiToken,
    IntentSignal,
    Lead,
    Opportunity,
    SalesforceSyncRun,
    SalesforceSyncState,
    Stakeholder,
    Touchpoint,
)

# --- shared helpers ------------------------------------------------------------------------

# Below this many rows an exact COUNT(*) is cheap; above it PostgreSQL's own estimate is used.
EXACT_COUNT_BELOW = 200_000


class EstimatedCountPaginator(Paginator):
    """Counts an unfiltered big table from PostgreSQL's statistics instead of COUNT(*).

    COUNT(*) reads every row on PostgreSQL: seconds on millions of touchpoints, on every page
    of the changelist. Filtered lists are narrower and are counted exactly.
    """

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if isinstance(queryset, QuerySet) and not queryset.query.where:
            connection = connections[queryset.db]
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(%s)",
                        [queryset.model._meta.db_table],
                    )
                    row = cursor.fetchone()
                if row is not None and row[0] >= EXACT_COUNT_BELOW:
                    return int(row[0])
        return super().count


class BigTableAdmin(admin.ModelAdmin):
    """Defaults for a table that grows without bound."""

    paginator = EstimatedCountPaginator
    # The "N of M" line would count the whole table again on every filtered page.
    show_full_result_count = False
    list_per_page = 50


class SingletonAdmin(admin.ModelAdmin):
    """A one-row settings model: the list goes straight to the row, which can be neither added
    twice nor deleted. The model provides `load()`, which creates the row on first use."""

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        row = self.model.load()
        return HttpResponseRedirect(
            reverse(
                f"admin:{self.opts.app_label}_{self.opts.model_name}_change",
                args=[row.pk],
                current_app=self.admin_site.name,
            )
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        # The services read the one row with Model.load(); a second row would be ignored.
        return super().has_add_permission(request) and not self.model.objects.exists()

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class DryRunSizeFormBase(forms.Form):
    """The one number a dry run takes (days, leads), read from the POST or a link's query.

    A subclass declares the IntegerField named `field_name` (not required: empty means
    `default`) and the word `error_label` its errors are headed with.
    """

    field_name: str
    default: int
    error_label: str

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # It sits in a row of buttons ("Leads of the last [30] days"): no colon.
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)

    @classmethod
    def for_request(cls, request: HttpRequest) -> Self:
        """Bound to the POSTed value, or to ?<field_name>= on a link; empty means the default."""
        value = request.POST.get(cls.field_name, request.GET.get(cls.field_name, ""))
        return cls({cls.field_name: value})

    @classmethod
    def unbound_default(cls) -> Self:
        return cls({cls.field_name: ""})

    def error_outcome(self) -> dict[str, Any] | None:
        """The report panel's stand-in when the value is invalid, so the page says why at the
        top and not only beside the field at the bottom."""
        errors = self.errors.get(self.field_name)
        if not errors:
            return None
        return {
            "title": "Dry run not run",
            "error": f"{self.error_label}: {' '.join(map(str, errors))}",
        }

    @property
    def value(self) -> int:
        value = self.cleaned_data.get(self.field_name)
        return int(value) if value is not None else self.default


class DryRunChangeFormMixin(admin.ModelAdmin):
    """A "Dry run (don't save)" button on a rule's change form: the form is validated as Save
    would validate it, the subclass reports what the edit would do, and the same page renders
    with the report above the form. Nothing is saved.

    Follows ModelAdmin._changeform_view up to the save. Subclasses implement `dry_run_report`.
    """

    # True where the report reads more than a viewer may see (every rep's load, say).
    dry_run_requires_change = False

    def dry_run_report(
        self, request: HttpRequest, form: forms.ModelForm, *, add: bool, saved: Any
    ) -> dict[str, Any]:
        """The page's extra context: the report under "dry_run" (None when the form is
        invalid) and the subclass's own controls. `saved`: the row as stored before the edit
        was validated into `form.instance` (None when adding)."""
        raise NotImplementedError

    def dry_run_changeform(
        self,
        request: HttpRequest,
        object_id: str | None,
        form_url: str,
        extra_context: dict[str, Any] | None,
    ) -> HttpResponse:
        add = object_id is None
        obj: Any = None
        if self.dry_run_requires_change and not self.has_change_permission(request):
            raise PermissionDenied
        if object_id is None:
            if not self.has_add_permission(request):
                raise PermissionDenied
        else:
            obj = self.get_object(request, unquote(object_id))
            if obj is None:
                raise Http404(f"No {self.opts.verbose_name} with the id {object_id}.")
            if not self.has_change_permission(request, obj):
                raise PermissionDenied
        # Validation writes the edit into the instance: keep the stored values apart.
        saved = copy.copy(obj)
        fieldsets = self.get_fieldsets(request, obj)
        form_class = self.get_form(
            request, obj, change=not add, fields=flatten_fieldsets(fieldsets)
        )
        form = form_class(request.POST, request.FILES, instance=obj)
        report = self.dry_run_report(request, form, add=add, saved=saved)
        fieldset_list: list[Any] = list(fieldsets)
        admin_form = helpers.AdminForm(
            form,
            fieldset_list,
            self.get_prepopulated_fields(request, obj),
            self.get_readonly_fields(request, obj),
            model_admin=self,
        )
        context = {
            **self.admin_site.each_context(request),
            "title": ("Add %s" if add else "Change %s") % self.opts.verbose_name,
            "subtitle": str(saved) if saved is not None else None,
            "adminform": admin_form,
            "object_id": object_id,
            "original": obj,
            "is_popup": IS_POPUP_VAR in request.POST or IS_POPUP_VAR in request.GET,
            "to_field": None,
            "media": self.media + admin_form.media,
            "inline_admin_formsets": [],
            "errors": helpers.AdminErrorList(form, []),
            "preserved_filters": self.get_preserved_filters(request),
            **report,
            **(extra_context or {}),
        }
        return self.render_change_form(
            request, context, add=add, change=not add, obj=obj, form_url=form_url
        )

    def dry_run_page(
        self,
        request: HttpRequest,
        *,
        template: str,
        title: str,
        selected: Sequence[Any] | None = None,
        **context: Any,
    ) -> TemplateResponse:
        """A dry-run report on a page of its own (the "disable the selected rules" action and
        the like), in the admin's frame, with the selected rules carried over as hidden
        action checkboxes so a changed size re-runs the same selection."""
        page = {
            **self.admin_site.each_context(request),
            "title": title,
            "subtitle": None,
            "opts": self.opts,
            "selected": selected,
            "already_inactive": sum(not rule.is_active for rule in selected or ()),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            **context,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, template, page)


class ListField(forms.Field):
    """A JSON list of strings, edited as comma-separated text ("fintech, saas")."""

    def __init__(self, *, normalise: Callable[[str], str] = str.strip, **kwargs: Any) -> None:
        kwargs.setdefault("widget", forms.TextInput(attrs={"class": "vTextField"}))
        kwargs.setdefault("required", False)
        kwargs.setdefault("help_text", "Separate values with commas; empty: any.")
        super().__init__(**kwargs)
        self.normalise = normalise

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return ", ".join(str(item) for item in value)
        return value

    def to_python(self, value: Any) -> list[str]:
        if value in self.empty_values:
            return []
        if isinstance(value, list | tuple):
            parts: Sequence[str] = [str(item) for item in value]
        else:
            parts = str(value).split(",")
        items = (self.normalise(part.strip()) for part in parts)
        # Keep the order typed, drop blanks and repeats.
        return list(dict.fromkeys(item for item in items if item))


def choice_list_field(choices: Sequence[tuple[str, str]], **kwargs: Any) -> forms.Field:
    """A JSON list of choice values, edited as checkboxes; the blank "unknown" is left out."""
    kwargs.setdefault("required", False)
    kwargs.setdefault("help_text", "None ticked: any.")
    return forms.MultipleChoiceField(
        choices=[(value, label) for value, label in choices if value],
        widget=forms.CheckboxSelectMultiple,
        **kwargs,
    )


def lead_ids_matching(term: str, *, limit: int = 1000) -> list[int]:
    """Leads a search box term names: an exact email, or a part of the person's name."""
    term = term.strip()
    if not term:
        return []
    matches = Lead.objects.filter(Q(email=term.lower()) | Q(name__icontains=term))
    return list(matches.order_by().values_list("pk", flat=True)[:limit])


class PerLeadAdmin(BigTableAdmin):
    """A big per-lead table (qualifications, assignments, feedback), searched by its lead.

    Resolving the leads first keeps the big table's side an index scan on lead_id; a search
    across the join would read the whole big table.
    """

    search_fields = ("=lead__email",)  # Only turns the search box on; see below.
    search_help_text = "A lead's exact email address, or part of their name."

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        if not search_term.strip():
            return queryset, False
        return queryset.filter(lead_id__in=lead_ids_matching(search_term)), False


def upper(value: str) -> str:
    return value.upper()


def lower(value: str) -> str:
    return value.lower()


# --- accounts ------------------------------------------------------------------------------


class AccountForm(forms.ModelForm):
    tech_stack = ListField(help_text="Technologies the company uses, separated by commas.")

    class Meta:
        model = Account
        fields = (
            "name",
            "domain",
            "owner",
            "is_customer",
            "is_competitor",
            "industry",
            "employee_count",
            "annual_revenue",
            "country",
            "state",
            "region",
            "funding_stage",
            "tech_stack",
            "fiscal_year_start_month",
            "salesforce_id",
            "attributes",
        )


class StakeholderInline(admin.TabularInline):
    model = Stakeholder
    fields = ("name", "email", "title", "committee_role", "role_inferred", "lead")
    autocomplete_fields = ("lead",)
    extra = 0
    show_change_link = True

    def get_queryset(self, request: HttpRequest) -> QuerySet[Stakeholder]:
        return super().get_queryset(request).select_related("lead")


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    form = AccountForm
    list_display = (
        "name",
        "domain",
        "industry",
        "employee_count",
        "region",
        "country",
        "is_customer",
        "is_competitor",
        "owner",
        "lead_count",
    )
    list_select_related = ("owner",)
    list_filter = ("region", "is_customer", "is_competitor", "funding_stage", "industry")
    search_fields = ("name", "domain", "=salesforce_id")
    autocomplete_fields = ("owner",)
    readonly_fields = ("created_at", "updated_at")
    inlines = (StakeholderInline,)
    fieldsets = (
        (None, {"fields": ("name", "domain", "owner", "is_customer", "is_competitor")}),
        (
            "Firmographics",
            {
                "fields": (
                    "industry",
                    ("employee_count", "annual_revenue"),
                    ("country", "state", "region"),
                    "funding_stage",
                    "tech_stack",
                    "fiscal_year_start_month",
                )
            },
        ),
        ("CRM", {"fields": ("salesforce_id", "attributes", "created_at", "updated_at")}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Account]:
        # A correlated subquery is evaluated for the page's rows only, where a JOIN with
        # GROUP BY would aggregate every lead first.
        leads = (
            Lead.objects.filter(account=OuterRef("pk"))
            .order_by()
            .values("account")
            .annotate(n=Count("pk"))
            .values("n")
        )
        return super().get_queryset(request).annotate(_lead_count=Subquery(leads))

    @admin.display(description="leads", ordering="_lead_count")
    def lead_count(self, obj: Account) -> int:
        return getattr(obj, "_lead_count", None) or 0


@admin.register(Lead)
class LeadAdmin(BigTableAdmin):
    list_display = (
        "email",
        "name",
        "title",
        "account",
        "status",
        "source",
        "owner",
        "created_at",
    )
    list_select_related = ("account", "owner")
    list_filter = ("status", "seniority", "department", "created_at")
    search_fields = ("email", "name", "account__name", "=external_id", "=salesforce_id")
    date_hierarchy = "created_at"
    autocomplete_fields = ("account", "owner")
    readonly_fields = ("created_at", "updated_at", "requalify_requested_at")
    fieldsets = (
        (
            "Person",
            {
                "fields": (
                    "email",
                    "name",
                    "title",
                    ("seniority", "department"),
                    ("country", "state", "language"),
                )
            },
        ),
        (
            "CRM",
            {"fields": ("account", "owner", "status", "source", "external_id", "salesforce_id")},
        ),
        ("Outcome", {"fields": ("converted_at", "closed_at")}),
        (
            "Custom data",
            {"classes": ("collapse",), "fields": ("attributes", "outcome_attributes")},
        ),
        ("History", {"fields": ("created_at", "updated_at", "requalify_requested_at")}),
    )


@admin.register(Stakeholder)
class StakeholderAdmin(BigTableAdmin):
    list_display = ("__str__", "account", "title", "committee_role", "role_inferred", "lead")
    list_select_related = ("account", "lead")
    list_filter = ("committee_role", "role_inferred")
    search_fields = ("name", "email", "account__name", "=account__domain")
    autocomplete_fields = ("account", "lead")
    readonly_fields = ("created_at",)
    ordering = ("-pk",)


@admin.register(Touchpoint)
class TouchpointAdmin(BigTableAdmin):
    list_display = (
        "occurred_at",
        "kind",
        "page_category",
        "form_type",
        "duration_seconds",
        "lead",
        "account",
        "short_url",
    )
    list_select_related = ("lead", "account")
    list_filter = ("kind", "page_category", "form_type")
    search_fields = ("=external_id", "=lead__email")
    search_help_text = "Exact external id, or a lead's exact email address."
    raw_id_fields = ("lead", "account")
    readonly_fields = ("created_at",)
    # Tracked URLs are https; this is also Django 6's default, and says so now.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    # Newest rows first by primary key: there is no index on occurred_at alone, and sorting
    # millions of rows on every visit would take seconds. The same reason rules out
    # date_hierarchy, whose first step is MIN/MAX over the whole table.
    ordering = ("-pk",)
    fieldsets = (
        (None, {"fields": ("lead", "account", "kind", "occurred_at", "external_id")}),
        ("Detail", {"fields": ("url", "page_category", "duration_seconds", "form_type", "text")}),
        ("Raw", {"classes": ("collapse",), "fields": ("properties", "created_at")}),
    )

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Touchpoint], search_term: str
    ) -> tuple[QuerySet[Touchpoint], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        # Plain equality on stored-normalised values so that indexes answer: the admin's own
        # `=` lookup is case-insensitive, and an OR across the join to leads would read every
        # touchpoint. The lead is looked up first; then both branches are index scans.
        lead_ids = list(Lead.objects.filter(email=term.lower()).values_list("pk", flat=True))
        return queryset.filter(Q(external_id=term) | Q(lead_id__in=lead_ids)), False

    @admin.display(description="URL")
    def short_url(self, obj: Touchpoint) -> str:
        return obj.url if len(obj.url) <= 60 else f"{obj.url[:57]}…"


@admin.register(IntentSignal)
class IntentSignalAdmin(BigTableAdmin):
    list_display = ("topic", "account", "surge_score", "observed_at", "source")
    list_select_related = ("account",)
    list_filter = ("observed_at",)
    search_fields = ("topic", "account__name", "=account__domain")
    autocomplete_fields = ("account",)
    ordering = ("-pk",)


@admin.register(AccountEvent)
class AccountEventAdmin(BigTableAdmin):
    list_display = ("title", "kind", "account", "occurred_at", "source")
    list_select_related = ("account",)
    list_filter = ("kind", "occurred_at")
    search_fields = ("title", "account__name", "=account__domain")
    autocomplete_fields = ("account",)
    ordering = ("-pk",)


@admin.register(AccountTechnology)
class AccountTechnologyAdmin(BigTableAdmin):
    list_display = ("name", "category", "account", "first_seen", "last_seen", "source")
    list_select_related = ("account",)
    list_filter = ("category", "source")
    search_fields = ("name", "account__name", "=account__domain")
    autocomplete_fields = ("account",)
    ordering = ("-pk",)


@admin.register(Opportunity)
class OpportunityAdmin(BigTableAdmin):
    list_display = (
        "__str__",
        "account",
        "lead",
        "stage",
        "amount",
        "is_closed",
        "is_won",
        "created_at",
        "closed_at",
    )
    list_select_related = ("account", "lead")
    list_filter = ("stage", "is_closed", "is_won", "created_at")
    search_fields = ("name", "account__name", "=lead__email", "=salesforce_id")
    autocomplete_fields = ("account", "lead")
    ordering = ("-pk",)


# --- API tokens ----------------------------------------------------------------------------


class ApiTokenChangeForm(forms.ModelForm):
    revoke = forms.BooleanField(
        required=False,
        help_text="Stops the token working from the next request on. Revocation is final: "
        "issue a new token to reconnect the integration.",
    )

    class Meta:
        model = ApiToken
        fields = ("name",)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Issuing, listing and revoking the integrations' API tokens.

    The key exists only in the response to the add form: the database keeps its SHA-256, so
    nobody (an admin included) can read it again later.
    """

    list_display = (
        "name",
        "scope",
        "prefix_display",
        "created_at",
        "created_by",
        "last_used_at",
        "revoked_at",
    )
    list_select_related = ("created_by",)
    list_filter = ("scope", ("revoked_at", admin.EmptyFieldListFilter))
    search_fields = ("name", "=prefix")
    actions = ("revoke_selected",)
    ordering = ("-created_at",)

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> type[forms.ModelForm]:
        if obj is not None:
            kwargs["form"] = ApiTokenChangeForm
        return super().get_form(request, obj, change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        if obj is None:
            return ("name", "scope")
        editable: tuple[str, ...] = ("name", "revoke") if obj.is_active else ("name",)
        return (*editable, *self.get_readonly_fields(request, obj))

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        if obj is None:
            return ()
        return (
            "scope",
            "prefix_display",
            "created_by",
            "created_at",
            "last_used_at",
            "revoked_at",
        )

    @admin.display(description="key prefix", ordering="prefix")
    def prefix_display(self, obj: ApiToken) -> str:
        return f"{obj.prefix}…"

    def save_model(self, request: HttpRequest, obj: ApiToken, form: Any, change: bool) -> None:
        from accounts.services import api_token_issue, api_token_revoke

        if not change:
            token, key = api_token_issue(
                name=obj.name, scope=obj.scope, created_by=_admin_user(request)
            )
            # The admin's add view goes on with `obj` (log entry, response): make it the row.
            obj.__dict__.update(token.__dict__)
            obj._issued_key = key  # type: ignore[attr-defined]  # read by response_add only
            return
        obj.save(update_fields=["name"])
        if form.cleaned_data.get("revoke"):
            api_token_revoke(token=obj)

    def response_add(
        self, request: HttpRequest, obj: ApiToken, post_url_continue: str | None = None
    ) -> HttpResponse:
        key: str | None = getattr(obj, "_issued_key", None)
        if key is None:
            return super().response_add(request, obj, post_url_continue)
        # Rendered in this response, never redirected through a message: messages may sit in a
        # (signed, not encrypted) cookie, and the key must exist only on this one page.
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"API token issued: {obj.name}",
            "token": obj,
            "key": key,
            "change_url": reverse("admin:accounts_apitoken_change", args=[obj.pk]),
            "changelist_url": reverse("admin:accounts_apitoken_changelist"),
        }
        response = TemplateResponse(request, "admin/accounts/apitoken/issued.html", context)
        response["Cache-Control"] = "no-store"
        return response

    @admin.action(description="Revoke the selected API tokens")
    def revoke_selected(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        from accounts.services import api_token_revoke

        revoked = 0
        for token in queryset.filter(revoked_at__isnull=True):
            api_token_revoke(token=token)
            revoked += 1
        self.message_user(request, f"Revoked {revoked} API token{'s' if revoked != 1 else ''}.")


def _admin_user(request: HttpRequest) -> Any:
    user = request.user
    return user if user.is_authenticated else None


# --- Salesforce sync (written by the sync only: read-only here) -------------------------------


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows the services write and operators only read."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class SyncRecordAdmin(ReadOnlyAdmin):
    """Rows that only the Salesforce sync writes: an edit, or a deleted watermark, would fight
    the next run."""

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(SalesforceSyncState)
class SalesforceSyncStateAdmin(SyncRecordAdmin):
    list_display = ("object_name", "watermark", "last_run_at", "last_status", "last_counts")
    list_filter = ("last_status",)
    ordering = ("object_name",)


@admin.register(SalesforceSyncRun)
class SalesforceSyncRunAdmin(SyncRecordAdmin):
    list_display = (
        "started_at",
        "direction",
        "status",
        "dry_run",
        "finished_at",
        "api_used",
        "api_limit",
    )
    list_filter = ("direction", "status", "dry_run")
    date_hierarchy = "started_at"
    ordering = ("-started_at",)
