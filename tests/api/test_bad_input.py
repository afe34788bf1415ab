"""Issue 16, item 6: every bad input is a 4xx with a JSON error, never a 500.

Over the same app and Zendesk edge as test_api_v1.py.
"""
from __future__ import annotations

import io

import pytest

from tests.api.test_api_v1 import ADMIN, ASSOCIATE, READY, app, as_agent, client, desk, key  # noqa: F401

SUPERSCRIPT_TWO = "\u00b2"  # str.isdigit() says yes, int() says no


@pytest.mark.parametrize("path, body", [
    ("/api/v1/plans", {**ASSOCIATE, "ticket_id": SUPERSCRIPT_TWO}),
    ("/api/v1/plans", {**ASSOCIATE, "inputs": {"subscription": "A-S00000001", "namespace": SUPERSCRIPT_TWO}}),
    ("/api/v1/plans", {"workflow": "diagnose", "ticket_id": 1, "inputs": {"customer": SUPERSCRIPT_TWO}}),
    ("/api/v1/runs", {**READY, "ticket_id": "1" + SUPERSCRIPT_TWO}),
    ("/api/v1/escalations", {"ticket_id": SUPERSCRIPT_TWO, "summary": "help"}),
])
def test_non_ascii_digits_in_ids_are_400(client, app, path, body):
    response = client.post(path, json=body, headers=as_agent(app, ADMIN, **key()))
    assert response.status_code == 400, response.get_json()
    assert response.get_json()["error"]["code"] == "bad_input"


def test_non_ascii_digits_in_the_audit_query_are_400(client, app):
    response = client.get(f"/api/v1/audit?ticket_id={SUPERSCRIPT_TWO}", headers=as_agent(app, ADMIN))
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "bad_input"


def test_json_nested_deeper_than_64_levels_is_400(client, app):
    deep = '{"workflow": "diagnose", "ticket_id": 1, "inputs": ' + "[" * 1000 + "]" * 1000 + "}"
    response = client.post("/api/v1/plans", data=deep, content_type="application/json",
                           headers=as_agent(app, ADMIN))
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "bad_input"


def test_a_405_keeps_its_allow_header(client):
    response = client.get("/api/v1/plans")
    assert response.status_code == 405 and response.get_json()["error"]["code"] == "method_not_allowed"
    assert "POST" in response.headers["Allow"]


@pytest.mark.parametrize("chunked", [True, False])
def test_a_body_over_the_limit_is_413_before_authentication(client, app, chunked):
    big = b'{"pad": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    if chunked:  # no Content-Length: gunicorn de-chunks and marks the stream terminated
        response = client.post("/api/v1/plans", input_stream=io.BytesIO(big),
                               headers={"Transfer-Encoding": "chunked", "Content-Type": "application/json"},
                               environ_overrides={"wsgi.input_terminated": True})
    else:
        response = client.post("/api/v1/plans", data=big, content_type="application/json")
    assert response.status_code == 413, response.get_json()
    assert response.get_json()["error"]["code"] == "request_entity_too_large"
