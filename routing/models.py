"""Who works which lead: reps, territories, pools, rules and the assignments they produce."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from accounts.models import Lead
from scoring.models import Tier


class Territory(models.Model):
    name = models.CharField(max_length=100, unique=True)
    regions = models.JSONField(default=list, blank=True)
    countries = models.JSONField(default=list, blank=True, help_text="ISO 3166-1 alpha-2 codes.")
    states = models.JSONField(default=list, blank=True)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "territories"

    def __str__(self) -> str:
        return self.name


class RepRole(models.TextChoices):
    SDR = "sdr", "Sales development rep"
    AE = "ae", "Account executive"
    SUCCESS = "success", "Customer success"
    SUPPORT = "support", "Support"
    MANAGER = "manager", "Sales manager"


class SalesRep(models.Model):
    """The routing profile of a user who can receive leads."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sales_rep"
    )
    team = models.CharField(max_length=100, blank=True, db_index=True)
    role = models.CharField(max_length=20, choices=RepRole.choices, default=RepRole.SDR)
    territories = models.ManyToManyField(Territory, blank=True, related_name="reps")
    skills = models.JSONField(default=list, blank=True, help_text='e.g. ["enterprise", "fintech"]')
    languages = models.JSONField(default=list, blank=True, help_text='e.g. ["en", "de"]')
    max_open_leads = models.PositiveIntegerField(default=50)
    max_leads_per_day = models.PositiveIntegerField(default=15)
    # Relative share in weighted round-robin: a weight of 2 takes twice the leads (and value).
    weight = models.DecimalField(max_digits=5, decimal_places=2, default=1)
    is_active = models.BooleanField(default=True)
    out_of_office_from = models.DateTimeField(null=True, blank=True)
    out_of_office_until = models.DateTimeField(null=True, blank=True)
    salesforce_user_id = models.CharField(max_length=18, null=True, blank=True, unique=True)

    class Meta:
        ordering = ["user__username"]
        constraints = [
            models.CheckConstraint(condition=Q(weight__gt=0), name="salesrep_weight_positive"),
        ]

    def __str__(self) -> str:
        return self.user.get_full_name() or self.user.get_username()

    def is_out_of_office(self, at: datetime | None = None) -> bool:
        moment = at or timezone.now()
        starts = self.out_of_office_from
        ends = self.out_of_office_until
        if starts is None and ends is None:
            return False
        return (starts is None or starts <= moment) and (ends is None or moment < ends)


class RoutingPool(models.Model):
    """A set of reps that a rule sends leads to; round-robin runs within it."""

    name = models.CharField(max_length=100, unique=True)
    reps = models.ManyToManyField(SalesRep, blank=True, related_name="pools")
    # Where leads go when no rule matches or no one in the chosen pool is eligible.
    is_fallback = models.BooleanField(default=False)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_fallback"], condition=Q(is_fallback=True), name="pool_one_fallback"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Queue(models.TextChoices):
    SALES = "sales", "Sales"
    NURTURE = "nurture", "Marketing nurture"
    SUCCESS = "success", "Customer success"
    SUPPORT = "support", "Support"
    LOW_PRIORITY = "low_priority", "Low-priority pool"
    REVIEW = "review", "Human review"


class RoutingStrategy(models.TextChoices):
    WEIGHTED_ROUND_ROBIN = "weighted_round_robin", "Weighted round-robin (value-aware)"
    LEAST_LOADED = "least_loaded", "Least loaded"


class RoutingRule(models.Model):
    """Ordered by priority; the first active rule whose conditions all hold picks the pool.

    An empty condition matches anything.
    """

    name = models.CharField(max_length=100)
    priority = models.PositiveIntegerField(default=100)
    is_active = models.BooleanField(default=True)
    tiers = models.JSONField(default=list, blank=True)
    territory = models.ForeignKey(
        Territory, null=True, blank=True, on_delete=models.PROTECT, related_name="rules"
    )
    industries = models.JSONField(default=list, blank=True)
    min_employees = models.PositiveIntegerField(null=True, blank=True)
    max_employees = models.PositiveIntegerField(null=True, blank=True)
    min_deal_size = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    lead_sources = models.JSONField(default=list, blank=True)
    languages = models.JSONField(default=list, blank=True)
    required_skill = models.CharField(max_length=50, blank=True)
    pool = models.ForeignKey(RoutingPool, on_delete=models.PROTECT, related_name="rules")
    strategy = models.CharField(
        max_length=30,
        choices=RoutingStrategy.choices,
        default=RoutingStrategy.WEIGHTED_ROUND_ROBIN,
    )

    class Meta:
        ordering = ["priority", "name"]

    def __str__(self) -> str:
        return f"{self.priority}: {self.name}"


class AssignmentStatus(models.TextChoices):
    OPEN = "open", "Open"
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Rejected"
    REASSIGNED = "reassigned", "Reassigned"
    CLOSED = "closed", "Closed"


class Assignment(models.Model):
    """Where a lead was sent, by which rule, and why."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="assignments")
    rep = models.ForeignKey(
        SalesRep, null=True, blank=True, on_delete=models.SET_NULL, related_name="assignments"
    )
    queue = models.CharField(max_length=20, choices=Queue.choices, default=Queue.SALES)
    tier = models.CharField(max_length=20, choices=Tier.choices, blank=True)
    rule = models.ForeignKey(
        RoutingRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="assignments"
    )
    pool = models.ForeignKey(
        RoutingPool, null=True, blank=True, on_delete=models.SET_NULL, related_name="assignments"
    )
    reason = models.TextField()
    # Expected value at assignment time, so fairness can compare value and not only counts.
    expected_value = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    assigned_at = models.DateTimeField(default=timezone.now)
    sla_due_at = models.DateTimeField(null=True, blank=True)
    sla_breaches = models.PositiveSmallIntegerField(default=0)
    first_touch_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(
        max_length=20, choices=AssignmentStatus.choices, default=AssignmentStatus.OPEN
    )
    reassigned_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="reassignments"
    )

    class Meta:
        ordering = ["-assigned_at"]
        indexes = [
            models.Index(
                fields=["rep", "assigned_at"],
                name="assignment_open_per_rep_idx",
                condition=Q(status="open"),
            ),
            models.Index(fields=["lead", "-assigned_at"], name="assignment_lead_time_idx"),
            models.Index(
                fields=["sla_due_at"],
                name="assignment_sla_open_idx",
                condition=Q(status="open", first_touch_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        target = str(self.rep) if self.rep_id else self.get_queue_display()
        return f"Lead {self.lead_id} → {target}"
