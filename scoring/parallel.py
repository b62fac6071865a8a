"""Re-qualification fanned out over processes, for `manage.py qualify_leads --processes`.

The nightly job gets the machine's cores from the worker's pool: each chunk is a task. A
command run by hand (after a rules change, say) has only its own process, and Python keeps a
process on one core; this module runs whole chunks on several processes instead, the way the
pool does. Spawned, not forked: a forked child would inherit XGBoost's OpenMP state, which
deadlocks. So the functions here are imported before Django is set up in the child, and
import everything Django-related inside.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any


def process_start(database_name: str, predict_threads: int) -> None:
    """Set up Django in a spawned process, on the caller's database (a test run's, too)."""
    import django

    django.setup()
    from django.db import connections

    from scoring import services

    connections["default"].settings_dict["NAME"] = database_name
    services.predict_threads_use(predict_threads)


def chunk_qualify(lead_ids: list[int], now: datetime) -> tuple[int, dict[str, int]]:
    """One chunk in a child process, as the nightly job's task runs it (routing is told once,
    by the caller, when every chunk is stored)."""
    from scoring import services

    result = services.leads_qualify(
        lead_ids=lead_ids, now=now, chunk_size=len(lead_ids) or 1, notify=False
    )
    return result.leads, result.tiers


def qualify_in_processes(
    chunks: Sequence[list[int]],
    *,
    processes: int,
    now: datetime,
    database_name: str,
    predict_threads: int,
    progress: Callable[[int], None] | None = None,
) -> tuple[int, dict[str, int]]:
    """Qualify `chunks` on `processes` spawned processes; returns (leads, tiers).

    Each chunk is its own transaction, as in one process. The first failure stops the run
    and is raised here; chunks stored before it stay stored. `progress` is called with the
    number of leads of each chunk as it finishes.
    """
    from concurrent.futures import FIRST_EXCEPTION, Future, ProcessPoolExecutor, wait
    from multiprocessing import get_context

    leads = 0
    tiers: dict[str, int] = {}
    # An executor rather than a Pool: a process that cannot start breaks the run instead of
    # being replaced again and again.
    with ProcessPoolExecutor(
        processes,
        mp_context=get_context("spawn"),
        initializer=process_start,
        initargs=(database_name, predict_threads),
    ) as pool:
        pending: set[Future[Any]] = {pool.submit(chunk_qualify, chunk, now) for chunk in chunks}
        while pending:
            done, pending = wait(pending, return_when=FIRST_EXCEPTION)
            for future in done:
                error = future.exception()
                if error is not None:
                    for other in pending:
                        other.cancel()
                    raise error
                stored, chunk_tiers = future.result()
                leads += stored
                for tier, count in chunk_tiers.items():
                    tiers[tier] = tiers.get(tier, 0) + count
                if progress:
                    progress(stored)
    return leads, tiers
