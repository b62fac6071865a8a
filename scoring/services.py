"""Qualification and training: load frames, run the pure engine, store what it decided."""

from __future__ import annotations

import contextlib
import json
import logging
import math
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import psycopg
from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connection, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils import timezone
from django.utils.module_loading import import_string

from accounts.models import Lead
from scoring import account_selectors, override_selectors, selectors
from scoring.assess import (
    Assessment,
    EngineConfig,
    EngineModels,
    assess,
    model_matrix,
)
from scoring.briefs import brief_expand
from scoring.decision import Thresholds, capacity_threshold
from scoring.features import build_features
from scoring.feedback_revisit import feedback_revisit_on
from scoring.fit import compute_fit
from scoring.ml import artifact
from scoring.ml.conversion import (
    ConversionParams,
    NotEnoughData,
    TrainedConversionModel,
    evaluate_conversion_model,
    train_conversion_model,
)
from scoring.ml.metrics import is_better
from scoring.ml.ranges import train_range_model
from scoring.models import (
    AccountScoringSettings,
    Feedback,
    FeedbackReason,
    FeedbackVerdict,
    ModelKind,
    ModelStatus,
    ModelVersion,
    Qualification,
    ScoringSettings,
)
from scoring.points import compute_point_scores
from scoring.rules import ReviewPolicy, RuleSpec

logger = logging.getLogger(__name__)

Progress = Callable[[int, int], None]

# Leads assessed (and stored) together. Each chunk pays a fixed cost (a few hundred pandas
# operations, six reads, four XGBoost calls): about 0.2 s, a fifth of a 5,000-lead chunk's
# work; at 10,000 the frames of a chunk still take only tens of megabytes.
DEFAULT_CHUNK = 10_000
# Models are immutable once stored, so a process keeps the ones it has loaded. The key has the
# training time beside the id: a rolled-back transaction can give a new model a used id
# (SQLite reuses them), and that must not serve the old model.
_MODEL_CACHE: dict[tuple[int, datetime, int | None], Any] = {}
_MODEL_CACHE_SIZE = 8


def engine_config(*, scoring_settings: ScoringSettings | None = None) -> EngineConfig:
    settings_row = scoring_settings or ScoringSettings.load()
    return EngineConfig(
        features=selectors.feature_config(half_life_days=settings_row.recency_half_life_days),
        icp=selectors.icp_active(),
        rules=selectors.rules_active(),
        point_rules=selectors.point_rules_active(),
        point_threshold=settings_row.point_route_threshold,
        thresholds=Thresholds(
            sales_ready=settings_row.sales_ready_threshold,
            nurture=settings_row.nurture_threshold,
        ),
        review=ReviewPolicy(min_committee_people=settings_row.review_min_committee_people),
        account_factors=AccountScoringSettings.load().factors,
        positive_rules=override_selectors.positive_rules_active(),
    )


# Set in a worker's pool processes (leadqual.celery): LEADQUAL_WORKER_PREDICT_THREADS.
_process_predict_threads: int | None = None


def predict_threads_use(threads: int | None) -> None:
    """Make this process's model predictions use `threads` threads (None or 0: as configured).

    A worker's pool process calls it as it starts, and so does anything else that runs one
    process per core (bench/qualify.py's nightly measurement).
    """
    global _process_predict_threads
    _process_predict_threads = threads or None


def predict_threads() -> int | None:
    """Threads per prediction in this process; None: the model's own."""
    return _process_predict_threads or settings.LEADQUAL_PREDICT_THREADS or None


def _load(version: ModelVersion | None) -> Any:
    if version is None:
        return None
    threads = predict_threads()
    key = (version.pk, version.trained_at, threads)
    if key not in _MODEL_CACHE:
        if len(_MODEL_CACHE) >= _MODEL_CACHE_SIZE:
            _MODEL_CACHE.pop(next(iter(_MODEL_CACHE)))  # the oldest loaded
        _MODEL_CACHE[key] = artifact.load(bytes(version.artifact), threads=threads)
    return _MODEL_CACHE[key]


def engine_models(*, scoring_settings: ScoringSettings | None = None) -> EngineModels:
    settings_row = scoring_settings or ScoringSettings.load()
    conversion = selectors.model_version_active(kind=ModelKind.CONVERSION)
    outcomes = int(conversion.training_rows) if conversion else 0
    return EngineModels(
        conversion=_load(conversion),
        conversion_version_id=conversion.pk if conversion else None,
        timeline=_load(selectors.model_version_active(kind=ModelKind.TIMELINE)),
        deal_size=_load(selectors.model_version_active(kind=ModelKind.DEAL_SIZE)),
        ready=conversion is not None and outcomes >= settings_row.min_outcomes_for_model,
    )


@dataclass
class QualifyResult:
    leads: int = 0
    tiers: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def _decimal(value: Any) -> Decimal | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return Decimal(str(round(float(value), 2)))


def _id_or_none(value: Any) -> int | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return int(value)


def _int_or_none(value: Any) -> int | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return max(0, round(float(value)))


