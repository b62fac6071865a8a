"""Writes the demo world (`leadqual.demo.world`) to the database, fast and all at once.

The whole load is one transaction: a failure leaves nothing half-written. On PostgreSQL rows
go in with COPY (psycopg 3), elsewhere with executemany; either way the rows are formatted
column by column from the generator's arrays, never as model instances.

How a demo world is recognised, so that loading is idempotent and `reset` removes exactly it:
its leads' and touchpoints' external ids start with `demo-`, its accounts carry a `demo_world`
attribute (seed, anchor, size), its reps are users at the vendor's staff domain with the
usernames of `world.REPS`, and its territories, pools and routing rules have the world's
names. Nothing about a lead's persona is stored.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection, models, transaction
from django.utils import timezone

from accounts.models import (
    Account,
    AccountEvent,
    AccountTechnology,
    IntentSignal,
    Lead,
    Opportunity,
    Stakeholder,
    Touchpoint,
)
from leadqual.demo.world import DemoWorld, anchor_default, world_generate
from routing.models import RoutingPool, RoutingRule, SalesRep, Territory
from scoring.defaults import scoring_defaults_ensure

DEMO_ID_PREFIX = "demo-"
DEMO_MARKER = "demo_world"
# Roles whose reps join each Django group, when the group exists (see dashboards.roles).
_GROUP_FOR_ROLE = {"sdr": "SDR", "ae": "SDR", "success": "SDR", "manager": "Sales manager"}
_ADVISORY_LOCK_KEY = 0x6C71_646D  # "lqdm": one demo load at a time per database
_CHUNK_ROWS = 50_000

ProgressCallback = Callable[[str, int, int], None]
"""Called as progress(stage, done, total); done and total count rows across the whole load."""


class DemoWorldConflict(Exception):
    """Rows that are not part of a demo world stand where the demo world would go."""


@dataclass(frozen=True)
class DemoWorldInfo:
    seed: int | None
    anchor: str
    leads: int


@dataclass(frozen=True)
class DemoLoadResult:
    loaded: bool  # False: a demo world was already there and nothing changed
    info: DemoWorldInfo
    counts: dict[str, int] = field(default_factory=dict)
    deleted: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    generate_seconds: float = 0.0


# --- queries about the demo world -----------------------------------------------------------


def demo_world_info() -> DemoWorldInfo | None:
    """The demo world in the database (seed, anchor, leads), or None when there is none."""
    marker = (
        Account.objects.filter(attributes__has_key=DEMO_MARKER)
        .values_list("attributes", flat=True)
        .first()
    )
    leads = Lead.objects.filter(external_id__startswith=DEMO_ID_PREFIX).count()
    if marker is None and leads == 0:
        return None
    stored = marker.get(DEMO_MARKER, {}) if isinstance(marker, dict) else {}
    seed = stored.get("seed") if isinstance(stored, dict) else None
    anchor = stored.get("anchor", "") if isinstance(stored, dict) else ""
    # The world's size as generated: leads that arrived since (the demo's live evidence
    # brings a new contact) are not part of it.
    generated = stored.get("leads") if isinstance(stored, dict) else None
    if isinstance(generated, int) and generated > 0:
        leads = generated
    return DemoWorldInfo(seed=seed, anchor=str(anchor), leads=leads)


# --- services -------------------------------------------------------------------------------


def demo_world_load(
    *,
    leads: int,
    seed: int,
    anchor: datetime | None = None,
    reset: bool = False,
    progress: ProgressCallback | None = None,
) -> DemoLoadResult:
    """Generate a demo world and write it, unless one is loaded already (then: no change).

    With `reset`, the previous demo world's rows are deleted first, in the same transaction.
    The scoring defaults (point rules, ICP, disqualifiers) are ensured either way.
    """
    if leads < 1:
        raise ValueError("A demo world needs at least one lead.")
    if seed < 0:
        raise ValueError("The seed must be zero or positive.")
    anchor = anchor or anchor_default(timezone.now())
    if timezone.is_naive(anchor):
        raise ValueError("The anchor must be an aware datetime.")
    report = progress or (lambda stage, done, total: None)
    started = time.perf_counter()

    existing = demo_world_info()
    if existing is not None and not reset:
        scoring_defaults_ensure()
        return DemoLoadResult(loaded=False, info=existing)

    report("Generating the world", 0, 1)
    world = world_generate(leads=leads, seed=seed, anchor=anchor)
    generate_seconds = time.perf_counter() - started
    counts = world.counts()
    rows = sum(v for k, v in counts.items() if k != "reps")
    # Generation is roughly as much work as writing a third of the rows.
    tracker = _Progress(report, offset=rows // 3, total=rows // 3 + rows)

    info = DemoWorldInfo(seed=seed, anchor=anchor_label(world.anchor), leads=leads)
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_ADVISORY_LOCK_KEY])
        deleted: dict[str, int] = {}
        # Another load may have finished while this one was generating.
        existing = demo_world_info()
        if existing is not None:
            if not reset:
                return DemoLoadResult(loaded=False, info=existing)
            tracker.advance("Deleting the old demo world", 0)
            deleted = _demo_world_delete()
        tracker.advance("Checking the database", 0)
        scoring_defaults_ensure()
        _conflicts_check(world)
        _World(world, info, tracker).write()
        # PostgreSQL checks the deferred foreign keys now, one row at a time: it takes a while.
        tracker.advance("Committing", 0)
    if connection.vendor == "postgresql":
        tracker.advance("Analyzing", 0)
        # Fresh statistics, or the planner treats a million-row table as empty for a while.
        tables = [m._meta.db_table for m in (Account, Lead, Touchpoint, Stakeholder)]
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE " + ", ".join(connection.ops.quote_name(t) for t in tables))
    tracker.finish()
    return DemoLoadResult(
        loaded=True,
        info=info,
        counts=counts,
        deleted=deleted,
        seconds=time.perf_counter() - started,
        generate_seconds=generate_seconds,
    )


@transaction.atomic
def demo_world_delete() -> dict[str, int]:
    """Remove the demo world's rows (and what hangs off them); other rows stay."""
    return _demo_world_delete()


