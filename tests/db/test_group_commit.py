"""Issue 19, item 4: group commit (helpdesk_app/storage/group_commit.py), on SQLite and on
PostgreSQL.

The writes waiting at one moment share one transaction; each caller returns only once a
transaction holding its write committed, and a caller whose write did not commit gets an
error, never a result. A process killed in the middle acknowledged only rows that are there.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import event, func, insert, select

from helpdesk_app.storage.group_commit import GroupCommit, group_commit
from helpdesk_app.storage.models import Delivery, RateSlot

ROOT = Path(__file__).resolve().parents[2]
WRITERS = 20


def slot_writer(bucket: str, fail: bool = False):
    def write(connection):
        row_id = connection.execute(insert(RateSlot).values(bucket=bucket, taken_at=1.0)
                                    .returning(RateSlot.id)).scalar_one()
        if fail:
            raise ValueError(f"{bucket} is refused after its INSERT")
        return row_id

    return write


def buckets(sessions) -> set[str]:
    with sessions() as session:
        return set(session.scalars(select(RateSlot.bucket)))


def commits(engine) -> list[object]:
    seen: list[object] = []
    event.listen(engine, "commit", seen.append)
    return seen


def in_a_group(sessions, writes) -> dict[str, object]:
    """Runs `writes` (name -> write) from threads of their own while a first write holds
    the group's lead, so that all of them wait, then are committed as the next group.
    Each name's result, or the exception it raised."""
    group = GroupCommit(sessions)
    release = threading.Event()
    outcomes: dict[str, object] = {}

    def first(connection):
        release.wait(10)
        return slot_writer("first")(connection)

    def call(name, write):
        try:
            outcomes[name] = group.run(write)
        except Exception as error:
            outcomes[name] = error

    threads = [threading.Thread(target=call, args=("first", first))]
    threads[0].start()
    deadline = time.monotonic() + 10
    while not group._busy and time.monotonic() < deadline:
        time.sleep(0.001)
    threads += [threading.Thread(target=call, args=item) for item in writes.items()]
    for thread in threads[1:]:
        thread.start()
    while group.waiting < len(writes) and time.monotonic() < deadline:
        time.sleep(0.001)
    assert group.waiting == len(writes)  # all of them wait for the first group
    release.set()
    for thread in threads:
        thread.join(20)
    return outcomes


def test_the_writes_waiting_together_share_one_transaction(engine, sessions):
    seen = commits(engine)
    outcomes = in_a_group(sessions, {f"w{i}": slot_writer(f"w{i}") for i in range(WRITERS)})
    assert len(seen) == 2  # the first write's, then one for all twenty
    assert all(isinstance(v, int) for v in outcomes.values()) and len(set(outcomes.values())) == WRITERS + 1
    assert buckets(sessions) == set(outcomes)


def test_a_failing_write_fails_only_itself(engine, sessions):
    writes = {f"w{i}": slot_writer(f"w{i}", fail=(i == 7)) for i in range(WRITERS)}
    outcomes = in_a_group(sessions, writes)
    assert isinstance(outcomes.pop("w7"), ValueError)
    assert all(isinstance(v, int) for v in outcomes.values())
    assert buckets(sessions) == set(outcomes)  # w7's INSERT rolled back with it


def test_a_commit_that_fails_acknowledges_nobody(engine, sessions):
    def refuse(connection):
        if refusing:
            raise OSError("disk I/O error")

    refusing = True
    event.listen(engine, "commit", refuse)
    outcomes = in_a_group(sessions, {f"w{i}": slot_writer(f"w{i}") for i in range(WRITERS)})
    assert all(isinstance(v, Exception) for v in outcomes.values())
    assert buckets(sessions) == set()
    refusing = False  # the disk is back: the next writes commit
    assert isinstance(group_commit(sessions).run(slot_writer("later")), int)
    assert buckets(sessions) == {"later"}


def test_a_group_whose_commit_fails_once_commits_each_write_alone(engine, sessions):
    failures = []

    def refuse_once(connection):
        if not failures and len(buckets_before_commit) > 1:
            failures.append(connection)
            raise OSError("disk I/O error")

    buckets_before_commit: list[str] = []
    event.listen(engine, "commit", refuse_once)
    writes = {}
    for i in range(WRITERS):
        def write(connection, name=f"w{i}"):
            buckets_before_commit.append(name)
            return slot_writer(name)(connection)
        writes[f"w{i}"] = write
    outcomes = in_a_group(sessions, writes)
    assert failures  # the group's commit failed...
    # ...and every write that was answered with a result is there, each committed alone.
    assert all(isinstance(v, int) for v in outcomes.values())
    assert buckets(sessions) == set(outcomes)