# What a Qualification row holds, in this order (JSON fields as JSON text).
QUALIFICATION_COLUMNS = (
    "lead_id", "model_version_id", "is_current", "computed_at", "conversion_probability",
    "timeline_days_low", "timeline_days_high", "deal_size_low", "deal_size_high", "fit_company",
    "fit_role", "fit_technology", "fit_timing", "point_score", "tier",
    "disqualification_reason", "needs_review", "contributions", "brief", "recommended_action",
    "confidence", "account_priority", "threshold_note", "positive_rule_id",
    "lead_override_id", "override_reason", "overridden_disqualification",
)  # fmt: skip
_JSON_COLUMNS = frozenset({"contributions", "brief"})
# Runs of up to this many leads are explained with exact TreeSHAP contributions (a few
# thousand leads a second); larger runs with XGBoost's approximate (Saabas) contributions,
# some twenty times faster with the same sum. See `scoring.assess.assess`.
EXACT_CONTRIBUTIONS_MAX_LEADS = 1000


def _qualification_columns(
    assessment: Assessment, model_version_id: int | None, now: datetime
) -> dict[str, list[Any]]:
    """Each column of the assessed leads' rows, by QUALIFICATION_COLUMNS name."""
    results = assessment.results
    n = len(results)

    def column(name: str, convert: Callable[[Any], Any]) -> list[Any]:
        if name not in results.columns:
            return [None] * n
        return [convert(v) for v in results[name].tolist()]

    records = assessment.records
    return {
        "lead_id": [int(i) for i in results.index],
        "model_version_id": [model_version_id] * n,
        "is_current": [True] * n,
        "computed_at": [now] * n,
        "conversion_probability": column("conversion_probability", float),
        "timeline_days_low": column("timeline_low", _int_or_none),
        "timeline_days_high": column("timeline_high", _int_or_none),
        "deal_size_low": column("deal_low", _decimal),
        "deal_size_high": column("deal_high", _decimal),
        "fit_company": column("fit_company", int),
        "fit_role": column("fit_role", int),
        "fit_technology": column("fit_technology", int),
        "fit_timing": column("fit_timing", int),
        "point_score": column("point_score", int),
        "tier": column("tier", str),
        "disqualification_reason": column("disqualification_reason", lambda v: str(v or "")),
        "needs_review": column("needs_review", bool),
        "contributions": assessment.contributions_json,
        "brief": [r.brief_json for r in records],
        "recommended_action": column("recommended_action", str),
        "confidence": column("confidence", str),
        "account_priority": column("account_priority", str) if n else [],
        "threshold_note": column("threshold_note", str) if n else [],
        "positive_rule_id": column("positive_rule_id", _id_or_none),
        "lead_override_id": column("lead_override_id", _id_or_none),
        "override_reason": column("override_reason", lambda v: str(v or "")),
        "overridden_disqualification": column(
            "overridden_disqualification", lambda v: str(v or "")
        ),
    }


def _qualification_rows(
    assessment: Assessment, model_version_id: int | None, now: datetime
) -> list[tuple[Any, ...]]:
    """One tuple per assessed lead, values in QUALIFICATION_COLUMNS order."""
    columns = _qualification_columns(assessment, model_version_id, now)
    return list(zip(*(columns[name] for name in QUALIFICATION_COLUMNS), strict=True))


# COPY's text format: a tab between fields, a newline after each row, \N for NULL, and a
# backslash before a backslash, newline, carriage return or tab inside a value.
_COPY_NULL = "\\N"
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"})


def _copy_text(value: str) -> str:
    if "\\" in value or "\n" in value or "\r" in value or "\t" in value:
        return value.translate(_COPY_ESCAPES)
    return value


# One value for a whole chunk (see `_qualification_columns`): formatted once.
_CHUNK_CONSTANT_COLUMNS = frozenset({"model_version_id", "is_current", "computed_at"})


def _copy_fields(values: list[Any]) -> list[str]:
    """One column's values as COPY text: None as NULL, booleans as t/f, the rest as str()
    (ints, floats, Decimals, datetimes in ISO form; text escaped)."""
    if not values:
        return []
    if isinstance(values[0], str):
        return [_COPY_NULL if v is None else _copy_text(v) for v in values]
    if isinstance(values[0], bool):
        return [_COPY_NULL if v is None else ("t" if v else "f") for v in values]
    if isinstance(values[0], datetime):
        return [_COPY_NULL if v is None else v.isoformat() for v in values]
    if None in values:
        return [_COPY_NULL if v is None else str(v) for v in values]
    return list(map(str, values))


def _copy_payload(columns: dict[str, list[Any]]) -> bytes:
    """The rows as COPY text, built a column at a time.

    Formatting each row in psycopg's write_row cost more than the rest of the write on the
    client; here each column's values are formatted in one pass and the rows joined by C
    string joins. JSON columns hold JSON text, whose only escape character is the backslash.
    A column's values are all of one type (or None), as `_qualification_columns` makes them.
    """
    formatted = []
    for name in QUALIFICATION_COLUMNS:
        values = columns[name]
        if name in _JSON_COLUMNS:
            formatted.append([v.replace("\\", "\\\\") if "\\" in v else v for v in values])
        elif name in _CHUNK_CONSTANT_COLUMNS:
            formatted.append(_copy_fields(values[:1]) * len(values))
        else:
            formatted.append(_copy_fields(values))
    lines = map("\t".join, zip(*formatted, strict=True))
    return ("\n".join(lines) + "\n").encode() if formatted[0] else b""


def _qualifications(
    assessment: Assessment, model_version_id: int | None, now: datetime
) -> list[Qualification]:
    """The rows as model instances (JSON fields decoded; the brief as the document, which
    the field stores compactly again), for bulk_create."""
    return [
        Qualification(
            **{
                name: _decoded(name, value) if name in _JSON_COLUMNS else value
                for name, value in zip(QUALIFICATION_COLUMNS, row, strict=True)
            }
        )
        for row in _qualification_rows(assessment, model_version_id, now)
    ]


