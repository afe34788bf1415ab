"""The engine and sessions for `DATABASE_URL`: SQLite tuned for one machine (WAL, a busy
timeout, writers in line), PostgreSQL for many."""
from __future__ import annotations

import os
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker

from helpdesk_app.storage.sqlite_writers import WriterLine

SQLITE_BUSY_TIMEOUT_MS = 10_000
POSTGRES_CONNECT_TIMEOUT_S = 5


def normalise_url(url: str | URL) -> URL:
    """`postgres://` and `postgresql://` (as hosting platforms give them) use psycopg 3."""
    url = make_url(url)
    if url.drivername in ("postgres", "postgresql"):
        url = url.set(drivername="postgresql+psycopg")
    return url


def make_engine(url: str | URL, **kwargs: Any) -> Engine:
    """An engine for `DATABASE_URL`, tuned for its backend."""
    url = normalise_url(url)
    if url.get_backend_name() == "sqlite":
        _create_sqlite_directory(url)
        engine = create_engine(url, **kwargs)
        _tune_sqlite(engine)
        return engine
    kwargs.setdefault("pool_pre_ping", True)  # a PostgreSQL restart must not fail a request
    # A server that does not answer (a dropped packet, not a refusal) fails a connection in
    # seconds, not after the system's TCP timeout of minutes; /readyz relies on it.
    kwargs.setdefault("connect_args", {"connect_timeout": POSTGRES_CONNECT_TIMEOUT_S})
    return create_engine(url, **kwargs)


def _create_sqlite_directory(url: URL) -> None:
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return
    parent = os.path.dirname(database)
    if parent:
        os.makedirs(parent, exist_ok=True)


def _tune_sqlite(engine: Engine) -> None:
    writers = WriterLine(SQLITE_BUSY_TIMEOUT_MS / 1000)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, connection_record) -> None:
        # SQLAlchemy, not the sqlite3 module, decides when a transaction begins: sqlite3's
        # legacy mode runs SELECTs outside any transaction (see `_begin`).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")  # readers never wait for the writer
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection) -> None:
        # BEGIN IMMEDIATE takes the write lock when the transaction starts, waiting up to
        # the busy timeout. A deferred transaction that reads, then writes after another
        # writer committed fails at once with SQLITE_BUSY (no busy wait); read-then-write
        # is exactly what claiming a run and appending to the audit chain do. Writers
        # queue (sqlite_writers.py); readers still read from the WAL. (Rails and Django
        # do the same for web apps on SQLite.)
        # The pool's record of the DBAPI connection is the one object that both this and
        # `checkin` see, even for a connection invalidated on its way back.
        pooled = connection.connection
        writers.begin(pooled._connection_record, pooled.driver_connection, SQLITE_BUSY_TIMEOUT_MS)

    @event.listens_for(engine.pool, "checkin")
    def _give_back(dbapi_connection, record) -> None:
        writers.give_back(record)


def make_session_factory(engine: Engine, *, audit_key: bytes | None = None) -> sessionmaker[Session]:
    """Sessions for the web and the workers.

    Objects stay readable after commit (`expire_on_commit=False`) so a view can answer
    with what it just wrote; a job reloads what it needs by id. `audit_key` (AUDIT_KEY)
    keys the audit chain's MAC (audit_chain.py); every session of the factory carries it.
    """
    info = {"audit_key": audit_key} if audit_key else {}
    return sessionmaker(engine, expire_on_commit=False, info=info)
