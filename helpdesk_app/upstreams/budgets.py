"""Request budgets shared by every process of a deployment: sliding windows of N per T seconds.

An upstream's rate limit belongs to the account, not to a process: four gunicorn workers and
three RQ workers that each keep under 100 requests a minute still send 700. So the count
lives where every process sees it: in Redis when `REDIS_URL` is set (one Lua script, atomic),
else in the database (one transaction; SQLite's `BEGIN IMMEDIATE` or PostgreSQL advisory
locks serialise it).

`take(budgets)` is all or nothing: it either records one request in every budget and
answers 0, or records nothing and answers how many seconds until all of them would have
room. It never sleeps; the caller decides whether to wait (a job) or to say "later" (a web
request).

A refusal is remembered in the process until the room it named comes back: a sliding
window frees nothing before its oldest request ages out, so asking the store again sooner
can only be refused again. Under a backlog (a storm of new tickets) this keeps refused
requests from costing a store round trip, or a database write, each (bench/).

The database store takes an account-wide budget's requests in blocks (`Budget.block`): one
transaction records several, which this process then spends without writing, for at most
BLOCK_HOLD_S. So a run's Zendesk calls cost one write, not one each (a write is a commit
and a sync; they were 8 of a run's 13). See `DatabaseBudgets` for why no window ever holds
more than the limit.
"""
from __future__ import annotations

import functools
import os
import threading
import time
import uuid
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Protocol, Sequence

if TYPE_CHECKING:  # SQLAlchemy loads with the database store: the CLI's sandbox plans need none
    from sqlalchemy import Connection
    from sqlalchemy.orm import Session, sessionmaker

# How long a process may spend a block of requests it recorded (DatabaseBudgets).
BLOCK_HOLD_S = 1.0
FIRST_BLOCK = 4  # a block's size when a process starts; it doubles while blocks run out


@dataclass(frozen=True)
class Budget:
    """At most `limit` requests in any `window_s` seconds, counted under `key`."""

    key: str
    limit: int
    window_s: float
    # The most requests the database store records at once for one process to spend: for
    # budgets many requests share (the account's). 1: one write a request, as for a
    # ticket's own budget, which a handful of requests spend. Redis records one at a time.
    block: int = 1


class BudgetsUnavailable(RuntimeError):
    """The shared count cannot be reached (Redis or the database is down)."""


class Budgets(Protocol):
    def take(self, budgets: Sequence[Budget]) -> float:
        """0.0 when one request was recorded in every budget; else seconds to wait."""

    def known_wait(self, budgets: Sequence[Budget]) -> float:
        """Seconds until a refusal this process saw ends; 0.0 when none is known (which
        does not promise room)."""


class _Refusals:
    """Per process: budget key -> when (on `clock`) the room a refusal named comes back."""

    PRUNE_ABOVE = 1000  # per-ticket keys come and go; forget the ones that are over

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._until: dict[str, float] = {}

    def wait(self, budgets: Sequence[Budget]) -> float:
        now = self._clock()
        return max([0.0, *(self._until.get(b.key, now) - now for b in budgets)])

    def note(self, key: str, wait_s: float) -> None:
        if wait_s <= 0:
            return
        now = self._clock()
        if len(self._until) > self.PRUNE_ABOVE:
            self._until = {k: until for k, until in self._until.items() if until > now}
        self._until[key] = now + wait_s


class _RemembersRefusals:
    """`take` answers from memory while a refusal lasts, and asks the store otherwise."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._refusals = _Refusals(clock)

    def known_wait(self, budgets: Sequence[Budget]) -> float:
        return self._refusals.wait(budgets)

    def take(self, budgets: Sequence[Budget]) -> float:
        known = self._refusals.wait(budgets)
        if known > 0:
            return known
        waits = self._ask(budgets)
        for budget, wait in zip(budgets, waits):
            self._refusals.note(budget.key, wait)
        return max(waits)

    def _ask(self, budgets: Sequence[Budget]) -> list[float]:
        """Each budget's wait (all 0.0 when the request was recorded in every one)."""
        raise NotImplementedError


