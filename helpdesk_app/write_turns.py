"""SQLite writers take turns in a queue that wakes them, not in SQLite's busy handler.

Every transaction on SQLite starts with `BEGIN IMMEDIATE` (db.py). A writer that finds the
lock taken waits in SQLite's busy handler, which sleeps between tries: 1, 2, 5, 10 ... then
100 ms at a time. Under load the lock is free for microseconds between two holders, so a
waiter mostly sleeps through its chances while others take them: at 64 concurrent webhook
deliveries, with the job threads writing too, intake waited ~700 ms per request in
`BEGIN IMMEDIATE` (bench/webhook_intake.py, py-spy).

Here the threads of a process queue on a lock, and one thread per process holds an
exclusive flock(2) on a file beside the database; the kernel wakes the next process's
waiter when it is released. The turn is taken just before `BEGIN` and given back when the
connection returns to the pool (after its COMMIT or ROLLBACK). SQLite's own locking still
decides who writes: a turn only orders who asks, so a waiter that runs out of time goes on
to `BEGIN IMMEDIATE` and its busy timeout, exactly as without turns.
"""
from __future__ import annotations

import fcntl
import os
import threading
from typing import Any

from sqlalchemy import Engine, event

LOCK_SUFFIX = "-writer"
_turns: dict[str, "WriteTurns"] = {}
_registry_lock = threading.Lock()


class WriteTurns:
    """The turn of one database file, shared by every engine of this process on it."""

    def __init__(self, lock_path: str, timeout_s: float) -> None:
        self._lock_path, self._timeout_s = lock_path, timeout_s
        self._thread_lock = threading.Lock()
        self._holder: int | None = None  # the thread id holding the turn
        self._held_by: dict[int, bool] = {}  # id(connection record) -> holds the turn
        self._fd: int | None = None
        self._fd_pid: int | None = None

    def take(self, record: Any) -> None:
        """Wait for the turn (at most the timeout); nested use in one thread passes through."""
        if id(record) in self._held_by or self._holder == threading.get_ident():
            return  # the thread already holds it: SQLite decides, as it would without turns
        if not self._thread_lock.acquire(timeout=self._timeout_s):
            return
        try:
            self._flock()
        except OSError:  # the lock file cannot be opened: SQLite alone decides
            self._thread_lock.release()
            return
        self._holder = threading.get_ident()
        self._held_by[id(record)] = True

    def give_back(self, record: Any) -> None:
        if self._held_by.pop(id(record), None) is None:
            return
        self._holder = None
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._thread_lock.release()

    def _flock(self) -> None:
        # Blocking: the kernel wakes this waiter the moment the other process unlocks.
        # Polling with sleeps starved the waiting process, just as SQLite's busy handler
        # does. The wait lasts one transaction of another process (a process that dies
        # gives its lock back with its files); the thread lock above keeps its timeout.
        fcntl.flock(self._file(), fcntl.LOCK_EX)

    def _file(self) -> int:
        # A forked child must open its own: a flock belongs to the open file, which a fork
        # shares, so parent and child would hold "one" lock together.
        if self._fd is None or self._fd_pid != os.getpid():
            self._fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self._fd_pid = os.getpid()
        return self._fd


def turns_for(database_path: str, timeout_s: float) -> WriteTurns:
    path = os.path.abspath(database_path)
    with _registry_lock:
        if path not in _turns:
            _turns[path] = WriteTurns(path + LOCK_SUFFIX, timeout_s)
        return _turns[path]


def take_turns(engine: Engine, database_path: str, timeout_s: float) -> WriteTurns:
    """Make `engine`'s transactions take the file's turn; its `begin` listener calls `take`
    before issuing BEGIN, so register this before that listener."""
    turns = turns_for(database_path, timeout_s)

    @event.listens_for(engine, "begin")
    def _take(connection) -> None:
        # The pool's record of the DBAPI connection: the one object both events see (the
        # record's `info` is cleared when a connection is invalidated, so it cannot hold this).
        turns.take(connection.connection._connection_record)

    @event.listens_for(engine.pool, "checkin")
    def _give_back(dbapi_connection, record) -> None:
        turns.give_back(record)

    return turns
