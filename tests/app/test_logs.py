"""Logs are JSON lines with the request id; the request id comes in (or is made), goes back,
goes on to every upstream call, into jobs and into the audit trail; no customer text is
logged at any level (helpdesk_app/logs.py)."""
from __future__ import annotations

import io
import json
import logging
import uuid

import pytest
from sqlalchemy import select

from helpdesk_app import logs
from helpdesk_app.storage.models import AuditRecord
from helpdesk_app.web import services_of
from tests.api.test_api_v1 import READY, TICKET, app, as_agent, client, desk, key  # noqa: F401,F811
from tests.upstreams.test_gitlab_adapter import API as GITLAB_API
from tests.upstreams.test_gitlab_adapter import URL as GITLAB_URL
from tests.upstreams.test_gitlab_adapter import fixture as gitlab_fixture
from tests.upstreams.test_portal_client import BASE as PORTAL_URL
from tests.upstreams.test_portal_client import add as portal_answer


@pytest.fixture
def log_lines():
    """Every JSON line the service's handler writes while the test runs, parsed."""
    stream = io.StringIO()
    handler = logs.configure("DEBUG", stream)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        logging.getLogger().removeHandler(handler)
        logging.getLogger().setLevel(logging.WARNING)


def test_a_log_line_is_json_with_its_fields_and_the_request_id(log_lines):
    with logs.request_id("req-1"):
        logging.getLogger("helpdesk_app.engine.runs").info("run.done", extra={"run_id": 7, "state": "ok"})
    (line,) = [entry for entry in log_lines() if entry["event"] == "run.done"]
    assert line["request_id"] == "req-1" and line["run_id"] == 7 and line["state"] == "ok"
    assert line["level"] == "INFO" and line["logger"] == "helpdesk_app.engine.runs" and line["at"]


@pytest.mark.parametrize("incoming, kept", [("req-abc.123", True), ("two words", False),
                                            ("x" * 200, False), ("", False)])
def test_an_incoming_request_id_is_kept_only_when_it_is_a_plain_token(incoming, kept):
    value = logs.accepted(incoming)
    assert (value == incoming) is kept
    assert value and len(value) <= 128


def test_the_request_id_goes_back_on_to_zendesk_into_the_job_and_the_audit(client, app, desk, log_lines):
    request_id = "journey-" + uuid.uuid4().hex[:8]
    response = client.post("/api/v1/runs", json=READY,
                           headers=as_agent(app, **key(), **{"X-Request-Id": request_id}))
    assert response.status_code == 202 and response.get_json()["state"] == "succeeded"
    assert response.headers["X-Request-Id"] == request_id
    # The agent lookup (in the request) and the post-back (in the job) went to Zendesk.
    zendesk_calls = [c.request for c in desk.http.calls if "zendesk" in c.request.url]
    assert zendesk_calls and all(r.headers["X-Request-Id"] == request_id for r in zendesk_calls)
    with services_of(app).db() as session:
        kinds = {r.kind: r.request_id for r in session.scalars(select(AuditRecord))}
    assert kinds.get("run") == request_id
    jobs = [line for line in log_lines() if line["event"] == "job.start"]
    assert jobs and all(line["request_id"] == request_id for line in jobs)


def test_a_request_without_one_gets_a_new_id_each_time(client, app):
    first = client.get("/healthz").headers["X-Request-Id"]
    second = client.get("/healthz").headers["X-Request-Id"]
    assert first and second and first != second


def test_the_portal_and_gitlab_clients_send_the_request_id(responses_mock):
    from helpdesk_app.upstreams.gitlab import GitLabAdapter
    from helpdesk_app.upstreams.portal import PortalClient

    portal_answer(responses_mock, "GET", "/subscriptions/A-S00012345", "get_subscription__seats")
    responses_mock.get(f"{GITLAB_API}/namespaces/acme", json=gitlab_fixture("get_namespace__group"))
    with logs.request_id("req-out-1"):
        PortalClient(PORTAL_URL, "t").subscription("A-S00012345")
        GitLabAdapter(GITLAB_URL, "t", escalation_project="support/escalations").namespace("acme")
    assert [c.request.headers.get("X-Request-Id") for c in responses_mock.calls] == ["req-out-1"] * 2


@pytest.fixture
def responses_mock():
    import responses

    with responses.RequestsMock() as rsps:
        yield rsps


def test_no_ticket_text_reaches_the_log_even_at_debug(client, app, desk, log_lines):
    secret = "Customer-private-phrase-" + uuid.uuid4().hex
    desk.zendesk.add_ticket(TICKET, "Our subscription", secret)
    desk.zendesk.add_comment(TICKET, "And again: " + secret)
    response = client.post("/api/v1/runs", json=READY, headers=as_agent(app, **key()))
    assert response.status_code == 202
    assert desk.http.calls  # Zendesk was read and written
    assert all(secret not in json.dumps(line) for line in log_lines())


@pytest.mark.parametrize("library", ["zenpy", "urllib3", "gitlab", "requests"])
def test_client_libraries_that_log_urls_and_bodies_stay_quiet_at_debug(log_lines, library):
    # zenpy logs every request's kwargs (a note's body) at DEBUG; urllib3 logs URLs, which
    # carry e-mail addresses in search queries.
    assert not logging.getLogger(library).isEnabledFor(logging.INFO)