def _decoded(name: str, value: str) -> Any:
    decoded = json.loads(value)
    return brief_expand(decoded) if name == "brief" else decoded


def qualifications_retire_for_copy(cursor: Any, lead_ids: list[int]) -> None:
    """Before a COPY of new current rows (PostgreSQL, inside the caller's transaction): the
    leads' current qualifications stop being current, and the transaction compresses with lz4.

    lz4 compresses a brief several times faster than PostgreSQL's default pglz and reads back
    the same; it is chosen per value, so this needs no schema change.
    """
    table = Qualification._meta.db_table
    cursor.execute(
        f"UPDATE {table} SET is_current = false WHERE is_current AND lead_id = ANY(%s)",
        [lead_ids],
    )
    cursor.execute(
        "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"
    )
    found = cursor.fetchone()
    if found and found[0]:
        cursor.execute("SET LOCAL default_toast_compression = 'lz4'")


# A concurrent run (the nightly chunk and a real-time re-qualification of the same lead) can
# store a current row between our retire and our COPY; we then retire it too and try again.
WRITE_ATTEMPTS = 3
COPY_BLOCK = 1 << 20  # bytes handed to COPY at a time

Marks = list[tuple[int, datetime]]


def _write_postgres(
    db: BaseDatabaseWrapper, payload: bytes, lead_ids: list[int], marks: Marks
) -> None:
    """Replace these leads' current qualifications with the rows of `payload` (COPY text, see
    `_copy_payload`), with COPY (PostgreSQL).

    Django's bulk_create spent most of a re-qualification turning each value into SQL; COPY
    takes the rows as text (JSON fields as the JSON the engine wrote). The previous rows stop
    being current first, so `qualification_one_current` holds at every statement. The caller
    provides the transaction.
    """
    table = Qualification._meta.db_table
    db_columns = {f.attname: f.column for f in Qualification._meta.concrete_fields}
    columns = ", ".join(db.ops.quote_name(db_columns[name]) for name in QUALIFICATION_COLUMNS)
    with db.cursor() as cursor:
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            cursor.execute("SAVEPOINT qualification_write")
            try:
                qualifications_retire_for_copy(cursor, lead_ids)
                with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                    for offset in range(0, len(payload), COPY_BLOCK):
                        copy.write(payload[offset : offset + COPY_BLOCK])
            except (IntegrityError, psycopg.errors.UniqueViolation):
                # Our retire waited on the other run's lock and then skipped the row it had
                # retired; the row it stored was not there yet. The next retire sees it.
                cursor.execute("ROLLBACK TO SAVEPOINT qualification_write")
                if attempt == WRITE_ATTEMPTS:
                    raise
                continue
            cursor.execute("RELEASE SAVEPOINT qualification_write")
            break
        if marks:
            # Only the marks this run read before it read the evidence: a lead marked again
            # since (an event that committed after our read) keeps its new mark and is
            # re-qualified again, so no event is ever absorbed by a run that did not see it.
            cursor.execute(
                f"UPDATE {Lead._meta.db_table} AS lead SET requalify_requested_at = NULL "
                "FROM unnest(%s::bigint[], %s::timestamptz[]) AS mark(id, at) "
                "WHERE lead.id = mark.id AND lead.requalify_requested_at = mark.at",
                [[lead_id for lead_id, _ in marks], [at for _, at in marks]],
            )


def _marks_clear_orm(marks: Marks) -> None:
    for lead_id, at in marks:
        Lead.objects.filter(pk=lead_id, requalify_requested_at=at).update(
            requalify_requested_at=None
        )


def _write(
    assessment: Assessment, lead_ids: list[int], version_id: int | None, now: datetime, marks: Marks
) -> int:
    """Store the chunk's new qualifications atomically; returns how many."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            _write_postgres(
                connection, _copy_payload(_qualification_columns(assessment, version_id, now)),
                lead_ids, marks,
            )  # fmt: skip
            return len(assessment.results)
        qualifications = _qualifications(assessment, version_id, now)
        Qualification.objects.filter(lead_id__in=lead_ids, is_current=True).update(is_current=False)
        Qualification.objects.bulk_create(qualifications, batch_size=2000)
        _marks_clear_orm(marks)
        return len(qualifications)


def _other_connections_possible() -> bool:
    """Whether work can go to connections besides this one: PostgreSQL, outside a transaction
    (another connection would not see the caller's uncommitted rows)."""
    return connection.vendor == "postgresql" and not connection.in_atomic_block


def _can_pipeline(leads: int, chunk_size: int, wanted: bool | None = None) -> bool:
    """Whether to store chunks on a second connection (see `_other_connections_possible`); by
    default only when there is more than one chunk."""
    return _other_connections_possible() and (leads > chunk_size if wanted is None else wanted)


class _PipelinedWriter:
    """Writes each chunk on a connection of its own while the next chunk is being assessed.

    Storing a chunk is mostly PostgreSQL's work (parsing and compressing some 3 KB of JSON per
    lead, five indexes, the foreign-key checks at commit): about as long as assessing it. With
    the writes on their own connection, the database does that on the machine's other core
    instead of this process waiting for it. The thread only hands over the COPY text the main
    thread formatted, and waits: the assessment itself stays on one core. Each chunk is still
    its own transaction, committed in order; at most one chunk waits while another is written,
    and the first failure stops the run (chunks committed before it stay, as they would without
    the pipeline).
    """

    def __init__(self, now: datetime) -> None:
        self.now = now
        self._queue: queue.Queue[tuple[bytes, list[int], Marks] | None] = queue.Queue(maxsize=1)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="qualification-writer")
        self._thread.start()

    def _run(self) -> None:
        # A connection of this thread's own (Django's are per thread anyway), closed at the end.
        # Whatever fails, the queue is still drained, so that the main thread never blocks.
        db: BaseDatabaseWrapper | None = None
        try:
            db = connections.create_connection(DEFAULT_DB_ALIAS)
        except BaseException as exc:
            self._error = exc
        while (item := self._queue.get()) is not None:
            if self._error is not None or db is None:
                continue
            payload, lead_ids, marks = item
            try:
                db.set_autocommit(False)
                _write_postgres(db, payload, lead_ids, marks)
                db.commit()
            except BaseException as exc:
                self._error = exc
                with contextlib.suppress(Exception):
                    db.rollback()
            finally:
                with contextlib.suppress(Exception):
                    db.set_autocommit(True)
        if db is not None:
            with contextlib.suppress(Exception):
                db.close()

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    def submit(self, payload: bytes, lead_ids: list[int], marks: Marks) -> None:
        self._raise()
        self._queue.put((payload, lead_ids, marks))

    def close(self, *, raise_error: bool = True) -> None:
        """Wait for the chunks handed over; then raise the first failure, if any."""
        self._queue.put(None)
        self._thread.join()
        if raise_error:
            self._raise()


