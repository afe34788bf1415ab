"""SIGKILL an RQ worker in the middle of a run; a new worker completes it, one portal change.

Real processes all the way: `python -m helpdesk_app.worker` (twice), the real PostgreSQL or
SQLite database and Redis, and the upstreams served over loopback HTTP
(tests/upstream_server.py) to the workers' real clients.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from helpdesk_app import create_app
from helpdesk_app.engine import runs
from helpdesk_app.settings import Settings
from helpdesk_app.web import services_of
from helpdesk_app.web.api.bodies import run_request
from tests.app.test_settings import UPSTREAM_ENV
from tests.durability.test_runs_durable import AGENT, READY
from tests.upstream_server import Upstreams

ROOT = Path(__file__).resolve().parents[2]
LEASE_S = "3"


@pytest.fixture
def scenario(scenario):
    # The workers are other processes, which read the real clock (no fixture pins it there):
    # the subscription's term holds on any day this test may run.
    (first,) = [s for s in scenario["portal"]["subscriptions"] if s["name"] == "A-S00000001"]
    first.update(start_date="2000-01-01", end_date="9999-12-31")
    return scenario


@pytest.fixture
def upstreams(world):
    servers = Upstreams(world, agents={AGENT.id: ("agent", (("License and Renewals", 361),))})
    yield servers
    servers.close()


def worker_env(upstreams, migrated_url, redis_url) -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if not k.startswith(("PORTAL_", "GITLAB_", "ZENDESK_"))},
            **UPSTREAM_ENV, **upstreams.env(), "DATABASE_URL": migrated_url, "REDIS_URL": redis_url,
            "JOB_EXECUTOR": "rq", "JOB_LEASE_S": LEASE_S, "SWEEP_EVERY_S": "0.5",
            "LOG_LEVEL": "WARNING"}


def start_worker(env) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "helpdesk_app.worker"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def test_a_run_survives_its_worker_being_killed(migrated_url, redis_url, world, upstreams):
    reached, release = threading.Event(), threading.Event()

    def change_then_hang(request, served):
        answer = served(request)  # the portal makes the change...
        if request.method == "PUT" and not reached.is_set():
            reached.set()
            release.wait(30)  # ...and the worker is killed before it hears back
        return answer

    upstreams.portal_hook = change_then_hang
    env = worker_env(upstreams, migrated_url, redis_url)
    app = create_app(Settings.from_env({k: v for k, v in env.items() if k.isupper() and not k.startswith("ZENPY")}))
    services = services_of(app)
    run, _ = runs.create_run(services.db, run_request(READY), AGENT, str(uuid.uuid4()))
    assert services.jobs.dispatch("run", run.id)

    first = start_worker(env)
    second = None
    try:
        assert reached.wait(60), first.stderr.read1().decode() if first.poll() is not None else "no PUT"
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        release.set()
        assert runs.load_run(services.db, run.id).state == "running"  # leased by the dead worker
        second = start_worker(env)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            row = runs.load_run(services.db, run.id)
            if row.reported_at is not None:
                break
            time.sleep(0.25)
        assert (row.state, row.attempts) == ("succeeded", 2)
        assert [m[1] for m in world.mutations()] == ["link_subscription"]  # one portal change
        # The taken-over run records the change the killed worker made (provisioning-rules.md,
        # "Executing a run"): changed, with the first before-state, and a note saying so.
        assert row.outcome["changed"] is True and row.outcome["before"]["namespace_plan"] == "free"
        (note,) = upstreams.zendesk.notes(READY["ticket_id"])
        assert "- Plan of acme: Free → Premium" in note
    finally:
        release.set()
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.terminate()
                process.wait(10)
        services.db.kw["bind"].dispose()