def _demo_world_delete() -> dict[str, int]:
    from leadqual.demo.world import POOLS, REPS, ROUTING_RULES, STAFF_EMAIL_DOMAIN, TERRITORIES

    deleted: dict[str, int] = {}
    # The big table first, in one statement: the ORM would walk a million rows otherwise.
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {connection.ops.quote_name(Touchpoint._meta.db_table)} "
            "WHERE external_id LIKE %s",
            [DEMO_ID_PREFIX + "%"],
        )
        deleted["touchpoints"] = cursor.rowcount
    # The demo's deals go with it, including those of free-mail leads (no account to cascade
    # from); Opportunity.lead alone would only be set to NULL.
    deleted["opportunities"] = _set_delete(
        Opportunity.objects.filter(lead__external_id__startswith=DEMO_ID_PREFIX)
    )
    deleted["leads"] = _set_delete(Lead.objects.filter(external_id__startswith=DEMO_ID_PREFIX))
    deleted["accounts"] = _set_delete(Account.objects.filter(attributes__has_key=DEMO_MARKER))
    user_model = get_user_model()
    _, by_model = user_model.objects.filter(
        username__in=[rep.username for rep in REPS],
        email__iendswith="@" + STAFF_EMAIL_DOMAIN,
    ).delete()
    deleted["reps"] = by_model.get(SalesRep._meta.label, 0)
    pool_names = [pool.name for pool in POOLS]
    RoutingRule.objects.filter(
        name__in=[rule.name for rule in ROUTING_RULES], pool__name__in=pool_names
    ).delete()
    # Pools and territories an operator's own rules still use are kept (PROTECT).
    RoutingPool.objects.filter(name__in=pool_names, rules__isnull=True).delete()
    Territory.objects.filter(name__in=[t.name for t in TERRITORIES], rules__isnull=True).delete()
    return deleted