def leads_qualify(
    *,
    lead_ids: Sequence[int],
    now: datetime | None = None,
    chunk_size: int = DEFAULT_CHUNK,
    exact_contributions: bool | None = None,
    progress: Progress | None = None,
    stage: Callable[[str], None] | None = None,
    pipeline: bool | None = None,
    notify: bool = True,
) -> QualifyResult:
    """Re-qualify these leads as of now, in chunks; each chunk is written atomically.

    Each lead gets a new Qualification (the history is kept); the previous one stops being
    current in the same transaction, so a reader never sees a lead with none or two.
    `exact_contributions`: explain with exact TreeSHAP (default: for runs of up to
    EXACT_CONTRIBUTIONS_MAX_LEADS leads) or with the approximate contributions.
    `stage`, if given, is called as each stage of each chunk ends: "read" (frames),
    "features" (with fit, rules and point scores), "model", "briefs", "write" (with the
    pipeline: handing the chunk to the writer, and at the end waiting for the last one).
    `pipeline`: store each chunk while the next is assessed (see `_PipelinedWriter`); only
    ever on PostgreSQL outside a transaction (inside one, a second connection would not see
    its uncommitted rows), and by default there for runs of more than one chunk.
    `notify`: once the run has committed, call the LEADQUAL_AFTER_QUALIFY hooks (routing) with
    the leads it stored.
    """
    started = timezone.now()
    now = now or started
    settings_row = ScoringSettings.load()
    config = engine_config(scoring_settings=settings_row)
    models = engine_models(scoring_settings=settings_row)
    version_id = models.conversion_version_id if models.ready else None
    ids = list(lead_ids)
    if exact_contributions is None:
        exact_contributions = len(ids) <= EXACT_CONTRIBUTIONS_MAX_LEADS
    if len(ids) > chunk_size:
        ids = selectors.lead_ids_by_account(lead_ids=ids)
    result = QualifyResult()
    stored: list[int] = []
    writer = _PipelinedWriter(now) if _can_pipeline(len(ids), chunk_size, pipeline) else None
    try:
        for start in range(0, len(ids), chunk_size):
            chunk = ids[start : start + chunk_size]
            # Read before the evidence: see _write_postgres on clearing only these marks.
            marks = selectors.requalify_marks(lead_ids=chunk)
            leads = selectors.lead_frame(lead_ids=chunk)
            if leads.empty:
                continue
            leads["as_of"] = pd.Timestamp(now)
            leads["account_priority"] = account_selectors.lead_account_priorities(leads=leads)
            frames = selectors.feature_frames(leads=leads)
            if stage:
                stage("read")
            assessment = assess(
                frames, config, models, exact_contributions=exact_contributions, progress=stage,
                manual_overrides=override_selectors.manual_overrides_open(lead_ids=chunk, now=now),
            )  # fmt: skip
            if writer is not None:
                columns = _qualification_columns(assessment, version_id, now)
                writer.submit(_copy_payload(columns), chunk, marks)
                result.leads += len(assessment.results)
            else:
                result.leads += _write(assessment, chunk, version_id, now, marks)
            stored.extend(int(i) for i in assessment.results.index)
            if stage:
                stage("write")
            for tier, count in assessment.results["tier"].value_counts().items():
                result.tiers[str(tier)] = result.tiers.get(str(tier), 0) + int(count)
            if progress:
                progress(min(start + chunk_size, len(ids)), len(ids))
    except BaseException:
        if writer is not None:
            writer.close(raise_error=False)  # the chunks handed over are still stored
        raise
    if writer is not None:
        writer.close()
        if stage:
            stage("write")
    result.seconds = (timezone.now() - started).total_seconds()
    if notify and stored:
        # After commit: a hook's task must read the stored rows. Outside a transaction this
        # runs now.
        transaction.on_commit(lambda: qualified_notify(stored))
    return result


