"""Group commit: the small writes that threads of a process make at the same moment are
committed together, in one transaction and one sync, and each caller returns only once
its own write is committed (durable: SQLite's WAL and PostgreSQL's commit both sync).

Webhook intake is one short write per delivery, and the disk syncs a commit in about as
long as the write takes to run, so a commit each left the disk, not the CPU, as the limit
(bench/webhook_intake.py): SQLite has one writer at a time, and every delivery waited for
its own sync. Here a thread that finds nobody committing leads: it takes every write
waiting at that moment (its own among them), runs them in order in one transaction,
commits, and hands the lead to the first write that arrived meanwhile, which does the same
for everything that arrived while it waited. Nobody waits on a timer.

A write is a function of the transaction's connection, and must be safe to run in a
transaction with others (each handles its own conflicts, e.g. `ON CONFLICT DO NOTHING`).
A kind of write that has a `many(connection, writes) -> results` runs several of its
kind that wait in a row as one call (deliveries: one INSERT of many rows): each
statement is a round trip for the GIL on the leader's path, which every write of the group
waits on (docs/performance.md).
When one raises, or the commit fails, the transaction is rolled back and each write of the
group runs again alone, so a bad write fails only itself; a caller gets a result only from
a transaction that committed, else the error of its own. Used for webhook deliveries and triage deferrals (engine/deliveries.py,
engine/triage_job.py). Within one process only: across processes, the database's own
locks order the groups (SQLite's single writer, sqlite_writers.py; PostgreSQL's rows).
"""
from __future__ import annotations

import itertools
import os
import threading
import weakref
from typing import Any, Callable, Generic, TypeVar

from sqlalchemy import Connection
from sqlalchemy.orm import Session, sessionmaker

T = TypeVar("T")
Write = Callable[[Connection], T]


class _Pending(Generic[T]):
    def __init__(self, write: Write[T]) -> None:
        self.write = write
        self.woken = threading.Event()
        self.leads = False
        self.done = False
        self.value: Any = None
        self.error: BaseException | None = None

    def finish(self, value: Any = None, error: BaseException | None = None) -> None:
        self.value, self.error, self.done = value, error, True
        self.woken.set()

    def outcome(self) -> T:
        if self.error is not None:
            raise self.error
        return self.value


class GroupCommit:
    """One database's group commit in this process (`group_commit(db)`)."""

    def __init__(self, db: sessionmaker[Session]) -> None:
        self._engine = db.kw["bind"]
        self._reset()

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._mutex = threading.Lock()
        self._waiting: list[_Pending[Any]] = []
        self._busy = False  # a leader is committing

    @property
    def waiting(self) -> int:
        """Writes waiting for the next group (for tests and metrics)."""
        return len(self._waiting)

    def run(self, write: Write[T]) -> T:
        """Run `write` in the next group's transaction; its result once that committed.
        Raises what the write raised, or what failed the commit."""
        pending: _Pending[T] = _Pending(write)
        with self._mutex:
            if self._pid != os.getpid():  # a fork copies the state another thread left
                self._reset()
            self._waiting.append(pending)
            pending.leads, self._busy = not self._busy, True
        if not pending.leads:
            pending.woken.wait()  # committed, or handed the lead
        if pending.leads and not pending.done:
            self._lead()
        return pending.outcome()

    def _lead(self) -> None:
        with self._mutex:
            group, self._waiting = self._waiting, []
        try:
            self._commit(group)
        finally:
            for pending in group:  # only if something escaped _commit (it should not)
                if not pending.done:
                    pending.finish(error=RuntimeError("the group's commit did not finish"))
            with self._mutex:
                if self._waiting:
                    successor = self._waiting[0]
                    successor.leads = True
                    successor.woken.set()
                else:
                    self._busy = False

    def _commit(self, group: list[_Pending[Any]]) -> None:
        try:
            values = self._transaction(group)
        except Exception as error:
            if len(group) == 1:
                group[0].finish(error=error)
                return
            for pending in group:  # alone, so that one bad write fails only itself
                try:
                    pending.finish(self._transaction([pending])[0])
                except Exception as alone:
                    pending.finish(error=alone)
            return
        for pending, value in zip(group, values):
            pending.finish(value)

    def _transaction(self, group: list[_Pending[Any]]) -> list[Any]:
        # The engine's connection, not an ORM session: the writes are Core statements, and
        # a session's bookkeeping cost more than they do. Its `begin` event still starts
        # SQLite's transactions with BEGIN IMMEDIATE, in the process's line of writers.
        with self._engine.begin() as connection:
            values: list[Any] = []
            # Writes in a row that share a `many` run as one call of it (one statement).
            for many, run in itertools.groupby((p.write for p in group),
                                               key=lambda write: getattr(write, "many", None)):
                writes = list(run)
                if many is not None and len(writes) > 1:
                    values += many(connection, writes)
                else:
                    values += [write(connection) for write in writes]
            return values


_BY_DATABASE: "weakref.WeakKeyDictionary[sessionmaker[Session], GroupCommit]" = weakref.WeakKeyDictionary()
_BY_DATABASE_LOCK = threading.Lock()


def group_commit(db: sessionmaker[Session]) -> GroupCommit:
    """The group commit of `db` (a session factory) in this process."""
    with _BY_DATABASE_LOCK:
        found = _BY_DATABASE.get(db)
        if found is None:
            found = _BY_DATABASE[db] = GroupCommit(db)
        return found
