"""Qualification: configuration (ICP, rules, points), the model registry and the decisions."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.db.models.fields.json import KeyTransform
from django.utils import timezone

from accounts.models import Lead
from scoring.briefs import brief_compact, brief_expand


class IdealCustomerProfile(models.Model):
    """What a good customer looks like; fit scores are measured against the active profile."""

    name = models.CharField(max_length=100, unique=True)
    is_active = models.BooleanField(default=True)
    industries = models.JSONField(default=list, blank=True)
    min_employees = models.PositiveIntegerField(null=True, blank=True)
    max_employees = models.PositiveIntegerField(null=True, blank=True)
    countries = models.JSONField(default=list, blank=True, help_text="ISO codes; empty: any.")
    regions = models.JSONField(default=list, blank=True)
    technologies = models.JSONField(
        default=list, blank=True, help_text="Technologies the product integrates with."
    )
    funding_stages = models.JSONField(default=list, blank=True)
    seniorities = models.JSONField(default=list, blank=True)
    departments = models.JSONField(default=list, blank=True)
    title_keywords = models.JSONField(default=list, blank=True)
    # The budget cycle of an account whose own fiscal year the CRM does not give.
    fiscal_year_start_month = models.PositiveSmallIntegerField(
        default=1, help_text="Month (1-12) a target account's fiscal year usually starts."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "ideal customer profile"
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"], condition=Q(is_active=True), name="icp_one_active"
            ),
            models.CheckConstraint(
                condition=Q(fiscal_year_start_month__gte=1, fiscal_year_start_month__lte=12),
                name="icp_fiscal_year_start_month_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class RuleCategory(models.TextChoices):
    COMPETITOR = "competitor", "Competitor"
    STUDENT = "student", "Student or academic"
    JOB_SEEKER = "job_seeker", "Job seeker"
    EXISTING_CUSTOMER_SUPPORT = "existing_customer_support", "Existing customer with support need"
    ANALYST = "analyst", "Analyst"
    NON_DECISION_MAKER = "non_decision_maker", "Non-decision-maker at an existing account"
    SPAM = "spam", "Spam"
    MINIMUM_FIT = "minimum_fit", "Below minimum fit"


class RuleAction(models.TextChoices):
    DISQUALIFY = "disqualify", "Disqualify (low-priority pool)"
    ROUTE_SUCCESS = "route_success", "Route to customer success"
    ROUTE_SUPPORT = "route_support", "Route to support"
    # Students, researchers and the like: kept in touch through community resources, no sales.
    ROUTE_COMMUNITY = "route_community", "Route to community"
    NURTURE = "nurture", "Nurture"


class DisqualificationRule(models.Model):
    """A hard rule that takes precedence over the model, with a reason code."""

    name = models.CharField(max_length=100)
    category = models.CharField(max_length=30, choices=RuleCategory.choices)
    reason_code = models.SlugField(max_length=50, unique=True)
    action = models.CharField(
        max_length=20, choices=RuleAction.choices, default=RuleAction.DISQUALIFY
    )
    # Lower runs first; the first matching rule decides.
    priority = models.PositiveIntegerField(default=100)
    is_active = models.BooleanField(default=True)
    # Category-specific settings: domains, keywords, title patterns, thresholds.
    parameters = models.JSONField(default=dict, blank=True)
    description = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["priority", "name"]

    def __str__(self) -> str:
        return f"{self.name} [{self.reason_code}]"


class PointSignal(models.TextChoices):
    PAGE_CATEGORY = "page_category", "Visited a page of category"
    FORM_TYPE = "form_type", "Submitted a form of type"
    TOUCHPOINT_KIND = "touchpoint_kind", "Touchpoint of kind"
    ICP_MATCH = "icp_match", "Matches the ideal customer profile"
    SENIORITY = "seniority", "Seniority is"


class PointRule(models.Model):
    """The traditional point score ("pricing page: 15 points"), kept beside the AI decision."""

    name = models.CharField(max_length=100)
    signal = models.CharField(max_length=20, choices=PointSignal.choices)
    value = models.CharField(
        max_length=50, blank=True, help_text="The category, form type, kind or seniority matched."
    )
    points = models.IntegerField()
    max_times = models.PositiveIntegerField(
        null=True, blank=True, help_text="Count the signal at most this many times; empty: no cap."
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["signal", "value"]

    def __str__(self) -> str:
        return f"{self.name}: {self.points:+d}"


class ModelKind(models.TextChoices):
    CONVERSION = "conversion", "Conversion probability"
    TIMELINE = "timeline", "Days to close"
    DEAL_SIZE = "deal_size", "Deal size"


class ModelStatus(models.TextChoices):
    CANDIDATE = "candidate", "Candidate"
    ACTIVE = "active", "Active"
    RETIRED = "retired", "Retired"


class ModelVersion(models.Model):
    kind = models.CharField(max_length=20, choices=ModelKind.choices)
    status = models.CharField(
        max_length=20, choices=ModelStatus.choices, default=ModelStatus.CANDIDATE
    )
    trained_at = models.DateTimeField(default=timezone.now)
    data_from = models.DateTimeField(null=True, blank=True)
    data_to = models.DateTimeField(null=True, blank=True)
    training_rows = models.PositiveIntegerField(default=0)
    feature_names = models.JSONField(default=list, blank=True)
    params = models.JSONField(default=dict, blank=True)
    # AUC, log loss, Brier, calibration bins, precision/recall/lift at capacity, per segment.
    metrics = models.JSONField(default=dict, blank=True)
    artifact = models.BinaryField(editable=False)
    activated_at = models.DateTimeField(null=True, blank=True)
    activated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    notes = models.TextField(blank=True)

    class Meta:
        ordering = ["-trained_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind"],
                condition=Q(status="active"),
                name="modelversion_one_active_per_kind",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} ({self.status})"


class Tier(models.TextChoices):
    SALES_READY = "sales_ready", "Sales Ready"
    NURTURE = "nurture", "Nurture"
    DISQUALIFY = "disqualify", "Disqualify"


class Confidence(models.TextChoices):
    HIGH = "high", "High"
    MEDIUM = "medium", "Medium"
    LOW = "low", "Low"
    NOT_ENOUGH_DATA = "not_enough_data", "Not enough data yet"


class BriefField(models.JSONField):
    """The brief: stored compactly, read back as the whole document.

    See `scoring.briefs.brief_compact`: fit factors keep their points only and model factors
    are triples, which keeps a qualification row small enough to write a hundred thousand in
    seconds. Any read of the column (instances, values(), the API) gets the expanded document;
    rows written before the compact form existed read back unchanged.
    """

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        value = super().from_db_value(value, expression, connection)
        if isinstance(value, dict) and not isinstance(expression, KeyTransform):
            return brief_expand(value)
        return value

    def get_prep_value(self, value: Any) -> Any:
        if isinstance(value, dict):
            value = brief_compact(value)
        return super().get_prep_value(value)


class Qualification(models.Model):
    """One assessment of one lead. Append-only: the newest has is_current set."""

    # No index of its own: qualification_lead_time_idx (lead, -computed_at) serves every
    # lookup by lead, and one index fewer is one less to update per row a run writes.
    lead = models.ForeignKey(
        Lead, on_delete=models.CASCADE, related_name="qualifications", db_index=False
    )
    model_version = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    is_current = models.BooleanField(default=True)
    computed_at = models.DateTimeField(default=timezone.now)
    conversion_probability = models.FloatField(null=True, blank=True)
    timeline_days_low = models.PositiveIntegerField(null=True, blank=True)
    timeline_days_high = models.PositiveIntegerField(null=True, blank=True)
    deal_size_low = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    deal_size_high = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    fit_company = models.PositiveSmallIntegerField(null=True, blank=True)
    fit_role = models.PositiveSmallIntegerField(null=True, blank=True)
    fit_technology = models.PositiveSmallIntegerField(null=True, blank=True)
    fit_timing = models.PositiveSmallIntegerField(null=True, blank=True)
    point_score = models.IntegerField(default=0)
    tier = models.CharField(max_length=20, choices=Tier.choices)
    # A rule's reason code when a rule decided; empty when the model did.
    disqualification_reason = models.CharField(max_length=50, blank=True)
    # A buyer-looking lead caught by a rule goes to a person, not silently out.
    needs_review = models.BooleanField(default=False)
    contributions = models.JSONField(default=dict, blank=True)
    brief = BriefField(default=dict, blank=True)
    recommended_action = models.TextField(blank=True)
    confidence = models.CharField(max_length=20, choices=Confidence.choices)
    # ACCOUNTS (issue 13): the account's priority when this was computed, and what it did to
    # the Sales Ready threshold ("" when it changed nothing).
    account_priority = models.CharField(max_length=10, blank=True)
    threshold_note = models.CharField(max_length=200, blank=True)
    # Overrides (docs/overrides.md): what decided instead of the rules and the model, if
    # anything. No full indexes: a run writes these for every lead and almost all are empty;
    # the partial indexes below serve "which leads did this rule decide" and deletions.
    positive_rule = models.ForeignKey(
        "PositiveRule", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        db_index=False,
    )  # fmt: skip
    lead_override = models.ForeignKey(
        "LeadOverride", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        db_index=False,
    )  # fmt: skip
    # The evidence ("VIP domain acme.com") or the manager's reason, as it was when it decided.
    override_reason = models.CharField(max_length=300, blank=True)
    # The disqualifier's reason code an override beat ("" when none matched).
    overridden_disqualification = models.CharField(max_length=50, blank=True)

    class Meta:
        ordering = ["-computed_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["lead"], condition=Q(is_current=True), name="qualification_one_current"
            ),
            models.CheckConstraint(
                condition=Q(conversion_probability__isnull=True)
                | Q(conversion_probability__gte=0, conversion_probability__lte=1),
                name="qualification_probability_range",
            ),
        ]
        indexes = [
            models.Index(fields=["lead", "-computed_at"], name="qualification_lead_time_idx"),
            models.Index(
                fields=["tier", "-conversion_probability"],
                name="qualification_current_tier_idx",
                condition=Q(is_current=True),
            ),
            models.Index(
                fields=["positive_rule"],
                name="qualification_posrule_idx",
                condition=Q(positive_rule__isnull=False),
            ),
            models.Index(
                fields=["lead_override"],
                name="qualification_override_idx",
                condition=Q(lead_override__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.lead_id}: {self.get_tier_display()} @ {self.computed_at:%Y-%m-%d %H:%M}"

    # The behaviour and intent summaries are parts of the brief, not columns of their own: a
    # copy of each in every row was a sixth of what a re-qualification wrote.
    @property
    def behaviour(self) -> dict[str, Any]:
        """The behaviour analysis: {"lines": [...], "content": [{category, visits, minutes}]}."""
        brief = self.brief if isinstance(self.brief, dict) else {}
        return {
            "lines": list(brief.get("behaviour", [])),
            "content": list(brief.get("content", [])),
        }

    @property
    def intent(self) -> dict[str, Any]:
        """The intent signals: {"first_party", "third_party", "timing"}, each a list of lines."""
        brief = self.brief if isinstance(self.brief, dict) else {}
        intent = brief.get("intent")
        return dict(intent) if isinstance(intent, dict) else {}


class FeedbackVerdict(models.TextChoices):
    ACCEPT = "accept", "Accept"
    REJECT = "reject", "Reject"


class FeedbackReason(models.TextChoices):
    GOOD_FIT = "good_fit", "Good fit and timing"
    NOT_DECISION_MAKER = "not_decision_maker", "Not a decision-maker"
    NO_BUDGET = "no_budget", "No budget"
    BAD_TIMING = "bad_timing", "Not buying now"
    WRONG_FIT = "wrong_fit", "Company is not a fit"
    COMPETITOR = "competitor", "Competitor"
    STUDENT = "student", "Student or researcher"
    EXISTING_CUSTOMER = "existing_customer", "Existing customer"
    UNREACHABLE = "unreachable", "Could not reach"
    DUPLICATE = "duplicate", "Duplicate"
    OTHER = "other", "Other"


class Feedback(models.Model):
    """A rep's verdict on a qualification: a training label and a rule-tuning signal."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="feedback")
    qualification = models.ForeignKey(
        Qualification, null=True, blank=True, on_delete=models.SET_NULL, related_name="feedback"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="feedback"
    )
    verdict = models.CharField(max_length=10, choices=FeedbackVerdict.choices)
    reason = models.CharField(max_length=30, choices=FeedbackReason.choices)
    comment = models.TextField(blank=True)
    # TRIGGERS: with a "not buying now" verdict, the day the rep asked to hear again; the
    # timing-window trigger resurfaces the lead on it.
    revisit_on = models.DateField(
        null=True,
        blank=True,
        help_text="For a 'not buying now' verdict: the day the lead resurfaces for its rep.",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "feedback"
        indexes = [
            models.Index(
                fields=["revisit_on"],
                name="feedback_revisit_on_idx",
                condition=Q(revisit_on__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_verdict_display()} ({self.get_reason_display()})"


class ThresholdMode(models.TextChoices):
    CAPACITY = "capacity", "From rep capacity"
    FIXED = "fixed", "Fixed by RevOps"


class ScoringSettings(models.Model):
    """The tunable numbers of qualification, one row, edited by RevOps in the admin."""

    threshold_mode = models.CharField(
        max_length=20, choices=ThresholdMode.choices, default=ThresholdMode.CAPACITY
    )
    # Used as-is in fixed mode; in capacity mode recomputed from the score distribution so that
    # the expected weekly Sales Ready volume matches the reps' weekly capacity.
    sales_ready_threshold = models.FloatField(default=0.5)
    # Below this the lead goes to the low-priority pool (passive monitoring), above it nurture.
    nurture_threshold = models.FloatField(default=0.03)
    # Capacity mode never sets the Sales Ready bar below this: spare rep capacity is no reason
    # to route leads that will not convert (the seed's accuracy target is 30-50%).
    min_sales_ready_probability = models.FloatField(default=0.3)
    capacity_leads_per_week = models.PositiveIntegerField(
        null=True, blank=True, help_text="Override of the reps' summed weekly capacity."
    )
    # Below this many labelled outcomes, qualification runs on rules, fit and intent priors
    # and says "not enough data yet" on every brief.
    min_outcomes_for_model = models.PositiveIntegerField(default=200)
    recency_half_life_days = models.FloatField(default=14.0)
    point_route_threshold = models.IntegerField(default=100)
    review_min_committee_people = models.PositiveSmallIntegerField(default=3)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "scoring settings"
        verbose_name_plural = "scoring settings"
        constraints = [
            models.CheckConstraint(
                condition=Q(nurture_threshold__lte=models.F("sales_ready_threshold")),
                name="scoringsettings_thresholds_ordered",
            ),
        ]

    def __str__(self) -> str:
        return "Scoring settings"

    @classmethod
    def load(cls) -> ScoringSettings:
        settings_row, _ = cls.objects.get_or_create(pk=1)
        return settings_row


# --- ACCOUNTS (issue 13): account qualification --------------------------------------------
# The account's own score and priority, stored with its history like a lead's Qualification
# (scoring/account_scoring.py is the pure core, scoring/account_services.py stores it).


class AccountPriority(models.TextChoices):
    HIGH = "high", "High"
    MEDIUM = "medium", "Medium"
    LOW = "low", "Low"


class AccountQualificationReason(models.TextChoices):
    """Why an account was scored again: the evidence that arrived, or the run that did it."""

    ACCOUNT_EVENT = "account_event", "Account event arrived"
    INTENT = "intent", "Intent signal arrived"
    TECHNOLOGY = "technology", "Technology seen"
    NEW_CONTACT = "new_contact", "New contact at the account"
    NIGHTLY = "nightly", "Nightly run"
    MANUAL = "manual", "Run by hand"


class AccountScoringSettings(models.Model):
    """The account priority thresholds and how a priority moves its leads' Sales Ready bar.

    One row, edited by RevOps in the admin (its own row rather than more ScoringSettings
    columns: the lead thresholds there are recomputed from capacity, these never are).
    """

    high_threshold = models.PositiveSmallIntegerField(
        default=60,
        validators=[MaxValueValidator(100)],
        help_text="Account score (0-100) at or above which an account is High priority.",
    )
    medium_threshold = models.PositiveSmallIntegerField(
        default=30,
        validators=[MaxValueValidator(100)],
        help_text="Account score at or above which an account is Medium (below it: Low). "
        "At most the High threshold.",
    )
    high_factor = models.FloatField(
        default=0.85,
        validators=[MinValueValidator(0.5), MaxValueValidator(1.5)],
        help_text="A lead at a High account is Sales Ready at this share of the Sales Ready "
        "threshold (0.85: a 0.42 threshold becomes 0.36). 0.5-1.5; 1 changes nothing.",
    )
    medium_factor = models.FloatField(
        default=1.0,
        validators=[MinValueValidator(0.5), MaxValueValidator(1.5)],
        help_text="The same for a lead at a Medium account. 0.5-1.5; 1 changes nothing.",
    )
    low_factor = models.FloatField(
        default=1.0,
        validators=[MinValueValidator(0.5), MaxValueValidator(1.5)],
        help_text="The same for a lead at a Low account (above 1 raises its bar). 0.5-1.5.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "account scoring settings"
        verbose_name_plural = "account scoring settings"
        constraints = [
            models.CheckConstraint(
                condition=Q(medium_threshold__lte=models.F("high_threshold"))
                & Q(high_threshold__lte=100),
                name="accountscoringsettings_thresholds_ordered",
            ),
            models.CheckConstraint(
                condition=Q(high_factor__gte=0.5, high_factor__lte=1.5)
                & Q(medium_factor__gte=0.5, medium_factor__lte=1.5)
                & Q(low_factor__gte=0.5, low_factor__lte=1.5),
                name="accountscoringsettings_factors_range",
            ),
        ]

    def __str__(self) -> str:
        return "Account scoring settings"

    @classmethod
    def load(cls) -> AccountScoringSettings:
        settings_row, _ = cls.objects.get_or_create(pk=1)
        return settings_row

    @property
    def factors(self) -> dict[str, float]:
        return {
            AccountPriority.HIGH: self.high_factor,
            AccountPriority.MEDIUM: self.medium_factor,
            AccountPriority.LOW: self.low_factor,
        }


class AccountQualification(models.Model):
    """One assessment of one account. Append-only: the newest has is_current set; a run that
    finds nothing changed stores nothing, so the history is a list of changes."""

    account = models.ForeignKey(
        "accounts.Account", on_delete=models.CASCADE, related_name="qualifications", db_index=False
    )
    is_current = models.BooleanField(default=True)
    computed_at = models.DateTimeField(default=timezone.now)
    score = models.PositiveSmallIntegerField()
    priority = models.CharField(max_length=10, choices=AccountPriority.choices)
    # [{part, label, points, max, detail}] in display order (account_scoring.account_parts).
    parts = models.JSONField(default=list, blank=True)
    roles_engaged = models.JSONField(default=list, blank=True)
    roles_quiet = models.JSONField(default=list, blank=True)
    roles_missing = models.JSONField(default=list, blank=True)
    departments = models.JSONField(default=list, blank=True)
    # The committee roles to reach next, as steps (account_scoring.account_play).
    play = models.JSONField(default=list, blank=True)
    reason = models.CharField(max_length=20, choices=AccountQualificationReason.choices)
    # What arrived, in words ("funding", an intent topic): empty for a run.
    reason_detail = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-computed_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["account"],
                condition=Q(is_current=True),
                name="accountqualification_one_current",
            ),
        ]
        indexes = [
            models.Index(fields=["account", "-computed_at"], name="accountqual_account_time_idx"),
            models.Index(
                fields=["priority"],
                name="accountqual_current_prio_idx",
                condition=Q(is_current=True),
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.account_id}: {self.get_priority_display()} {self.score} "
            f"@ {self.computed_at:%Y-%m-%d %H:%M}"
        )


# --- TRIGGERS: re-qualification triggers and why a lead resurfaced (issue 13) ------------------


class TriggerKind(models.TextChoices):
    DORMANT_ACTIVITY = "dormant_activity", "Dormant lead active again"
    COMPANY_CHANGE = "company_change", "Company change"
    TIMING_WINDOW = "timing_window", "Timing objection window expired"
    COMPETITOR_NEWS = "competitor_news", "Competitor in the news"
    NEW_CONTACT = "new_contact", "New contact at an engaged company"
    NOW_AT_COMPANY = "now_at_company", "Now at a company"
    EXPANSION_INTENT = "expansion_intent", "Customer showing expansion intent"


class TriggerRule(models.Model):
    """One re-qualification trigger's settings, edited by a sales manager in the admin.

    One row per trigger kind, seeded by the migration; the trigger services read them on each
    run (a change applies to the next evidence, nothing is cached across runs).
    """

    kind = models.CharField(max_length=30, choices=TriggerKind.choices, unique=True)
    is_active = models.BooleanField(
        default=True,
        help_text="Off: this trigger never resurfaces a lead (its evidence is still stored).",
    )
    cooldown_days = models.PositiveIntegerField(
        default=14,
        help_text=(
            "A lead resurfaces by this trigger at most once in this many days, so a burst of "
            "news does not put the same lead in front of a rep again and again. 0: no cooldown."
        ),
    )
    dormant_days = models.PositiveIntegerField(
        default=30,
        help_text=(
            "Dormant lead active again: days without any activity after which a lead counts "
            "as dormant. Closed leads count whatever their last activity."
        ),
    )
    engaged_days = models.PositiveIntegerField(
        default=90,
        help_text=(
            "New contact: a company counts as engaged when one of its people was active in "
            "the last this many days."
        ),
    )
    event_kinds = models.JSONField(
        default=list,
        blank=True,
        help_text=(
            "Company change and competitor in the news: which account event kinds count, "
            'e.g. ["funding", "leadership_change", "initiative"].'
        ),
    )
    intent_topics = models.JSONField(
        default=list,
        blank=True,
        help_text=(
            "Competitor in the news and customer expansion: third-party intent topics that "
            'count (a topic counts when it contains one of these words), e.g. ["competitor", '
            '"alternative"] or ["upgrade", "enterprise plan"].'
        ),
    )
    min_surge = models.FloatField(
        default=2.0,
        help_text=(
            "Intent topics above: the least surge score that counts (2.0 = researched twice "
            "as much as usual)."
        ),
    )
    revisit_days = models.PositiveIntegerField(
        default=90,
        help_text=(
            "Timing objection: the revisit date a rep's 'not buying now' verdict proposes, "
            "this many days ahead (the rep can pick another, up to a year ahead)."
        ),
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["kind"]
        verbose_name = "re-qualification trigger"
        constraints = [
            models.CheckConstraint(condition=Q(dormant_days__gte=1), name="triggerrule_dormant"),
            models.CheckConstraint(condition=Q(engaged_days__gte=1), name="triggerrule_engaged"),
            models.CheckConstraint(
                condition=Q(revisit_days__gte=1, revisit_days__lte=366),
                name="triggerrule_revisit_days_range",
            ),
        ]

    def __str__(self) -> str:
        return self.get_kind_display()


class ResurfacingStatus(models.TextChoices):
    PENDING = "pending", "Waiting for routing"
    ROUTED = "routed", "Routed"
    NO_CHANGE = "no_change", "Re-qualified, not Sales Ready"


class Resurfacing(models.Model):
    """Why a lead came back: the trigger, the evidence, the change in qualification, and where
    routing sent it (the previous owner first)."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="resurfacings")
    trigger = models.CharField(max_length=30, choices=TriggerKind.choices)
    # Sentences a rep reads ("Funding round: Raised $20M Series B (2 h ago).") and, under
    # "records", what arrived (the account event, intent signal, touchpoint or new lead ids).
    evidence = models.JSONField(default=dict, blank=True)
    fired_at = models.DateTimeField(default=timezone.now)
    previous_qualification = models.ForeignKey(
        "Qualification",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    qualification = models.ForeignKey(
        "Qualification",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="resurfacings",
    )
    # "Nurture 18% → Sales Ready 51%" (scoring.triggers.change_line), once re-qualified.
    change = models.CharField(max_length=200, blank=True)
    # Lead.owner when it fired: routing tries this user's rep first.
    previous_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # The status the lead had (a closed lead is reopened; see trigger_services).
    previous_status = models.CharField(max_length=20, blank=True)
    routed_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    routed_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(
        max_length=20, choices=ResurfacingStatus.choices, default=ResurfacingStatus.PENDING
    )

    class Meta:
        ordering = ["-fired_at", "-pk"]
        indexes = [
            models.Index(fields=["lead", "trigger", "-fired_at"], name="resurfacing_cooldown_idx"),
            models.Index(
                fields=["lead"],
                name="resurfacing_pending_idx",
                condition=Q(status="pending"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_trigger_display()} ({self.fired_at:%Y-%m-%d})"

    @property
    def sentences(self) -> list[str]:
        evidence = self.evidence if isinstance(self.evidence, dict) else {}
        return [str(s) for s in evidence.get("sentences", [])]


# --- OVERRIDES (issue 13): positive rules, per-lead manual overrides, the audit trail --------
# See docs/overrides.md for the precedence; the matching is the pure core scoring/overrides.py.


class PositiveRuleKind(models.TextChoices):
    VIP_DOMAIN = "vip_domain", "VIP email domain"
    NAMED_ACCOUNT = "named_account", "Named account"
    PARTNER_REFERRAL = "partner_referral", "Partner referral (lead source)"


class PositiveOutcome(models.TextChoices):
    SALES_READY = "sales_ready", "Sales Ready"


# Who the person is, not how they behave: a positive rule can never beat these (a VIP domain
# does not make a competitor's employee or a throwaway address a buyer).
NEVER_OVERRIDDEN_CATEGORIES: frozenset[str] = frozenset(
    {RuleCategory.COMPETITOR, RuleCategory.SPAM}
)


def positive_rule_default_overrides() -> list[str]:
    """A new positive rule beats "below minimum fit" only: the common case (a VIP at a small
    subsidiary, a partner's referral from an unusual industry)."""
    return [RuleCategory.MINIMUM_FIT.value]


class PositiveRule(models.Model):
    """A condition that lifts a lead to Sales Ready whatever the model says (VIP domains,
    named accounts, partner referrals). The first active rule by priority that matches, and is
    allowed to beat the lead's disqualifier if one matched, decides."""

    name = models.CharField(
        max_length=100, help_text="What sales managers call it, e.g. “Acme VIPs”."
    )
    kind = models.CharField(
        max_length=20,
        choices=PositiveRuleKind.choices,
        help_text="VIP email domain: people writing from these domains. Named account: leads of "
        "the chosen accounts (or of these domains). Partner referral: leads whose source is one "
        "of the source values.",
    )
    domains = models.JSONField(
        default=list,
        blank=True,
        help_text="VIP domain or named account: email domains, one per line (acme.com; "
        "subdomains such as eu.acme.com match too).",
    )
    accounts = models.ManyToManyField(
        "accounts.Account",
        blank=True,
        related_name="+",
        help_text="Named account: every lead of these accounts.",
    )
    sources = models.JSONField(
        default=list,
        blank=True,
        help_text="Partner referral: lead source values, one per line, matched without regard "
        "to case (e.g. partner_referral).",
    )
    outcome = models.CharField(
        max_length=20, choices=PositiveOutcome.choices, default=PositiveOutcome.SALES_READY
    )
    overrides_disqualifiers = models.JSONField(
        default=positive_rule_default_overrides,
        blank=True,
        help_text="Disqualifiers this rule beats. Competitor and spam can never be beaten; a "
        "disqualifier not ticked here wins over the rule.",
    )
    # Lower runs first; the first applicable rule decides.
    priority = models.PositiveIntegerField(
        default=100, help_text="Lower runs first; the first rule that applies decides."
    )
    is_active = models.BooleanField(default=True)
    reason = models.CharField(
        max_length=200,
        help_text="Shown to reps on the brief, e.g. “Strategic account: call within the hour”.",
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )

    class Meta:
        ordering = ["priority", "name"]
        verbose_name = "positive rule"

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"


class LeadOverride(models.Model):
    """A sales manager's decision for one lead: this tier, for this reason, maybe until a date.

    Open until revoked or expired; at most one open per lead. An open override whose
    expires_at has passed no longer applies, even before the expiry task closes it.
    """

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="overrides")
    tier = models.CharField(max_length=20, choices=Tier.choices, default=Tier.SALES_READY)
    reason = models.TextField(
        help_text="Why: shown to reps on the brief and kept in the audit trail."
    )
    set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    set_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(
        null=True, blank=True, help_text="Optional: the override stops applying at this time."
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip
    # Set when the expiry was handled (the lead re-qualified, the audit row written).
    expired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-set_at", "-pk"]
        verbose_name = "lead override"
        constraints = [
            models.UniqueConstraint(
                fields=["lead"],
                condition=Q(revoked_at__isnull=True, expired_at__isnull=True),
                name="leadoverride_one_open",
            ),
        ]
        indexes = [
            models.Index(
                fields=["expires_at"],
                name="leadoverride_expiry_idx",
                condition=Q(
                    revoked_at__isnull=True, expired_at__isnull=True, expires_at__isnull=False
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"Lead {self.lead_id} → {self.get_tier_display()}"

    @property
    def is_open(self) -> bool:
        return self.revoked_at is None and self.expired_at is None

    def applies_at(self, moment: Any) -> bool:
        """Open and not past its expiry at `moment`."""
        return self.is_open and (self.expires_at is None or self.expires_at > moment)

    @property
    def state(self) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expired_at is not None or (
            self.expires_at is not None and self.expires_at <= timezone.now()
        ):
            return "expired"
        return "active"


class AuditAction(models.TextChoices):
    # Dotted "<object>.<verb>": issue 15 adds model activation, disqualifier and lead
    # reassignment actions the same way.
    POSITIVE_RULE_CREATE = "positive_rule.create", "Positive rule created"
    POSITIVE_RULE_CHANGE = "positive_rule.change", "Positive rule changed"
    POSITIVE_RULE_DELETE = "positive_rule.delete", "Positive rule deleted"
    LEAD_OVERRIDE_SET = "lead_override.set", "Lead override set"
    LEAD_OVERRIDE_REVOKE = "lead_override.revoke", "Lead override revoked"
    LEAD_OVERRIDE_EXPIRE = "lead_override.expire", "Lead override expired"


class AuditEvent(models.Model):
    """Who did what to which object, when, with the before and after. Append-only."""

    at = models.DateTimeField(default=timezone.now)
    # None: the system (a scheduled task).
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip
    # Kept as written, so the trail still names a person whose account was deleted.
    actor_name = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=60, choices=AuditAction.choices)
    object_type = models.CharField(max_length=60, help_text="app_label.model")
    object_id = models.CharField(max_length=64)
    object_repr = models.CharField(max_length=200, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-at", "-pk"]
        verbose_name = "audit event"
        indexes = [
            models.Index(fields=["object_type", "object_id", "-at"], name="audit_object_idx"),
            models.Index(fields=["action", "-at"], name="audit_action_idx"),
            models.Index(fields=["-at"], name="audit_time_idx"),
        ]

    def __str__(self) -> str:
        who = self.actor_name or "system"
        return f"{self.at:%Y-%m-%d %H:%M} {who}: {self.action} {self.object_repr}"
