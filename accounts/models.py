"""The CRM record: companies, people, what they did, and how it ended."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone


class Region(models.TextChoices):
    NORTH_AMERICA = "NA", "North America"
    LATIN_AMERICA = "LATAM", "Latin America"
    EMEA = "EMEA", "Europe, Middle East and Africa"
    APAC = "APAC", "Asia-Pacific"
    UNKNOWN = "", "Unknown"


class FundingStage(models.TextChoices):
    UNKNOWN = "", "Unknown"
    BOOTSTRAPPED = "bootstrapped", "Bootstrapped"
    SEED = "seed", "Seed"
    SERIES_A = "series_a", "Series A"
    SERIES_B = "series_b", "Series B"
    SERIES_C_PLUS = "series_c_plus", "Series C+"
    PUBLIC = "public", "Public"
    PRIVATE_EQUITY = "private_equity", "Private equity"


class Account(models.Model):
    name = models.CharField(max_length=255)
    # Normalised (lower case, no "www."); the key that lead matching joins on.
    domain = models.CharField(max_length=255, unique=True)
    industry = models.CharField(max_length=100, blank=True, db_index=True)
    employee_count = models.PositiveIntegerField(null=True, blank=True)
    annual_revenue = models.DecimalField(max_digits=16, decimal_places=2, null=True, blank=True)
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166-1 alpha-2 code.")
    state = models.CharField(max_length=100, blank=True)
    region = models.CharField(max_length=8, choices=Region.choices, blank=True, db_index=True)
    # The names of the account's AccountTechnology rows, kept in sync by the technology feed
    # (accounts.account_feeds): fit scoring and the features read this list.
    tech_stack = models.JSONField(default=list, blank=True)
    funding_stage = models.CharField(max_length=20, choices=FundingStage.choices, blank=True)
    is_customer = models.BooleanField(default=False)
    is_competitor = models.BooleanField(default=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_accounts",
    )
    salesforce_id = models.CharField(max_length=18, null=True, blank=True, unique=True)
    attributes = models.JSONField(default=dict, blank=True)
    # FEEDS (issue 13): the budget cycle, from the CRM; empty means the ICP's default.
    fiscal_year_start_month = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="Month (1-12) this company's fiscal year starts. Empty: the ideal customer "
        "profile's default month is used.",
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(domain=Lower("domain")),
                name="account_domain_lowercase",
            ),
            models.CheckConstraint(
                condition=Q(fiscal_year_start_month__isnull=True)
                | Q(fiscal_year_start_month__gte=1, fiscal_year_start_month__lte=12),
                name="account_fiscal_year_start_month_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.domain})"


class Seniority(models.TextChoices):
    UNKNOWN = "", "Unknown"
    C_LEVEL = "c_level", "C-level"
    VP = "vp", "Vice president"
    DIRECTOR = "director", "Director"
    MANAGER = "manager", "Manager"
    INDIVIDUAL = "individual", "Individual contributor"
    STUDENT = "student", "Student"


class Department(models.TextChoices):
    UNKNOWN = "", "Unknown"
    EXECUTIVE = "executive", "Executive"
    OPERATIONS = "operations", "Operations"
    FINANCE = "finance", "Finance"
    MARKETING = "marketing", "Marketing"
    SALES = "sales", "Sales"
    ENGINEERING = "engineering", "Engineering"
    IT = "it", "IT"
    SECURITY = "security", "Security"
    PRODUCT = "product", "Product"
    HR = "hr", "Human resources"
    ACADEMIC = "academic", "Academic"
    OTHER = "other", "Other"


class LeadStatus(models.TextChoices):
    NEW = "new", "New"
    WORKING = "working", "Working"
    NURTURING = "nurturing", "Nurturing"
    CONVERTED = "converted", "Converted"
    CLOSED = "closed", "Closed, not converted"


class Lead(models.Model):
    account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.SET_NULL, related_name="leads"
    )
    # Stored lower case; unique because the API finds a person by email.
    email = models.EmailField(max_length=254, unique=True)
    # An id from the sending system (web tracker, marketing automation, a CSV's row key).
    external_id = models.CharField(max_length=255, null=True, blank=True, unique=True)
    name = models.CharField(max_length=255, blank=True)
    title = models.CharField(max_length=255, blank=True)
    seniority = models.CharField(max_length=20, choices=Seniority.choices, blank=True)
    department = models.CharField(max_length=20, choices=Department.choices, blank=True)
    source = models.CharField(max_length=100, blank=True, db_index=True)
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166-1 alpha-2 code.")
    state = models.CharField(max_length=100, blank=True)
    language = models.CharField(max_length=10, blank=True)
    status = models.CharField(
        max_length=20, choices=LeadStatus.choices, default=LeadStatus.NEW, db_index=True
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_leads",
    )
    salesforce_id = models.CharField(max_length=18, null=True, blank=True, unique=True)
    # Any custom CRM column; usable as a model feature.
    attributes = models.JSONField(default=dict, blank=True)
    # Columns filled in after contact (the "outcome-time" columns of an import): stored for
    # reporting, never read as features, so a model cannot learn the answer from them.
    outcome_attributes = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    # The outcome: converted into an opportunity, or closed without one. Training labels a lead
    # 1 when converted_at is set and 0 when closed_at is; features are computed as of that
    # moment, so nothing that happened after the outcome can leak into them.
    converted_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # Set when new evidence arrives; cleared by re-qualification. A sweep finds stale ones.
    requalify_requested_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(email=Lower("email")), name="lead_email_lowercase"),
        ]
        indexes = [
            models.Index(
                fields=["requalify_requested_at"],
                name="lead_requalify_pending_idx",
                condition=Q(requalify_requested_at__isnull=False),
            ),
            models.Index(fields=["owner", "status"], name="lead_owner_status_idx"),
        ]

    def __str__(self) -> str:
        return self.name or self.email

    @property
    def email_domain(self) -> str:
        return self.email.rsplit("@", 1)[-1]


class CommitteeRole(models.TextChoices):
    ECONOMIC_BUYER = "economic_buyer", "Economic buyer"
    CHAMPION = "champion", "Champion"
    TECHNICAL_EVALUATOR = "technical_evaluator", "Technical evaluator"
    USER = "user", "User"
    BLOCKER = "blocker", "Blocker"
    UNKNOWN = "", "Unknown"


class Stakeholder(models.Model):
    """A member of an account's buying committee: a lead, or a CRM contact with no lead."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="stakeholders")
    lead = models.ForeignKey(
        Lead, null=True, blank=True, on_delete=models.CASCADE, related_name="stakeholder_roles"
    )
    name = models.CharField(max_length=255, blank=True)
    email = models.EmailField(blank=True)
    title = models.CharField(max_length=255, blank=True)
    committee_role = models.CharField(max_length=30, choices=CommitteeRole.choices, blank=True)
    # False once a person (or the CRM) has set the role; inference must not overwrite it then.
    role_inferred = models.BooleanField(default=True)
    salesforce_id = models.CharField(max_length=18, null=True, blank=True, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["account", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "lead"],
                name="stakeholder_unique_lead_per_account",
                condition=Q(lead__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name or self.email} ({self.get_committee_role_display()})"


class TouchpointKind(models.TextChoices):
    PAGE_VIEW = "page_view", "Page view"
    CONTENT_DOWNLOAD = "content_download", "Content download"
    EMAIL_OPEN = "email_open", "Email open"
    EMAIL_CLICK = "email_click", "Email click"
    EMAIL_REPLY = "email_reply", "Email reply"
    FORM_SUBMIT = "form_submit", "Form submission"
    WEBINAR = "webinar", "Webinar attended"
    CHAT_MESSAGE = "chat_message", "Chat message"
    MEETING = "meeting", "Meeting"
    SALES_REPLY = "sales_reply", "Reply to sales outreach"


class PageCategory(models.TextChoices):
    NONE = "", "None"
    HOME = "home", "Home"
    PRICING = "pricing", "Pricing"
    ROI_CALCULATOR = "roi_calculator", "ROI calculator"
    IMPLEMENTATION = "implementation", "Implementation"
    INTEGRATION_DOCS = "integration_docs", "Integration docs"
    SECURITY = "security", "Security"
    COMPARISON = "comparison", "Comparison"
    CASE_STUDY = "case_study", "Case study"
    PRODUCT = "product", "Product"
    DEMO = "demo", "Demo"
    WHITEPAPER = "whitepaper", "Whitepaper"
    WEBINAR = "webinar", "Webinar"
    BLOG = "blog", "Blog"
    EDUCATIONAL = "educational", "Educational"
    CAREERS = "careers", "Careers"
    SUPPORT = "support", "Support"
    DOCS = "docs", "Documentation"
    OTHER = "other", "Other"


class FormType(models.TextChoices):
    NONE = "", "None"
    DEMO_REQUEST = "demo_request", "Demo request"
    CONTACT_SALES = "contact_sales", "Contact sales"
    TRIAL = "trial", "Free trial"
    NEWSLETTER = "newsletter", "Newsletter"
    GATED_CONTENT = "gated_content", "Gated content"
    WEBINAR_REGISTRATION = "webinar_registration", "Webinar registration"
    JOB_APPLICATION = "job_application", "Job application"
    SUPPORT = "support", "Support request"


class Touchpoint(models.Model):
    """One thing a lead (or an anonymous visitor from a known company) did.

    The big table. On PostgreSQL it is the candidate for monthly partitioning by occurred_at;
    until then the two (owner, occurred_at) indexes serve "events of these leads since T".
    """

    lead = models.ForeignKey(
        Lead, null=True, blank=True, on_delete=models.CASCADE, related_name="touchpoints"
    )
    account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.CASCADE, related_name="touchpoints"
    )
    kind = models.CharField(max_length=20, choices=TouchpointKind.choices)
    occurred_at = models.DateTimeField()
    url = models.URLField(max_length=1000, blank=True)
    page_category = models.CharField(max_length=20, choices=PageCategory.choices, blank=True)
    duration_seconds = models.PositiveIntegerField(null=True, blank=True)
    form_type = models.CharField(max_length=30, choices=FormType.choices, blank=True)
    text = models.TextField(blank=True)
    # Idempotency key: replaying an event with the same id changes nothing.
    external_id = models.CharField(max_length=255, unique=True)
    properties = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-occurred_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(lead__isnull=False) | Q(account__isnull=False),
                name="touchpoint_has_lead_or_account",
            ),
        ]
        indexes = [
            models.Index(fields=["lead", "occurred_at"], name="touchpoint_lead_time_idx"),
            models.Index(fields=["account", "occurred_at"], name="touchpoint_account_time_idx"),
        ]

    def __str__(self) -> str:
        detail = self.page_category or self.form_type
        return f"{self.get_kind_display()} {detail} @ {self.occurred_at:%Y-%m-%d %H:%M}"


