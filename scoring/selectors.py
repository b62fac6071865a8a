"""Reads for qualification: the frames the feature code needs, and the active configuration.

The frames are read with plain cursors (no model instances): re-qualifying the whole database
reads millions of touchpoints, and building Django objects for each would cost more than all
the feature arithmetic.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

import pandas as pd
from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import Count, Exists, Max, Model, OuterRef, Prefetch, Q, QuerySet
from django.db.models.fields.json import KT
from django.utils import timezone
from django.utils.module_loading import import_string

from accounts.domains import FREE_MAIL_DOMAINS
from accounts.models import Account, AccountEvent, IntentSignal, Lead, Stakeholder, Touchpoint
from scoring.features import COLLEAGUE_WINDOW_DAYS, FeatureConfig, FeatureFrames
from scoring.fit import IcpSpec
from scoring.models import (
    DisqualificationRule,
    Feedback,
    FeedbackReason,
    FeedbackVerdict,
    IdealCustomerProfile,
    ModelKind,
    ModelStatus,
    ModelVersion,
    PointRule,
    Qualification,
    Tier,
)
from scoring.points import PointRuleSpec
from scoring.rules import RuleSpec

# How far back intent and events are read before the earliest as_of (colleagues' activity: see
# COLLEAGUE_WINDOW_DAYS).
ACCOUNT_LOOKBACK_DAYS = 200


def _frame(queryset: QuerySet[Any], columns: Sequence[str]) -> pd.DataFrame:
    """Run a values_list query on a raw cursor and return a DataFrame."""
    names = [c.replace("__", "_") for c in columns]
    try:
        sql, params = queryset.values_list(*columns).query.sql_with_params()
    except EmptyResultSet:  # an `__in=[]` filter: Django knows the answer without asking
        return pd.DataFrame(columns=names)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return pd.DataFrame.from_records(rows, columns=names)


def _json(value: Any) -> Any:
    # SQLite hands JSON columns back as text on a raw cursor; PostgreSQL as Python objects.
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return {}
    return value if value is not None else {}


# --- PostgreSQL: frames read with COPY ---------------------------------------------------
#
# Re-qualifying 100,000 leads reads about a million touchpoints. Through a cursor, psycopg
# builds a Python object per value (a datetime per timestamp is the dearest); COPY ... TO
# STDOUT hands back CSV that pandas parses in C, and timestamps travel as integer
# microseconds since the epoch. Same rows and values: tests compare the two paths frame by
# frame. Touchpoints come in index order rather than sorted by time (the sort was a quarter of
# the query): the features never depend on their order; the other frames keep Meta.ordering
# (a lead's own committee role is its first stakeholder row).

# A column of a COPY read: its name in the frame, its SQL, and how to parse it.
_Column = tuple[str, str, str]
_NULL = r"\N"
_CSV_DTYPES = {"int": "int64", "float": "float64", "time": "float64", "str": "str"}


def _on_postgres() -> bool:
    return connection.vendor == "postgresql"


def _epoch_us(column: str) -> str:
    # date_part is float8 arithmetic (EXTRACT is numeric, several times dearer); a float8
    # epoch is within 0.2 microseconds of the timestamp, so rounding restores it exactly.
    return f"round(date_part('epoch', {column}) * 1000000)::bigint"


def _ids(values: Sequence[int]) -> str:
    """An id list as an SQL array literal (ints only, so nothing to escape)."""
    return "'{" + ",".join(str(int(v)) for v in values) + "}'::bigint[]"


def _moment(value: datetime) -> str:
    return f"'{pd.Timestamp(value).isoformat()}'::timestamptz"


def _copy_frame(
    table: str, columns: Sequence[_Column], where: str, order: str = ""
) -> pd.DataFrame:
    select = ", ".join(sql for _, sql, _ in columns)
    order_by = f" ORDER BY {order}" if order else ""
    statement = (
        f"COPY (SELECT {select} FROM {table} WHERE {where}{order_by}) "
        f"TO STDOUT (FORMAT csv, NULL '{_NULL}')"
    )
    buffer = io.BytesIO()
    with connection.cursor() as cursor, cursor.copy(statement) as copy:
        for block in copy:
            buffer.write(block)
    names = [name for name, _, _ in columns]
    kinds = {name: kind for name, _, kind in columns}
    if buffer.tell() == 0:
        return pd.DataFrame(columns=names)
    buffer.seek(0)
    frame = pd.read_csv(
        buffer,
        names=names,
        header=None,
        dtype={n: _CSV_DTYPES.get(k, "str") for n, k in kinds.items()},
        keep_default_na=False,
        na_values=[_NULL],
    )
    for name, kind in kinds.items():
        if kind == "time":
            frame[name] = pd.to_datetime(frame[name], unit="us", utc=True)
        elif kind == "bool":
            frame[name] = frame[name] == "t"
        elif kind == "json":
            frame[name] = frame[name].astype(object).map(_json)
    return frame


def _lead_frame_postgres(lead_ids: Sequence[int]) -> pd.DataFrame:
    columns: list[_Column] = [
        ("id", "id", "int"),
        *((name, name, "str") for name in ("email", "name", "title", "seniority", "department",
                                           "source", "country")),
        ("account_id", "account_id", "float"),
        ("attributes", "attributes", "json"),
        *((name, _epoch_us(name), "time") for name in ("created_at", "converted_at",
                                                       "closed_at")),
    ]  # fmt: skip
    return _copy_frame(
        Lead._meta.db_table, columns, f"id = ANY({_ids(lead_ids)})", "created_at DESC, id"
    )


# Newest first, as Lead's Meta.ordering, then by id: imported histories often share one
# created_at, and the order of the rows must not vary from run to run (training samples rows).
LEAD_ORDER = ("-created_at", "pk")


def requalify_marks(*, lead_ids: Sequence[int]) -> list[tuple[int, datetime]]:
    """(lead id, requalify_requested_at) of these leads that are marked for re-qualification."""
    if _on_postgres():
        # One array parameter: an IN list of a whole chunk's ids costs more to build than the
        # query costs to run.
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT id, requalify_requested_at FROM {Lead._meta.db_table} "
                "WHERE id = ANY(%s) AND requalify_requested_at IS NOT NULL ORDER BY id",
                [[int(i) for i in lead_ids]],
            )
            return [(int(lead_id), at) for lead_id, at in cursor.fetchall()]
    rows = (
        Lead.objects.filter(pk__in=list(lead_ids), requalify_requested_at__isnull=False)
        .order_by("pk")
        .values_list("pk", "requalify_requested_at")
    )
    return [(lead_id, at) for lead_id, at in rows if at is not None]


def lead_frame(*, lead_ids: Sequence[int], fast: bool = True) -> pd.DataFrame:
    """The leads' own fields (`fast`: as in `feature_frames`), in LEAD_ORDER."""
    if fast and _on_postgres() and lead_ids:
        leads = _lead_frame_postgres(lead_ids)
    else:
        leads = _frame(
            Lead.objects.filter(pk__in=list(lead_ids)).order_by(*LEAD_ORDER),
            ["id", "email", "name", "title", "seniority", "department", "source", "country",
             "account_id", "attributes", "created_at", "converted_at", "closed_at"],
        )  # fmt: skip
        leads["attributes"] = leads["attributes"].map(_json)
    leads = leads.rename(columns={"id": "lead_id"})
    leads["email_domain"] = leads["email"].astype(str).str.rsplit("@", n=1).str[-1]
    for column in ("created_at", "converted_at", "closed_at"):
        leads[column] = pd.to_datetime(leads[column], utc=True)
    return leads


