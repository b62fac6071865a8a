"""Admin for overrides: positive rules, per-lead manual overrides, and the audit trail.

Every write goes through scoring.override_services, so each one is permission-checked, leaves
an audit row and re-qualifies the leads it touches; the audit trail itself is read-only.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest

from scoring import override_services
from scoring.models import AuditEvent, LeadOverride, PositiveRule


@admin.register(PositiveRule)
class PositiveRuleAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "outcome", "priority", "is_active", "updated_at", "updated_by")
    list_filter = ("kind", "is_active")
    list_select_related = ("updated_by",)
    search_fields = ("name", "reason")
    ordering = ("priority", "name")
    filter_horizontal = ("accounts",)
    readonly_fields = ("created_at", "updated_at", "updated_by")

    def save_model(self, request: HttpRequest, obj: PositiveRule, form: Any, change: bool) -> None:
        # The named accounts are saved with the rule (not by save_related) so that the audit
        # row and the re-qualification see them.
        override_services.positive_rule_save(
            rule=obj, user=request.user, accounts=list(form.cleaned_data.get("accounts") or [])
        )

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    def delete_model(self, request: HttpRequest, obj: PositiveRule) -> None:
        override_services.positive_rule_delete(rule=obj, user=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[PositiveRule]) -> None:
        for rule in queryset:
            override_services.positive_rule_delete(rule=rule, user=request.user)


@admin.register(LeadOverride)
class LeadOverrideAdmin(admin.ModelAdmin):
    list_display = ("lead", "tier", "set_by", "set_at", "expires_at", "revoked_at", "expired_at")
    list_filter = ("tier",)
    list_select_related = ("lead", "set_by")
    search_fields = ("lead__email", "reason")
    raw_id_fields = ("lead",)
    fields = ("lead", "tier", "reason", "expires_at", "set_by", "set_at", "revoked_at")
    readonly_fields = ("set_by", "set_at", "revoked_at")
    actions = ("revoke",)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # An override is never edited in place: a new one replaces it, so the trail stays whole.
        return False if obj is not None else super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: LeadOverride, form: Any, change: bool) -> None:
        try:
            created = override_services.lead_override_set(
                lead=obj.lead,
                user=request.user,
                tier=obj.tier,
                reason=obj.reason,
                expires_at=obj.expires_at,
            )
        except (PermissionDenied, ValidationError) as error:
            raise PermissionDenied(str(error)) from error
        obj.pk = created.pk

    @admin.action(description="Revoke the selected overrides now")
    def revoke(self, request: HttpRequest, queryset: QuerySet[LeadOverride]) -> None:
        done = 0
        for override in queryset.filter(revoked_at__isnull=True, expired_at__isnull=True):
            override_services.lead_override_revoke(override=override, user=request.user)
            done += 1
        self.message_user(request, f"{done} override(s) revoked.", messages.SUCCESS)


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ("at", "actor_name", "action", "object_type", "object_repr")
    list_filter = ("action", "object_type")
    search_fields = ("actor_name", "object_repr", "reason")
    ordering = ("-at",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