class IntentSignal(models.Model):
    """Third-party intent: an account researching a topic more than usual."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="intent_signals")
    topic = models.CharField(max_length=200)
    # Research volume against the account's baseline: 3.4 means a 340% surge.
    surge_score = models.FloatField()
    observed_at = models.DateTimeField()
    source = models.CharField(max_length=100, blank=True)
    # Idempotency (accounts.account_feeds): the vendor's id, unique per source; without one,
    # the same account, topic, source and observation time is the same signal.
    external_id = models.CharField(max_length=255, null=True, blank=True)
    received_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-observed_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"],
                condition=Q(external_id__isnull=False),
                name="intent_unique_external_id_per_source",
            ),
            models.UniqueConstraint(
                fields=["account", "topic", "source", "observed_at"],
                condition=Q(external_id__isnull=True),
                name="intent_unique_observation",
            ),
        ]
        indexes = [
            models.Index(fields=["account", "observed_at"], name="intent_account_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.topic} x{self.surge_score:.1f}"


class AccountEventKind(models.TextChoices):
    FUNDING = "funding", "Funding round"
    LEADERSHIP_CHANGE = "leadership_change", "New leader"
    INITIATIVE = "initiative", "Initiative announced"
    JOB_POSTING = "job_posting", "Job posting"
    ACQUISITION = "acquisition", "Acquisition"
    CONTRACT_RENEWAL = "contract_renewal", "Competitor contract renewal"
    COMPETITOR_NEWS = "competitor_news", "Competitor in the news"


class AccountEvent(models.Model):
    """A trigger in the account's world: funding, a new leader, an initiative, job postings."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=30, choices=AccountEventKind.choices)
    occurred_at = models.DateTimeField()
    title = models.CharField(max_length=255)
    details = models.JSONField(default=dict, blank=True)
    source = models.CharField(max_length=100, blank=True)
    # FEEDS (issue 13). Idempotency: the sender's id, unique per source; without one, the same
    # account, kind, time, title and source is the same event (accounts.account_feeds).
    external_id = models.CharField(max_length=255, null=True, blank=True)
    # A contract renewal's incumbent vendor, or the competitor in the news.
    vendor = models.CharField(max_length=200, blank=True)
    renews_at = models.DateField(
        null=True, blank=True, help_text="Contract renewals: the date the contract renews."
    )
    received_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-occurred_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"],
                condition=Q(external_id__isnull=False),
                name="accountevent_unique_external_id_per_source",
            ),
            models.UniqueConstraint(
                fields=["account", "kind", "occurred_at", "title", "source"],
                condition=Q(external_id__isnull=True),
                name="accountevent_unique_occurrence",
            ),
        ]
        indexes = [
            models.Index(fields=["account", "occurred_at"], name="accountevent_account_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.title}"


class OpportunityStage(models.TextChoices):
    PROSPECTING = "prospecting", "Prospecting"
    DISCOVERY = "discovery", "Discovery"
    EVALUATION = "evaluation", "Evaluation"
    PROPOSAL = "proposal", "Proposal"
    NEGOTIATION = "negotiation", "Negotiation"
    CLOSED_WON = "closed_won", "Closed won"
    CLOSED_LOST = "closed_lost", "Closed lost"


class Opportunity(models.Model):
    """A deal. Closed ones are the outcomes that training learns from."""

    account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.CASCADE, related_name="opportunities"
    )
    lead = models.ForeignKey(
        Lead, null=True, blank=True, on_delete=models.SET_NULL, related_name="opportunities"
    )
    name = models.CharField(max_length=255, blank=True)
    stage = models.CharField(max_length=20, choices=OpportunityStage.choices)
    amount = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)
    is_closed = models.BooleanField(default=False)
    is_won = models.BooleanField(default=False)
    salesforce_id = models.CharField(max_length=18, null=True, blank=True, unique=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "opportunities"
        constraints = [
            models.CheckConstraint(
                condition=Q(is_won=False) | Q(is_closed=True), name="opportunity_won_is_closed"
            ),
            models.CheckConstraint(
                condition=Q(closed_at__isnull=True) | Q(closed_at__gte=models.F("created_at")),
                name="opportunity_closes_after_it_opens",
            ),
        ]
        indexes = [
            models.Index(fields=["lead", "is_closed"], name="opportunity_lead_closed_idx"),
        ]

    def __str__(self) -> str:
        return self.name or f"Opportunity {self.pk}"


class ApiScope(models.TextChoices):
    INGEST = "ingest", "Ingest events"
    READ = "read", "Read"


class ApiToken(models.Model):
    """A key an admin issues to one integration (a web tracker, a CRM sync) for the REST API.

    Only the SHA-256 of the key is stored: a database dump or the admin cannot reveal a working
    key. The key is shown once, when it is issued; `prefix` (its first characters) lets an
    operator tell tokens apart in logs and the admin.
    """

    name = models.CharField(max_length=100, help_text="Who uses it, e.g. 'Website tracker'.")
    scope = models.CharField(max_length=10, choices=ApiScope.choices)
    prefix = models.CharField(max_length=12, editable=False)
    # sha256(key) in hex; looked up on every request, so unique (and indexed).
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="api_tokens",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…, {self.scope})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


