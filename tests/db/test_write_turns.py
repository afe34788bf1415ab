"""SQLite writers take turns (helpdesk_app/write_turns.py): threads and processes, for real.

A turn is taken before BEGIN and given back when the connection returns to the pool, so a
second writer waits on the turn (woken by its release), never in SQLite's busy handler.
"""
from __future__ import annotations

import threading
from concurrent.futures import ProcessPoolExecutor

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from helpdesk_app.db import make_engine, make_session_factory
from helpdesk_app.write_turns import LOCK_SUFFIX


@pytest.fixture
def url(tmp_path):
    url = f"sqlite:///{tmp_path / 'turns.db'}"
    with make_engine(url).begin() as connection:
        connection.execute(text("CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)"))
        connection.execute(text("INSERT INTO counter VALUES (1, 0)"))
    return url


def increment(url: str, times: int) -> int:
    """Read, then write, in one transaction: what claiming a run does."""
    db = make_session_factory(make_engine(url))
    for _ in range(times):
        with db() as session:
            n = session.scalar(text("SELECT n FROM counter WHERE id = 1"))
            session.execute(text("UPDATE counter SET n = :n WHERE id = 1"), {"n": n + 1})
            session.commit()
    return times


def count(url: str) -> int:
    with make_session_factory(make_engine(url))() as session:
        return session.scalar(text("SELECT n FROM counter WHERE id = 1"))


def test_a_second_writer_waits_for_the_turn_and_gets_it_at_commit(url, tmp_path):
    db = make_session_factory(make_engine(url))
    began = threading.Event()

    def second_writer() -> None:
        with db() as session:
            session.execute(text("UPDATE counter SET n = n + 10 WHERE id = 1"))
            began.set()
            session.commit()

    with db() as session:
        session.execute(text("UPDATE counter SET n = n + 1 WHERE id = 1"))
        other = threading.Thread(target=second_writer)
        other.start()
        assert not began.wait(0.3)  # it waits while this transaction holds the turn
        session.commit()
    other.join(5)
    assert began.is_set() and count(url) == 11
    assert (tmp_path / ("turns.db" + LOCK_SUFFIX)).exists()


def test_a_failed_transaction_gives_its_turn_back(url):
    db = make_session_factory(make_engine(url))
    with pytest.raises(IntegrityError), db() as session:
        session.execute(text("INSERT INTO counter VALUES (1, 5)"))  # the same primary key
    done = threading.Thread(target=increment, args=(url, 1))
    done.start()
    done.join(5)
    assert not done.is_alive() and count(url) == 1


def test_processes_and_threads_take_turns_without_losing_a_write(url):
    with ProcessPoolExecutor(max_workers=3) as pool:
        in_processes = pool.map(increment, [url] * 3, [100] * 3)
        threads = [threading.Thread(target=increment, args=(url, 100)) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert sum(in_processes) == 300
    assert count(url) == 600  # no lost update and no "database is locked"