def _set_delete(queryset: models.QuerySet[Any], _stack: tuple[type, ...] = ()) -> int:
    """Delete the rows with a few set-based statements, honouring every on_delete rule.

    What hangs on them (in any app: qualifications, assignments, feedback, ...) goes first,
    selected by subquery: CASCADE recurses, SET_NULL is one UPDATE, PROTECT and RESTRICT
    refuse. The ORM's own delete would load every row and list every id instead, which takes
    minutes for a million touchpoints. A model with delete signals goes through the ORM, so
    its receivers still run.
    """
    model = queryset.model
    if (
        model in _stack
        or models.signals.pre_delete.has_listeners(model)
        or models.signals.post_delete.has_listeners(model)
    ):
        return int(queryset.delete()[1].get(model._meta.label, 0))
    keys = queryset.values("pk")
    for relation in model._meta.related_objects:
        if relation.many_to_many or relation.field.model is not relation.related_model:
            continue
        related: type[models.Model] = relation.related_model
        dependents = related._base_manager.filter(**{f"{relation.field.name}__in": keys})
        on_delete = relation.on_delete
        if on_delete is models.CASCADE:
            _set_delete(dependents, (*_stack, model))
        elif on_delete is models.SET_NULL:
            dependents.update(**{relation.field.name: None})
        elif on_delete in (models.PROTECT, models.RESTRICT):
            if dependents.exists():
                raise models.ProtectedError(
                    f"{related.__name__} rows still refer to {model.__name__} rows.", set()
                )
        elif on_delete is not models.DO_NOTHING:  # SET_DEFAULT, SET(...): the ORM knows
            return int(queryset.delete()[1].get(model._meta.label, 0))
    sql, params = keys.query.sql_with_params()
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {quote(model._meta.db_table)} WHERE {quote(model._meta.pk.column)} "
            f"IN (SELECT * FROM ({sql}) AS doomed)",
            params,
        )
        return int(cursor.rowcount)


# --- conflicts ------------------------------------------------------------------------------


def _existing(model: type[models.Model], field_name: str, values: Sequence[str]) -> list[str]:
    # SQLite caps the parameters of one statement; PostgreSQL does not care.
    size = 900 if connection.vendor == "sqlite" else 20_000
    found: list[str] = []
    for start in range(0, len(values), size):
        chunk = list(values[start : start + size])
        found.extend(
            model._default_manager.filter(**{f"{field_name}__in": chunk}).values_list(
                field_name, flat=True
            )
        )
    return found


def _conflicts_check(world: DemoWorld) -> None:
    from leadqual.demo.world import REPS

    problems: list[str] = []
    for label, model, field_name, values in (
        ("account domains", Account, "domain", world.accounts["domain"].tolist()),
        ("lead emails", Lead, "email", world.leads["email"].tolist()),
        ("usernames", get_user_model(), "username", [rep.username for rep in REPS]),
    ):
        taken = _existing(model, field_name, values)
        if taken:
            examples = ", ".join(sorted(taken)[:3])
            problems.append(f"{len(taken)} {label} ({examples})")
    if problems:
        raise DemoWorldConflict(
            "The database already holds rows that are not part of a demo world but would "
            "collide with it: " + "; ".join(problems) + ". Load the demo world into a database "
            "without them."
        )


# --- progress -------------------------------------------------------------------------------


class _Progress:
    def __init__(self, report: ProgressCallback, *, offset: int, total: int) -> None:
        self.report = report
        self.done = offset
        self.total = max(total, 1)
        self.stage = ""

    def advance(self, stage: str, rows: int) -> None:
        self.stage = stage
        self.done = min(self.done + rows, self.total)
        self.report(stage, self.done, self.total)

    def finish(self) -> None:
        self.report("Done", self.total, self.total)


# --- column formatting ----------------------------------------------------------------------

# COPY's text format: backslash, tab, newline and carriage return are escaped; \N is NULL.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_COPY_NULL = "\\N"


@dataclass(frozen=True)
class _Column:
    """One column's values for all rows.

    kind: int (nullable via `null`), float, decimal (NaN is NULL), bool, str (a Categorical
    or a sequence of str), raw (text known to need no COPY escaping: generated ids), json
    (Python objects), jsontext (JSON already as text), datetime (a pandas datetime Series in
    UTC; NaT is NULL), null.
    """

    kind: str
    values: Any = None
    null: Any = None  # boolean mask for int columns