@dataclass(frozen=True)
class _Window:
    """What feature_frames reads: these leads, their accounts, and since when."""

    lead_ids: list[int]
    account_ids: list[int]
    # Intent and events: far enough back for the longest event window of the features.
    since: datetime
    # Colleagues' touchpoints: only the committee window before the earliest as_of is used.
    colleagues_since: datetime


def _window(leads: pd.DataFrame) -> _Window:
    earliest = pd.to_datetime(leads["as_of"], utc=True).min()
    return _Window(
        lead_ids=leads["lead_id"].astype(int).tolist(),
        account_ids=sorted({int(a) for a in leads["account_id"].dropna().tolist()}),
        since=(earliest - pd.Timedelta(days=ACCOUNT_LOOKBACK_DAYS)).to_pydatetime(),
        colleagues_since=(earliest - pd.Timedelta(days=COLLEAGUE_WINDOW_DAYS)).to_pydatetime(),
    )


def _feature_frames_generic(window: _Window) -> dict[str, pd.DataFrame]:
    lead_ids, account_ids, since = window.lead_ids, window.account_ids, window.since
    # The industry as text (KT, ->>): a JSON value (`"Retail"`, quotes and all) never equals
    # the lead's industry, and PostgreSQL's raw cursor hands back exactly that.
    touchpoints = _frame(
        Touchpoint.objects.filter(lead_id__in=lead_ids).annotate(
            content_industry=KT("properties__industry")
        ),
        ["lead_id", "kind", "occurred_at", "page_category", "duration_seconds", "form_type", "text",
         "content_industry"],
    )  # fmt: skip
    accounts = _frame(
        Account.objects.filter(pk__in=account_ids),
        ["id", "industry", "employee_count", "country", "region", "tech_stack", "funding_stage",
         "is_customer", "is_competitor"],
    ).rename(columns={"id": "account_id"})  # fmt: skip
    accounts["tech_stack"] = accounts["tech_stack"].map(
        lambda v: _json(v) if not isinstance(v, list) else v
    )
    account_touchpoints = _frame(
        Touchpoint.objects.filter(
            lead__account_id__in=account_ids, occurred_at__gte=window.colleagues_since
        ),
        ["lead__account_id", "lead_id", "occurred_at", "page_category"],
    ).rename(columns={"lead_account_id": "account_id"})
    stakeholders = _frame(
        Stakeholder.objects.filter(account_id__in=account_ids),
        ["account_id", "lead_id", "committee_role"],
    )
    intent = _frame(
        IntentSignal.objects.filter(account_id__in=account_ids, observed_at__gte=since),
        ["account_id", "surge_score", "observed_at", "topic"],
    )
    events = _frame(
        AccountEvent.objects.filter(account_id__in=account_ids, occurred_at__gte=since),
        ["account_id", "kind", "occurred_at"],
    )
    return {
        "touchpoints": touchpoints,
        "accounts": accounts,
        "account_touchpoints": account_touchpoints,
        "stakeholders": stakeholders,
        "intent": intent,
        "events": events,
    }