# --- Salesforce sync bookkeeping ---------------------------------------------------------------


class SalesforceSyncState(models.Model):
    """The incremental pull's position for one Salesforce object (docs/salesforce.md, "Pull")."""

    object_name = models.CharField(max_length=40, unique=True)
    # The highest SystemModstamp whose records are all applied; the next pull reads from here
    # minus SALESFORCE_PULL_LOOKBACK_SECONDS. Moved in the same transaction as the page it
    # covers, so a crash can never leave it ahead of the data.
    watermark = models.DateTimeField(null=True, blank=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_status = models.CharField(max_length=20, blank=True)  # "ok" | "failed" | "stopped"
    last_error = models.TextField(blank=True)
    last_counts = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["object_name"]
        verbose_name = "Salesforce sync state"

    def __str__(self) -> str:
        return f"{self.object_name} @ {self.watermark or 'never'}"


class SyncDirection(models.TextChoices):
    PULL = "pull", "Pull (Salesforce to leadqual)"
    PUSH = "push", "Push (leadqual to Salesforce)"


class SyncRunStatus(models.TextChoices):
    RUNNING = "running", "Running"
    OK = "ok", "OK"
    FAILED = "failed", "Failed"
    # The org's API usage crossed SALESFORCE_API_USAGE_STOP_SHARE: stopped on purpose, the
    # next run goes on from the watermarks.
    STOPPED = "stopped", "Stopped (API usage limit)"


class SalesforceSyncRun(models.Model):
    """One pull or push, for the sync status panel: when, how it ended, counts and errors."""

    direction = models.CharField(max_length=10, choices=SyncDirection.choices)
    status = models.CharField(
        max_length=10, choices=SyncRunStatus.choices, default=SyncRunStatus.RUNNING
    )
    started_at = models.DateTimeField(default=timezone.now, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    dry_run = models.BooleanField(default=False)
    # Per object: {"Lead": {"created": 3, "updated": 2, "deleted": 1, "unchanged": 5, ...}}.
    counts = models.JSONField(default=dict, blank=True)
    # [{"object": "Lead", "id": "00Q...", "message": "..."}], the first 100.
    errors = models.JSONField(default=list, blank=True)
    api_used = models.IntegerField(null=True, blank=True)
    api_limit = models.IntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        verbose_name = "Salesforce sync run"
        permissions = [
            ("run_salesforcesyncrun", "Can start a Salesforce sync from the status page")
        ]

    def __str__(self) -> str:
        return f"{self.get_direction_display()} {self.started_at:%Y-%m-%d %H:%M} {self.status}"


# --- FEEDS (issue 13): technographics ----------------------------------------------------------


class AccountTechnology(models.Model):
    """A technology seen at an account (technographics), from a data vendor, a CSV or the CRM.

    One row per account and normalised name: seeing it again moves last_seen on. The names are
    mirrored into Account.tech_stack, which fit scoring reads.
    """

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="technologies")
    # Normalised: trimmed, single-spaced, lower case ("salesforce", "google analytics").
    name = models.CharField(max_length=100)
    category = models.CharField(
        max_length=100, blank=True, help_text="e.g. CRM, marketing automation, data warehouse."
    )
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    source = models.CharField(max_length=100, blank=True)
    received_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["account", "name"]
        verbose_name_plural = "account technologies"
        constraints = [
            models.UniqueConstraint(
                fields=["account", "name"], name="accounttechnology_unique_per_account"
            ),
            models.CheckConstraint(
                condition=Q(last_seen__gte=models.F("first_seen")),
                name="accounttechnology_seen_in_order",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} at {self.account_id}"