def _col_text(column: _Column, start: int, end: int) -> list[str]:
    kind, values = column.kind, column.values
    n = end - start
    if kind == "null":
        return [_COPY_NULL] * n
    if kind == "raw":
        return list(values[start:end])
    if kind == "int":
        chunk = np.asarray(values[start:end], dtype=np.int64)
        out = chunk.astype(str).astype(object)
        if column.null is not None:
            out[np.asarray(column.null[start:end], dtype=bool)] = _COPY_NULL
        return list(out.tolist())
    if kind in ("float", "decimal"):
        chunk = np.asarray(values[start:end], dtype=float)
        fmt = "{:.2f}" if kind == "decimal" else "{!r}"
        return [_COPY_NULL if np.isnan(v) else fmt.format(float(v)) for v in chunk]
    if kind == "bool":
        return list(np.where(np.asarray(values[start:end], dtype=bool), "t", "f").tolist())
    if kind in ("str", "jsontext"):
        if isinstance(values, pd.Categorical) or (
            isinstance(values, pd.Series) and isinstance(values.dtype, pd.CategoricalDtype)
        ):
            categorical = pd.Categorical(values)
            escaped = np.array(
                [str(c).translate(_COPY_ESCAPES) for c in categorical.categories], dtype=object
            )
            return list(escaped[categorical.codes[start:end]].tolist())
        return [
            _COPY_NULL if v is None else str(v).translate(_COPY_ESCAPES)
            for v in _slice(values, start, end)
        ]
    if kind == "json":
        return [
            json.dumps(v, ensure_ascii=False).translate(_COPY_ESCAPES)
            for v in _slice(values, start, end)
        ]
    if kind == "datetime":
        stamps = _datetimes(values, start, end)
        text = np.datetime_as_string(stamps, unit="s", timezone="UTC").astype(object)
        text[np.isnat(stamps)] = _COPY_NULL
        return list(text.tolist())
    raise ValueError(f"Unknown column kind {kind!r}.")


def _col_python(column: _Column, start: int, end: int) -> list[Any]:
    """Values as the DB-API driver takes them (SQLite: Django's own text formats)."""
    kind, values = column.kind, column.values
    n = end - start
    if kind == "null":
        return [None] * n
    if kind == "int":
        chunk = np.asarray(values[start:end], dtype=np.int64).tolist()
        if column.null is not None:
            mask = np.asarray(column.null[start:end], dtype=bool).tolist()
            return [None if m else v for v, m in zip(chunk, mask, strict=True)]
        return list(chunk)
    if kind == "float":
        return [None if np.isnan(v) else float(v) for v in np.asarray(values[start:end], float)]
    if kind == "decimal":
        return [
            None if np.isnan(v) else str(Decimal(f"{v:.2f}"))
            for v in np.asarray(values[start:end], dtype=float)
        ]
    if kind == "bool":
        return list(np.asarray(values[start:end], dtype=bool).tolist())
    if kind in ("str", "jsontext", "raw"):
        return [None if v is None else str(v) for v in _slice(values, start, end)]
    if kind == "json":
        return [json.dumps(v, ensure_ascii=False) for v in _slice(values, start, end)]
    if kind == "datetime":
        stamps = _datetimes(values, start, end)
        # Django's SQLite format for an aware datetime: naive UTC, space-separated.
        text = np.datetime_as_string(stamps, unit="s").astype(object)
        return [None if t == "NaT" else t.replace("T", " ") for t in text.tolist()]
    raise ValueError(f"Unknown column kind {kind!r}.")


def _slice(values: Any, start: int, end: int) -> Iterable[Any]:
    if isinstance(values, pd.Series | pd.Categorical):
        return list(values[start:end])
    return values[start:end]


def _datetimes(values: pd.Series, start: int, end: int) -> Any:
    chunk = pd.Series(values[start:end])
    return chunk.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(dtype="datetime64[s]")


