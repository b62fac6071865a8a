"""Throughput of generating the demo world and loading it into PostgreSQL.

Run from the checkout: ``.venv/bin/python bench/demo_data.py [--leads 100000] [--seed 42]``.

Without ``DATABASE_URL`` it creates a throwaway database ``leadqual_bench_demo`` on
127.0.0.1 (user postgres; ``BENCH_PG_ADMIN_URL`` overrides the admin connection), migrates it,
and drops it afterwards (``--keep`` keeps it). With ``DATABASE_URL`` (PostgreSQL only) it uses
that database and replaces any demo world in it.

It prints the time of each stage, leads/s and touchpoints/s for the whole run (generation,
COPY, commit with its foreign-key checks, ANALYZE), and a ceiling from the same run: a raw
COPY of the same touchpoint rows into an empty copy of the table (same indexes, no foreign
keys, nothing else to do). The last line is one JSON object with the figures. A script, not a
test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.database import postgres_database, touchpoint_copy_ceiling

BENCH_DATABASE = "leadqual_bench_demo"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--anchor", default="2025-06-01", help="the world's now, YYYY-MM-DD")
    parser.add_argument("--keep", action="store_true", help="keep the throwaway database")
    args = parser.parse_args()

    with postgres_database(BENCH_DATABASE, script="bench/demo_data.py", keep=args.keep):
        _run(args)


def _run(args: argparse.Namespace) -> None:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from leadqual.demo.load import anchor_parse, demo_world_load

    print(f"database: {connection.settings_dict['NAME']} on {connection.settings_dict['HOST']}")
    started = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    print(f"migrate: {time.perf_counter() - started:.1f}s")

    stage_started = [time.perf_counter()]
    stage_name = ["start"]

    def progress(stage: str, done: int, total: int) -> None:
        now = time.perf_counter()
        if stage != stage_name[0]:
            print(f"  {stage_name[0]:<34} {now - stage_started[0]:6.1f}s", flush=True)
            stage_started[0], stage_name[0] = now, stage

    started = time.perf_counter()
    result = demo_world_load(
        leads=args.leads, seed=args.seed, anchor=anchor_parse(args.anchor), reset=True,
        progress=progress,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    counts = result.counts
    touchpoints = counts["touchpoints"]
    rows = sum(v for k, v in counts.items() if k != "reps")
    print(
        f"generated and loaded {args.leads:,} leads, {touchpoints:,} touchpoints, {rows:,} rows "
        f"in {seconds:.1f}s (generation {result.generate_seconds:.1f}s)"
    )
    print(f"leads/s: {args.leads / seconds:,.0f}")
    print(f"touchpoints/s: {touchpoints / seconds:,.0f}")

    # The ceiling: the same touchpoint rows, COPY'd into an empty copy of the table.
    raw_seconds, copied = touchpoint_copy_ceiling()
    print(
        f"ceiling: raw COPY of the same {copied:,} touchpoint rows into an empty copy of the "
        f"table: {raw_seconds:.1f}s, {copied / raw_seconds:,.0f} rows/s"
    )
    figures: dict[str, Any] = {
        "leads": args.leads,
        "touchpoints": touchpoints,
        "rows": rows,
        "seconds": round(seconds, 2),
        "generate_seconds": round(result.generate_seconds, 2),
        "leads_per_s": round(args.leads / seconds),
        "touchpoints_per_s": round(touchpoints / seconds),
        "raw_copy_seconds": round(raw_seconds, 2),
        "raw_copy_rows_per_s": round(copied / raw_seconds),
        "cpu_count": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
