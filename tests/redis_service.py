"""The Redis server at 127.0.0.1:6379 for the tests that claim Redis behaviour.

Skipped when unreachable, unless REQUIRE_SERVICES=1 (CI), when it fails. Tests use their
own logical database (15), flushed before and after. `stop_redis` / `start_redis` stop and
start the real server (the outage test); whatever happens, the server is started again.
"""
from __future__ import annotations

import os
import subprocess
import time

import pytest

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
START = ["redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "--port", "6379",
         "--save", "", "--appendonly", "no"]


def _client():
    from redis import Redis

    return Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=2)


def redis_up() -> bool:
    from redis.exceptions import RedisError

    try:
        return bool(_client().ping())
    except RedisError:
        return False


def stop_redis() -> None:
    subprocess.run(["redis-cli", "-p", "6379", "shutdown", "nosave"], capture_output=True)
    for _ in range(50):
        if not redis_up():
            return
        time.sleep(0.1)
    raise RuntimeError("Redis did not stop")


def start_redis() -> None:
    if not redis_up():
        subprocess.run(START, check=True, capture_output=True)
    for _ in range(50):
        if redis_up():
            return
        time.sleep(0.1)
    raise RuntimeError("Redis did not start")


@pytest.fixture
def redis_url():
    if not redis_up():
        reason = f"Redis at {REDIS_URL} unreachable"
        if os.environ.get("REQUIRE_SERVICES") == "1":
            pytest.fail(reason + " (REQUIRE_SERVICES=1)")
        pytest.skip(reason)
    _client().flushdb()
    yield REDIS_URL
    start_redis()  # a test that stopped it leaves it running
    _client().flushdb()