class _Tagged:
    """A write of a kind that can also run many at once (`many`), recording how it ran."""

    calls: list[tuple[str, ...]] = []

    def __init__(self, bucket: str) -> None:
        self.bucket = bucket

    def __call__(self, connection):
        _Tagged.calls.append((self.bucket,))
        return slot_writer(self.bucket)(connection)

    @staticmethod
    def many(connection, writes):
        _Tagged.calls.append(tuple(write.bucket for write in writes))
        return [slot_writer(write.bucket)(connection) for write in writes]


def test_writes_of_a_kind_waiting_in_a_row_run_as_one_call(sessions):
    _Tagged.calls = []
    writes = {"a": _Tagged("a"), "b": _Tagged("b"), "plain": slot_writer("plain"), "c": _Tagged("c")}
    # Threads start in this order, but which of them reaches the line first is theirs to
    # decide: every run of `_Tagged` writes in the group is one call, whatever its length.
    outcomes = in_a_group(sessions, writes)
    assert all(isinstance(v, int) for v in outcomes.values())
    assert buckets(sessions) == set(outcomes)
    assert sorted(b for call in _Tagged.calls for b in call) == ["a", "b", "c"]  # each once
    assert len(_Tagged.calls) <= 2  # one run, or two either side of the plain write


def test_deliveries_waiting_together_are_one_insert(engine, sessions):
    """Deliveries known by one key, in one group, are one multi-row INSERT; each caller
    still gets its own answer: a new id, or None for a key recorded before (earlier, or
    earlier in the same group)."""
    from helpdesk_app.engine.deliveries import _NewDelivery

    def delivery(key):
        return _NewDelivery(dict(source="zendesk", delivery_key=key, body=b"{}", headers={},
                                 status="received", dispatched_at=None, next_attempt_at=None))

    assert isinstance(group_commit(sessions).run(delivery("seen-before")), int)
    inserts: list[str] = []
    event.listen(engine, "before_cursor_execute",
                 lambda conn, cursor, statement, *rest: inserts.append(statement)
                 if statement.startswith("INSERT INTO deliveries") else None)
    keys = [f"d{i}" for i in range(8)] + ["seen-before"]
    writes = {f"w{i}": delivery(key) for i, key in enumerate(keys)}
    writes["again"] = delivery("d3")
    outcomes = in_a_group(sessions, writes)
    outcomes.pop("first")
    ids = {name: value for name, value in outcomes.items() if value is not None}
    assert sorted(name for name, value in outcomes.items() if value is None) in (
        ["again", "w8"], ["w3", "w8"])  # one of the two copies of d3 is new, never both
    assert len(set(ids.values())) == len(ids) == 8
    assert len(inserts) == 1  # the whole group's rows in one statement
    with sessions() as session:
        stored = {key: id_ for key, id_ in session.execute(select(Delivery.delivery_key, Delivery.id))}
    assert set(stored) == {*keys, "seen-before"}
    assert sorted(ids.values()) == sorted(stored[key] for key in keys if key != "seen-before")


def test_a_forked_child_starts_with_no_group(sessions):
    group = group_commit(sessions)
    group._busy = True  # as a parent's thread may have left it when the fork came
    group._pid = -1
    assert isinstance(group.run(slot_writer("child")), int)


# --- a process killed mid-group ------------------------------------------------------------

CHILD = ROOT / "tests" / "db" / "group_commit_child.py"


@pytest.mark.parametrize("run", range(2))
def test_a_killed_process_acknowledged_only_rows_that_are_there(migrated_url, sessions, run):
    child = subprocess.Popen([sys.executable, str(CHILD), migrated_url], cwd=ROOT, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    acked = []
    try:
        for line in child.stdout:
            acked.append(line.strip())
            if len(acked) >= 150 + 100 * run:
                break
    finally:
        os.killpg(child.pid, signal.SIGKILL)  # mid-group: sixteen threads keep writing
        child.wait(10)
    acked += [line.strip() for line in child.stdout.read().splitlines() if line.strip()]
    with sessions() as session:
        stored = set(session.scalars(select(Delivery.delivery_key)))
        count = session.scalar(select(func.count()).select_from(Delivery))
    assert len(acked) >= 150
    assert set(acked) <= stored  # every acknowledged delivery survived the kill
    assert count >= len(acked)  # (rows committed but not yet acknowledged are retried as duplicates)
