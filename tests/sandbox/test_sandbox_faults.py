"""Fault injection (sandbox/faults.py), in process and over HTTP, against the
service's real clients; and the sandbox's own endpoints (`/_sandbox/state`, `reset`)."""
from __future__ import annotations

import time

import pytest
import requests

from tests.sandbox.sandbox_support import clients_for, start
from workflows.errors import UpstreamError

LINK = "^/api/v1/subscriptions/A-S00000001/namespace$"


def test_a_portal_500_twice_is_retried_and_changes_the_portal_once(clients, sandbox):
    sandbox.add_fault({"upstream": "portal", "method": "PUT", "path": LINK, "status": 500, "times": 2})
    linked = clients.portal.link_subscription("A-S00000001", 500, force=False, idempotency_key="run-1")
    assert linked.namespace_id == 500
    counters = sandbox.counters()
    assert counters["portal_mutations_per_key"] == {"run-1": 3}  # two failed, one answered
    assert counters["portal_changes"] == 1
    (fault,) = sandbox.state.snapshot()["faults"]
    assert fault["hits"] == 2


def test_an_always_failing_portal_exhausts_the_retries(clients, sandbox):
    sandbox.add_fault({"upstream": "portal", "method": "PUT", "status": 503, "times": None})
    with pytest.raises(UpstreamError) as failed:
        clients.portal.link_subscription("A-S00000001", 500, force=False, idempotency_key="k")
    error = failed.value
    assert (error.status, error.code, error.transient) == (503, "service_unavailable", True)
    assert error.request_id  # faults carry X-Request-Id like every portal answer
    assert sandbox.counters()["portal_mutations"] == clients.settings.upstream_max_attempts
    assert sandbox.counters()["portal_changes"] == 0
    assert clients.portal.subscription("A-S00000001").namespace_id is None


def test_a_fault_body_is_sent_as_given(clients, sandbox):
    body = {"error": {"code": "maintenance", "message": "Back at noon."}}
    sandbox.add_fault({"upstream": "portal", "method": "GET", "status": 502, "body": body, "times": 4})
    with pytest.raises(UpstreamError) as failed:
        clients.portal.customer(1)
    assert failed.value.code == "maintenance" and "Back at noon." in failed.value.message


def test_a_429_says_when_to_come_back(clients, sandbox):
    sandbox.add_fault({"upstream": "gitlab", "path": "/namespaces/", "retry_after": 7, "times": None})
    answer = requests.get(f"{sandbox.gitlab_url}/api/v4/namespaces/500",
                          headers={"PRIVATE-TOKEN": sandbox.credentials["GITLAB_TOKEN"]}, timeout=5)
    assert answer.status_code == 429 and answer.headers["Retry-After"] == "7"
    web = clients_for(sandbox, UPSTREAM_MAX_ATTEMPTS="1").gitlab
    with pytest.raises(UpstreamError) as limited:
        web.namespace(500)
    assert (limited.value.status, limited.value.retry_after, limited.value.transient) == (429, 7.0, True)


def test_a_zendesk_429_is_waited_out_by_the_retry_policy(clients, sandbox):
    sandbox.add_fault({"upstream": "zendesk", "method": "GET", "retry_after": 0, "times": 1})
    assert clients.zendesk.requester(1).email == "owner@acme.test"


def test_a_delay_makes_a_slow_answer(clients, sandbox):
    sandbox.add_fault({"upstream": "zendesk", "path": r"^/api/v2/tickets/1\.json$", "delay": 0.3})
    started = time.monotonic()
    assert clients.zendesk.requester(1) is not None
    assert time.monotonic() - started >= 0.3
    slow = clients_for(sandbox, UPSTREAM_TIMEOUT_S="0.1", UPSTREAM_MAX_ATTEMPTS="1")
    sandbox.add_fault({"upstream": "portal", "delay": 0.5})
    with pytest.raises(UpstreamError) as timed_out:
        slow.portal.subscription("A-S00000001")
    assert timed_out.value.transient and "Timeout" in timed_out.value.message