def _feature_frames_postgres(window: _Window) -> dict[str, pd.DataFrame]:
    leads = _ids(window.lead_ids)
    accounts = _ids(window.account_ids)
    touchpoint_table = Touchpoint._meta.db_table
    touchpoints = _copy_frame(
        touchpoint_table,
        [("lead_id", "lead_id", "int"), ("kind", "kind", "str"),
         ("occurred_at", _epoch_us("occurred_at"), "time"),
         ("page_category", "page_category", "str"),
         ("duration_seconds", "duration_seconds", "float"), ("form_type", "form_type", "str"),
         ("text", "text", "str"), ("content_industry", "properties ->> 'industry'", "str")],
        f"lead_id = ANY({leads})",
    )  # fmt: skip
    account_frame = _copy_frame(
        Account._meta.db_table,
        [("account_id", "id", "int"), ("industry", "industry", "str"),
         ("employee_count", "employee_count", "float"), ("country", "country", "str"),
         ("region", "region", "str"), ("tech_stack", "tech_stack", "json"),
         ("funding_stage", "funding_stage", "str"), ("is_customer", "is_customer", "bool"),
         ("is_competitor", "is_competitor", "bool")],
        f"id = ANY({accounts})",
        "name ASC",
    )  # fmt: skip
    lead_table = Lead._meta.db_table
    account_touchpoints = _copy_frame(
        f"{touchpoint_table} t JOIN {lead_table} l ON l.id = t.lead_id",
        [("account_id", "l.account_id", "int"), ("lead_id", "t.lead_id", "float"),
         ("occurred_at", _epoch_us("t.occurred_at"), "time"),
         ("page_category", "t.page_category", "str")],
        f"l.account_id = ANY({accounts}) AND t.occurred_at >= {_moment(window.colleagues_since)}",
    )  # fmt: skip
    stakeholders = _copy_frame(
        f"{Stakeholder._meta.db_table} s JOIN {Account._meta.db_table} a ON a.id = s.account_id",
        [("account_id", "s.account_id", "int"), ("lead_id", "s.lead_id", "float"),
         ("committee_role", "s.committee_role", "str")],
        f"s.account_id = ANY({accounts})",
        "a.name ASC, s.name ASC",
    )  # fmt: skip
    since = _moment(window.since)
    intent = _copy_frame(
        IntentSignal._meta.db_table,
        [("account_id", "account_id", "int"), ("surge_score", "surge_score", "float"),
         ("observed_at", _epoch_us("observed_at"), "time"), ("topic", "topic", "str")],
        f"account_id = ANY({accounts}) AND observed_at >= {since}",
        "observed_at DESC",
    )  # fmt: skip
    events = _copy_frame(
        AccountEvent._meta.db_table,
        [("account_id", "account_id", "int"), ("kind", "kind", "str"),
         ("occurred_at", _epoch_us("occurred_at"), "time")],
        f"account_id = ANY({accounts}) AND occurred_at >= {since}",
        "occurred_at DESC",
    )  # fmt: skip
    return {
        "touchpoints": touchpoints,
        "accounts": account_frame,
        "account_touchpoints": account_touchpoints,
        "stakeholders": stakeholders,
        "intent": intent,
        "events": events,
    }


def feature_frames(*, leads: pd.DataFrame, fast: bool = True) -> FeatureFrames:
    """Everything the feature code reads for these leads (which carry their own as_of).

    On PostgreSQL the frames are read with COPY (see above) unless `fast` is False, which
    reads them through the ORM's SQL as on any other database.
    """
    window = _window(leads)
    if fast and _on_postgres() and window.lead_ids:
        frames = _feature_frames_postgres(window)
    else:
        frames = _feature_frames_generic(window)
    return FeatureFrames(leads=leads, **frames)


