"""How SQLite writers wait for the write lock: in line within a process, polling across.

Every transaction on SQLite starts with `BEGIN IMMEDIATE` (db.py). A writer that finds
the lock taken waits in SQLite's busy handler, which sleeps between tries: 1, 2, 5, 10 ...
then 100 ms at a time. Under load the lock is free for a moment between two holders, so a
waiter sleeps through its chances while writers that just arrived take them (py-spy on
bench/webhook_intake.py: most of an acknowledgement's time was that sleep).

So the threads of a process wait in line on a lock, which wakes the next one as soon as
the holder's connection is back in the pool; and the one thread at the front asks SQLite
every POLL_S, with no busy handler, until the other processes' writer is done (what
the Ruby sqlite3 driver's `busy_handler_timeout` does for Rails, for the same reason).
Nothing waits longer than the busy timeout, and no lock outlives its process: across
processes SQLite's own lock is the only one.
"""
from __future__ import annotations

import os
import sqlite3
import threading
import time
from typing import Any

# How often the writer at the front of the line asks SQLite again. The other process's
# commit holds the lock for about half a millisecond, and a group's writers all wait on
# their leader: at 1 ms a wait cost a group half a millisecond on average, at 0.2 ms a
# tenth of one, for a failed BEGIN's few microseconds of CPU (bench/webhook_intake.py,
# docs/performance.md).
POLL_S = 0.0002


class WriterLine:
    """One engine's writers in this process, one at a time."""

    def __init__(self, timeout_s: float) -> None:
        self._timeout_s = timeout_s
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._holder: Any = None  # the pool record whose transaction is at the front

    def begin(self, record: Any, dbapi_connection: sqlite3.Connection, busy_timeout_ms: int) -> None:
        """Wait for the front of the line (at most the timeout), then BEGIN IMMEDIATE."""
        deadline = time.monotonic() + self._timeout_s
        self._take(record)
        begin_immediate(dbapi_connection, deadline, busy_timeout_ms)

    def give_back(self, record: Any) -> None:
        """On the connection's return to the pool, after its COMMIT or ROLLBACK."""
        if record is not None and self._holder is record:
            self._holder = None
            self._lock.release()

    def _take(self, record: Any) -> None:
        if self._pid != os.getpid():
            # A fork copies the lock in whatever state another thread left it.
            self._pid, self._lock, self._holder = os.getpid(), threading.Lock(), None
        if self._holder is record:
            return  # another transaction on the connection that is already at the front
        if self._lock.acquire(timeout=self._timeout_s):
            self._holder = record
        # else: no turn after the whole timeout; SQLite alone decides, as without a line.


def begin_immediate(dbapi_connection: sqlite3.Connection, deadline: float,
                    busy_timeout_ms: int) -> None:
    """BEGIN IMMEDIATE, asked again every POLL_S until `deadline` (time.monotonic()).

    Only this statement waits this way; the connection keeps its busy timeout for the rare
    SQLITE_BUSY of other statements (a WAL being recovered).
    """
    dbapi_connection.execute("PRAGMA busy_timeout=0")
    try:
        while True:
            try:
                dbapi_connection.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as error:
                if error.sqlite_errorcode != sqlite3.SQLITE_BUSY or time.monotonic() >= deadline:
                    raise
            time.sleep(POLL_S)
    finally:
        dbapi_connection.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