def qualification_chunks(
    *, lead_ids: Sequence[int], chunk_size: int = DEFAULT_CHUNK
) -> list[list[int]]:
    """These leads cut into chunks that each hold whole accounts (see
    `selectors.lead_ids_by_account`): what the nightly job's tasks and each process of
    `leads_qualify_in_processes` take one at a time."""
    ids = selectors.lead_ids_by_account(lead_ids=lead_ids)
    return [ids[start : start + chunk_size] for start in range(0, len(ids), chunk_size)]


def processes_possible(leads: int, chunk_size: int) -> bool:
    """Whether a run can be fanned out over processes (each with its own connection, see
    `_other_connections_possible`): only a run of more than one chunk."""
    return _other_connections_possible() and leads > chunk_size


def leads_qualify_in_processes(
    *,
    lead_ids: Sequence[int],
    processes: int,
    chunk_size: int = DEFAULT_CHUNK,
    progress: Progress | None = None,
    notify: bool = True,
) -> QualifyResult:
    """`leads_qualify` with its chunks spread over `processes` processes, as a worker's pool
    spreads the nightly job's; each process predicts with LEADQUAL_WORKER_PREDICT_THREADS
    threads. Where that is not possible (see `processes_possible`) or `processes` is 1, this
    is `leads_qualify` itself. Each chunk is its own transaction; the first failure stops the
    run and is raised (chunks stored before it stay)."""
    from scoring.parallel import qualify_in_processes

    ids = list(lead_ids)
    if processes <= 1 or not processes_possible(len(ids), chunk_size):
        return leads_qualify(lead_ids=ids, chunk_size=chunk_size, progress=progress, notify=notify)
    started = timezone.now()
    chunks = qualification_chunks(lead_ids=ids, chunk_size=chunk_size)
    total = sum(len(chunk) for chunk in chunks)
    done = [0]

    def chunk_done(leads: int) -> None:
        done[0] += leads
        if progress:
            progress(done[0], total)

    leads, tiers = qualify_in_processes(
        chunks,
        processes=min(processes, len(chunks)),
        now=started,
        database_name=str(connection.settings_dict["NAME"]),
        predict_threads=settings.LEADQUAL_WORKER_PREDICT_THREADS,
        progress=chunk_done,
    )
    result = QualifyResult(
        leads=leads, tiers=tiers, seconds=(timezone.now() - started).total_seconds()
    )
    if notify and leads:
        qualified_notify([lead_id for chunk in chunks for lead_id in chunk])
    return result


def qualified_notify(lead_ids: Sequence[int]) -> None:
    """Hand freshly qualified leads to the apps that act on them (LEADQUAL_AFTER_QUALIFY)."""
    for path in settings.LEADQUAL_AFTER_QUALIFY:
        import_string(path)(list(lead_ids))


def lead_qualify(*, lead_id: int, now: datetime | None = None) -> Qualification:
    leads_qualify(lead_ids=[lead_id], now=now)
    qualification = selectors.qualification_current(lead_id=lead_id)
    if qualification is None:
        raise Lead.DoesNotExist(f"Lead {lead_id} does not exist.")
    return qualification


# --- training -------------------------------------------------------------------------------


@dataclass
class TrainingSet:
    X: pd.DataFrame
    y: pd.Series
    created_at: pd.Series
    # The lead's email: what a stratified holdout hashes, so that the same leads land on the
    # same side whatever ids the database gave them (a re-import, another database).
    split_keys: pd.Series
    segments: pd.DataFrame
    point_score: pd.Series
    leads: pd.DataFrame


def _size_band(log_employees: pd.Series) -> pd.Series:
    employees = np.power(10.0, pd.to_numeric(log_employees, errors="coerce"))
    bands = pd.cut(
        employees,
        [0, 50, 200, 1000, 5000, np.inf],
        labels=["1-50", "51-200", "201-1000", "1001-5000", "5000+"],
    )
    return bands.astype(object).where(bands.notna(), "unknown")


def training_set(
    *, config: EngineConfig, progress: Progress | None = None, chunk_size: int = 20000
) -> TrainingSet:
    """Labelled leads with features computed as of their outcome, never after it."""
    rejections = selectors.feedback_rejections()
    ids = selectors.labelled_lead_ids(rejections=rejections)
    rejected_at = pd.Series(rejections, dtype=object)
    parts: list[tuple[pd.DataFrame, pd.DataFrame, pd.Series, pd.DataFrame]] = []
    for start in range(0, len(ids), chunk_size):
        leads = selectors.lead_frame(lead_ids=ids[start : start + chunk_size])
        outcome_at = leads["converted_at"].fillna(leads["closed_at"])
        # A rep's rejection is a negative label as of the moment they made it.
        rejected = pd.to_datetime(leads["lead_id"].map(rejected_at), utc=True)
        leads["as_of"] = outcome_at.fillna(rejected)
        leads["label"] = leads["converted_at"].notna().astype(int)
        frames = selectors.feature_frames(leads=leads)
        features = build_features(frames, config.features)
        fit = compute_fit(features, leads, frames.accounts, config.icp)
        points = compute_point_scores(config.point_rules, leads, frames.touchpoints, fit.scores)
        parts.append(
            (model_matrix(features, fit.scores), leads.set_index("lead_id"), points, features)
        )
        if progress:
            progress(min(start + chunk_size, len(ids)), len(ids))
    if not parts:
        raise NotEnoughData("No leads with a known outcome (converted or closed) to learn from.")
    X = pd.concat([p[0] for p in parts])
    leads = pd.concat([p[1] for p in parts])
    features = pd.concat([p[3] for p in parts])
    y = leads["label"].reindex(X.index).astype(int)
    segments = pd.DataFrame(
        {
            "region": features["region"].fillna("unknown"),
            "company_size": _size_band(features["log_employees"]),
            "industry": features["industry"].fillna("unknown"),
            "email_domain_type": features["email_domain_type"],
        },
        index=X.index,
    )
    return TrainingSet(
        X=X,
        y=y,
        created_at=leads["created_at"].reindex(X.index),
        split_keys=leads["email"].reindex(X.index),
        segments=segments,
        point_score=pd.concat([p[2] for p in parts]).reindex(X.index).astype(float),
        leads=leads,
    )