def _table_columns(model: type[models.Model], given: Mapping[str, _Column]) -> list[str]:
    """The model's columns in table order; nullable ones not given are written as NULL."""
    columns: list[str] = []
    for model_field in model._meta.concrete_fields:
        if model_field.primary_key:
            continue
        if model_field.column not in given and not model_field.null:
            raise ValueError(f"{model.__name__}.{model_field.column} has no value.")
        columns.append(model_field.column)
    unknown = set(given) - set(columns)
    if unknown:
        raise ValueError(f"{model.__name__} has no column(s) {sorted(unknown)}.")
    return columns


def _rows_insert(
    model: type[models.Model],
    given: Mapping[str, _Column],
    count: int,
    *,
    tracker: _Progress,
    stage: str,
) -> None:
    if count == 0:
        return
    columns = _table_columns(model, given)
    filled = [given.get(c, _Column("null")) for c in columns]
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    column_sql = ", ".join(quote(c) for c in columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.copy(f"COPY {table} ({column_sql}) FROM STDIN") as copy:
                for start, end in _chunks(count):
                    parts = [_col_text(col, start, end) for col in filled]
                    lines = ["\t".join(row) for row in zip(*parts, strict=True)]
                    copy.write(("\n".join(lines) + "\n").encode())
                    tracker.advance(stage, end - start)
        else:
            placeholders = ", ".join(["%s"] * len(columns))
            sql = f"INSERT INTO {table} ({column_sql}) VALUES ({placeholders})"
            for start, end in _chunks(count):
                parts = [_col_python(col, start, end) for col in filled]
                cursor.executemany(sql, list(zip(*parts, strict=True)))
                tracker.advance(stage, end - start)


def _chunks(count: int) -> Iterator[tuple[int, int]]:
    for start in range(0, count, _CHUNK_ROWS):
        yield start, min(start + _CHUNK_ROWS, count)


# --- the writer -----------------------------------------------------------------------------


def _ids(positions: Any, ids: Any) -> tuple[Any, Any]:
    """Database ids for generator positions (-1: none), and the NULL mask."""
    positions = np.asarray(positions, dtype=np.int64)
    null = positions < 0
    return np.where(null, 0, ids[np.maximum(positions, 0)]), null


class _World:
    def __init__(self, world: DemoWorld, info: DemoWorldInfo, tracker: _Progress) -> None:
        self.world = world
        self.info = info
        self.tracker = tracker
        self.anchor = world.anchor

    def write(self) -> None:
        rep_user_ids = self._staff()
        account_ids = self._accounts(rep_user_ids)
        lead_ids = self._leads(account_ids, rep_user_ids)
        self._stakeholders(account_ids, lead_ids)
        self._touchpoints(account_ids, lead_ids)
        self._intent_and_events(account_ids)
        self._technologies(account_ids)
        self._opportunities(account_ids, lead_ids)

    def _staff(self) -> Any:
        """Territories, reps (users with unusable passwords), pools and rules; user ids."""
        world = self.world
        territories = {}
        for spec in world.territories:
            territory, _ = Territory.objects.get_or_create(
                name=spec.name,
                defaults={
                    "regions": list(spec.regions),
                    "countries": list(spec.countries),
                    "description": spec.description,
                },
            )
            territories[spec.name] = territory
        user_model = get_user_model()
        users = []
        for rep_spec in world.reps:
            user = user_model(
                username=rep_spec.username,
                first_name=rep_spec.first_name,
                last_name=rep_spec.last_name,
                email=rep_spec.email,
                is_staff=rep_spec.role == "manager",
            )
            user.set_unusable_password()
            users.append(user)
        user_model.objects.bulk_create(users)
        user_by_name = {
            u.username: u
            for u in user_model.objects.filter(username__in=[s.username for s in world.reps])
        }
        groups = {g.name: g for g in Group.objects.filter(name__in=_GROUP_FOR_ROLE.values())}
        reps: dict[str, SalesRep] = {}
        for rep_spec in world.reps:
            user = user_by_name[rep_spec.username]
            ooo = rep_spec.out_of_office
            rep = SalesRep.objects.create(
                user=user,
                team=rep_spec.team,
                role=rep_spec.role,
                skills=list(rep_spec.skills),
                languages=list(rep_spec.languages),
                max_open_leads=rep_spec.max_open_leads,
                max_leads_per_day=rep_spec.max_leads_per_day,
                weight=Decimal(str(rep_spec.weight)),
                out_of_office_from=self.anchor + timedelta(days=ooo[0]) if ooo else None,
                out_of_office_until=self.anchor + timedelta(days=ooo[1]) if ooo else None,
            )
            rep.territories.set([territories[name] for name in rep_spec.territories])
            group = groups.get(_GROUP_FOR_ROLE.get(rep_spec.role, ""))
            if group is not None:
                user.groups.add(group)
            reps[rep_spec.username] = rep
        has_fallback = RoutingPool.objects.filter(is_fallback=True).exists()
        pools = {}
        for pool_spec in world.pools:
            pool, _ = RoutingPool.objects.get_or_create(
                name=pool_spec.name,
                defaults={
                    # Only one fallback pool may exist; an operator's own one stays in charge.
                    "is_fallback": pool_spec.is_fallback and not has_fallback,
                    "description": pool_spec.description,
                },
            )
            pool.reps.add(*[reps[name] for name in pool_spec.reps])
            pools[pool_spec.name] = pool
        existing_rules = set(RoutingRule.objects.values_list("name", flat=True))
        RoutingRule.objects.bulk_create(
            [
                RoutingRule(
                    name=rule.name,
                    priority=rule.priority,
                    tiers=list(rule.tiers),
                    territory=territories[rule.territory] if rule.territory else None,
                    min_employees=rule.min_employees,
                    min_deal_size=Decimal(rule.min_deal_size) if rule.min_deal_size else None,
                    languages=list(rule.languages),
                    required_skill=rule.required_skill,
                    pool=pools[rule.pool],
                    strategy=rule.strategy,
                )
                for rule in world.routing_rules
                if rule.name not in existing_rules
            ]
        )
        self.tracker.advance("Reps, teams and territories", 0)
        return np.array([user_by_name[spec.username].pk for spec in world.reps], dtype=np.int64)

    def _accounts(self, rep_user_ids: Any) -> Any:
        frame = self.world.accounts
        marker = {
            DEMO_MARKER: {"seed": self.info.seed, "anchor": self.info.anchor,
                          "leads": self.info.leads}
        }  # fmt: skip
        owner, owner_null = _ids(frame["owner_rep"], rep_user_ids)
        fiscal = frame["fiscal_year_start_month"].to_numpy(dtype=np.int64)  # 0: not known
        _rows_insert(
            Account,
            {
                "name": _Column("str", frame["name"].tolist()),
                "domain": _Column("str", frame["domain"].tolist()),
                "industry": _Column("str", frame["industry"].tolist()),
                "employee_count": _Column("int", frame["employee_count"].to_numpy()),
                "annual_revenue": _Column("decimal", frame["annual_revenue"].to_numpy()),
                "country": _Column("str", frame["country"].tolist()),
                "state": _Column("str", frame["state"].tolist()),
                "region": _Column("str", frame["region"].tolist()),
                "tech_stack": _Column("json", frame["tech_stack"].tolist()),
                "funding_stage": _Column("str", frame["funding_stage"].tolist()),
                "is_customer": _Column("bool", frame["is_customer"].to_numpy()),
                "is_competitor": _Column("bool", frame["is_competitor"].to_numpy()),
                "owner_id": _Column("int", owner, owner_null),
                "fiscal_year_start_month": _Column("int", fiscal, fiscal == 0),
                "attributes": _Column("json", [{**a, **marker} for a in frame["attributes"]]),
                "created_at": _Column("datetime", frame["created_at"]),
                "updated_at": _Column("datetime", frame["updated_at"]),
            },
            len(frame),
            tracker=self.tracker,
            stage="Accounts",
        )
        by_domain = dict(
            Account.objects.filter(attributes__has_key=DEMO_MARKER).values_list("domain", "id")
        )
        return np.array([by_domain[d] for d in frame["domain"]], dtype=np.int64)

    def _leads(self, account_ids: Any, rep_user_ids: Any) -> Any:
        frame = self.world.leads
        account, account_null = _ids(frame["account"], account_ids)
        owner, owner_null = _ids(frame["owner_rep"], rep_user_ids)
        _rows_insert(
            Lead,
            {
                "account_id": _Column("int", account, account_null),
                "email": _Column("str", frame["email"].tolist()),
                "external_id": _Column("str", frame["external_id"].tolist()),
                "name": _Column("str", frame["name"].tolist()),
                "title": _Column("str", frame["title"].tolist()),
                "seniority": _Column("str", frame["seniority"].tolist()),
                "department": _Column("str", frame["department"].tolist()),
                "source": _Column("str", frame["source"].tolist()),
                "country": _Column("str", frame["country"].tolist()),
                "state": _Column("str", frame["state"].tolist()),
                "language": _Column("str", frame["language"].tolist()),
                "status": _Column("str", frame["status"].tolist()),
                "owner_id": _Column("int", owner, owner_null),
                "attributes": _Column("json", frame["attributes"].tolist()),
                "outcome_attributes": _Column("json", frame["outcome_attributes"].tolist()),
                "created_at": _Column("datetime", frame["created_at"]),
                "updated_at": _Column("datetime", frame["updated_at"]),
                "converted_at": _Column("datetime", frame["converted_at"]),
                "closed_at": _Column("datetime", frame["closed_at"]),
            },
            len(frame),
            tracker=self.tracker,
            stage="Leads",
        )
        prefix = f"{DEMO_ID_PREFIX}{self.world.seed}-lead-"
        ids = np.zeros(len(frame), dtype=np.int64)
        for external_id, pk in Lead.objects.filter(external_id__startswith=prefix).values_list(
            "external_id", "id"
        ):
            ids[int(str(external_id)[len(prefix) :])] = pk
        return ids

    def _stakeholders(self, account_ids: Any, lead_ids: Any) -> None:
        frame = self.world.stakeholders
        account, _ = _ids(frame["account"], account_ids)
        lead, lead_null = _ids(frame["lead"], lead_ids)
        _rows_insert(
            Stakeholder,
            {
                "account_id": _Column("int", account),
                "lead_id": _Column("int", lead, lead_null),
                "name": _Column("str", frame["name"].tolist()),
                "email": _Column("str", frame["email"].tolist()),
                "title": _Column("str", frame["title"].tolist()),
                "committee_role": _Column("str", frame["committee_role"].tolist()),
                "role_inferred": _Column("bool", frame["role_inferred"].to_numpy()),
                "created_at": _Column("datetime", frame["created_at"]),
            },
            len(frame),
            tracker=self.tracker,
            stage="Buying committees",
        )

    def _touchpoints(self, account_ids: Any, lead_ids: Any) -> None:
        frame = self.world.touchpoints
        account, account_null = _ids(frame["account"], account_ids)
        lead, lead_null = _ids(frame["lead"], lead_ids)
        duration = frame["duration_seconds"]
        _rows_insert(
            Touchpoint,
            {
                "lead_id": _Column("int", lead, lead_null),
                "account_id": _Column("int", account, account_null),
                "kind": _Column("str", frame["kind"]),
                "occurred_at": _Column("datetime", frame["occurred_at"]),
                "url": _Column("str", frame["url"]),
                "page_category": _Column("str", frame["page_category"]),
                "duration_seconds": _Column(
                    "int", duration.fillna(0).to_numpy(dtype=np.int64), duration.isna().to_numpy()
                ),
                "form_type": _Column("str", frame["form_type"]),
                "text": _Column("str", frame["text"]),
                "external_id": _Column("raw", frame["external_id"].tolist()),
                "properties": _Column("jsontext", frame["properties"]),
                "created_at": _Column("datetime", frame["created_at"]),
            },
            len(frame),
            tracker=self.tracker,
            stage="Touchpoints",
        )

    def _intent_and_events(self, account_ids: Any) -> None:
        intent = self.world.intent_signals
        account, _ = _ids(intent["account"], account_ids)
        _rows_insert(
            IntentSignal,
            {
                "account_id": _Column("int", account),
                "topic": _Column("str", intent["topic"].tolist()),
                "surge_score": _Column("float", intent["surge_score"].to_numpy()),
                "observed_at": _Column("datetime", intent["observed_at"]),
                "source": _Column("str", intent["source"].tolist()),
                "external_id": _Column("raw", intent["external_id"].tolist()),
                "received_at": _Column("datetime", intent["received_at"]),
            },
            len(intent),
            tracker=self.tracker,
            stage="Intent signals",
        )
        events = self.world.account_events
        account, _ = _ids(events["account"], account_ids)
        _rows_insert(
            AccountEvent,
            {
                "account_id": _Column("int", account),
                "kind": _Column("str", events["kind"].tolist()),
                "occurred_at": _Column("datetime", events["occurred_at"]),
                "title": _Column("str", events["title"].tolist()),
                "details": _Column("json", events["details"].tolist()),
                "source": _Column("str", events["source"].tolist()),
                "vendor": _Column("str", events["vendor"].tolist()),
                # "YYYY-MM-DD" or None: both COPY and SQLite take a date as that text.
                "renews_at": _Column("str", events["renews_at"].tolist()),
                # The demo's history arrived as it happened.
                "received_at": _Column("datetime", events["occurred_at"]),
            },
            len(events),
            tracker=self.tracker,
            stage="Account events",
        )

    def _technologies(self, account_ids: Any) -> None:
        frame = self.world.technologies
        account, _ = _ids(frame["account"], account_ids)
        _rows_insert(
            AccountTechnology,
            {
                "account_id": _Column("int", account),
                "name": _Column("str", frame["name"].tolist()),
                "category": _Column("str", frame["category"].tolist()),
                "first_seen": _Column("datetime", frame["first_seen"]),
                "last_seen": _Column("datetime", frame["last_seen"]),
                "source": _Column("str", frame["source"].tolist()),
                "received_at": _Column("datetime", frame["received_at"]),
            },
            len(frame),
            tracker=self.tracker,
            stage="Technologies",
        )

    def _opportunities(self, account_ids: Any, lead_ids: Any) -> None:
        frame = self.world.opportunities
        account, account_null = _ids(frame["account"], account_ids)
        lead, _ = _ids(frame["lead"], lead_ids)
        _rows_insert(
            Opportunity,
            {
                "account_id": _Column("int", account, account_null),
                "lead_id": _Column("int", lead),
                "name": _Column("str", frame["name"].tolist()),
                "stage": _Column("str", frame["stage"].tolist()),
                "amount": _Column("decimal", frame["amount"].to_numpy()),
                "created_at": _Column("datetime", frame["created_at"]),
                "closed_at": _Column("datetime", frame["closed_at"]),
                "is_closed": _Column("bool", frame["is_closed"].to_numpy()),
                "is_won": _Column("bool", frame["is_won"].to_numpy()),
            },
            len(frame),
            tracker=self.tracker,
            stage="Opportunities",
        )


def anchor_parse(value: str) -> datetime:
    """YYYY-MM-DD as 00:00 UTC of that day, or an ISO date and time (UTC unless it says
    otherwise, e.g. 2026-12-07T09:30 or 2026-12-07T09:30+01:00); ValueError otherwise."""
    text = value.strip()
    if "T" not in text and " " not in text:
        day = date.fromisoformat(text)
        return datetime(day.year, day.month, day.day, tzinfo=UTC)
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def anchor_label(anchor: datetime) -> str:
    """How the world's anchor is stored and shown: the date alone for a midnight anchor
    (--anchor 2026-06-01), otherwise the date and UTC time to the minute."""
    moment = anchor.astimezone(UTC)
    if (moment.hour, moment.minute, moment.second) == (0, 0, 0):
        return moment.date().isoformat()
    return moment.strftime("%Y-%m-%dT%H:%MZ")
