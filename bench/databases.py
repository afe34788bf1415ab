"""A fresh database for each run, and the Redis database of the RQ executor.

A SQLite file in the run's work directory, or a PostgreSQL schema of the `test` database
(`?options=-csearch_path%3D<schema>`), dropped afterwards; it is migrated by the
Procfile's release command, `python -m helpdesk_app.storage.migrate`.
"""
from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

from checkout import SERVICE_ROOT, clean_env
from processes import Stack
from report import log

POSTGRES_ADMIN = dict(host="127.0.0.1", port=5432, user="postgres", dbname="test")
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379


class Database:
    """A fresh database for one run: `url` for the service, `query` for the benchmark."""

    def __init__(self, kind: str, url: str, *, sqlite_path: str | None = None,
                 schema: str | None = None) -> None:
        self.kind, self.url, self.sqlite_path, self.schema = kind, url, sqlite_path, schema
        self._local = threading.local()

    def _connection(self):
        conn = getattr(self._local, "conn", None)
        if conn is None:
            if self.kind == "sqlite":
                conn = sqlite3.connect(f"file:{self.sqlite_path}?mode=ro", uri=True, timeout=10,
                                       check_same_thread=False)
            else:
                import psycopg

                conn = psycopg.connect(**POSTGRES_ADMIN, autocommit=True,
                                       options=f"-csearch_path={self.schema}")
            self._local.conn = conn
        return conn

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        """`?` placeholders on both backends."""
        conn = self._connection()
        if self.kind == "sqlite":
            return conn.execute(sql, tuple(params)).fetchall()
        with conn.cursor() as cur:
            cur.execute(sql.replace("?", "%s"), tuple(params))
            return cur.fetchall() if cur.description else []

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


def epoch(value: Any) -> float | None:
    """A timestamp column as seconds since the epoch (SQLite stores naive UTC text)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.timestamp()


def fresh_database(stack: Stack, kind: str, workdir: Path) -> Database:
    """Create the database (or schema) and migrate it with the Procfile's release command."""
    if kind == "sqlite":
        path = workdir / "helpdesk.db"
        db = Database("sqlite", f"sqlite:///{path}", sqlite_path=str(path))
    elif kind == "postgresql":
        import psycopg

        schema = f"bench_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(**POSTGRES_ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')

        def drop() -> None:
            with psycopg.connect(**POSTGRES_ADMIN, autocommit=True) as conn:
                # Connections the service left behind must not keep the schema alive.
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')

        stack.callback(drop)
        url = (f"postgresql+psycopg://{POSTGRES_ADMIN['user']}@{POSTGRES_ADMIN['host']}:"
               f"{POSTGRES_ADMIN['port']}/{POSTGRES_ADMIN['dbname']}?options=-csearch_path%3D{schema}")
        db = Database("postgresql", url, schema=schema)
    else:
        raise ValueError(f"unknown database {kind!r}: sqlite or postgresql")
    stack.callback(db.close)
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "helpdesk_app.storage.migrate"], cwd=SERVICE_ROOT,
                          env=clean_env(DATABASE_URL=db.url), capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"migration failed: {done.stderr.strip()[-2000:]}")
    log(f"database {kind} migrated in {time.monotonic() - started:.1f} s")
    return db


class RedisDb:
    """An empty logical Redis database for one run, flushed afterwards. Tests use 15; the
    benchmark takes the first empty one of 14..1, and refuses to touch a non-empty one."""

    def __init__(self, stack: Stack) -> None:
        import redis

        for number in range(14, 0, -1):
            client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=number, socket_timeout=5)
            if client.dbsize() == 0:
                break
        else:
            raise RuntimeError("no empty Redis logical database among 1..14")
        self.client, self.url = client, f"redis://{REDIS_HOST}:{REDIS_PORT}/{number}"
        stack.callback(self.client.flushdb)