def feature_config(*, half_life_days: float) -> FeatureConfig:
    extra = frozenset(d.lower() for d in settings.LEADQUAL_FREE_MAIL_DOMAINS_EXTRA)
    return FeatureConfig(
        recency_half_life_days=half_life_days,
        free_mail_domains=FREE_MAIL_DOMAINS | extra,
    )


def icp_active() -> IcpSpec:
    icp = IdealCustomerProfile.objects.filter(is_active=True).first()
    if icp is None:
        return IcpSpec()
    return IcpSpec(
        name=icp.name,
        industries=tuple(icp.industries),
        min_employees=icp.min_employees,
        max_employees=icp.max_employees,
        countries=tuple(icp.countries),
        regions=tuple(icp.regions),
        technologies=tuple(icp.technologies),
        funding_stages=tuple(icp.funding_stages),
        seniorities=tuple(icp.seniorities),
        departments=tuple(icp.departments),
        title_keywords=tuple(icp.title_keywords),
    )


def rule_spec(rule: DisqualificationRule) -> RuleSpec:
    """The engine's view of a rule row, saved or not (the admin's dry run passes an edit)."""
    return RuleSpec(
        reason_code=rule.reason_code,
        name=rule.name,
        category=rule.category,
        action=rule.action,
        priority=rule.priority,
        parameters=dict(rule.parameters or {}),
    )


def rules_active() -> list[RuleSpec]:
    return [rule_spec(r) for r in DisqualificationRule.objects.filter(is_active=True)]


def point_rules_active() -> list[PointRuleSpec]:
    return [
        PointRuleSpec(signal=r.signal, value=r.value, points=r.points, max_times=r.max_times)
        for r in PointRule.objects.filter(is_active=True)
    ]


def model_version_active(*, kind: str) -> ModelVersion | None:
    return ModelVersion.objects.filter(kind=kind, status=ModelStatus.ACTIVE).first()


# A rep's rejection says the person was not ready and able to buy: a negative label for a lead
# the CRM has no outcome for yet. "Could not reach", "duplicate" and "other" say nothing about
# the buyer, and an acceptance is an opinion, not a purchase, so neither becomes a label.
NEGATIVE_FEEDBACK_REASONS: frozenset[str] = frozenset(
    {
        FeedbackReason.NOT_DECISION_MAKER,
        FeedbackReason.NO_BUDGET,
        FeedbackReason.BAD_TIMING,
        FeedbackReason.WRONG_FIT,
        FeedbackReason.COMPETITOR,
        FeedbackReason.STUDENT,
        FeedbackReason.EXISTING_CUSTOMER,
    }
)


def feedback_rejections() -> dict[int, datetime]:
    """Lead id -> when a rep rejected it, for leads with no CRM outcome whose latest verdict is
    a rejection that speaks about the buyer (NEGATIVE_FEEDBACK_REASONS)."""
    latest: dict[int, tuple[str, str, datetime]] = {}
    rows = (
        Feedback.objects.filter(lead__converted_at__isnull=True, lead__closed_at__isnull=True)
        .order_by("created_at", "pk")
        .values_list("lead_id", "verdict", "reason", "created_at")
    )
    for lead_id, verdict, reason, created_at in rows.iterator(chunk_size=5000):
        latest[lead_id] = (verdict, reason, created_at)
    return {
        lead_id: created_at
        for lead_id, (verdict, reason, created_at) in latest.items()
        if verdict == FeedbackVerdict.REJECT and reason in NEGATIVE_FEEDBACK_REASONS
    }


def labelled_lead_ids(*, rejections: Mapping[int, datetime] | None = None) -> list[int]:
    """Leads with a known outcome (converted, or closed without converting), and leads a rep
    rejected as not a buyer (`rejections`, as `feedback_rejections` returns them; read here
    when not given)."""
    if rejections is None:
        rejections = feedback_rejections()
    with_outcome = set(
        Lead.objects.filter(Q(converted_at__isnull=False) | Q(closed_at__isnull=False)).values_list(
            "pk", flat=True
        )
    )
    return sorted(with_outcome | rejections.keys())


def lead_ids_for_qualification(*, since: datetime | None = None) -> list[int]:
    queryset = Lead.objects.all()
    if since is not None:
        queryset = queryset.filter(Q(updated_at__gte=since) | Q(touchpoints__created_at__gte=since))
    return list(queryset.order_by("pk").values_list("pk", flat=True).distinct())


