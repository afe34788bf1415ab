"""GET /api/v1/runs/<id>?wait=N&seen=V: the sidebar hears of a run when it moves.

No timing is asserted: a waiter that is not woken answers after its wait with the run it
already had, and the version then fails the test.
"""
from __future__ import annotations

import threading

import pytest

from helpdesk_app.engine import run_watch, runs
from helpdesk_app.web import services_of
from tests.api.test_api_v1 import READY, app, as_agent, client, desk, key  # noqa: F401 - fixtures

WAIT_S = 20  # only waited out when the waiter is not woken


def started_run(client, app) -> dict:
    response = client.post("/api/v1/runs", json=READY, headers=as_agent(app, **key()))
    assert response.status_code == 202
    return response.get_json()


def wait_url(run: dict, seen: str, wait=WAIT_S) -> str:
    return f"/api/v1/runs/{run['id']}?wait={wait}&seen={seen}"


def test_a_run_carries_its_version_and_an_old_one_answers_at_once(client, app):
    run = started_run(client, app)
    assert run["version"] == f"{run['state']}.{len(run['events'])}.1"  # reported
    answer = client.get(wait_url(run, "queued.1.0"), headers=as_agent(app))
    assert answer.status_code == 200 and answer.get_json()["version"] == run["version"]


def test_a_waiter_is_answered_when_the_run_moves(client, app, monkeypatch):
    run = started_run(client, app)
    waiting, answers = threading.Event(), []
    wait = run_watch.wait_for_change

    def noted(*args, **kwargs):
        waiting.set()
        return wait(*args, **kwargs)

    monkeypatch.setattr(run_watch, "wait_for_change", noted)
    headers = as_agent(app)
    waiter = threading.Thread(target=lambda: answers.append(
        app.test_client().get(wait_url(run, run["version"]), headers=headers)))
    waiter.start()
    assert waiting.wait(WAIT_S)
    runs._add_event(services_of(app).db, run["id"], "escalated", {"issue_iid": 7}, state="escalated")
    waiter.join(WAIT_S + 5)

    (answer,) = answers
    moved = answer.get_json()
    assert moved["state"] == "escalated" and moved["version"] != run["version"]


def test_with_every_waiter_slot_taken_the_answer_comes_at_once(client, app, monkeypatch):
    run = started_run(client, app)
    monkeypatch.setattr(run_watch, "_slots", threading.Semaphore(0))
    answer = client.get(wait_url(run, run["version"], wait=25), headers=as_agent(app))
    assert answer.status_code == 200 and answer.get_json()["version"] == run["version"]


@pytest.mark.parametrize("wait", ["-1", "26", "nan", "soon", "1e9"])
def test_a_wait_outside_its_range_is_bad_input(client, app, wait):
    run = started_run(client, app)
    answer = client.get(wait_url(run, run["version"], wait=wait), headers=as_agent(app))
    assert answer.status_code == 400 and answer.get_json()["error"]["field"] == "wait"


def test_the_waiter_reads_the_stored_version(client, app):
    run = started_run(client, app)
    assert runs.stored_version(services_of(app).db, run["id"]) == run["version"]
    assert runs.stored_version(services_of(app).db, 10**9) is None
