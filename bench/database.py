"""The PostgreSQL database a benchmark runs on: DATABASE_URL, or a throwaway one.

Without ``DATABASE_URL`` a benchmark creates its own database on 127.0.0.1 (user postgres;
``BENCH_PG_ADMIN_URL`` overrides the admin connection) and drops it afterwards unless asked to
keep it. With ``DATABASE_URL`` it must be PostgreSQL: the figures are PostgreSQL's.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def _admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(os.environ.get("BENCH_PG_ADMIN_URL", ADMIN_URL), autocommit=True) as c:
        c.execute(sql)


@contextmanager
def postgres_database(name: str, *, script: str, keep: bool = False) -> Iterator[None]:
    """Point DATABASE_URL (and the Django settings) at the benchmark's database for the block.

    `name`: the throwaway database's name; `script`: how the error names the benchmark.
    """
    throwaway = "DATABASE_URL" not in os.environ
    if throwaway:
        admin_url = os.environ.get("BENCH_PG_ADMIN_URL", ADMIN_URL)
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        _admin(f'CREATE DATABASE "{name}"')
        os.environ["DATABASE_URL"] = admin_url.rsplit("/", 1)[0] + "/" + name
    elif not os.environ["DATABASE_URL"].startswith(("postgres://", "postgresql://")):
        sys.exit(f"{script} measures PostgreSQL: DATABASE_URL must be postgres://...")
    if "SECRET_KEY" not in os.environ:
        os.environ.setdefault("DEBUG", "1")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadqual.settings")
    try:
        yield
    finally:
        if throwaway and not keep:
            from django.db import connections

            connections.close_all()
            _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
