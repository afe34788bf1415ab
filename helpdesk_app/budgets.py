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
"""
from __future__ import annotations

import time
import uuid
import zlib
from dataclasses import dataclass
from typing import Protocol, Sequence

from sqlalchemy import delete, func, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from .db import RateSlot


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


# KEYS: one per budget; ARGV[1]: this request's member; then limit and window (ms) per key.
# Redis's own clock (TIME) is the one clock every process shares.
_TAKE_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local wait = 0
for i, key in ipairs(KEYS) do
  local limit = tonumber(ARGV[2 * i])
  local window = tonumber(ARGV[2 * i + 1])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  local used = redis.call('ZCARD', key)
  if used >= limit then
    -- Room comes back when the request `used - limit` places from the oldest leaves.
    local freed = redis.call('ZRANGE', key, used - limit, used - limit, 'WITHSCORES')
    local w = tonumber(freed[2]) + window - now
    if w > wait then wait = w end
  end
end
if wait > 0 then return wait end
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, ARGV[1])
  redis.call('PEXPIRE', key, tonumber(ARGV[2 * i + 1]))
end
return 0
"""


class RedisBudgets:
    # One hash tag, so every budget key lands in one slot should Redis be a cluster.
    PREFIX = "helpdesk:{budgets}:"

    def __init__(self, redis_url: str) -> None:
        import redis  # only deployments with REDIS_URL need the client loaded

        self._redis = redis.Redis.from_url(redis_url, socket_timeout=5)
        self._script = self._redis.register_script(_TAKE_SCRIPT)
        self._errors = redis.RedisError

    def take(self, budgets: Sequence[Budget]) -> float:
        keys = [self.PREFIX + b.key for b in budgets]
        args: list[object] = [uuid.uuid4().hex]
        for budget in budgets:
            args += [budget.limit, int(budget.window_s * 1000)]
        try:
            wait_ms = int(self._script(keys=keys, args=args))
        except self._errors as error:
            raise BudgetsUnavailable(f"Redis: {type(error).__name__}") from None
        return wait_ms / 1000.0


class DatabaseBudgets:
    """The embedded default: one row per recorded request, in `rate_slots`.

    Timestamps are this host's clock: on one machine (SQLite) that is the only clock; hosts
    sharing PostgreSQL keep theirs in step with NTP, and a skew of a few milliseconds moves
    a window's edge by as much.
    """

    def __init__(self, db: sessionmaker[Session], clock=time.time) -> None:
        self._db = db
        self._clock = clock

    def take(self, budgets: Sequence[Budget]) -> float:
        try:
            return self._take(budgets)
        except SQLAlchemyError as error:
            raise BudgetsUnavailable(f"database: {type(error).__name__}") from None

    def _take(self, budgets: Sequence[Budget]) -> float:
        with self._db() as session, session.begin():
            if session.get_bind().dialect.name == "postgresql":
                # Sorted, so two processes taking overlapping budgets never deadlock.
                for key in sorted({b.key for b in budgets}):
                    session.execute(text("SELECT pg_advisory_xact_lock(:k)"),
                                    {"k": zlib.crc32(key.encode())})
            now = self._clock()
            wait = max(self._wait(session, b, now) for b in budgets)
            if wait == 0:
                session.add_all(RateSlot(bucket=b.key, taken_at=now) for b in budgets)
            return wait

    @staticmethod
    def _wait(session: Session, budget: Budget, now: float) -> float:
        session.execute(delete(RateSlot).where(RateSlot.bucket == budget.key,
                                               RateSlot.taken_at <= now - budget.window_s))
        used = session.scalar(select(func.count()).where(RateSlot.bucket == budget.key))
        if used < budget.limit:
            return 0.0
        freed = session.scalar(select(RateSlot.taken_at).where(RateSlot.bucket == budget.key)
                               .order_by(RateSlot.taken_at).offset(used - budget.limit).limit(1))
        return max(freed + budget.window_s - now, 0.001)
