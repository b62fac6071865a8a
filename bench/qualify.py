"""Throughput of re-qualifying the demo world on PostgreSQL, end to end, with its ceilings.

Run from the checkout: ``.venv/bin/python bench/qualify.py [--leads 100000] [--seed 42]``.

Without ``DATABASE_URL`` it creates a throwaway database ``leadqual_bench_qualify`` on
127.0.0.1 (user postgres; ``BENCH_PG_ADMIN_URL`` overrides the admin connection), migrates it,
and drops it afterwards (``--keep`` keeps it). With ``DATABASE_URL`` (PostgreSQL only) it uses
that database and replaces any demo world in it.

It loads the demo world (as ``manage.py generate_demo_data --leads N --seed S`` does), trains
a model (``scoring.services.model_train``) so that qualification runs the real model path, and
then times the re-qualification of every lead five ways:

1. the first qualification in one process (no earlier assessments to retire);
2. a re-qualification in one process with each chunk stored before the next is assessed
   (``pipeline=False``);
3. a re-qualification as ``scoring.services.leads_qualify`` runs it in one process (the
   default: PostgreSQL stores each chunk while the next is assessed);
4. **the headline**: the whole database re-qualified as the product does it every night, on a
   worker: ``leads_qualify_all_task``'s chunks of 10,000 leads (``scoring.tasks.
   leads_qualify_task``, each one chunk), taken by ``--processes`` spawned processes (default
   2: the prefork pool of one worker on this 2-core machine) that start as a pool process
   does (``LEADQUAL_WORKER_PREDICT_THREADS``, see ``leadqual.celery``), without the broker in
   between (a few milliseconds per chunk);
5. ``manage.py qualify_leads --all --processes N``'s fan-out
   (``scoring.services.leads_qualify_in_processes``), the processes' start included.

Each one-process run prints where the time went (reading frames, features with fit, rules and point
scores, model, briefs, writing). Ceilings, measured in the same run on the same leads:

- XGBoost prediction alone (``predict_proba``) on the same feature matrix, rows/s; and the
  model's explanations, approximate (what bulk runs use) and exact (TreeSHAP, on a sample);
- storing alone: the same Qualification rows, retired and COPY'd again (foreign keys checked)
  in a transaction that is rolled back, rows/s.

The last line is one JSON object with the figures. A script, not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.database import postgres_database

BENCH_DATABASE = "leadqual_bench_qualify"
TARGET_LEADS_PER_S = 5000
STAGES = ("read", "features", "model", "briefs", "write")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--chunk", type=int, default=None, help="leads per chunk")
    parser.add_argument(
        "--exact-sample",
        type=int,
        default=5000,
        help="rows for the exact-contribution rate (TreeSHAP is slow)",
    )
    parser.add_argument(
        "--store-sample", type=int, default=20000, help="rows for the storing ceiling"
    )
    parser.add_argument(
        "--processes", type=int, default=2, help="processes for the nightly-job measurement"
    )
    parser.add_argument("--keep", action="store_true", help="keep the throwaway database")
    args = parser.parse_args()  # fmt: skip

    with postgres_database(BENCH_DATABASE, script="bench/qualify.py", keep=args.keep):
        _run(args)


def _timed_qualification(
    label: str, ids: list[int], chunk: int, pipeline: bool | None
) -> dict[str, Any]:
    from scoring import services

    split = dict.fromkeys(STAGES, 0.0)
    last = [time.perf_counter()]

    def stage(name: str) -> None:
        now = time.perf_counter()
        split[name] = split.get(name, 0.0) + now - last[0]
        last[0] = now

    started = time.perf_counter()
    last[0] = started
    # notify=False: the figure is qualification's; routing has its own benchmark.
    result = services.leads_qualify(
        lead_ids=ids, chunk_size=chunk, stage=stage, pipeline=pipeline, notify=False
    )
    seconds = time.perf_counter() - started
    rate = result.leads / seconds
    parts = ", ".join(f"{k} {v:.1f}s" for k, v in split.items())
    print(f"{label}: {result.leads:,} leads in {seconds:.1f}s, {rate:,.0f} leads/s ({parts})")
    return {
        "leads": result.leads,
        "seconds": round(seconds, 2),
        "leads_per_s": round(rate),
        "split_seconds": {k: round(v, 2) for k, v in split.items()},
        "tiers": result.tiers,
    }


def _worker_init(ready: Any, database_name: str, predict_threads: int) -> None:
    """Start a process as `qualify_leads --processes` starts its own (with a worker pool
    process's prediction threads, see leadqual.celery), load the active models as a worker's
    first task does, then wait for the others."""
    from scoring.parallel import process_start

    process_start(database_name, predict_threads)
    from scoring import services

    services.engine_models()
    ready.wait()


def _pid(_: int) -> int:
    return os.getpid()


def _nightly_qualification(processes: int, chunk: int) -> dict[str, Any]:
    from concurrent.futures import ProcessPoolExecutor
    from itertools import repeat
    from multiprocessing import get_context

    from django.conf import settings
    from django.db import connection, connections
    from django.utils import timezone

    from scoring import selectors, services
    from scoring.parallel import chunk_qualify

    ids = selectors.lead_ids_for_qualification()
    chunks = services.qualification_chunks(lead_ids=ids, chunk_size=chunk)  # as the task cuts them
    database_name = str(connection.settings_dict["NAME"])
    connections.close_all()
    # Spawned, not forked: XGBoost's OpenMP threads in this process would deadlock a forked
    # child. Each process loads Django and the model once, as a worker's pool process does;
    # the clock starts when all of them are ready (none takes a task before that).
    # An executor rather than a Pool: a process that fails to start breaks it (and this
    # script) instead of being replaced, again and again, for ever.
    context = get_context("spawn")
    ready = context.Barrier(processes)
    with ProcessPoolExecutor(
        processes,
        mp_context=context,
        initializer=_worker_init,
        initargs=(ready, database_name, settings.LEADQUAL_WORKER_PREDICT_THREADS),
    ) as pool:
        list(pool.map(_pid, range(processes)))
        started = time.perf_counter()
        # Each chunk as leads_qualify_task runs it, without routing (it has its own benchmark).
        stored = pool.map(chunk_qualify, chunks, repeat(timezone.now()))
        leads = sum(count for count, _ in stored)
        seconds = time.perf_counter() - started
    rate = leads / seconds
    print(
        f"nightly re-qualification ({len(chunks)} chunks of {chunk:,} over {processes} "
        f"processes): {leads:,} leads in {seconds:.1f}s, {rate:,.0f} leads/s"
    )
    return {"leads": leads, "seconds": round(seconds, 2), "leads_per_s": round(rate)}


def _command_qualification(ids: list[int], processes: int, chunk: int) -> dict[str, Any]:
    """`qualify_leads --all --processes N`: the same fan-out from a command, the processes'
    start (Django, the models) included."""
    from scoring import services

    started = time.perf_counter()
    result = services.leads_qualify_in_processes(
        lead_ids=ids, processes=processes, chunk_size=chunk, notify=False
    )
    seconds = time.perf_counter() - started
    rate = result.leads / seconds
    print(
        f"qualify_leads --processes {processes} (processes started inside the run): "
        f"{result.leads:,} leads in {seconds:.1f}s, {rate:,.0f} leads/s"
    )
    return {"leads": result.leads, "seconds": round(seconds, 2), "leads_per_s": round(rate)}


def _seconds(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def _model_ceilings(ids: list[int], chunk: int, exact_sample: int) -> dict[str, Any]:
    """XGBoost alone on the feature matrix of the same leads, as qualification builds it."""
    import numpy as np
    import pandas as pd
    from django.utils import timezone

    from scoring import selectors, services
    from scoring.assess import model_input, model_matrix
    from scoring.features import build_features
    from scoring.fit import compute_fit

    config = services.engine_config()
    models = services.engine_models()
    model = models.conversion
    if model is None:
        raise SystemExit("no active conversion model: training did not activate one")
    now = pd.Timestamp(timezone.now())
    parts = []
    for start in range(0, len(ids), chunk):
        leads = selectors.lead_frame(lead_ids=ids[start : start + chunk])
        leads["as_of"] = now
        frames = selectors.feature_frames(leads=leads)
        features = build_features(frames, config.features)
        fit = compute_fit(features, leads, frames.accounts, config.icp)
        parts.append(model_matrix(features, fit.scores))
    X = model_input(pd.concat(parts))
    rows = len(X)
    sample = X.iloc[:exact_sample]
    made: dict[str, pd.DataFrame] = {}
    predict = rows / _seconds(lambda: model.predict_proba(X))
    approximate = rows / _seconds(
        lambda: made.setdefault("approx", model.contributions(X, approximate=True))
    )
    exact_rate = len(sample) / _seconds(
        lambda: made.setdefault("exact", model.contributions(sample))
    )
    # Both kinds of contribution sum (with the bias) to the model's log-odds.
    approx_sum = made["approx"].iloc[: len(sample)].to_numpy().sum(axis=1)
    gap = float(np.max(np.abs(approx_sum - made["exact"].to_numpy().sum(axis=1))))
    print(
        f"ceiling: XGBoost prediction alone on the same {rows:,}-row feature matrix: "
        f"{predict:,.0f} rows/s; contributions: approximate {approximate:,.0f} rows/s, "
        f"exact {exact_rate:,.0f} rows/s (largest difference of their sums {gap:.1e})"
    )
    return {
        "xgb_predict_rows_per_s": round(predict),
        "approx_contributions_rows_per_s": round(approximate),
        "exact_contributions_rows_per_s": round(exact_rate),
        "contribution_sum_gap": gap,
    }


def _store_ceiling(sample: int) -> dict[str, Any]:
    """Retire and COPY again `sample` current rows, as a chunk write does, then roll back."""
    from django.db import connection, transaction

    from scoring import services
    from scoring.models import Qualification

    table = Qualification._meta.db_table
    db_columns = {f.attname: f.column for f in Qualification._meta.concrete_fields}
    columns = ", ".join(db_columns[name] for name in services.QUALIFICATION_COLUMNS)
    buffer = io.BytesIO()
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT lead_id FROM {table} WHERE is_current ORDER BY lead_id LIMIT %s", [sample]
        )
        lead_ids = [int(r[0]) for r in cursor.fetchall()]
        id_array = "'{" + ",".join(map(str, lead_ids)) + "}'::bigint[]"
        query = (
            f"COPY (SELECT {columns} FROM {table} WHERE is_current AND lead_id = ANY({id_array}))"
            " TO STDOUT"
        )
        with cursor.copy(query) as copy:
            for block in copy:
                buffer.write(block)
    data = buffer.getvalue()
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        services.qualifications_retire_for_copy(cursor, lead_ids)
        with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            step = 1 << 20
            for offset in range(0, len(data), step):
                copy.write(data[offset : offset + step])
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the checks a commit would run
        seconds = time.perf_counter() - started
        transaction.set_rollback(True)
    rate = len(lead_ids) / seconds
    print(
        f"ceiling: storing alone (retire + COPY of the same {len(lead_ids):,} rows, "
        f"{len(data) / max(len(lead_ids), 1) / 1024:.1f} KiB each, foreign keys checked): "
        f"{rate:,.0f} rows/s"
    )
    return {"store_rows_per_s": round(rate), "store_row_kib": round(len(data) / 1024 / sample, 2)}


def _run(args: argparse.Namespace) -> None:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from accounts.models import Lead, Touchpoint
    from leadqual.demo.load import demo_world_load
    from scoring import services

    chunk = args.chunk or services.DEFAULT_CHUNK
    print(f"database: {connection.settings_dict['NAME']} on {connection.settings_dict['HOST']}")
    started = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    print(f"migrate: {time.perf_counter() - started:.1f}s")
    started = time.perf_counter()
    demo_world_load(leads=args.leads, seed=args.seed, reset=True)
    touchpoints = Touchpoint.objects.count()
    print(
        f"demo world: {args.leads:,} leads, {touchpoints:,} touchpoints "
        f"({time.perf_counter() - started:.1f}s)"
    )
    started = time.perf_counter()
    trained = services.model_train(activate="always")
    print(
        f"model: #{trained.version.pk} trained on {trained.version.training_rows:,} leads, "
        f"holdout AUC {trained.metrics.get('auc', 0):.3f} ({time.perf_counter() - started:.1f}s)"
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    ids = list(Lead.objects.order_by("pk").values_list("pk", flat=True))

    first = _timed_qualification("first qualification", ids, chunk, pipeline=None)
    sequential = _timed_qualification(
        "re-qualification, each chunk stored before the next", ids, chunk, pipeline=False
    )
    pipelined = _timed_qualification("re-qualification (default)", ids, chunk, pipeline=None)
    nightly = _nightly_qualification(args.processes, chunk)
    command = _command_qualification(ids, args.processes, chunk)
    ceilings = _model_ceilings(ids, chunk, args.exact_sample)
    ceilings.update(_store_ceiling(args.store_sample))
    rate = nightly["leads_per_s"]
    print(
        f"leads/s: {rate:,} end to end as the nightly job re-qualifies the database on a worker "
        f"({args.processes} pool processes; target {TARGET_LEADS_PER_S:,}); "
        f"{command['leads_per_s']:,} from qualify_leads over as many processes, "
        f"{pipelined['leads_per_s']:,} in one process; ceilings from this run: "
        f"XGBoost prediction alone {ceilings['xgb_predict_rows_per_s']:,} rows/s, storing alone "
        f"{ceilings['store_rows_per_s']:,} rows/s"
    )
    figures: dict[str, Any] = {
        "leads": len(ids),
        "touchpoints": touchpoints,
        "chunk": chunk,
        "leads_per_s": rate,
        "seconds": nightly["seconds"],
        "processes": args.processes,
        "command_leads_per_s": command["leads_per_s"],
        "one_process_leads_per_s": pipelined["leads_per_s"],
        "one_process_seconds": pipelined["seconds"],
        "one_process_split_seconds": pipelined["split_seconds"],
        "sequential_leads_per_s": sequential["leads_per_s"],
        "sequential_split_seconds": sequential["split_seconds"],
        "first_qualification_leads_per_s": first["leads_per_s"],
        **ceilings,
        "target_leads_per_s": TARGET_LEADS_PER_S,
        "tiers": pipelined["tiers"],
        "cpu_count": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
