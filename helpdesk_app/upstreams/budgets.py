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
"""
from __future__ import annotations

import time
import uuid
import zlib
from dataclasses import dataclass
from typing import Callable, Protocol, Sequence

from sqlalchemy import Connection, bindparam, delete, func, insert, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from helpdesk_app.storage.models import RateSlot


@dataclass(frozen=True)
class Budget:
    """At most `limit` requests in any `window_s` seconds, counted under `key`."""

    key: str
    limit: int
    window_s: float


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
    """

    def __init__(self, db: sessionmaker[Session], clock=time.time) -> None:
        self._db = db
        self._clock = clock
        super().__init__(clock)

    def _ask(self, budgets: Sequence[Budget]) -> list[float]:
        try:
            return self._take(budgets)
        except SQLAlchemyError as error:
            raise BudgetsUnavailable(f"database: {type(error).__name__}") from None

    def _take(self, budgets: Sequence[Budget]) -> list[float]:
        # Core statements built once, on the session's connection: the ORM's unit of work
        # and a statement built per budget cost more than the SQL (about 1.5 ms a budget).
        with self._db() as session, session.begin():
            connection = session.connection()
            if connection.dialect.name == "postgresql":
                # Sorted, so two processes taking overlapping budgets never deadlock.
                for key in sorted({b.key for b in budgets}):
                    connection.execute(_ADVISORY_LOCK, {"k": zlib.crc32(key.encode())})
            now = self._clock()
            connection.execute(_FORGET_EXPIRED,
                               [{"bucket": b.key, "edge": now - b.window_s} for b in budgets])
            used = dict(connection.execute(_COUNT_USED, {"buckets": [b.key for b in budgets]}).all())
            waits = [_wait(connection, b, used.get(b.key, 0), now) for b in budgets]
            if not any(waits):
                connection.execute(_RECORD, [{"bucket": b.key, "taken_at": now} for b in budgets])
            return waits


_ADVISORY_LOCK = text("SELECT pg_advisory_xact_lock(:k)")
_FORGET_EXPIRED = delete(RateSlot).where(RateSlot.bucket == bindparam("bucket"),
                                         RateSlot.taken_at <= bindparam("edge"))
_COUNT_USED = (select(RateSlot.bucket, func.count())
               .where(RateSlot.bucket.in_(bindparam("buckets", expanding=True)))
               .group_by(RateSlot.bucket))
_RECORD = insert(RateSlot)
_FREES_ROOM = (select(RateSlot.taken_at).where(RateSlot.bucket == bindparam("bucket"))
               .order_by(RateSlot.taken_at).offset(bindparam("skip")).limit(1))


def _wait(connection: Connection, budget: Budget, used: int, now: float) -> float:
    """0.0 when the window has room; else the seconds until its oldest counted slot leaves."""
    if used < budget.limit:
        return 0.0
    freed = connection.execute(_FREES_ROOM, {"bucket": budget.key,
                                             "skip": used - budget.limit}).scalar_one()
    return max(freed + budget.window_s - now, 0.001)
