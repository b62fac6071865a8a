"""Reads for qualification: the frames the feature code needs, and the active configuration.

The frames are read with plain cursors (no model instances): re-qualifying the whole database
reads millions of touchpoints, and building Django objects for each would cost more than all
the feature arithmetic.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd
from django.conf import settings
from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import Q, QuerySet
from django.db.models.fields.json import KT

from accounts.domains import FREE_MAIL_DOMAINS
from accounts.models import Account, AccountEvent, IntentSignal, Lead, Stakeholder, Touchpoint
from scoring.features import COLLEAGUE_WINDOW_DAYS, FeatureConfig, FeatureFrames
from scoring.fit import IcpSpec
from scoring.models import (
    DisqualificationRule,
    IdealCustomerProfile,
    ModelKind,
    ModelStatus,
    ModelVersion,
    PointRule,
    Qualification,
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


def labelled_lead_ids() -> list[int]:
    """Leads with a known outcome: converted, or closed without converting."""
    return list(
        Lead.objects.filter(Q(converted_at__isnull=False) | Q(closed_at__isnull=False))
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def labelled_outcome_count() -> int:
    return Lead.objects.filter(Q(converted_at__isnull=False) | Q(closed_at__isnull=False)).count()


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