def lead_ids_by_account(*, lead_ids: Sequence[int], batch: int = 5000) -> list[int]:
    """These leads (those that exist), colleagues next to each other: by account, then id,
    leads without an account last.

    Chunks cut from this order each hold whole accounts, so each chunk reads an account's
    colleagues, stakeholders, intent and events once, not once per chunk its leads fall in.
    """
    ids = [int(i) for i in lead_ids]
    pairs: list[tuple[int, int | None]] = []
    if _on_postgres():
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT id, account_id FROM {Lead._meta.db_table} WHERE id = ANY(%s)", [ids]
            )
            pairs = [(int(i), a) for i, a in cursor.fetchall()]
    else:
        for start in range(0, len(ids), batch):
            found = Lead.objects.filter(pk__in=ids[start : start + batch])
            pairs.extend(found.values_list("pk", "account_id"))
    pairs.sort(key=lambda p: (p[1] is None, p[1] or 0, p[0]))
    return [lead_id for lead_id, _ in pairs]


def lead_ids_unqualified() -> list[int]:
    current = Qualification.objects.filter(is_current=True).values("lead_id")
    return list(Lead.objects.exclude(pk__in=current).order_by("pk").values_list("pk", flat=True))


def lead_ids_created_since(*, since: datetime) -> list[int]:
    return list(
        Lead.objects.filter(created_at__gte=since).order_by("pk").values_list("pk", flat=True)
    )


