"""Settings for leadqual, read from the environment only (see .env.example).

With nothing set, the project runs on the embedded default: a SQLite file beside manage.py and
Celery tasks executed eagerly in-process, so `make demo` needs no server.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

from leadqual.env import env_bool, env_float, env_int, env_list, env_str, parse_database_url

# XGBoost's OpenMP threads spin on a core for a while after each prediction by default. Beside
# a second worker process or PostgreSQL storing the previous chunk, that spinning takes the core
# they need: bulk re-qualification ran some 10% slower. Set before anything loads XGBoost.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", default=False)

_DEV_SECRET_KEY = "insecure-development-key-only-used-when-DEBUG-is-on"
SECRET_KEY = env_str("SECRET_KEY", default=_DEV_SECRET_KEY if DEBUG else None)
if not DEBUG and SECRET_KEY == _DEV_SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must be set to a real secret when DEBUG is off.")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    # Swagger UI's files served from static/, not a CDN.
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "django_htmx",
    "template_partials",
    "accounts",
    "scoring",
    "routing",
    "dashboards",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Every page needs a login; the middleware enforces it so no view can forget. The API
    # (/api/) is exempt: it authenticates itself and answers 401/403 in JSON, not a redirect.
    "leadqual.api.LoginRequiredExceptApiMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "leadqual.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "dashboards.context_processors.navigation",
            ],
        },
    },
]

WSGI_APPLICATION = "leadqual.wsgi.application"
ASGI_APPLICATION = "leadqual.asgi.application"

DATABASE_URL = env_str("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")
DATABASES = {"default": parse_database_url(DATABASE_URL).as_django()}
DATABASES["default"]["CONN_MAX_AGE"] = env_int("DATABASE_CONN_MAX_AGE", default=60, minimum=0)
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # SQLite in WAL mode lets the dev server read while a command writes.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DATABASES["default"]["TEST"] = {"NAME": env_str("TEST_DATABASE_NAME", default="") or None}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboards:home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))

# --- security once DEBUG is off -------------------------------------------------------------
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# --- Celery ---------------------------------------------------------------------------------
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", default="")
# Without a broker, tasks run in-process as they are called: the embedded default needs no
# server, and the test suite on SQLite behaves like production, only synchronously.
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", default=not CELERY_BROKER_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = (
    env_str("CELERY_RESULT_BACKEND", default=CELERY_BROKER_URL if CELERY_BROKER_URL else "") or None
)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", default=30 * 60, minimum=1)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", default=25 * 60, minimum=1)
CELERY_TIMEZONE = TIME_ZONE
# Real-time work (one lead's re-qualification, its routing, SLA checks) stays on the default
# queue; the long jobs go to "bulk", so the nightly run's chunks never line up in front of a
# lead that just asked for a demo. A worker started without -Q consumes both queues declared
# here; run a second worker with `-Q celery` to keep a core for real-time work.
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_QUEUES = (Queue("celery"), Queue("bulk"))
CELERY_TASK_ROUTES = {
    "scoring.tasks.leads_qualify_task": {"queue": "bulk"},
    "scoring.tasks.leads_qualify_all_task": {"queue": "bulk"},
    "scoring.tasks.leads_requalify_dormant_sweep_task": {"queue": "bulk"},
    "scoring.tasks.model_train_task": {"queue": "bulk"},
    "routing.tasks.salesforce_sync_task": {"queue": "bulk"},
}
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Declared here, copied into django-celery-beat's tables when beat starts, and paused or edited
# in the admin ("Periodic tasks"). Its scheduler reads "expire_seconds" from the options (it
# drops "expires"); see docs/operations.md for what survives a restart of beat.
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    "routing-check-sla": {
        "task": "routing.tasks.assignments_check_sla_task",
        "schedule": env_int("LEADQUAL_SLA_CHECK_SECONDS", default=300, minimum=10),
        "options": {"expire_seconds": 240},
    },
    # Leads the real-time path missed (broker down, a lost message): dirty for over a minute.
    "scoring-requalify-dirty-sweep": {
        "task": "scoring.tasks.leads_requalify_dirty_sweep_task",
        "schedule": env_int("LEADQUAL_DIRTY_SWEEP_SECONDS", default=60, minimum=10),
        "options": {"expire_seconds": 50},
    },
    "scoring-requalify-all-nightly": {
        "task": "scoring.tasks.leads_qualify_all_task",
        "schedule": crontab(hour=2, minute=30),
        "options": {"expire_seconds": 6 * 3600},
    },
    # Live-tier leads gone quiet, so that recency decay lowers them between nightly runs.
    "scoring-requalify-dormant": {
        "task": "scoring.tasks.leads_requalify_dormant_sweep_task",
        "schedule": crontab(hour=1, minute=15),
        "kwargs": {"dormant_days": 14, "stale_days": 7},
        "options": {"expire_seconds": 6 * 3600},
    },
    # "Not buying now" verdicts whose revisit date has come resurface for their rep in the
    # morning (the nightly full run also enqueues it).
    "scoring-triggers-revisit-due": {
        "task": "scoring.tasks.triggers_revisit_due_task",
        "schedule": crontab(hour=6, minute=0),
        "options": {"expire_seconds": 6 * 3600},
    },
    # Gated: the new model is switched on only if it beats the active one on the same holdout.
    "scoring-train-weekly": {
        "task": "scoring.tasks.model_train_task",
        "schedule": crontab(day_of_week="sun", hour=3, minute=0),
        "options": {"expire_seconds": 12 * 3600},
    },
    "dashboards-metrics-snapshot": {
        "task": "dashboards.tasks.metrics_snapshot_take_task",
        "schedule": crontab(minute=0),
        "options": {"expire_seconds": 3000},
    },
    # Managers' lead overrides past their expiry: closed, and their leads re-qualified
    # (qualification ignores an expired override already; this routes the lead on).
    "scoring-lead-overrides-expire": {
        "task": "scoring.tasks.lead_overrides_expire_task",
        "schedule": env_int("LEADQUAL_OVERRIDE_EXPIRY_SECONDS", default=300, minimum=10),
        "options": {"expire_seconds": 240},
    },
    # Path webhook deliveries whose task was lost (broker down at commit, a worker died).
    "routing-webhook-resume": {
        "task": "routing.tasks.webhook_deliveries_resume_task",
        "schedule": env_int("LEADQUAL_WEBHOOK_RESUME_SECONDS", default=300, minimum=10),
        "options": {"expire_seconds": 240},
    },
    # Pull then push; skipped with a log line while SALESFORCE_ENABLED is off. The period is
    # SALESFORCE_SYNC_MINUTES (read here because the Salesforce block comes later).
    "salesforce-sync": {
        "task": "routing.tasks.salesforce_sync_task",
        "schedule": 60 * env_int("SALESFORCE_SYNC_MINUTES", default=5, minimum=1),
        # A run that has waited most of a period is dropped: the next one is about to start.
        "options": {
            "expire_seconds": 50 * env_int("SALESFORCE_SYNC_MINUTES", default=5, minimum=1)
        },
    },
}

# --- cache ----------------------------------------------------------------------------------
# The re-qualification pipeline keeps its queued flag, notes and claims in the cache, so web
# processes and workers must share it: Redis at CACHE_URL, else the broker's Redis; in-process
# memory only on the embedded default (no broker, tasks run inline, one process).
CACHE_URL = env_str("CACHE_URL", default="") or (
    CELERY_BROKER_URL if CELERY_BROKER_URL.startswith(("redis://", "rediss://")) else ""
)
CACHES = {
    "default": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CACHE_URL,
            "KEY_PREFIX": "leadqual",
        }
        if CACHE_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

# --- REST API -------------------------------------------------------------------------------
REST_FRAMEWORK = {
    # Bearer first: its challenge makes a request without credentials a 401, not a 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "leadqual.api.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "leadqual.api.exception_handler",
    # JSON only: the browsable renderer would also need the docs' auth and is not the docs page.
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
}
# Per token (per user for a session), a batch counting as one request; 429 with Retry-After.
LEADQUAL_API_INGEST_RATE = env_str("LEADQUAL_API_INGEST_RATE", default="6000/min")
# Checked here so a typo stops the start, not the first request (leadqual.api.rate_parse).
if not re.fullmatch(
    r"\s*[1-9]\d*\s*/\s*(s|sec|second|m|min|minute|h|hour|d|day)\s*", LEADQUAL_API_INGEST_RATE
):
    raise ImproperlyConfigured(
        f"LEADQUAL_API_INGEST_RATE={LEADQUAL_API_INGEST_RATE!r} is not 'N/period' with N ≥ 1 "
        "and period s, min, hour or day (e.g. 6000/min)."
    )
# Called with the ids of the leads whose touchpoints an ingest stored, once it has committed:
# the debounced re-qualification. Dotted paths: accounts cannot import scoring.
LEADQUAL_AFTER_INGEST = ["scoring.tasks.leads_requalify_enqueue"]
# Called with the account evidence an API call, import or sync stored (dicts of
# accounts.evidence_arrival.EvidenceArrival), once it has committed. Same one-way reason.
LEADQUAL_AFTER_ACCOUNT_EVIDENCE = ["scoring.tasks.account_evidence_enqueue"]
# What scoring's account-evidence task does with the arrivals, in this order: each is called
# with the list of EvidenceArrival (re-score the accounts first, then fire the triggers, so
# that a trigger's re-qualification sees the account's new priority).
LEADQUAL_ON_ACCOUNT_EVIDENCE: list[str] = [
    "scoring.account_services.accounts_qualify_for_evidence",
    # TRIGGERS: company change, competitor news, intent surges, new contacts (docs/triggers.md).
    "scoring.trigger_services.triggers_on_account_evidence",
]
# Called with {account_id: [previous priority, new priority]} once an account's new
# qualification (a changed priority, or changed roles under the same one) committed: routing
# starts, updates and ends the accounts' plays (routing/account_plays.py).
LEADQUAL_AFTER_ACCOUNT_QUALIFY: list[str] = ["routing.tasks.account_plays_start"]
SPECTACULAR_SETTINGS = {
    "TITLE": "leadqual API",
    "DESCRIPTION": "Events in; leads, accounts, qualifications and models out. See docs/api.md.",
    "VERSION": "v1",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema and the docs page need a token (any scope) or a login, like the rest.
    "SERVE_PERMISSIONS": ["leadqual.api.IsAuthenticatedOrToken"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Names for choice sets that share a field name across endpoints ("kind", "status").
    "ENUM_NAME_OVERRIDES": {
        "TouchpointKindEnum": "accounts.models.TouchpointKind",
        "IngestItemStatusEnum": "accounts.ingest.ITEM_STATUS_CHOICES",
        "ModelKindEnum": "scoring.models.ModelKind",
        "ModelStatusEnum": "scoring.models.ModelStatus",
        "AccountPriorityEnum": "scoring.models.AccountPriority",
    },
}

# --- Salesforce -----------------------------------------------------------------------------
SALESFORCE_ENABLED = env_bool("SALESFORCE_ENABLED", default=False)
SALESFORCE_USERNAME = env_str("SALESFORCE_USERNAME", default="")
SALESFORCE_PASSWORD = env_str("SALESFORCE_PASSWORD", default="")
SALESFORCE_SECURITY_TOKEN = env_str("SALESFORCE_SECURITY_TOKEN", default="")
SALESFORCE_DOMAIN = env_str("SALESFORCE_DOMAIN", default="login")
SALESFORCE_INSTANCE_URL = env_str("SALESFORCE_INSTANCE_URL", default="")
SALESFORCE_SESSION_ID = env_str("SALESFORCE_SESSION_ID", default="")
SALESFORCE_CONSUMER_KEY = env_str("SALESFORCE_CONSUMER_KEY", default="")
SALESFORCE_CONSUMER_SECRET = env_str("SALESFORCE_CONSUMER_SECRET", default="")
SALESFORCE_PRIVATE_KEY_FILE = env_str("SALESFORCE_PRIVATE_KEY_FILE", default="")
SALESFORCE_API_VERSION = env_str("SALESFORCE_API_VERSION", default="59.0")
SALESFORCE_API_USAGE_STOP_SHARE = env_float("SALESFORCE_API_USAGE_STOP_SHARE", default=0.8)
# Plain-HTTP Salesforce-compatible loopback server (tests, demo): every https:// call goes there.
SALESFORCE_LOOPBACK_URL = env_str("SALESFORCE_LOOPBACK_URL", default="")
# simple-salesforce has no retry: the client retries 5xx, UNABLE_TO_LOCK_ROW and timeouts itself,
# with exponential backoff and full jitter, at most this many times per call.
SALESFORCE_MAX_RETRIES = env_int("SALESFORCE_MAX_RETRIES", default=4, minimum=0)
SALESFORCE_RETRY_BACKOFF_SECONDS = env_float("SALESFORCE_RETRY_BACKOFF_SECONDS", default=1.0)
SALESFORCE_RETRY_MAX_BACKOFF_SECONDS = env_float(
    "SALESFORCE_RETRY_MAX_BACKOFF_SECONDS", default=30.0
)
SALESFORCE_TIMEOUT_SECONDS = env_float("SALESFORCE_TIMEOUT_SECONDS", default=60.0)
SALESFORCE_BULK_POLL_SECONDS = env_float("SALESFORCE_BULK_POLL_SECONDS", default=2.0)
# The pull: how far before each object's watermark it reads again (long transactions commit
# with an older SystemModstamp), the record count above which Bulk API 2.0 replaces REST, and
# the records applied per transaction (each page moves the watermark).
SALESFORCE_PULL_LOOKBACK_SECONDS = env_int(
    "SALESFORCE_PULL_LOOKBACK_SECONDS", default=300, minimum=0
)
SALESFORCE_PULL_BULK_THRESHOLD = env_int(
    "SALESFORCE_PULL_BULK_THRESHOLD", default=10_000, minimum=0
)
SALESFORCE_PULL_PAGE_SIZE = env_int("SALESFORCE_PULL_PAGE_SIZE", default=2000, minimum=200)
if SALESFORCE_PULL_PAGE_SIZE > 2000:
    raise ImproperlyConfigured(
        f"SALESFORCE_PULL_PAGE_SIZE={SALESFORCE_PULL_PAGE_SIZE}: Salesforce serves at most "
        "2000 records per query page."
    )
# The Account fields that carry account feeds (docs/salesforce.md, "Account feed fields"):
# pulled when the org has them; an empty name leaves that feed out.
SALESFORCE_PULL_FIELD_FISCAL_YEAR_START = env_str(
    "SALESFORCE_PULL_FIELD_FISCAL_YEAR_START", default="Fiscal_Year_Start_Month__c"
)
SALESFORCE_PULL_FIELD_RENEWAL_DATE = env_str(
    "SALESFORCE_PULL_FIELD_RENEWAL_DATE", default="Contract_Renewal_Date__c"
)
SALESFORCE_PULL_FIELD_INCUMBENT_VENDOR = env_str(
    "SALESFORCE_PULL_FIELD_INCUMBENT_VENDOR", default="Incumbent_Vendor__c"
)
SALESFORCE_PULL_FIELD_TECHNOLOGIES = env_str(
    "SALESFORCE_PULL_FIELD_TECHNOLOGIES", default="Technologies__c"
)
# The push: the Lead fields it writes (an empty name leaves that field out) and the records per
# composite collection call (Salesforce takes at most 200).
SALESFORCE_PUSH_FIELD_SCORE = env_str("SALESFORCE_PUSH_FIELD_SCORE", default="Score__c")
SALESFORCE_PUSH_FIELD_TIER = env_str("SALESFORCE_PUSH_FIELD_TIER", default="Tier__c")
SALESFORCE_PUSH_FIELD_BRIEF = env_str("SALESFORCE_PUSH_FIELD_BRIEF", default="Brief__c")
SALESFORCE_PUSH_FIELD_TOP_REASONS = env_str(
    "SALESFORCE_PUSH_FIELD_TOP_REASONS", default="Top_Reasons__c"
)
# The account push (routing.salesforce_account_push): the Account fields it writes, the
# account's priority and score; an empty name leaves that field out, both empty turn it off.
SALESFORCE_ACCOUNT_PUSH_FIELD_PRIORITY = env_str(
    "SALESFORCE_ACCOUNT_PUSH_FIELD_PRIORITY", default="LeadQual_Priority__c"
)
SALESFORCE_ACCOUNT_PUSH_FIELD_SCORE = env_str(
    "SALESFORCE_ACCOUNT_PUSH_FIELD_SCORE", default="LeadQual_Account_Score__c"
)
SALESFORCE_PUSH_BATCH_SIZE = env_int("SALESFORCE_PUSH_BATCH_SIZE", default=200, minimum=1)
if SALESFORCE_PUSH_BATCH_SIZE > 200:
    raise ImproperlyConfigured(
        f"SALESFORCE_PUSH_BATCH_SIZE={SALESFORCE_PUSH_BATCH_SIZE}: Salesforce's composite "
        "collections take at most 200 records per call."
    )
# The beat schedule's period, and whether reps created from Salesforce users can take leads at
# once (off: a manager reviews capacity and territories, then activates them).
SALESFORCE_SYNC_MINUTES = env_int("SALESFORCE_SYNC_MINUTES", default=5, minimum=1)
SALESFORCE_SYNC_NEW_REPS_ACTIVE = env_bool("SALESFORCE_SYNC_NEW_REPS_ACTIVE", default=False)
if SALESFORCE_ENABLED and not (
    (SALESFORCE_USERNAME and SALESFORCE_PASSWORD)
    or (SALESFORCE_INSTANCE_URL and SALESFORCE_SESSION_ID)
    or SALESFORCE_CONSUMER_KEY
):
    raise ImproperlyConfigured(
        "SALESFORCE_ENABLED is on but no credentials are set: give SALESFORCE_USERNAME and "
        "SALESFORCE_PASSWORD, or SALESFORCE_INSTANCE_URL and SALESFORCE_SESSION_ID, or "
        "SALESFORCE_CONSUMER_KEY for OAuth."
    )

# --- leadqual -------------------------------------------------------------------------------
# Free-mail domains never match an account: a gmail.com lead is a person, not a company.
LEADQUAL_FREE_MAIL_DOMAINS_EXTRA = env_list("LEADQUAL_FREE_MAIL_DOMAINS_EXTRA", default=[])
# Counts the reps' weekly capacity for capacity-based tier thresholds (scoring cannot import
# routing, which depends on it).
LEADQUAL_WEEKLY_CAPACITY_PROVIDER = "routing.selectors.weekly_capacity"
# Called with the ids of the leads a qualification run stored, once it has committed: routing
# sends each lead where its new tier belongs. Dotted paths, for the same one-way reason.
LEADQUAL_AFTER_QUALIFY = ["routing.tasks.route_qualified"]
# Threads each model prediction uses: 0 means the model's own (2). A worker's pool processes use
# LEADQUAL_WORKER_PREDICT_THREADS instead: the pool already runs a process per core, and more
# threads than cores only wait on each other.
LEADQUAL_PREDICT_THREADS = env_int("LEADQUAL_PREDICT_THREADS", default=0, minimum=0)
LEADQUAL_WORKER_PREDICT_THREADS = env_int("LEADQUAL_WORKER_PREDICT_THREADS", default=1, minimum=0)
# Monthly cost of qualification (tools, data, people), for "cost per qualified lead" on the
# RevOps page; unset: the page says "not enough data" (docs/metrics.md).
LEADQUAL_QUALIFICATION_MONTHLY_COST = (
    env_str("LEADQUAL_QUALIFICATION_MONTHLY_COST", default="") or None
)
# Where a lead is being worked, for the lead API's detail (same one-way reason).
LEADQUAL_CURRENT_ASSIGNMENT_PROVIDER = "routing.selectors.lead_current_assignment"
# Path webhooks (docs/paths.md): attempts before a delivery is given up, and the wait before
# the second attempt, doubled for each one after, at most the maximum.
LEADQUAL_WEBHOOK_MAX_ATTEMPTS = env_int("LEADQUAL_WEBHOOK_MAX_ATTEMPTS", default=8, minimum=1)
LEADQUAL_WEBHOOK_RETRY_SECONDS = env_float("LEADQUAL_WEBHOOK_RETRY_SECONDS", default=30.0)
LEADQUAL_WEBHOOK_RETRY_MAX_SECONDS = env_float("LEADQUAL_WEBHOOK_RETRY_MAX_SECONDS", default=3600.0)
if not 0 < LEADQUAL_WEBHOOK_RETRY_SECONDS <= LEADQUAL_WEBHOOK_RETRY_MAX_SECONDS:
    raise ImproperlyConfigured(
        "LEADQUAL_WEBHOOK_RETRY_SECONDS must be above 0 and at most "
        "LEADQUAL_WEBHOOK_RETRY_MAX_SECONDS "
        f"(got {LEADQUAL_WEBHOOK_RETRY_SECONDS:g} and {LEADQUAL_WEBHOOK_RETRY_MAX_SECONDS:g})."
    )

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        # The development server's access lines, as Django formats them.
        "server": {
            "()": "django.utils.log.ServerFormatter",
            "format": "[{server_time}] {message}",
            "style": "{",
        },
    },
    # A 4xx is an answer, not a crash: one INFO line saying what happened, no traceback, and
    # the development server's access line for it dropped as a repeat (leadqual/request_log.py).
    "filters": {
        "client_errors": {"()": "leadqual.request_log.ClientErrorsOnOneLine"},
        "described_access": {"()": "leadqual.request_log.DropDescribedAccessLines"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["client_errors"],
        },
        "server": {"class": "logging.StreamHandler", "formatter": "server"},
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # Django's own console handler would print every django.* line a second time beside
        # the root's; without it they reach the root's handler once.
        "django": {"handlers": [], "level": "INFO"},
        "django.server": {
            "handlers": ["server"],
            "filters": ["described_access"],
            "level": "INFO",
            "propagate": False,
        },
        "django.db.backends": {"level": "WARNING"},
        # Without a broker every task runs inline, and Celery's "Task ... succeeded" line per
        # task buries a command's own progress (qualify_leads hands each chunk to routing);
        # Celery also opens a producer for an eager task, and kombu warns that no broker host
        # was given. A worker keeps both.
        **(
            {
                "celery.app.trace": {"level": "WARNING"},
                "kombu.connection": {"level": "ERROR"},
            }
            if CELERY_TASK_ALWAYS_EAGER
            else {}
        ),
    },
}
