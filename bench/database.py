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


def touchpoint_copy_ceiling(*, where: str = "") -> tuple[float, int]:
    """COPY the touchpoint rows (those matching the SQL `where`, or all) into an empty copy of
    the table, with the same indexes and no foreign keys: the ceiling a load into the real
    table is measured against. Returns (seconds, rows copied)."""
    import time

    from django.db import connection, transaction

    from accounts.models import Touchpoint

    table = Touchpoint._meta.db_table
    columns = ", ".join(
        connection.ops.quote_name(f.column)
        for f in Touchpoint._meta.concrete_fields
        if not f.primary_key
    )
    condition = f" WHERE {where}" if where else ""
    chunks: list[bytes] = []
    with connection.cursor() as cursor:
        with cursor.copy(f"COPY (SELECT {columns} FROM {table}{condition}) TO STDOUT") as copy:
            chunks.extend(bytes(data) for data in copy)
        cursor.execute("DROP TABLE IF EXISTS bench_touchpoint_ceiling")
        cursor.execute(f"CREATE TABLE bench_touchpoint_ceiling (LIKE {table} INCLUDING ALL)")
    started = time.perf_counter()
    sql = f"COPY bench_touchpoint_ceiling ({columns}) FROM STDIN"
    with transaction.atomic(), connection.cursor() as cursor, cursor.copy(sql) as copy:
        for chunk in chunks:
            copy.write(chunk)
    seconds = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM bench_touchpoint_ceiling")
        row = cursor.fetchone()
        copied = int(row[0]) if row else 0
        cursor.execute("DROP TABLE bench_touchpoint_ceiling")
    return seconds, copied
