"""Fixtures: a fresh, migrated-for-real database per test, on SQLite and on PostgreSQL.

The PostgreSQL case needs the server at 127.0.0.1:5432 (trust auth, database `test`). It
is skipped when the server cannot be reached, unless REQUIRE_SERVICES=1, when it fails:
CI must not pass by skipping. Each test gets its own schema (dropped afterwards), so tests
and concurrent test runs never see each other's rows.
"""
from __future__ import annotations

import functools
import os
import uuid

import pytest
from sqlalchemy.engine import make_url

from helpdesk_app.storage.database import make_engine, make_session_factory
from helpdesk_app.storage.migrate import upgrade

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@functools.cache
def _postgres_unreachable() -> str | None:
    import psycopg

    url = make_url(POSTGRES_URL)
    try:
        psycopg.connect(host=url.host, port=url.port, user=url.username, password=url.password,
                        dbname=url.database, connect_timeout=3).close()
    except psycopg.Error as error:
        return f"PostgreSQL at {url.host}:{url.port} unreachable: {error}".strip()
    return None


def _require_postgres() -> None:
    reason = _postgres_unreachable()
    if reason is None:
        return
    if os.environ.get("REQUIRE_SERVICES") == "1":
        pytest.fail(reason + " (REQUIRE_SERVICES=1)")
    pytest.skip(reason)


def _fresh_postgres_schema():
    import psycopg

    schema = f"test_{uuid.uuid4().hex[:16]}"
    url = make_url(POSTGRES_URL)
    admin = dict(host=url.host, port=url.port, user=url.username, password=url.password,
                 dbname=url.database, autocommit=True)
    with psycopg.connect(**admin) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    # Every connection of the engine works inside that schema only.
    scoped = url.update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield scoped.render_as_string(hide_password=False)
    finally:
        with psycopg.connect(**admin) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request, tmp_path):
    """An empty database (no tables yet) of each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'helpdesk.db'}"
        return
    _require_postgres()
    yield from _fresh_postgres_schema()


@pytest.fixture
def migrated_url(database_url):
    upgrade(database_url)
    return database_url


@pytest.fixture
def engine(migrated_url):
    engine = make_engine(migrated_url)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(engine):
    return make_session_factory(engine)
