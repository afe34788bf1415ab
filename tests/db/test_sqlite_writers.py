"""SQLite writers wait in line within a process and poll across (helpdesk_app/storage/sqlite_writers.py).

Real files, real threads and real processes.
"""
from __future__ import annotations

import multiprocessing
import sqlite3
import threading
from concurrent.futures import ProcessPoolExecutor

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import IntegrityError

from helpdesk_app.storage.database import SQLITE_BUSY_TIMEOUT_MS, make_engine, make_session_factory
from helpdesk_app.storage.sqlite_writers import WriterLine


@pytest.fixture
def url(tmp_path):
    url = f"sqlite:///{tmp_path / 'writers.db'}"
    with make_engine(url).begin() as connection:
        connection.execute(text("CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)"))
        connection.execute(text("INSERT INTO counter VALUES (1, 0)"))
    return url


def increment(url: str, times: int, db=None) -> int:
    """Read, then write, in one transaction: what claiming a run does."""
    db = db or make_session_factory(make_engine(url))
    for _ in range(times):
        with db() as session:
            n = session.scalar(text("SELECT n FROM counter WHERE id = 1"))
            session.execute(text("UPDATE counter SET n = :n WHERE id = 1"), {"n": n + 1})
            session.commit()
    return times


def count(url: str) -> int:
    with make_session_factory(make_engine(url))() as session:
        return session.scalar(text("SELECT n FROM counter WHERE id = 1"))


def test_a_second_writer_of_the_process_waits_in_line_not_in_sqlite(url):
    engine = make_engine(url)
    db = make_session_factory(engine)
    asked: list[str] = []  # BEGIN IMMEDIATEs that the second writer's thread sent to SQLite

    @event.listens_for(engine, "connect")
    def _trace(dbapi_connection, record) -> None:
        def statement(sql: str) -> None:
            if sql == "BEGIN IMMEDIATE" and threading.current_thread().name == "second":
                asked.append(sql)
        dbapi_connection.set_trace_callback(statement)

    began = threading.Event()

    def second_writer() -> None:
        with db() as session:
            session.execute(text("UPDATE counter SET n = n + 10 WHERE id = 1"))
            began.set()
            session.commit()

    with db() as session:
        session.execute(text("UPDATE counter SET n = n + 1 WHERE id = 1"))
        other = threading.Thread(target=second_writer, name="second")
        other.start()
        assert not began.wait(0.3)  # in line while this transaction is at the front
        session.commit()
    other.join(10)
    assert began.is_set() and count(url) == 11
    assert asked == ["BEGIN IMMEDIATE"]  # woken once the first was done, then asked once


def test_a_failed_transaction_gives_its_place_back(url):
    db = make_session_factory(make_engine(url))
    with pytest.raises(IntegrityError), db() as session:
        session.execute(text("INSERT INTO counter VALUES (1, 5)"))  # the same primary key
    done = threading.Thread(target=increment, args=(url, 1, db))
    done.start()
    done.join(10)
    assert not done.is_alive() and count(url) == 1


def test_processes_and_threads_lose_no_write_and_none_is_refused(url):
    db = make_session_factory(make_engine(url))
    errors: list[BaseException] = []

    def in_thread() -> None:
        try:
            increment(url, 50, db)
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    # Spawned, as gunicorn's workers are started before they open the database: a child
    # forked while this process has the file open inherits SQLite's state for it, and its
    # own connections then fail with "disk I/O error" (sqlite.org/howtocorrupt.html).
    with ProcessPoolExecutor(max_workers=3, mp_context=multiprocessing.get_context("spawn")) as pool:
        in_processes = pool.map(increment, [url] * 3, [50] * 3)
        threads = [threading.Thread(target=in_thread) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sum(in_processes) == 150
    assert errors == []
    assert count(url) == 300


@pytest.fixture
def locked(tmp_path):
    """A WAL database whose write lock another connection holds until `release` is set;
    yields (a connection of ours, release)."""
    path = str(tmp_path / "raw.db")
    sqlite3.connect(path).execute("PRAGMA journal_mode=WAL").close()
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        other = sqlite3.connect(path, isolation_level=None)  # another process's writer, to SQLite
        other.execute("BEGIN IMMEDIATE")
        held.set()
        release.wait(10)
        other.execute("COMMIT")
        other.close()

    holder = threading.Thread(target=hold)
    holder.start()
    assert held.wait(5)
    yield sqlite3.connect(path, isolation_level=None), release
    release.set()
    holder.join(5)


def test_the_writer_at_the_front_gets_the_lock_once_another_connection_lets_go(locked):
    mine, release = locked
    threading.Timer(0.2, release.set).start()
    WriterLine(timeout_s=10).begin(object(), mine, 5000)
    assert release.is_set() and mine.in_transaction  # it began only once the other let go
    mine.execute("COMMIT")
    assert mine.execute("PRAGMA busy_timeout").fetchone() == (5000,)


def test_a_writer_gives_up_with_sqlite_busy_after_the_timeout_and_keeps_its_busy_timeout(locked):
    mine, _ = locked
    with pytest.raises(sqlite3.OperationalError) as refused:
        WriterLine(timeout_s=0.2).begin(object(), mine, SQLITE_BUSY_TIMEOUT_MS)
    assert refused.value.sqlite_errorcode == sqlite3.SQLITE_BUSY
    assert not mine.in_transaction
    assert mine.execute("PRAGMA busy_timeout").fetchone() == (SQLITE_BUSY_TIMEOUT_MS,)


def _take_in_child(line: WriterLine, answer) -> None:
    line._take("the child's connection")  # an inherited, taken lock would time out instead
    answer.put(line._holder)


def test_a_forked_child_does_not_inherit_a_place_in_line():
    line = WriterLine(timeout_s=5)
    line._take("the parent's connection")  # held while the child is forked
    context = multiprocessing.get_context("fork")
    answer = context.Queue()
    child = context.Process(target=_take_in_child, args=(line, answer))
    child.start()
    holder = answer.get(timeout=30)
    child.join(10)
    assert holder == "the child's connection"
    line.give_back("the parent's connection")