def won_opportunities(*, lead_ids: Sequence[int]) -> pd.DataFrame:
    """Closed-won deals of these leads: the outcomes timeline and deal size learn from."""
    from accounts.models import Opportunity

    frame = _frame(
        Opportunity.objects.filter(
            lead_id__in=list(lead_ids), is_won=True, closed_at__isnull=False
        ),
        ["lead_id", "amount", "created_at", "closed_at"],
    )
    for column in ("created_at", "closed_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    frame["amount"] = pd.to_numeric(frame["amount"], errors="coerce")
    return frame


def qualification_current(*, lead_id: int) -> Qualification | None:
    return (
        Qualification.objects.filter(lead_id=lead_id, is_current=True)
        .select_related("model_version")
        .first()
    )


MODEL_KINDS = (ModelKind.CONVERSION, ModelKind.TIMELINE, ModelKind.DEAL_SIZE)


# --- reads for the REST API ---------------------------------------------------------------
#
# Each list read returns one page in a fixed number of queries whatever its size: related rows
# come with select_related / one prefetch / one grouped query per page, never one per row.

# Windows of the account roll-up: the committee window of the features, so the API shows the
# activity the model saw; trigger events matter for longer.
ROLLUP_ACTIVITY_DAYS = COLLEAGUE_WINDOW_DAYS
ROLLUP_EVENT_DAYS = 90
ROLLUP_TOP_INTENT_TOPICS = 5
ROLLUP_RECENT_EVENTS = 5
# Best first: the "best current tier" of an account's leads.
TIER_RANK: dict[str, int] = {Tier.SALES_READY: 0, Tier.NURTURE: 1, Tier.DISQUALIFY: 2}

_Row = TypeVar("_Row", bound=Model)


@dataclass(frozen=True)
class Position:
    """Where a keyset page ends: the ordering field's value and the primary key (tie-break)."""

    value: Any
    pk: int


@dataclass(frozen=True)
class Page(Generic[_Row]):
    items: list[_Row]
    # Where the next page starts; None on the last page.
    next_position: Position | None


def _keyset_page(
    queryset: QuerySet[_Row], *, field: str, descending: bool, after: Position | None, limit: int
) -> Page[_Row]:
    """A page ordered by (field, pk), both in one direction, starting after `after`.

    Keyset rather than offset paging: a page costs the same deep in a large table, and rows
    inserted while a client pages do not shift the pages it has not read yet.
    """
    if limit < 1:
        raise ValueError(f"limit must be at least 1, not {limit}")
    sign = "-" if descending else ""
    queryset = queryset.order_by(f"{sign}{field}", f"{sign}pk")
    if after is not None:
        beyond = "lt" if descending else "gt"
        queryset = queryset.filter(
            Q(**{f"{field}__{beyond}": after.value})
            | Q(**{field: after.value, f"pk__{beyond}": after.pk})
        )
    rows = list(queryset[: limit + 1])
    if len(rows) <= limit:
        return Page(items=rows, next_position=None)
    last = rows[limit - 1]
    return Page(items=rows[:limit], next_position=Position(getattr(last, field), int(last.pk)))


def lead_visible(*, user: AbstractBaseUser | AnonymousUser | None) -> QuerySet[Lead]:
    """The leads a caller may read: every lead for an API token (`user` None), a superuser or
    a staff user; only the leads they own for anyone else (an SDR).

    Staff users (managers, RevOps) already see every lead in the admin, so hiding leads from
    them here would protect nothing; SDRs never work in the admin and see only their own.
    """
    leads = Lead.objects.all()
    if user is None or getattr(user, "is_superuser", False) or getattr(user, "is_staff", False):
        return leads
    if not user.is_authenticated:
        return leads.none()
    return leads.filter(owner_id=user.pk)


def _with_current_qualification(leads: QuerySet[Lead], *, full: bool) -> QuerySet[Lead]:
    current = Qualification.objects.filter(is_current=True)
    if full:
        current = current.select_related("model_version").defer("model_version__artifact")
    else:
        # The list shows a summary; the explanation columns can be kilobytes per lead.
        current = current.defer("contributions", "brief")
    return leads.prefetch_related(
        Prefetch("qualifications", queryset=current, to_attr="current_qualifications")
    )


def lead_current_qualification(lead: Lead) -> Qualification | None:
    """The current qualification prefetched by the lead reads below."""
    found: list[Qualification] = getattr(lead, "current_qualifications", [])
    return found[0] if found else None


@dataclass(frozen=True)
class LeadFilters:
    tier: str | None = None
    owner_id: int | None = None
    account_id: int | None = None
    # Leads whose fields changed, or whose current qualification was computed, since then.
    updated_since: datetime | None = None


def lead_list(
    *,
    user: AbstractBaseUser | AnonymousUser | None,
    filters: LeadFilters,
    after: Position | None = None,
    limit: int,
) -> Page[Lead]:
    """The caller's visible leads, newest first, with their current
    qualification's summary (three queries per page)."""
    leads = lead_visible(user=user)
    if filters.tier is not None:
        # One current qualification per lead (qualification_one_current): the join cannot
        # repeat a lead.
        leads = leads.filter(qualifications__is_current=True, qualifications__tier=filters.tier)
    if filters.owner_id is not None:
        leads = leads.filter(owner_id=filters.owner_id)
    if filters.account_id is not None:
        leads = leads.filter(account_id=filters.account_id)
    if filters.updated_since is not None:
        # A sync wants a lead whose score moved as much as one whose fields did, and
        # re-qualification writes a Qualification row, not the lead.
        requalified = Qualification.objects.filter(
            lead_id=OuterRef("pk"), is_current=True, computed_at__gte=filters.updated_since
        )
        leads = leads.filter(Q(updated_at__gte=filters.updated_since) | Exists(requalified))
    leads = _with_current_qualification(leads.select_related("account", "owner"), full=False)
    # By creation, not by updated_at: a lead updated while a client pages does not jump
    # pages, and created_at is indexed (a sort of every visible lead by updated_at is not).
    return _keyset_page(leads, field="created_at", descending=True, after=after, limit=limit)


def lead_get_for_user(*, user: AbstractBaseUser | AnonymousUser | None, lead_id: int) -> Lead:
    """One lead the caller may read, with its account, owner and full current qualification.

    Raises Lead.DoesNotExist for a lead that is missing and for one the caller may not see
    alike, so an SDR cannot learn which ids belong to colleagues.
    """
    leads = _with_current_qualification(
        lead_visible(user=user).select_related("account", "owner"), full=True
    )
    return leads.get(pk=lead_id)


def lead_qualification_history(
    *, lead: Lead, after: Position | None = None, limit: int
) -> Page[Qualification]:
    """The lead's qualifications, newest first (the explanation columns left out)."""
    history = Qualification.objects.filter(lead_id=lead.pk).defer("contributions", "brief")
    return _keyset_page(history, field="computed_at", descending=True, after=after, limit=limit)


@dataclass(frozen=True)
class CurrentAssignment:
    """Where a lead is being worked, as routing reports it (routing depends on scoring, so it
    provides this through LEADQUAL_CURRENT_ASSIGNMENT_PROVIDER rather than being imported)."""

    assignment_id: int
    status: str
    queue: str
    rep_user_id: int | None
    rep_name: str
    assigned_at: datetime
    sla_due_at: datetime | None
    reason: str


def lead_current_assignment(*, lead_id: int) -> CurrentAssignment | None:
    """The lead's open or accepted assignment, when a provider is configured; else None.

    The setting names a callable `(lead_id: int) -> CurrentAssignment | None`; it is read per
    call (never at import) so tests can override it.
    """
    path = getattr(settings, "LEADQUAL_CURRENT_ASSIGNMENT_PROVIDER", "")
    if not path:
        return None
    provider: Callable[[int], CurrentAssignment | None] = import_string(path)
    return provider(lead_id)


# --- accounts and their roll-up ---


@dataclass(frozen=True)
class IntentTopic:
    topic: str
    max_surge: float
    signals: int


@dataclass(frozen=True)
class RecentEvent:
    kind: str
    title: str
    occurred_at: datetime


@dataclass
class AccountRollup:
    """What an account's leads and signals add up to, as of `as_of`."""

    leads: int = 0
    qualified_leads: int = 0
    leads_by_tier: dict[str, int] = field(default_factory=dict)
    best_tier: str | None = None
    highest_conversion_probability: float | None = None
    # Stakeholders (leads on the buying committee) active in the last ROLLUP_ACTIVITY_DAYS.
    engaged_stakeholders: int = 0
    committee_roles_covered: list[str] = field(default_factory=list)
    touches_30d: int = 0
    intent_signals_30d: int = 0
    max_intent_surge_30d: float | None = None
    top_intent_topics: list[IntentTopic] = field(default_factory=list)
    events_90d: int = 0
    recent_events: list[RecentEvent] = field(default_factory=list)


def account_rollups(
    *, account_ids: Sequence[int], as_of: datetime | None = None
) -> dict[int, AccountRollup]:
    """The roll-up of each account, in seven grouped queries whatever the number of accounts."""
    ids = [int(i) for i in account_ids]
    now = as_of or timezone.now()
    activity_since = now - timedelta(days=ROLLUP_ACTIVITY_DAYS)
    events_since = now - timedelta(days=ROLLUP_EVENT_DAYS)
    rollups = {account_id: AccountRollup() for account_id in ids}
    if not ids:
        return rollups

    for account_id, count in (
        Lead.objects.filter(account_id__in=ids)
        .order_by()
        .values("account_id")
        .annotate(n=Count("pk"))
        .values_list("account_id", "n")
    ):
        rollups[account_id].leads = count

    tiers = (
        Qualification.objects.filter(is_current=True, lead__account_id__in=ids)
        .order_by()
        .values("lead__account_id", "tier")
        .annotate(n=Count("pk"), best=Max("conversion_probability"))
        .values_list("lead__account_id", "tier", "n", "best")
    )
    for account_id, tier, count, best in tiers:
        rollup = rollups[account_id]
        rollup.leads_by_tier[tier] = count
        rollup.qualified_leads += count
        if rollup.best_tier is None or TIER_RANK.get(tier, 99) < TIER_RANK.get(
            rollup.best_tier, 99
        ):
            rollup.best_tier = tier
        if best is not None and (
            rollup.highest_conversion_probability is None
            or best > rollup.highest_conversion_probability
        ):
            rollup.highest_conversion_probability = float(best)

    # As the committee features count them: a stakeholder who is a lead with a touchpoint in
    # the window; a committee on paper is not a committee forming.
    engaged = (
        Stakeholder.objects.filter(
            account_id__in=ids,
            lead__touchpoints__occurred_at__gte=activity_since,
            lead__touchpoints__occurred_at__lte=now,
        )
        .order_by()
        .values_list("account_id", "pk", "committee_role")
        .distinct()
    )
    roles: dict[int, set[str]] = {}
    for account_id, _, role in engaged:
        rollups[account_id].engaged_stakeholders += 1
        if role:
            roles.setdefault(account_id, set()).add(role)
    for account_id, covered in roles.items():
        rollups[account_id].committee_roles_covered = sorted(covered)

    # A touchpoint counts for its lead's account, or for its own account when anonymous. Two
    # queries, not one with an OR across the join: each side then runs on its own index
    # (leads by account, then touchpoints by lead and time; touchpoints by account and time),
    # where the OR scans the whole table.
    window = {"occurred_at__gte": activity_since, "occurred_at__lte": now}
    by_lead = (
        Touchpoint.objects.filter(lead__account_id__in=ids, **window)
        .order_by()
        .values("lead__account_id")
        .annotate(n=Count("pk"))
        .values_list("lead__account_id", "n")
    )
    anonymous = (
        Touchpoint.objects.filter(lead__isnull=True, account_id__in=ids, **window)
        .order_by()
        .values("account_id")
        .annotate(n=Count("pk"))
        .values_list("account_id", "n")
    )
    for account_id, count in [*by_lead, *anonymous]:
        rollups[account_id].touches_30d += count

    topics: dict[int, list[IntentTopic]] = {}
    for account_id, topic, surge, count in (
        IntentSignal.objects.filter(
            account_id__in=ids, observed_at__gte=activity_since, observed_at__lte=now
        )
        .order_by()
        .values("account_id", "topic")
        .annotate(surge=Max("surge_score"), n=Count("pk"))
        .values_list("account_id", "topic", "surge", "n")
    ):
        topics.setdefault(account_id, []).append(
            IntentTopic(topic=topic, max_surge=float(surge), signals=count)
        )
    for account_id, found in topics.items():
        rollup = rollups[account_id]
        found.sort(key=lambda t: (-t.max_surge, t.topic))
        rollup.intent_signals_30d = sum(t.signals for t in found)
        rollup.max_intent_surge_30d = found[0].max_surge
        rollup.top_intent_topics = found[:ROLLUP_TOP_INTENT_TOPICS]

    for account_id, kind, title, occurred_at in (
        AccountEvent.objects.filter(
            account_id__in=ids, occurred_at__gte=events_since, occurred_at__lte=now
        )
        .order_by("account_id", "-occurred_at", "-pk")
        .values_list("account_id", "kind", "title", "occurred_at")
    ):
        rollup = rollups[account_id]
        rollup.events_90d += 1
        if len(rollup.recent_events) < ROLLUP_RECENT_EVENTS:
            rollup.recent_events.append(
                RecentEvent(kind=kind, title=title, occurred_at=occurred_at)
            )
    return rollups


def account_list(*, after: Position | None = None, limit: int) -> Page[Account]:
    """Accounts by name (then id), with their owner."""
    accounts = Account.objects.select_related("owner")
    return _keyset_page(accounts, field="name", descending=False, after=after, limit=limit)


def account_get(*, account_id: int) -> Account:
    return Account.objects.select_related("owner").get(pk=account_id)


# --- the model registry ---


def _model_versions() -> QuerySet[ModelVersion]:
    # The artifact can be megabytes: never load it to show metrics.
    return ModelVersion.objects.select_related("activated_by").defer("artifact")


def model_version_list(
    *,
    kind: str | None = None,
    status: str | None = None,
    after: Position | None = None,
    limit: int,
) -> Page[ModelVersion]:
    """Model versions, newest trained first."""
    versions = _model_versions()
    if kind is not None:
        versions = versions.filter(kind=kind)
    if status is not None:
        versions = versions.filter(status=status)
    return _keyset_page(versions, field="trained_at", descending=True, after=after, limit=limit)


def model_version_get(*, model_version_id: int) -> ModelVersion:
    return _model_versions().get(pk=model_version_id)


# The metrics a list shows beside each version, by kind; the detail has them all.
HEADLINE_METRICS: dict[str, tuple[str, ...]] = {
    ModelKind.CONVERSION: ("auc", "log_loss", "brier", "ece", "base_rate", "rows",
                           "lift_over_baseline_at_capacity"),
    ModelKind.TIMELINE: ("coverage", "expected_coverage", "median_absolute_error", "mean_width",
                         "rows"),
    ModelKind.DEAL_SIZE: ("coverage", "expected_coverage", "median_absolute_error", "mean_width",
                          "rows"),
}  # fmt: skip


def model_version_headline_metrics(version: ModelVersion) -> dict[str, float | int | None]:
    """The version's headline holdout figures: those of HEADLINE_METRICS it has, plus the
    precision and lift of its top slice (at capacity) for a conversion model."""
    metrics = version.metrics if isinstance(version.metrics, dict) else {}
    headline: dict[str, float | int | None] = {
        name: metrics[name]
        for name in HEADLINE_METRICS.get(version.kind, ())
        if isinstance(metrics.get(name), int | float | type(None)) and name in metrics
    }
    at_capacity = metrics.get("at_capacity")
    if isinstance(at_capacity, dict):
        for name in ("precision", "lift"):
            value = at_capacity.get(name)
            if isinstance(value, int | float) or value is None:
                headline[f"{name}_at_capacity"] = value
    return headline


def qualifications_prunable(*, before: datetime) -> QuerySet[Qualification]:
    """Retired qualifications computed before `before` that nothing needs any more.

    Kept whatever their age: the current one (the lead points at it); each lead's first one
    (the time from creation to a first verdict is measured from it); and any row another table
    points at (a rep's feedback on that verdict, the last one pushed to Salesforce). The
    pointing tables are read from the model's reverse relations, so this app needs no import
    of the apps that point at it.
    """
    earlier = Qualification.objects.filter(lead_id=OuterRef("lead_id")).filter(
        Q(computed_at__lt=OuterRef("computed_at"))
        | Q(computed_at=OuterRef("computed_at"), pk__lt=OuterRef("pk"))
    )
    prunable = Qualification.objects.filter(is_current=False, computed_at__lt=before).filter(
        Exists(earlier)
    )
    # include_hidden: a relation named "+" (the Salesforce push state's) points all the same.
    for relation in Qualification._meta.get_fields(include_hidden=True):
        if not (relation.auto_created and not relation.concrete) or relation.many_to_many:
            continue
        related_model = relation.related_model
        assert isinstance(related_model, type) and issubclass(related_model, Model)
        pointing = related_model._base_manager.filter(
            **{relation.field.name: OuterRef("pk")}  # type: ignore[union-attr]
        )
        prunable = prunable.exclude(Exists(pointing))
    return prunable.order_by()