# KEYS: one per budget; ARGV[1]: this request's member; then limit and window (ms) per key.
# Redis's own clock (TIME) is the one clock every process shares. Answers 0 when taken,
# else each key's wait in ms (0 for a key with room).
_TAKE_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local wait = 0
local waits = {}
for i, key in ipairs(KEYS) do
  waits[i] = 0
  local limit = tonumber(ARGV[2 * i])
  local window = tonumber(ARGV[2 * i + 1])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  local used = redis.call('ZCARD', key)
  if used >= limit then
    -- Room comes back when the request `used - limit` places from the oldest leaves.
    local freed = redis.call('ZRANGE', key, used - limit, used - limit, 'WITHSCORES')
    local w = math.max(tonumber(freed[2]) + window - now, 1)
    waits[i] = w
    if w > wait then wait = w end
  end
end
if wait > 0 then return waits end
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, ARGV[1])
  redis.call('PEXPIRE', key, tonumber(ARGV[2 * i + 1]))
end
return 0
"""


class RedisBudgets(_RemembersRefusals):
    # One hash tag, so every budget key lands in one slot should Redis be a cluster.
    PREFIX = "helpdesk:{budgets}:"

    def __init__(self, redis_url: str) -> None:
        import redis  # only deployments with REDIS_URL need the client loaded

        self._redis = redis.Redis.from_url(redis_url, socket_timeout=5)
        self._script = self._redis.register_script(_TAKE_SCRIPT)
        self._errors = redis.RedisError
        super().__init__(time.monotonic)

    def _ask(self, budgets: Sequence[Budget]) -> list[float]:
        keys = [self.PREFIX + b.key for b in budgets]
        args: list[str | int | float] = [uuid.uuid4().hex]
        for budget in budgets:
            args += [budget.limit, int(budget.window_s * 1000)]
        try:
            answer = self._script(keys=keys, args=args)
        except self._errors as error:
            raise BudgetsUnavailable(f"Redis: {type(error).__name__}") from None
        return [int(ms) / 1000.0 for ms in answer] if answer else [0.0] * len(budgets)


class DatabaseBudgets(_RemembersRefusals):
    """The embedded default: one row per recorded request, in `rate_slots`.

    Timestamps are this host's clock: on one machine (SQLite) that is the only clock; hosts
    sharing PostgreSQL keep theirs in step with NTP, and a skew of a few milliseconds moves
    a window's edge by as much.

    Blocks. For the budgets a request spends that allow blocks, one transaction records n
    requests at once, stamped `now + BLOCK_HOLD_S`, and this process spends them until that
    stamp, then gives back the unspent ones (in its next transaction with the store).
    Why no window of the budget ever sends more than its limit: a request sent at τ from a
    block taken at t with stamp r = t + hold has t <= τ <= r. Rows count from the moment
    they are written (a stamp in the future counts too) until their stamp leaves the window.
    Take any window [a, a + T] and the last block B taken at t* <= a + T that sends in it:
    every other block sending in it was taken before t* and has r >= τ >= a >= t* - T, so it
    was counted when B was granted; the store granted B only with all of them within the
    limit. Rows given back were never sent, so removing them keeps this true. A block spans
    the budgets taken together (the account's and bulk work's share), so bulk work's blocks
    hold no account requests outside its share, and the reserved share stays reserved.
    """

    def __init__(self, db: "sessionmaker[Session]", clock=time.time, hold_s: float = BLOCK_HOLD_S) -> None:
        self._db = db
        self._clock = clock
        self._hold_s = hold_s
        self._blocks = _Blocks()
        super().__init__(clock)

    def _ask(self, budgets: Sequence[Budget]) -> list[float]:
        from sqlalchemy.exc import SQLAlchemyError

        blocks = self._blocks.for_this_process()
        with blocks.lock:
            shared = tuple(b for b in budgets if b.block > 1)
            if len(shared) == len(budgets) and blocks.spend(shared, self._clock()):
                return [0.0] * len(budgets)  # recorded already, by this process's block
            try:
                waits, taken = self._take(budgets, shared, blocks.get(shared))
            except SQLAlchemyError as error:
                raise BudgetsUnavailable(f"database: {type(error).__name__}") from None
            blocks.settle(shared, taken)  # only once the transaction committed
            return waits

    def _take(self, budgets: Sequence[Budget], shared: tuple[Budget, ...],
              block: "_Block | None") -> "tuple[list[float], _Taken]":
        # Core statements built once, on the session's connection: the ORM's unit of work
        # and a statement built per budget cost more than the SQL (about 1.5 ms a budget).
        sql = _statements()
        with self._db() as session, session.begin():
            connection = session.connection()
            if connection.dialect.name == "postgresql":
                # Sorted, so two processes taking overlapping budgets never deadlock.
                for key in sorted({b.key for b in budgets}):
                    connection.execute(sql.advisory_lock, {"k": zlib.crc32(key.encode())})
            now = self._clock()
            reuse = block is not None and block.live(now)
            taken = _Taken(now=now, returned=self._blocks.done(now, also=None if reuse else shared))
            unspent = [i for _, old in taken.returned for i in old.unspent_ids()]
            if unspent:  # every expired block of this process gives back what it did not spend
                connection.execute(sql.give_back, {"ids": unspent})
            counted = [b for b in budgets if b.block <= 1 or not reuse]
            room = _room(connection, counted, now)
            waits = [_wait(connection, b, room[b.key], now) if b.key in room and room[b.key] < 1 else 0.0
                     for b in budgets]
            if any(waits):
                return waits, taken
            singles = [b for b in budgets if b.block <= 1]
            if singles:
                connection.execute(sql.record, [{"bucket": b.key, "taken_at": now} for b in singles])
            if shared and not reuse:
                taken.base = self._blocks.next_size(shared, block, now)
                taken.size = min(taken.base, *(room[b.key] for b in shared))
                taken.until = now + self._hold_s
                taken.ids = _record_block(connection, shared, taken.size, taken.until)
            taken.spent = bool(shared)
            return waits, taken


@dataclass
class _Block:
    """Requests recorded in the store ahead of their sending, for this process to spend
    until `until` (on the budgets' clock)."""

    size: int
    until: float
    ids: dict[str, list[int]]  # the rows recorded, per budget key
    left: int = 0

    def live(self, now: float) -> bool:
        return self.left > 0 and now < self.until

    def unspent_ids(self) -> list[int]:
        return [i for rows in self.ids.values() for i in rows[:self.left]]


@dataclass
class _Taken:
    """What one transaction did to a process's block, applied once it committed."""

    now: float
    # The blocks it ended, with their budgets: expired ones, whose unspent rows it gave back,
    # and the one it replaced.
    returned: list[tuple[tuple[Budget, ...], _Block]] = field(default_factory=list)
    spent: bool = False  # one request spent from the block (the old one, or a new one)
    size: int = 0  # > 0: a new block of this many was recorded
    base: int = 0  # the block size it chose, before the room left capped it
    until: float = 0.0
    ids: dict[str, list[int]] = field(default_factory=dict)


class _Blocks:
    """A process's blocks, one per set of budgets taken together; forgotten in a forked
    child, which must not spend what its parent recorded."""

    def __init__(self) -> None:
        self._forget()

    def _forget(self) -> None:
        self._pid = os.getpid()
        self.lock = threading.Lock()
        self._current: dict[tuple[Budget, ...], _Block] = {}
        self._sizes: dict[tuple[Budget, ...], int] = {}

    def for_this_process(self) -> "_Blocks":
        if self._pid != os.getpid():
            self._forget()
        return self

    def get(self, shared: tuple[Budget, ...]) -> _Block | None:
        return self._current.get(shared) if shared else None

    def spend(self, shared: tuple[Budget, ...], now: float) -> bool:
        block = self.get(shared)
        if block is None or not block.live(now):
            return False
        block.left -= 1
        return True

    def size(self, shared: tuple[Budget, ...]) -> int:
        return min(self._sizes.get(shared, FIRST_BLOCK), *(b.block for b in shared))

    def done(self, now: float, also: tuple[Budget, ...] | None) -> list[tuple[tuple[Budget, ...], _Block]]:
        """The blocks that are over: expired ones, and the one of `also` (to be replaced)."""
        return [(shared, block) for shared, block in self._current.items()
                if now >= block.until or shared == also]

    def settle(self, shared: tuple[Budget, ...], taken: _Taken) -> None:
        for other, old in taken.returned:
            if self._current.get(other) is old:
                del self._current[other]
                if other != shared:
                    self._sizes[other] = self.next_size(other, old, taken.now)
        if taken.base:
            self._sizes[shared] = taken.base
        if taken.size:
            self._current[shared] = _Block(taken.size, taken.until, taken.ids, left=taken.size)
        if taken.spent and shared in self._current:
            self._current[shared].left -= 1

    def next_size(self, shared: tuple[Budget, ...], old: _Block | None, now: float) -> int:
        """After a block spent before it expired, a larger one; after one mostly unspent, a
        smaller one (its rows held room that other processes could not have)."""
        size = self.size(shared)
        if old is None:
            return size
        if old.left == 0 and now < old.until:
            return min(size * 2, *(b.block for b in shared))
        if old.left * 2 > old.size:
            return max(1, size // 2)
        return size


@functools.cache
def _statements() -> Any:
    """The store's statements, built on first use."""
    from types import SimpleNamespace

    from sqlalchemy import bindparam, delete, func, insert, select, text

    from helpdesk_app.storage.models import RateSlot

    return SimpleNamespace(
        advisory_lock=text("SELECT pg_advisory_xact_lock(:k)"),
        forget_expired=delete(RateSlot).where(RateSlot.bucket == bindparam("bucket"),
                                              RateSlot.taken_at <= bindparam("edge")),
        count_used=(select(RateSlot.bucket, func.count())
                    .where(RateSlot.bucket.in_(bindparam("buckets", expanding=True)))
                    .group_by(RateSlot.bucket)),
        record=insert(RateSlot),
        record_returning=insert(RateSlot).returning(RateSlot.bucket, RateSlot.id),
        give_back=delete(RateSlot).where(RateSlot.id.in_(bindparam("ids", expanding=True))),
        frees_room=(select(RateSlot.taken_at).where(RateSlot.bucket == bindparam("bucket"))
                    .order_by(RateSlot.taken_at).offset(bindparam("skip")).limit(1)),
    )


def _room(connection: "Connection", budgets: Sequence[Budget], now: float) -> dict[str, int]:
    """Each budget's room: its limit less what its window holds (future stamps included)."""
    if not budgets:
        return {}
    sql = _statements()
    connection.execute(sql.forget_expired,
                       [{"bucket": b.key, "edge": now - b.window_s} for b in budgets])
    used = dict(connection.execute(sql.count_used, {"buckets": [b.key for b in budgets]}).all())
    return {b.key: b.limit - used.get(b.key, 0) for b in budgets}


def _record_block(connection: "Connection", shared: tuple[Budget, ...], size: int,
                  stamp: float) -> dict[str, list[int]]:
    rows = [{"bucket": b.key, "taken_at": stamp} for b in shared for _ in range(size)]
    ids: dict[str, list[int]] = {b.key: [] for b in shared}
    for bucket, row_id in connection.execute(_statements().record_returning, rows):
        ids[bucket].append(row_id)
    return ids


def _wait(connection: "Connection", budget: Budget, room: int, now: float) -> float:
    """The seconds until the oldest counted slot that frees room leaves the window."""
    freed = connection.execute(_statements().frees_room, {"bucket": budget.key,
                                                          "skip": -room}).scalar_one()
    return max(freed + budget.window_s - now, 0.001)
