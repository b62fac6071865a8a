"""Reads for qualification: the frames the feature code needs, and the active configuration.

The frames are read with plain cursors (no model instances): re-qualifying the whole database
reads millions of touchpoints, and building Django objects for each would cost more than all
the feature arithmetic.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pandas as pd
from django.conf import settings
from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import Q, QuerySet

from accounts.domains import FREE_MAIL_DOMAINS
from accounts.models import Account, AccountEvent, IntentSignal, Lead, Stakeholder, Touchpoint
from scoring.features import FeatureConfig, FeatureFrames
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

# How far back colleagues' activity, intent and events are read before the earliest as_of.
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


def lead_frame(*, lead_ids: Sequence[int]) -> pd.DataFrame:
    leads = _frame(
        Lead.objects.filter(pk__in=list(lead_ids)),
        ["id", "email", "name", "title", "seniority", "department", "source", "country",
         "account_id", "attributes", "created_at", "converted_at", "closed_at"],
    )  # fmt: skip
    leads = leads.rename(columns={"id": "lead_id"})
    leads["attributes"] = leads["attributes"].map(_json)
    leads["email_domain"] = leads["email"].astype(str).str.rsplit("@", n=1).str[-1]
    for column in ("created_at", "converted_at", "closed_at"):
        leads[column] = pd.to_datetime(leads[column], utc=True)
    return leads


def feature_frames(*, leads: pd.DataFrame) -> FeatureFrames:
    """Everything the feature code reads for these leads (which carry their own as_of)."""
    lead_ids = leads["lead_id"].astype(int).tolist()
    account_ids = sorted({int(a) for a in leads["account_id"].dropna().tolist()})
    earliest = pd.to_datetime(leads["as_of"], utc=True).min()
    since: datetime = (earliest - pd.Timedelta(days=ACCOUNT_LOOKBACK_DAYS)).to_pydatetime()

    touchpoints = _frame(
        Touchpoint.objects.filter(lead_id__in=lead_ids),
        ["lead_id", "kind", "occurred_at", "page_category", "duration_seconds", "form_type", "text",
         "properties__industry"],
    ).rename(columns={"properties_industry": "content_industry"})  # fmt: skip
    accounts = _frame(
        Account.objects.filter(pk__in=account_ids),
        ["id", "industry", "employee_count", "country", "region", "tech_stack", "funding_stage",
         "is_customer", "is_competitor"],
    ).rename(columns={"id": "account_id"})  # fmt: skip
    accounts["tech_stack"] = accounts["tech_stack"].map(
        lambda v: _json(v) if not isinstance(v, list) else v
    )
    account_touchpoints = _frame(
        Touchpoint.objects.filter(lead__account_id__in=account_ids, occurred_at__gte=since),
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
    return FeatureFrames(
        leads=leads,
        touchpoints=touchpoints,
        accounts=accounts,
        account_touchpoints=account_touchpoints,
        stakeholders=stakeholders,
        intent=intent,
        events=events,
    )


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


def rules_active() -> list[RuleSpec]:
    return [
        RuleSpec(
            reason_code=r.reason_code,
            name=r.name,
            category=r.category,
            action=r.action,
            priority=r.priority,
            parameters=dict(r.parameters or {}),
        )
        for r in DisqualificationRule.objects.filter(is_active=True)
    ]


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
