"""Who works which lead: reps, territories, pools, rules and the assignments they produce."""

from __future__ import annotations

import re
import secrets
import uuid
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import Lead
from routing.sla import BusinessHours
from scoring.models import AccountPriority, Tier


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
    # Students, researchers and the like: kept in touch through community resources.
    COMMUNITY = "community", "Community"
    LOW_PRIORITY = "low_priority", "Low-priority pool"
    REVIEW = "review", "Human review"


# The alternative paths: where leads that are not for sales go, each with a destination a
# sales manager configures (PathDestination). Sales and human review are not paths.
ALTERNATIVE_PATHS: tuple[str, ...] = (
    Queue.SUCCESS,
    Queue.SUPPORT,
    Queue.COMMUNITY,
    Queue.NURTURE,
    Queue.LOW_PRIORITY,
)


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
    # The reason code of the disqualification rule that sent the lead here (a path's "why");
    # empty when the tier alone decided.
    reason_code = models.CharField(max_length=50, blank=True)
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
    # Who accepted it: on an alternative path, the team member who marked the lead handled.
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    accepted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-assigned_at"]
        indexes = [
            # The leads on a path, newest first: the path pages, and whatever watches them.
            models.Index(
                fields=["queue", "-assigned_at"],
                name="assignment_current_queue_idx",
                condition=Q(status__in=["open", "accepted"]),
            ),
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
        constraints = [
            # The safety net under routing's row locks: a lead is worked by one rep (or waits
            # in one queue) at a time, whatever two workers do at once.
            models.UniqueConstraint(
                fields=["lead"],
                condition=Q(status__in=["open", "accepted"]),
                name="assignment_one_current_per_lead",
            ),
        ]

    def __str__(self) -> str:
        target = str(self.rep) if self.rep_id else self.get_queue_display()
        return f"Lead {self.lead_id} → {target}"


class AssignmentEventKind(models.TextChoices):
    SLA_BREACH = "sla_breach", "SLA breached"
    REASSIGNED = "reassigned", "Reassigned"
    LEFT_SALES = "left_sales", "Left the sales queue (disqualified)"
    HANDLED = "handled", "Handled on its path"


class AssignmentEvent(models.Model):
    """What happened to an assignment after it was made, for an operator to see: SLA alerts,
    reassignments (by a manager, by the SLA check, or by re-routing after re-qualification),
    a lead leaving the sales queue when a disqualifier catches it, and a path team's "handled".
    """

    assignment = models.ForeignKey(Assignment, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=20, choices=AssignmentEventKind.choices)
    created_at = models.DateTimeField(default=timezone.now)
    by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    message = models.TextField()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["kind", "-created_at"], name="assignmentevent_kind_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.message}"


# --- alternative paths: their destinations and webhook deliveries -----------------------------


class PathDestinationKind(models.TextChoices):
    TEAM = "team", "A team of users, with its own queue page"
    SALESFORCE = "salesforce", "A Salesforce queue or user as the owner"
    WEBHOOK = "webhook", "A webhook"


# A Salesforce Id, 15 or 18 characters; a lead's owner is a user (005) or a queue (00G).
SALESFORCE_ID_PATTERN = re.compile(r"[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?")
SALESFORCE_OWNER_PREFIXES = {"005": "user", "00G": "queue"}
WEBHOOK_SECRET_MIN_LENGTH = 16


_ID_CHECKSUM_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


def salesforce_id18(value: str) -> str:
    """The 18-character form of a 15- or 18-character Salesforce Id (what the API returns):
    the last three characters encode which of the first fifteen are upper case."""
    if len(value) != 15:
        return value
    suffix = ""
    for chunk in range(3):
        bits = sum(
            1 << position
            for position, char in enumerate(value[chunk * 5 : chunk * 5 + 5])
            if "A" <= char <= "Z"
        )
        suffix += _ID_CHECKSUM_ALPHABET[bits]
    return value + suffix


def new_webhook_secret() -> str:
    return secrets.token_urlsafe(32)


class PathDestination(models.Model):
    """Who holds the leads of one alternative path, so that they are not left unowned.

    One per path, of one kind: a team of users who work the path's page, a Salesforce queue or
    user that the push makes the leads' owner, or a webhook that is told of each lead routed to
    the path. A path without one keeps its leads in the queue, unowned.
    """

    path = models.CharField(
        max_length=20,
        unique=True,
        choices=[(path, Queue(path).label) for path in ALTERNATIVE_PATHS],
    )
    kind = models.CharField(max_length=20, choices=PathDestinationKind.choices)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="path_destinations",
        help_text="Team: the people who see this path's page and mark its leads handled.",
    )
    salesforce_owner_id = models.CharField(
        max_length=18,
        blank=True,
        help_text="Salesforce: the Id of the queue (00G…) or user (005…) to own these leads.",
    )
    webhook_url = models.URLField(
        max_length=500, blank=True, help_text="Webhook: where each lead routed here is POSTed."
    )
    webhook_secret = models.CharField(
        max_length=128,
        blank=True,
        default=new_webhook_secret,
        help_text="Webhook: the key of the HMAC-SHA256 signature your receiver checks.",
    )
    webhook_timeout_seconds = models.PositiveSmallIntegerField(
        default=10, help_text="Webhook: seconds to wait for an answer before trying again later."
    )
    notes = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["path"]
        constraints = [
            models.CheckConstraint(
                condition=Q(path__in=list(ALTERNATIVE_PATHS)),
                name="pathdestination_alternative_path",
            ),
            models.CheckConstraint(
                condition=Q(webhook_timeout_seconds__gte=1, webhook_timeout_seconds__lte=60),
                name="pathdestination_webhook_timeout_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{Queue(self.path).label} → {self.get_kind_display()}"

    def clean(self) -> None:
        """The fields the kind needs (a team's members are checked by the admin's form)."""
        errors: dict[str, str] = {}
        if self.kind == PathDestinationKind.SALESFORCE:
            owner = self.salesforce_owner_id = self.salesforce_owner_id.strip()
            if not owner:
                errors["salesforce_owner_id"] = (
                    "A Salesforce destination needs the Id of the queue (00G…) or user (005…) "
                    "that should own these leads."
                )
            elif not SALESFORCE_ID_PATTERN.fullmatch(owner):
                errors["salesforce_owner_id"] = (
                    f"{owner!r} is not a Salesforce Id: 15 or 18 letters and digits, as in "
                    "the address of the queue's or user's page in Salesforce."
                )
            elif owner[:3] not in SALESFORCE_OWNER_PREFIXES:
                errors["salesforce_owner_id"] = (
                    f"{owner} starts with {owner[:3]}: a lead's owner is a queue (00G…) or a "
                    "user (005…)."
                )
            elif salesforce_id18(owner[:15]) != owner and len(owner) == 18:
                errors["salesforce_owner_id"] = (
                    f"{owner} is not a valid 18-character Id (its last three characters do "
                    "not match the case of the first fifteen): copy it again from Salesforce."
                )
            else:
                # Stored as the API returns it, so the push compares like with like.
                self.salesforce_owner_id = salesforce_id18(owner)
        elif self.kind == PathDestinationKind.WEBHOOK:
            if not self.webhook_url:
                errors["webhook_url"] = "A webhook destination needs the URL to POST to."
            elif not self.webhook_url.lower().startswith(("https://", "http://")):
                errors["webhook_url"] = "A webhook URL starts with https:// (or http://)."
            if len(self.webhook_secret.strip()) < WEBHOOK_SECRET_MIN_LENGTH:
                errors["webhook_secret"] = (
                    f"The signing secret needs at least {WEBHOOK_SECRET_MIN_LENGTH} characters: "
                    "keep the generated one, or paste the one your receiver uses."
                )
            if not 1 <= self.webhook_timeout_seconds <= 60:
                errors["webhook_timeout_seconds"] = "Between 1 and 60 seconds."
        if errors:
            raise ValidationError(errors)


class WebhookDeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    RETRYING = "retrying", "Waiting to retry"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed (given up)"
    # The lead had left the path before the receiver could be told: nothing stale is sent.
    CANCELLED = "cancelled", "Cancelled (the lead moved on)"


class WebhookDelivery(models.Model):
    """One assignment to a webhook path, told to the receiver: the delivery log.

    One row per assignment, made in the transaction that makes the assignment, so a lead routed
    to the path is never left untold. `body` is the exact JSON sent, fixed at the first attempt:
    every retry sends the same bytes, the same `delivery_id` and so the same signature.
    """

    delivery_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    assignment = models.ForeignKey(
        Assignment, on_delete=models.CASCADE, related_name="webhook_deliveries"
    )
    # Kept when the destination is deleted: the log outlives it.
    destination = models.ForeignKey(
        PathDestination, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    path = models.CharField(max_length=20, choices=Queue.choices)
    url = models.URLField(max_length=500, blank=True)
    body = models.TextField(blank=True)
    status = models.CharField(
        max_length=20, choices=WebhookDeliveryStatus.choices, default=WebhookDeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "webhook deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["assignment"], name="webhookdelivery_one_per_assignment"
            ),
        ]
        indexes = [
            # The sweep that resumes deliveries whose task was lost.
            models.Index(
                fields=["next_attempt_at"],
                name="webhookdelivery_unfinished_idx",
                condition=Q(status__in=["pending", "sending", "retrying"]),
            ),
        ]

    def __str__(self) -> str:
        return f"Delivery {self.delivery_id} ({self.get_status_display()})"


class RoundRobinClock(models.Model):
    """The round-robin state of one key (a pool or a team): routing.engine.PoolClock.

    Routing locks these rows (SELECT ... FOR UPDATE) for the keys a batch may use, so two
    workers never pick from the same stale credits.
    """

    key = models.CharField(max_length=120, unique=True)
    virtual_time = models.FloatField(default=0.0)
    seq = models.PositiveBigIntegerField(default=0)
    leads = models.PositiveBigIntegerField(default=0)
    value = models.FloatField(default=0.0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["key"]

    def __str__(self) -> str:
        return f"{self.key} @ {self.virtual_time:.3f}"


class RoundRobinCredit(models.Model):
    """One rep's standing in one round-robin key: routing.engine.RepCredit."""

    key = models.CharField(max_length=120)
    rep = models.ForeignKey(SalesRep, on_delete=models.CASCADE, related_name="round_robin_credits")
    credit = models.FloatField(default=0.0)
    leads = models.PositiveIntegerField(default=0)
    value = models.FloatField(default=0.0)
    last_seq = models.BigIntegerField(default=-1)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["key", "rep"]
        constraints = [
            models.UniqueConstraint(fields=["key", "rep"], name="roundrobincredit_one_per_key_rep"),
        ]

    def __str__(self) -> str:
        return f"{self.key} / rep {self.rep_id}: {self.credit:.3f}"


def default_workdays() -> list[int]:
    return [0, 1, 2, 3, 4]


class RoutingSettings(models.Model):
    """The tunable numbers of routing, one row, edited by sales managers in the admin."""

    timezone = models.CharField(
        max_length=64,
        blank=True,
        help_text="IANA name, e.g. Europe/Berlin; empty: the site's TIME_ZONE.",
    )
    opens_at = models.TimeField(default=time(9, 0))
    closes_at = models.TimeField(default=time(17, 0))
    workdays = models.JSONField(
        default=default_workdays, help_text="Weekdays the team works: 0 is Monday, 6 Sunday."
    )
    sales_ready_sla_minutes = models.PositiveIntegerField(
        default=60, help_text="Business minutes a rep has to touch a Sales Ready lead."
    )
    nurture_sla_minutes = models.PositiveIntegerField(
        null=True, blank=True, help_text="Empty: no deadline."
    )
    disqualify_sla_minutes = models.PositiveIntegerField(
        null=True, blank=True, help_text="Empty: no deadline."
    )
    # The first breach alerts; this one moves the lead to someone else.
    reassign_after_breaches = models.PositiveSmallIntegerField(default=2)
    # Round-robin shares: 0 counts leads only, 1 expected value only (routing.engine.Router).
    value_share = models.FloatField(default=0.5)
    max_value_ratio = models.FloatField(
        default=10.0,
        help_text="One lead costs a rep at most this many average leads' worth of value.",
    )
    default_deal_size = models.DecimalField(
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Deal size assumed when qualification predicted none; empty: such leads are "
        "shared by count only.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "routing settings"
        verbose_name_plural = "routing settings"
        constraints = [
            models.CheckConstraint(
                condition=Q(opens_at__lt=F("closes_at")), name="routingsettings_opens_before_close"
            ),
            models.CheckConstraint(
                condition=Q(value_share__gte=0, value_share__lte=1),
                name="routingsettings_value_share_range",
            ),
            models.CheckConstraint(
                condition=Q(max_value_ratio__gt=0), name="routingsettings_max_value_ratio_positive"
            ),
            models.CheckConstraint(
                condition=Q(reassign_after_breaches__gte=1),
                name="routingsettings_reassign_after_breaches_positive",
            ),
        ]

    def __str__(self) -> str:
        return "Routing settings"

    @classmethod
    def load(cls) -> RoutingSettings:
        settings_row, _ = cls.objects.get_or_create(pk=1)
        return settings_row

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.timezone:
            try:
                ZoneInfo(self.timezone)
            except (ZoneInfoNotFoundError, ValueError):
                errors["timezone"] = f"Unknown time zone {self.timezone!r}."
        days = self.workdays
        if (
            not isinstance(days, list)
            or not days
            or not all(isinstance(day, int) and 0 <= day <= 6 for day in days)
        ):
            errors["workdays"] = "List the working weekdays as numbers from 0 (Monday) to 6."
        if errors:
            raise ValidationError(errors)

    def business_hours(self) -> BusinessHours:
        return BusinessHours(
            timezone=self.timezone or settings.TIME_ZONE,
            opens=self.opens_at,
            closes=self.closes_at,
            workdays=frozenset(int(day) for day in self.workdays),
        )

    def sla_duration(self, tier: str) -> timedelta | None:
        """Business time to the first touch for a lead of this tier; None: no deadline."""
        minutes: int | None = {
            str(Tier.SALES_READY): self.sales_ready_sla_minutes,
            str(Tier.NURTURE): self.nurture_sla_minutes,
            str(Tier.DISQUALIFY): self.disqualify_sla_minutes,
        }.get(tier)
        return timedelta(minutes=minutes) if minutes is not None else None


class SalesforcePushState(models.Model):
    """What the Salesforce push last wrote for one lead, so an unchanged lead is not sent again.

    A lead is pushed when its current qualification, its routed owner or its tier differ from
    what is recorded here; a lead Salesforce reports as converted is read-only there and is
    never sent again.
    """

    lead = models.OneToOneField(
        Lead, on_delete=models.CASCADE, related_name="salesforce_push_state"
    )
    pushed_qualification = models.ForeignKey(
        "scoring.Qualification",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    pushed_owner_salesforce_id = models.CharField(max_length=18, blank=True)
    pushed_tier = models.CharField(max_length=40, blank=True)
    pushed_at = models.DateTimeField(null=True, blank=True)
    # Set when Salesforce answered CANNOT_UPDATE_CONVERTED_LEAD.
    converted_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "Salesforce push state"

    def __str__(self) -> str:
        return f"Lead {self.lead_id} pushed {self.pushed_at or 'never'}"


# --- account plays: what an account's priority sets in motion (issue 13) ----------------------


class AccountPlayStatus(models.TextChoices):
    """What the play does, one per account priority (routing.account_plays)."""

    OUTREACH = "outreach", "Orchestrated outreach"
    NURTURE = "nurture", "Targeted nurture"
    MONITORING = "monitoring", "Passive monitoring"


class AccountPlay(models.Model):
    """What an account's stored priority sets in motion: one row per account, updated when
    its priority changes (the account qualification keeps the history).

    High: orchestrated outreach, with one owner who gets every engaged lead of the account
    (or their pod does) and the committee roles to reach next. Medium: the account's leads on
    a targeted nurture track. Low: passive monitoring, no owner and no sales task.
    """

    account = models.OneToOneField(
        "accounts.Account", on_delete=models.CASCADE, related_name="play"
    )
    priority = models.CharField(max_length=10, choices=AccountPriority.choices)
    status = models.CharField(max_length=20, choices=AccountPlayStatus.choices)
    # The qualification that set the play (its score, parts and roles are there).
    qualification = models.ForeignKey(
        "scoring.AccountQualification",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # Outreach only: the rep who owns the account's outreach, and why them.
    owner = models.ForeignKey(
        SalesRep, null=True, blank=True, on_delete=models.SET_NULL, related_name="account_plays"
    )
    owner_reason = models.TextField(blank=True)
    # The buying-committee roles (scoring.account_scoring.BUYING_ROLES codes) nobody at the
    # account plays yet, most decisive first, and the steps to reach them.
    roles_to_reach = models.JSONField(default=list, blank=True)
    steps = models.JSONField(default=list, blank=True)
    reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-updated_at", "-pk"]
        indexes = [
            models.Index(fields=["status"], name="accountplay_status_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="outreach") | Q(owner__isnull=True),
                name="accountplay_owner_only_outreach",
            ),
        ]

    def __str__(self) -> str:
        return f"Account {self.account_id}: {self.get_status_display()}"