# The promotion note of a model trained when none of its kind was active.
FIRST_MODEL_NOTE = "the first model, promoted because none was active"


@dataclass
class TrainResult:
    version: ModelVersion
    activated: bool
    reason: str
    metrics: dict[str, Any]
    range_versions: list[ModelVersion] = field(default_factory=list)


def model_train(
    *,
    params: ConversionParams | None = None,
    activate: str = "auto",
    progress: Callable[[str], None] | None = None,
    progress_rows: Progress | None = None,
) -> TrainResult:
    """Train a conversion model (and range models) on the labelled history; register it.

    `activate`: "auto" makes it active only if it beats the active model on the same holdout
    (or there is none); "always" and "never" override. Training runs outside any transaction;
    only the registry write is atomic.
    """
    say = progress or (lambda _: None)
    settings_row = ScoringSettings.load()
    config = engine_config(scoring_settings=settings_row)
    say("Building the training set")
    data = training_set(config=config, progress=progress_rows)
    say(f"Training on {len(data.y)} leads ({int(data.y.sum())} converted)")
    model = train_conversion_model(
        data.X,
        data.y,
        created_at=data.created_at,
        split_keys=data.split_keys,
        segments=data.segments,
        baseline_score=data.point_score,
        params=params,
        progress=say,
    )
    metrics = dict(model.metrics)
    # A cross-validated holdout scored some rows with models the active one cannot be set
    # beside; the fixed fold is where both were held out.
    candidate = metrics.get("promotion_holdout") or metrics
    active = selectors.model_version_active(kind=ModelKind.CONVERSION)
    decision_reason = "no holdout to compare the active model on"
    better = True
    if active is not None and model.split is not None:
        holdout = model.split.holdout_index
        try:
            active_model = _load(active)
            active_metrics = evaluate_conversion_model(
                active_model,
                data.X.loc[holdout],
                data.y.loc[holdout],
                capacity=float(model.params.get("capacity", 0.1)),
            )
            metrics["active_on_same_holdout"] = {
                "model_version": active.pk,
                "auc": active_metrics.get("auc"),
                "log_loss": active_metrics.get("log_loss"),
            }
            better = is_better(candidate, active_metrics)
            decision_reason = (
                f"AUC {candidate.get('auc'):.4f} vs active #{active.pk} "
                f"{active_metrics.get('auc'):.4f} on the same holdout"
            )
        except Exception as exc:  # an unreadable old artifact must not block training
            logger.warning("Could not evaluate active model %s: %s", active.pk, exc)
            decision_reason = f"active model #{active.pk} could not be evaluated ({exc})"
    activated = activate == "always" or (activate == "auto" and better)
    if active is None:  # the note is shown beside the model's status: it must not contradict it
        decision_reason = FIRST_MODEL_NOTE if activated else "no model was active; not activated"
    window = data.created_at
    version = ModelVersion(
        kind=ModelKind.CONVERSION,
        status=ModelStatus.CANDIDATE,
        data_from=window.min().to_pydatetime() if len(window) else None,
        data_to=window.max().to_pydatetime() if len(window) else None,
        training_rows=len(data.y),
        feature_names=model.feature_names,
        params=model.params,
        metrics=_jsonable(metrics),
        artifact=artifact.dump(model),
        notes=decision_reason,
    )
    say("Training timeline and deal-size ranges")
    ranges = _range_versions(data)
    with transaction.atomic():
        version.save()
        if activated:
            _activate(version)
        for range_version in ranges:
            range_version.save()
            # Ranges follow the conversion model they were trained with, or fill an empty slot.
            if activated or selectors.model_version_active(kind=range_version.kind) is None:
                _activate(range_version)
    if activated and settings_row.threshold_mode == "capacity":
        thresholds_update(model=model)
    return TrainResult(
        version=version,
        activated=activated,
        reason=decision_reason,
        metrics=metrics,
        range_versions=ranges,
    )


def _range_versions(data: TrainingSet) -> list[ModelVersion]:
    """Days to close and deal size, learned from the won deals of converted leads."""
    converted = data.y[data.y == 1].index
    won = selectors.won_opportunities(lead_ids=[int(i) for i in converted])
    if won.empty:
        return []
    won = won.sort_values("closed_at").drop_duplicates("lead_id", keep="first")
    won = won.set_index("lead_id")
    converted_at = data.leads["converted_at"].reindex(won.index)
    days = (won["closed_at"] - converted_at).dt.total_seconds() / 86400.0
    targets = {ModelKind.TIMELINE: days.clip(lower=0), ModelKind.DEAL_SIZE: won["amount"]}
    versions = []
    for kind, values in targets.items():
        target = values.dropna()
        if target.empty:
            continue
        trained = train_range_model(
            data.X.loc[target.index],
            target,
            kind=str(kind),
            created_at=data.created_at.reindex(target.index),
        )
        if trained.model is None:
            logger.info("No %s model: %s", kind, trained.reason)
            continue
        versions.append(
            ModelVersion(
                kind=kind,
                status=ModelStatus.CANDIDATE,
                training_rows=len(target),
                feature_names=trained.model.feature_names,
                params=_jsonable(trained.model.params),
                metrics=_jsonable(trained.model.metrics),
                artifact=artifact.dump(trained.model),
            )
        )
    return versions


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value