def test_a_failed_mutation_is_not_remembered_for_its_key(clients, sandbox):
    sandbox.add_fault({"upstream": "portal", "method": "DELETE", "status": 500})
    with pytest.raises(UpstreamError):
        clients_for(sandbox, UPSTREAM_MAX_ATTEMPTS="1").portal.unlink_customer(1, idempotency_key="k")
    assert clients.portal.unlink_customer(1, idempotency_key="k").gitlab_user_id is None


def test_faults_over_http_on_each_server(sandbox, clients):
    gitlab_faults = f"{sandbox.gitlab_url}/_sandbox/faults"
    added = requests.post(gitlab_faults, json=[{"path": "/users/", "status": 500, "times": 4}], timeout=5)
    assert added.status_code == 201 and added.json()["faults"][0]["upstream"] == "gitlab"
    with pytest.raises(UpstreamError) as failed:
        clients.gitlab.user(100)
    assert failed.value.status == 500
    listed = requests.get(f"{sandbox.portal_url}/_sandbox/faults", timeout=5).json()["faults"]
    assert [(f["upstream"], f["hits"]) for f in listed] == [("gitlab", 4)]
    assert requests.delete(gitlab_faults, timeout=5).json() == {"faults": []}
    assert clients.gitlab.user(100).username == "ada"


@pytest.mark.parametrize("rule, message", [
    ({"status": 500, "times": 0}, "faults[0].times: must be a positive integer"),
    ({"path": "(", "status": 500}, "faults[0].path: not a regular expression"),
    ({"upstream": "jira", "status": 500}, "faults[0].upstream: must be one of portal, gitlab, zendesk"),
    ({"delay": 500}, "faults[0].delay: must be seconds between 0 and 120"),
    ({"retry_after": 2, "body": {}}, "faults[0].body: only a status fault has a body"),
])
def test_a_bad_rule_over_http_is_a_400_naming_the_key(sandbox, rule, message):
    answer = requests.post(f"{sandbox.portal_url}/_sandbox/faults", json={"faults": [rule]}, timeout=5)
    assert answer.status_code == 400 and answer.json()["error"]["message"].startswith(message)
    with pytest.raises(ValueError, match="^fault"):
        sandbox.add_fault(rule)


def test_faults_from_the_scenario_apply_from_the_start(scenario):
    scenario["faults"] = [{"upstream": "portal", "path": "^/api/v1/customers/1$", "status": 404,
                           "body": {"error": {"code": "customer_not_found", "message": "gone"}}}]
    with start(scenario) as sandbox:
        portal = clients_for(sandbox).portal
        assert portal.customer(1) is None  # the fault answered, once
        assert portal.customer(1) is not None


def test_state_and_reset_over_http(sandbox, clients):
    clients.portal.link_subscription("A-S00000001", 500, force=False, idempotency_key="k")
    clients.zendesk.add_internal_note(1, "A note", marker="[lnr:m]")
    sandbox.add_fault({"upstream": "zendesk", "status": 500})
    state = requests.get(f"{sandbox.zendesk_url}/_sandbox/state", timeout=5).json()
    assert state["gitlab"]["namespaces"][0]["plan"] == "premium"
    assert state["counters"]["notes_per_ticket"] == {"1": 1, "2": 0, "3": 0}
    assert state["portal_requests"][0]["idempotency_key"] == "k"
    assert len(state["faults"]) == 1 and len(state["zendesk"]["tickets"][0]["comments"]) == 2
    assert requests.post(f"{sandbox.gitlab_url}/_sandbox/reset", timeout=5).json() == {"status": "reset"}
    assert clients.gitlab.namespace(500).plan == "free"
    assert sandbox.counters()["portal_mutations"] == 0 and sandbox.notes(1) == []
    assert sandbox.state.snapshot()["faults"] == []
    assert requests.get(f"{sandbox.portal_url}/_sandbox/nothing", timeout=5).status_code == 404


def test_the_sandbox_binds_loopback_only():
    from sandbox.server import Server
    with pytest.raises(ValueError, match="loopback only"):
        Server(api=None, state=None, host="0.0.0.0")
