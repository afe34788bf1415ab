"""Through the real clients against the sandbox, with the service's pool: a level's reads
are in flight together, and a request reads each fact once.

"Together" is shown without timing: the sandbox holds each request of the first level at a
barrier until all of them have arrived; read one by one, the first would wait alone and the
barrier would break (after its timeout), failing the read and the test.
"""
from __future__ import annotations

import copy
import dataclasses
import threading
from collections import Counter

import pytest

import workflows
from helpdesk_app.upstreams import trace
from helpdesk_app.upstreams.gather import ReadPool
from sandbox import server
from tests.conftest import BASE
from tests.sandbox.sandbox_support import clients_for, start

BARRIER_TIMEOUT_S = 10  # only ever waited out when the reads are not sent together
DIAGNOSE_2X2 = {"subscriptions": ["A-S00000001", "A-S00000002"], "namespaces": ["acme", "beta"],
                "ticket": 1}


@pytest.fixture
def sandbox():
    with start(copy.deepcopy(BASE)) as started:
        yield started


@pytest.fixture
def pool():
    made = ReadPool()
    yield made
    made.shutdown()


class Arrivals:
    """Every request the sandbox answers; those matching `hold` wait at a barrier."""

    def __init__(self, monkeypatch, hold: set[tuple[str, str]]) -> None:
        self.seen: list[tuple[str, str, str]] = []
        self._hold, self._lock = hold, threading.Lock()
        self._barrier = threading.Barrier(len(hold) or 1, timeout=BARRIER_TIMEOUT_S)
        respond = server.Server.respond
        arrivals = self

        def recording(self_, request):
            arrivals.note(self_.api.upstream, request.method, request.path)
            return respond(self_, request)

        monkeypatch.setattr(server.Server, "respond", recording)

    def note(self, upstream: str, method: str, path: str) -> None:
        with self._lock:
            self.seen.append((upstream, method, path))
        if (upstream, path) in self._hold:
            self._barrier.wait()  # BrokenBarrierError: the sandbox answers 500, the read fails


def test_the_first_level_of_a_diagnosis_is_in_flight_at_once(monkeypatch, sandbox, pool):
    first_level = {("portal", "/api/v1/subscriptions/A-S00000001"), ("portal", "/api/v1/subscriptions/A-S00000002"),
                   ("gitlab", "/api/v4/namespaces/acme"), ("gitlab", "/api/v4/namespaces/beta")}
    arrivals = Arrivals(monkeypatch, first_level)
    ports = dataclasses.replace(clients_for(sandbox).ports, gather=pool)

    plan = workflows.plan("diagnose", ports, DIAGNOSE_2X2)

    assert plan.decision == "ready"
    assert {(u, p) for u, _, p in arrivals.seen[:4]} == first_level


def test_a_diagnosis_reads_each_fact_once(monkeypatch, sandbox, pool):
    arrivals = Arrivals(monkeypatch, set())
    ports = dataclasses.replace(clients_for(sandbox).ports, gather=pool)
    with trace.capture() as request_ids:  # the pool's threads report into the caller's trace
        workflows.plan("diagnose", ports, DIAGNOSE_2X2)
    counts = Counter(arrivals.seen)
    assert counts and max(counts.values()) == 1, counts
    # 2 subscriptions, 2 namespaces, their 2 customers and 2 lists of subscriptions, 2
    # linked users, 4 ownership questions; the requester (its ticket, user and identities)
    # and its GitLab users, for the subscription linked elsewhere.
    assert len(counts) == 14 + 4
    assert len(request_ids) == len(arrivals.seen)


def test_a_run_reads_no_snapshot(monkeypatch, sandbox, pool):
    arrivals = Arrivals(monkeypatch, set())
    ports = dataclasses.replace(clients_for(sandbox).ports, gather=pool)
    outcome = workflows.execute("associate", ports, {"subscription": "A-S00000001", "namespace": "acme"},
                                confirmation=workflows.Confirmation(decision=workflows.Decision.READY),
                                idempotency_key="run-1:apply")
    assert outcome.verified and outcome.before["namespace_plan"] == "free"
    change = arrivals.seen.index(("portal", "PUT", "/api/v1/subscriptions/A-S00000001/namespace"))
    before, after = Counter(arrivals.seen[:change]), Counter(arrivals.seen[change + 1:])
    assert max(before.values()) == 1 and len(before) == 6  # the plan's reads, each once
    assert sorted(p for _, _, p in after) == ["/api/v1/subscriptions/A-S00000001", "/api/v4/namespaces/500"]