def _activate(version: ModelVersion, user: Any = None) -> None:
    ModelVersion.objects.filter(kind=version.kind, status=ModelStatus.ACTIVE).exclude(
        pk=version.pk
    ).update(status=ModelStatus.RETIRED)
    version.status = ModelStatus.ACTIVE
    version.activated_at = timezone.now()
    version.activated_by = user
    version.save(update_fields=["status", "activated_at", "activated_by"])


@transaction.atomic
def model_activate(*, model_version: ModelVersion, user: Any = None) -> ModelVersion:
    """Make this version the active one of its kind (a person's decision: no gate)."""
    _activate(model_version, user)
    return model_version


def thresholds_update(*, model: TrainedConversionModel | None = None, weeks: int = 8) -> Thresholds:
    """Set the Sales Ready threshold so expected weekly volume matches routed capacity.

    Scores the leads created in the last `weeks` weeks with the active model and picks the
    score of the (capacity x weeks)-th best.
    """
    settings_row = ScoringSettings.load()
    capacity = settings_row.capacity_leads_per_week
    if capacity is None:
        # Reps belong to the routing app, which depends on this one; the setting names the
        # function that counts them, so the dependency stays one way.
        capacity = int(import_string(settings.LEADQUAL_WEEKLY_CAPACITY_PROVIDER)())
    since = timezone.now() - pd.Timedelta(weeks=weeks).to_pytimedelta()
    ids = list(Lead.objects.filter(created_at__gte=since).values_list("pk", flat=True))
    if not ids or model is None:
        return Thresholds(settings_row.sales_ready_threshold, settings_row.nurture_threshold)
    config = engine_config(scoring_settings=settings_row)
    leads = selectors.lead_frame(lead_ids=ids)
    leads["as_of"] = pd.Timestamp(timezone.now())
    frames = selectors.feature_frames(leads=leads)
    features = build_features(frames, config.features)
    fit = compute_fit(features, leads, frames.accounts, config.icp)
    probabilities = model.predict_proba(model_matrix(features, fit.scores))
    span_weeks = max(1.0, (timezone.now() - leads["created_at"].min()).total_seconds() / 604800)
    sales_ready = capacity_threshold(
        probabilities,
        weeks=span_weeks,
        capacity_per_week=capacity,
        floor=settings_row.min_sales_ready_probability,
    )
    nurture = min(settings_row.nurture_threshold, sales_ready)
    settings_row.sales_ready_threshold = sales_ready
    settings_row.nurture_threshold = nurture
    settings_row.save(update_fields=["sales_ready_threshold", "nurture_threshold", "updated_at"])
    return Thresholds(sales_ready, nurture)


# --- qualification history retention ---------------------------------------------------------

PRUNE_BATCH = 5000


@dataclass(frozen=True)
class PruneResult:
    before: datetime
    prunable: int
    deleted: int
    dry_run: bool


def qualifications_prune(
    *,
    older_than_days: int,
    dry_run: bool = False,
    batch_size: int = PRUNE_BATCH,
    progress: Progress | None = None,
    now: datetime | None = None,
) -> PruneResult:
    """Delete the retired qualifications older than `older_than_days` that nothing needs.

    Every qualification is kept unless this is run: it is the opt-in answer to a history that
    grows by one row per lead per nightly run. What is kept whatever its age is listed in
    `selectors.qualifications_prunable`. Each batch is deleted in its own transaction with the
    conditions checked again, so a run that stops half-way leaves every remaining row whole and
    a row that became needed meanwhile (feedback just given on it) is not deleted.
    """
    if older_than_days < 1:
        raise ValueError(f"older_than_days must be at least 1 (got {older_than_days}).")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1 (got {batch_size}).")
    before = (now or timezone.now()) - pd.Timedelta(days=older_than_days).to_pytimedelta()
    prunable = selectors.qualifications_prunable(before=before)
    total = prunable.count()
    if dry_run or not total:
        return PruneResult(before=before, prunable=total, deleted=0, dry_run=dry_run)
    deleted = 0
    last_pk = 0
    while True:
        with transaction.atomic():
            ids = list(
                prunable.filter(pk__gt=last_pk)
                .order_by("pk")
                .values_list("pk", flat=True)[:batch_size]
            )
            if not ids:
                break
            last_pk = ids[-1]
            # Through the same conditions again: only rows still prunable go. Only the key is
            # loaded: the deletion needs nothing else, and a brief is kilobytes.
            count, _ = (
                selectors.qualifications_prunable(before=before)
                .filter(pk__in=ids)
                .only("pk")
                .delete()
            )
            deleted += count
        if progress:
            progress(min(deleted, total), total)
    return PruneResult(before=before, prunable=total, deleted=deleted, dry_run=False)


# --- rule dry run ---------------------------------------------------------------------------


@dataclass
class DryRunReport:
    days: int
    leads: int
    changed: int
    transitions: dict[str, int]
    by_reason: dict[str, int]
    examples: list[dict[str, Any]]


