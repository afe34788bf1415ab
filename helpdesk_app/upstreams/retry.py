"""One retry policy for every upstream: capped exponential backoff with full jitter.

Transient failures (connection errors, timeouts, 5xx, 429) are retried; a 429's or 503's
`Retry-After` is honoured as a floor. A call that creates something is retried only when
the caller says a repeat is safe: the request carries an idempotency key, or `before_retry`
has looked upstream and found no trace of the first attempt.
"""
from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass, field
from typing import Callable, TypeVar

from helpdesk_app import metrics
from workflows.errors import UpstreamError

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class RetryPolicy:
    max_attempts: int = 4
    base_delay_s: float = 0.5
    max_delay_s: float = 8.0
    # False in web requests: a 429 goes straight to the caller (the request answers 503
    # with Retry-After) instead of holding a web worker asleep; jobs wait it out.
    wait_on_rate_limit: bool = True
    # A Retry-After longer than this is not slept through: the error goes to the caller,
    # whose job is rescheduled for then (runs, deliveries) instead of holding a worker.
    max_wait_s: float = 30.0
    # Tests pass a recording sleep; production sleeps for real.
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    rng: random.Random = field(default_factory=random.Random, repr=False)

    def longest_delay(self, attempt: int) -> float:
        """The most `delay` waits after attempt `attempt` without a Retry-After."""
        return min(self.max_delay_s, self.base_delay_s * 2 ** (attempt - 1))

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait before attempt `attempt + 1` (attempt counts from 1)."""
        backoff = self.rng.uniform(0, self.longest_delay(attempt))
        return max(backoff, retry_after or 0.0)

    def call(
        self,
        fn: Callable[[], T],
        *,
        name: str,
        before_retry: Callable[[], bool] | None = None,
        safe_to_repeat: bool = True,
    ) -> T:
        """Run `fn`, retrying transient UpstreamErrors.

        `safe_to_repeat=False` with no `before_retry` means: never repeat. `before_retry`
        returns True when a repeat is safe (e.g. the created thing was not found upstream).
        """
        attempt = 1
        while True:
            try:
                return fn()
            except UpstreamError as error:
                if not error.transient or attempt >= self.max_attempts:
                    raise
                if error.status == 429 and not self.wait_on_rate_limit:
                    raise
                if (error.retry_after or 0) > self.max_wait_s:
                    raise
                if not safe_to_repeat and not (before_retry and before_retry()):
                    raise
                wait = self.delay(attempt, error.retry_after)
                metrics.UPSTREAM_RETRIES.labels(error.upstream).inc()
                log.warning(
                    "upstream.retry",
                    extra={"call": name, "attempt": attempt, "status": error.status,
                           "wait_s": round(wait, 3)},
                )
                self.sleep(wait)
                attempt += 1


def parse_retry_after(value: str | None) -> float | None:
    """`Retry-After` in seconds (the upstreams here send delta-seconds, not HTTP dates)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def is_transient_status(status: int) -> bool:
    return status == 429 or status >= 500