def rules_dry_run(
    *,
    rules: Sequence[RuleSpec],
    days: int = 30,
    now: datetime | None = None,
    example_limit: int = 25,
) -> DryRunReport:
    """What a rule change would do to the leads of the last `days` days; writes nothing.

    Both sides are computed now, with the same model and thresholds, so the only difference
    between "before" and "after" is the rules.
    """
    if days < 1:
        raise ValueError("days must be at least 1")
    now = now or timezone.now()
    settings_row = ScoringSettings.load()
    current = engine_config(scoring_settings=settings_row)
    proposed = replace(current, rules=list(rules))
    models = engine_models(scoring_settings=settings_row)
    ids = selectors.lead_ids_created_since(since=now - pd.Timedelta(days=days).to_pytimedelta())
    transitions: dict[str, int] = {}
    by_reason: dict[str, int] = {}
    examples: list[dict[str, Any]] = []
    changed = 0
    for start in range(0, len(ids), DEFAULT_CHUNK):
        leads = selectors.lead_frame(lead_ids=ids[start : start + DEFAULT_CHUNK])
        leads["as_of"] = pd.Timestamp(now)
        frames = selectors.feature_frames(leads=leads)
        before = assess(frames, current, models).results
        after = assess(frames, proposed, models).results
        moved = (before["tier"] != after["tier"]) | (
            before["disqualification_reason"] != after["disqualification_reason"]
        )
        changed += int(moved.sum())
        emails = leads.set_index("lead_id")["email"]
        for lead_id in before.index[moved.to_numpy()]:
            key = f"{before.at[lead_id, 'tier']} → {after.at[lead_id, 'tier']}"
            transitions[key] = transitions.get(key, 0) + 1
            reason = after.at[lead_id, "disqualification_reason"] or "(no rule)"
            by_reason[reason] = by_reason.get(reason, 0) + 1
            if len(examples) < example_limit:
                examples.append(
                    {
                        "lead_id": int(lead_id),
                        "email": str(emails.get(lead_id, "")),
                        "before": before.at[lead_id, "tier"],
                        "before_reason": before.at[lead_id, "disqualification_reason"],
                        "after": after.at[lead_id, "tier"],
                        "after_reason": after.at[lead_id, "disqualification_reason"],
                    }
                )
    return DryRunReport(
        days=days,
        leads=len(ids),
        changed=changed,
        transitions=dict(sorted(transitions.items(), key=lambda kv: -kv[1])),
        by_reason=dict(sorted(by_reason.items(), key=lambda kv: -kv[1])),
        examples=examples,
    )


# --- feedback -------------------------------------------------------------------------------


@transaction.atomic
def feedback_create(
    *,
    lead: Lead,
    user: User,
    verdict: str,
    reason: str,
    comment: str = "",
    qualification_id: int | None = None,
    revisit_on: date | None = None,
) -> Feedback:
    """Record a rep's accept or reject of a lead, against the qualification they saw.

    `qualification_id` names that qualification; without it, the lead's current one (if any).
    `revisit_on`: with reason bad_timing, the day the lead resurfaces (default: the timing
    trigger's `revisit_days` ahead; scoring.feedback_revisit). Raises ValidationError, keyed by
    field, for a verdict or reason outside the choices, a qualification of another lead, or a
    revisit date in the past, over a year ahead or with another reason.
    """
    errors: dict[str, list[str]] = {}
    try:
        revisit_on = feedback_revisit_on(reason=reason, revisit_on=revisit_on)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if verdict not in FeedbackVerdict.values:
        errors["verdict"] = [f"{verdict!r} is not one of {', '.join(FeedbackVerdict.values)}."]
    if reason not in FeedbackReason.values:
        errors["reason"] = [f"{reason!r} is not one of {', '.join(FeedbackReason.values)}."]
    qualification: Qualification | None = None
    if qualification_id is not None:
        qualification = Qualification.objects.filter(pk=qualification_id, lead_id=lead.pk).first()
        if qualification is None:
            errors["qualification_id"] = [
                f"Qualification {qualification_id} is not a qualification of lead {lead.pk}."
            ]
    else:
        qualification = selectors.qualification_current(lead_id=lead.pk)
    if errors:
        raise ValidationError(errors)
    return Feedback.objects.create(
        lead=lead,
        qualification=qualification,
        user=user,
        verdict=verdict,
        reason=reason,
        comment=comment,
        revisit_on=revisit_on,
    )


# --- model activation from the API ----------------------------------------------------------


def model_activate_checked(*, model_version: ModelVersion, user: Any = None) -> ModelVersion:
    """`model_activate`, once the version's artifact is proven to load.

    Serving loads the active model on every qualification: a version whose artifact this code
    can no longer read (written by an older artifact format, or damaged) would stop all of
    them. Raises ValidationError on "artifact" for such a version and changes nothing.
    """
    # Read here, not passed in: list and detail reads leave the (megabytes of) artifact out.
    data = ModelVersion.objects.values_list("artifact", flat=True).get(pk=model_version.pk)
    try:
        artifact.load(bytes(data))
    # ArtifactError, XGBoost's own error (a ValueError too) on a damaged booster, or a
    # manifest without a key it needs.
    except (ValueError, KeyError) as exc:
        raise ValidationError(
            {
                "artifact": [
                    f"Model version {model_version.pk}'s artifact cannot be loaded ({exc}); "
                    "activating it would stop qualification."
                ]
            }
        ) from exc
    return model_activate(model_version=model_version, user=user)
