"""ZendeskAdapter against `responses`: what goes over the wire, and how failures come back.

Fixtures in tests/fixtures/zendesk/ are shaped as Zendesk's API reference shows them (ids,
names and emails changed so the scenarios line up). JSON holds no comments, so the pages are
cited here.
"""
from __future__ import annotations

import base64
import http.server
import json
import logging
import random
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses

from helpdesk_app.upstreams import trace
from helpdesk_app.upstreams.retry import RetryPolicy
from helpdesk_app.upstreams.zendesk import ZendeskAdapter
from workflows.errors import UpstreamError
from workflows.model import Requester

REF = "https://developer.zendesk.com/api-reference/ticketing"
FIXTURE_SOURCES = {
    "show_ticket.json": f"{REF}/tickets/tickets/#show-ticket",
    "list_ticket_comments.json": f"{REF}/tickets/ticket_comments/#list-comments",
    "show_user__end_user.json": f"{REF}/users/users/#show-user (user object as in #json-format)",
    "show_user__agent.json": f"{REF}/users/users/#show-user (user object as in #show-self)",
    "list_user_identities.json": f"{REF}/users/user_identities/#list-identities",
    "list_user_groups.json": f"{REF}/groups/groups/#list-groups (GET /api/v2/users/{{user_id}}/groups, group object as in #json-format)",
    "add_tags.json": f"{REF}/ticket-management/tags/#add-tags",
    "update_ticket.json": f"{REF}/tickets/tickets/#update-ticket",
    "error__record_not_found.json": "https://developer.zendesk.com/api-reference/introduction/requests/ (error envelope)",
}
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "zendesk"

SUBDOMAIN, EMAIL, TOKEN = "acme", "bot@acme.example", "s3cr3t-zendesk-token-value"
BASE = f"https://{SUBDOMAIN}.zendesk.com/api/v2"
TICKET, REQUESTER, AGENT = 35436, 20978392, 35436
MARKER = "[lnr:note:run-7:notify]"
SERVICE_USER = 7000  # the user the API token acts as: the author of the service's notes


def load(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def comments_with(*bodies: str, public: bool = False, author_id: int = SERVICE_USER) -> dict:
    payload = load("list_ticket_comments.json")
    template = payload["comments"][0]
    for n, body in enumerate(bodies, start=1):
        payload["comments"].append(dict(template, id=template["id"] + n, body=body, public=public,
                                        author_id=author_id))
    return payload


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def adapter(sleeps: list[float]) -> ZendeskAdapter:
    policy = RetryPolicy(max_attempts=3, sleep=sleeps.append, rng=random.Random(7))
    return ZendeskAdapter(SUBDOMAIN, EMAIL, TOKEN, timeout_s=4.5, retry=policy,
                          service_user_id=SERVICE_USER)


@pytest.fixture
def api():
    with responses.RequestsMock() as mock:
        yield mock


@pytest.fixture(autouse=True)
def zenpy_must_not_sleep(monkeypatch):
    """zenpy's 429 loop calls `zenpy.lib.api.sleep`; reaching it at all is a failure."""

    def refuse(seconds):
        raise AssertionError(f"zenpy tried to sleep {seconds}s")

    monkeypatch.setattr("zenpy.lib.api.sleep", refuse)


def sent(call) -> dict:
    return json.loads(call.request.body)


def path(call) -> str:
    return urlsplit(call.request.url).path


def basic_auth() -> str:
    return "Basic " + base64.b64encode(f"{EMAIL}/token:{TOKEN}".encode()).decode()


# -- reads -----------------------------------------------------------------------------------


def test_ticket_reads_ticket_and_comments(adapter, api):
    api.get(f"{BASE}/tickets/{TICKET}.json", json=load("show_ticket.json"))
    api.get(f"{BASE}/tickets/{TICKET}/comments.json", json=comments_with("note " + MARKER))

    ticket = adapter.ticket(TICKET)

    assert ticket["subject"] == "Link my subscription to my group"
    assert ticket["status"] == "open"
    assert ticket["tags"] == ["enterprise", "other_tag"]
    assert ticket["requester_id"] == REQUESTER
    assert ticket["description"].startswith("Please link")
    assert ticket["comments"] == [
        {"id": 1274, "author_id": REQUESTER, "body": load("list_ticket_comments.json")["comments"][0]["body"],
         "public": True, "created_at": "2009-07-20T22:55:29Z"},
        {"id": 1275, "author_id": SERVICE_USER, "body": "note " + MARKER,
         "public": False, "created_at": "2009-07-20T22:55:29Z"},
    ]
    assert [c.request.method for c in api.calls] == ["GET", "GET"]
    assert [path(c) for c in api.calls] == [
        f"/api/v2/tickets/{TICKET}.json", f"/api/v2/tickets/{TICKET}/comments.json",
    ]
    for call in api.calls:
        assert call.request.headers["Authorization"] == basic_auth()
        assert call.request.req_kwargs["timeout"] == 4.5


def test_ticket_not_found_is_none(adapter, api, sleeps):
    api.get(f"{BASE}/tickets/404.json", status=404, json=load("error__record_not_found.json"))

    assert adapter.ticket(404) is None
    assert len(api.calls) == 1 and sleeps == []


def test_requester_with_verified_email_identity(adapter, api):
    api.get(f"{BASE}/tickets/{TICKET}.json", json=load("show_ticket.json"))
    api.get(f"{BASE}/users/{REQUESTER}.json", json=load("show_user__end_user.json"))
    api.get(f"{BASE}/users/{REQUESTER}/identities.json", json=load("list_user_identities.json"))

    requester = adapter.requester(TICKET)

    assert requester == Requester(
        ticket_id=TICKET, user_id=REQUESTER, email="jane.customer@example.com",
        verified=True, name="Jane Customer",
    )
    assert path(api.calls[2]) == f"/api/v2/users/{REQUESTER}/identities.json"


@pytest.mark.parametrize(
    "change",
    [
        {"verified": False},  # the email identity exists but was never verified
        {"value": "someone.else@example.com"},  # only another address is verified
        {"type": "google"},  # a verified identity that is not an email identity
    ],
)
def test_requester_unverified_when_no_verified_email_identity(adapter, api, change):
    identities = load("list_user_identities.json")
    identities["identities"][0].update(change)
    api.get(f"{BASE}/tickets/{TICKET}.json", json=load("show_ticket.json"))
    api.get(f"{BASE}/users/{REQUESTER}.json", json=load("show_user__end_user.json"))
    api.get(f"{BASE}/users/{REQUESTER}/identities.json", json=identities)

    requester = adapter.requester(TICKET)

    assert requester.email == "jane.customer@example.com"
    assert requester.verified is False


def test_requester_of_missing_ticket_is_none(adapter, api):
    api.get(f"{BASE}/tickets/404.json", status=404, json=load("error__record_not_found.json"))

    assert adapter.requester(404) is None


def test_requester_deleted_user_is_unverified(adapter, api):
    api.get(f"{BASE}/tickets/{TICKET}.json", json=load("show_ticket.json"))
    api.get(f"{BASE}/users/{REQUESTER}.json", status=404, json=load("error__record_not_found.json"))

    assert adapter.requester(TICKET) == Requester(
        ticket_id=TICKET, user_id=REQUESTER, email=None, verified=False
    )


def test_user_with_groups(adapter, api):
    api.get(f"{BASE}/users/{AGENT}.json", json=load("show_user__agent.json"))
    api.get(f"{BASE}/users/{AGENT}/groups.json", json=load("list_user_groups.json"))

    user = adapter.user(AGENT)

    assert user == {
        "id": AGENT, "email": "johnny@company.com", "name": "Johnny Agent", "role": "agent",
        "groups": [{"id": 361, "name": "License and Renewals"},
                   {"id": 3432, "name": "First Level Support"}],
        "group_ids": [361, 3432], "ticket_restriction": "assigned", "organization_id": 57542,
    }
    # Exactly these two reads, nothing else (the sidebar makes them for every agent).
    assert [(c.request.method, path(c)) for c in api.calls] == [
        ("GET", f"/api/v2/users/{AGENT}.json"), ("GET", f"/api/v2/users/{AGENT}/groups.json"),
    ]
    for call in api.calls:
        assert call.request.headers["Authorization"] == basic_auth()


def test_user_groups_follow_the_cursor(adapter, api):
    # zenpy asks for cursor pagination (page[size]=100); a second page comes by `links.next`.
    # https://developer.zendesk.com/api-reference/introduction/pagination/
    first, second = load("list_user_groups.json"), load("list_user_groups.json")
    first["groups"], second["groups"] = first["groups"][:1], second["groups"][1:]
    first["meta"]["has_more"] = True
    first["links"]["next"] = f"{BASE}/users/{AGENT}/groups.json?page%5Bafter%5D=xxx&page%5Bsize%5D=100"
    api.get(f"{BASE}/users/{AGENT}.json", json=load("show_user__agent.json"))
    api.get(f"{BASE}/users/{AGENT}/groups.json", json=second,
            match=[responses.matchers.query_param_matcher({"page[after]": "xxx"}, strict_match=False)])
    api.get(f"{BASE}/users/{AGENT}/groups.json", json=first)

    assert adapter.user(AGENT)["group_ids"] == [361, 3432]
    assert parse_qs(urlsplit(api.calls[1].request.url).query)["page[size]"] == ["100"]
    assert parse_qs(urlsplit(api.calls[2].request.url).query)["page[after]"] == ["xxx"]


def test_user_ignores_a_deleted_group(adapter, api):
    groups = load("list_user_groups.json")
    groups["groups"][0]["deleted"] = True
    api.get(f"{BASE}/users/{AGENT}.json", json=load("show_user__agent.json"))
    api.get(f"{BASE}/users/{AGENT}/groups.json", json=groups)

    user = adapter.user(AGENT)

    assert user["groups"] == [{"id": 3432, "name": "First Level Support"}]
    assert user["group_ids"] == [3432]


def test_user_without_groups(adapter, api):
    api.get(f"{BASE}/users/{REQUESTER}.json", json=load("show_user__end_user.json"))
    api.get(f"{BASE}/users/{REQUESTER}/groups.json", json=dict(
        load("list_user_groups.json"), groups=[],
        meta={"has_more": False, "after_cursor": None, "before_cursor": None},
        links={"next": None, "prev": None}))

    user = adapter.user(REQUESTER)

    assert (user["role"], user["groups"], user["group_ids"]) == ("end-user", [], [])


def test_user_not_found_is_none(adapter, api):
    api.get(f"{BASE}/users/9.json", status=404, json=load("error__record_not_found.json"))

    assert adapter.user(9) is None


# -- notes -----------------------------------------------------------------------------------


def test_internal_note_is_a_private_comment(adapter, api):
    api.get(f"{BASE}/tickets/{TICKET}/comments.json", json=load("list_ticket_comments.json"))
    api.put(f"{BASE}/tickets/{TICKET}.json", json=load("update_ticket.json"))

    adapter.add_internal_note(TICKET, f"Linked.\n\n{MARKER}", marker=MARKER)

    put = api.calls[1]
    assert put.request.method == "PUT" and path(put) == f"/api/v2/tickets/{TICKET}.json"
    assert put.request.headers["Authorization"] == basic_auth()
    assert sent(put) == {
        "ticket": {"id": TICKET, "comment": {"body": f"Linked.\n\n{MARKER}", "public": False}}
    }


def test_internal_note_gets_its_marker_when_the_body_lacks_it(adapter, api):
    api.get(f"{BASE}/tickets/{TICKET}/comments.json", json=load("list_ticket_comments.json"))
    api.put(f"{BASE}/tickets/{TICKET}.json", json=load("update_ticket.json"))

    adapter.add_internal_note(TICKET, "Linked.", marker=MARKER)

    assert sent(api.calls[1])["ticket"]["comment"]["body"] == f"Linked.\n\n{MARKER}"


def test_internal_note_already_present_is_not_posted_again(adapter, api):
    api.get(f"{BASE}/tickets/{TICKET}/comments.json", json=comments_with(f"Linked.\n\n{MARKER}"))

    adapter.add_internal_note(TICKET, f"Linked.\n\n{MARKER}", marker=MARKER)

    assert [c.request.method for c in api.calls] == ["GET"]


@pytest.mark.parametrize("public, author_id", [(True, SERVICE_USER), (False, REQUESTER), (True, REQUESTER)])
def test_a_marker_counts_only_in_a_private_comment_by_the_service_user(adapter, api, public, author_id):
    # Issue 16, item 3: a customer who writes the marker (or a public comment holding it)
    # must not make the service skip its note.
    api.get(f"{BASE}/tickets/{TICKET}/comments.json",
            json=comments_with(f"Linked.\n\n{MARKER}", public=public, author_id=author_id))
    api.put(f"{BASE}/tickets/{TICKET}.json", json=load("update_ticket.json"))

    adapter.add_internal_note(TICKET, f"Linked.\n\n{MARKER}", marker=MARKER)

    assert [c.request.method for c in api.calls] == ["GET", "PUT"]


def test_the_service_user_is_read_once_from_users_me_when_not_configured(api):
    # https://developer.zendesk.com/api-reference/ticketing/users/users/#show-the-currently-authenticated-user
    me = load("show_user__agent.json")
    me["user"]["id"] = SERVICE_USER
    api.get(f"{BASE}/users/me.json", json=me)
    api.get(f"{BASE}/tickets/{TICKET}/comments.json", json=comments_with(f"Linked.\n\n{MARKER}"))
    adapter = ZendeskAdapter(SUBDOMAIN, EMAIL, TOKEN, retry=RetryPolicy(max_attempts=1))

    adapter.add_internal_note(TICKET, f"Linked.\n\n{MARKER}", marker=MARKER)
    adapter.add_internal_note(TICKET, f"Linked.\n\n{MARKER}", marker=MARKER)

    assert [path(c) for c in api.calls] == [
        "/api/v2/users/me.json", f"/api/v2/tickets/{TICKET}/comments.json",
        f"/api/v2/tickets/{TICKET}/comments.json"]


def test_internal_note_retry_rechecks_and_finds_the_first_attempt(adapter, api, sleeps):
    # The PUT timed out at the gateway but Zendesk had stored the comment.
    api.get(f"{BASE}/tickets/{TICKET}/comments.json", json=load("list_ticket_comments.json"))
    api.put(f"{BASE}/tickets/{TICKET}.json", status=503)
    api.get(f"{BASE}/tickets/{TICKET}/comments.json", json=comments_with(f"Linked.\n\n{MARKER}"))

    adapter.add_internal_note(TICKET, f"Linked.\n\n{MARKER}", marker=MARKER)

    assert [c.request.method for c in api.calls] == ["GET", "PUT", "GET"]
    assert len(sleeps) == 1


def test_internal_note_retry_posts_again_when_the_marker_is_absent(adapter, api, sleeps):
    api.get(f"{BASE}/tickets/{TICKET}/comments.json", json=load("list_ticket_comments.json"))
    api.put(f"{BASE}/tickets/{TICKET}.json", status=503)
    api.put(f"{BASE}/tickets/{TICKET}.json", json=load("update_ticket.json"))

    adapter.add_internal_note(TICKET, f"Linked.\n\n{MARKER}", marker=MARKER)

    assert [c.request.method for c in api.calls] == ["GET", "PUT", "GET", "PUT"]
    assert sent(api.calls[1]) == sent(api.calls[3])


# -- tags, fields, status --------------------------------------------------------------------


def test_add_tags_puts_only_the_new_tags(adapter, api):
    api.put(f"{BASE}/tickets/{TICKET}/tags.json", json=load("add_tags.json"))

    adapter.add_tags(TICKET, ["lnr_associate"])

    (call,) = api.calls
    assert call.request.method == "PUT"  # PUT adds; POST would replace every tag
    assert path(call) == f"/api/v2/tickets/{TICKET}/tags.json"
    assert sent(call) == {"tags": ["lnr_associate"]}
    assert call.request.headers["Authorization"] == basic_auth()


def test_set_custom_field_sends_only_that_field(adapter, api):
    api.put(f"{BASE}/tickets/{TICKET}.json", json=load("update_ticket.json"))

    adapter.set_custom_field(TICKET, 27642, "associate_namespace")

    (call,) = api.calls
    assert call.request.method == "PUT"
    assert sent(call) == {"ticket": {"id": TICKET, "custom_fields": [{"id": 27642, "value": "associate_namespace"}]}}


def test_set_status_after_a_read_never_writes_the_read_ticket_back(adapter, api):
    api.get(f"{BASE}/tickets/{TICKET}.json", json=load("show_ticket.json"))
    api.get(f"{BASE}/tickets/{TICKET}/comments.json", json=load("list_ticket_comments.json"))
    api.put(f"{BASE}/tickets/{TICKET}.json", json=load("update_ticket.json"))

    adapter.ticket(TICKET)  # a copy that will be stale by the time of the update
    adapter.set_status(TICKET, "pending")

    put = api.calls[2]
    assert put.request.method == "PUT"
    # `id` names the record; the only field written is the status.
    assert sent(put) == {"ticket": {"id": TICKET, "status": "pending"}}


# -- failures --------------------------------------------------------------------------------


def test_429_goes_to_retry_policy_with_retry_after(adapter, api, sleeps):
    api.get(f"{BASE}/tickets/{TICKET}.json", status=429, headers={"Retry-After": "2"}, json={"error": "TooManyRequests"})
    api.get(f"{BASE}/tickets/{TICKET}.json", json=load("show_ticket.json"))
    api.get(f"{BASE}/tickets/{TICKET}/comments.json", json=load("list_ticket_comments.json"))

    started = time.monotonic()
    ticket = adapter.ticket(TICKET)

    assert time.monotonic() - started < 1.0  # nobody really slept; the policy's sleep is fake
    assert ticket["id"] == TICKET
    assert len(sleeps) == 1 and sleeps[0] >= 2


def test_429_when_retries_run_out_is_transient_with_retry_after(api):
    adapter = ZendeskAdapter(SUBDOMAIN, EMAIL, TOKEN, retry=RetryPolicy(max_attempts=1))
    api.put(
        f"{BASE}/tickets/{TICKET}.json",
        status=429,
        headers={"Retry-After": "2", "X-Request-Id": "req-429"},
        json={"error": "TooManyRequests", "description": "Rate limit exceeded"},
    )

    with pytest.raises(UpstreamError) as caught:
        adapter.set_status(TICKET, "pending")

    error = caught.value
    assert (error.upstream, error.status, error.transient, error.retry_after) == ("zendesk", 429, True, 2.0)
    assert error.request_id == "req-429"
    assert len(api.calls) == 1


def test_503_then_200_is_retried(adapter, api, sleeps):
    api.put(f"{BASE}/tickets/{TICKET}/tags.json", status=503)
    api.put(f"{BASE}/tickets/{TICKET}/tags.json", json=load("add_tags.json"))

    adapter.add_tags(TICKET, ["lnr_associate"])

    assert [c.request.method for c in api.calls] == ["PUT", "PUT"]
    assert len(sleeps) == 1


def test_client_error_is_not_retried_and_carries_zendesk_code(adapter, api, sleeps):
    api.put(
        f"{BASE}/tickets/{TICKET}.json",
        status=422,
        headers={"X-Zendesk-Request-Id": "zd-422"},
        json={"error": "RecordInvalid", "description": "Record validation errors", "details": {}},
    )

    with pytest.raises(UpstreamError) as caught:
        adapter.set_status(TICKET, "bogus")

    error = caught.value
    assert (error.status, error.code, error.transient, error.request_id) == (422, "RecordInvalid", False, "zd-422")
    assert error.message == f"Zendesk PUT /api/v2/tickets/{TICKET}.json answered 422: Record validation errors"
    assert sleeps == [] and len(api.calls) == 1


def test_connection_error_is_transient_and_retried(adapter, api, sleeps):
    api.get(f"{BASE}/users/{AGENT}.json", body=requests.ConnectionError("boom"))
    api.get(f"{BASE}/users/{AGENT}.json", json=load("show_user__agent.json"))
    api.get(f"{BASE}/users/{AGENT}/groups.json", json=load("list_user_groups.json"))

    assert adapter.user(AGENT)["group_ids"] == [361, 3432]
    assert len(sleeps) == 1


@pytest.mark.parametrize(
    "failure",
    [
        {"status": 401, "json": {"error": "Couldn't authenticate you"}},
        {"status": 500, "body": "<html>oops</html>"},
        {"status": 403, "json": {"error": {"title": "Forbidden", "message": "You do not have access"}}},
        {"body": requests.ConnectionError(f"https://{SUBDOMAIN}.zendesk.com refused")},
        {"body": requests.ReadTimeout("read timed out")},
    ],
)
def test_token_never_appears_in_errors_or_logs(api, caplog, failure):
    caplog.set_level(logging.DEBUG)
    adapter = ZendeskAdapter(SUBDOMAIN, EMAIL, TOKEN, retry=RetryPolicy(max_attempts=2, sleep=lambda s: None))
    api.get(f"{BASE}/tickets/{TICKET}.json", **failure)  # answers every attempt

    with pytest.raises(UpstreamError) as caught:
        adapter.ticket(TICKET)

    error = caught.value
    for text in (str(error), repr(error), json.dumps(error.to_dict()), caplog.text):
        assert TOKEN not in text
    assert error.__cause__ is None and error.__suppress_context__


def test_request_ids_are_traced(adapter, api):
    api.put(f"{BASE}/tickets/{TICKET}/tags.json", json=load("add_tags.json"), headers={"X-Request-Id": "abc-123"})

    with trace.capture() as ids:
        adapter.add_tags(TICKET, ["lnr_associate"])

    assert ids == ["zendesk:abc-123"]


# -- construction ----------------------------------------------------------------------------


def test_own_session_has_no_transport_retries():
    adapter = ZendeskAdapter(SUBDOMAIN, EMAIL, TOKEN)
    # zenpy mounts a urllib3 Retry(total=3) only on sessions it creates itself.
    assert adapter._session.get_adapter(BASE).max_retries.total == 0


def test_missing_token_is_refused_without_echoing_anything():
    with pytest.raises(ValueError, match="api_token is required"):
        ZendeskAdapter(SUBDOMAIN, EMAIL, "")


def test_scheme_and_domain_point_at_a_local_double(api):
    adapter = ZendeskAdapter("zendesk", EMAIL, TOKEN, domain="sandbox.test:8025", scheme="http")
    api.put("http://zendesk.sandbox.test:8025/api/v2/tickets/1/tags.json", json=load("add_tags.json"))

    adapter.add_tags(1, ["x"])

    assert api.calls[0].request.url == "http://zendesk.sandbox.test:8025/api/v2/tickets/1/tags.json"


def test_loopback_http_double_over_a_real_socket():
    """zenpy puts `<subdomain>.` before the domain; a bare loopback address fits by splitting."""
    payload = json.dumps(load("add_tags.json")).encode()
    seen: list[tuple[str, str, bytes]] = []

    class Double(http.server.BaseHTTPRequestHandler):
        def do_PUT(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            seen.append((self.path, self.headers["Authorization"], body))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Double)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        adapter = ZendeskAdapter("127.0.0", EMAIL, TOKEN, domain=f"1:{port}", scheme="http", timeout_s=2)
        adapter.add_tags(7, ["lnr_associate"])
    finally:
        server.shutdown()
        server.server_close()

    assert seen == [("/api/v2/tickets/7/tags.json", basic_auth(), b'{"tags": ["lnr_associate"]}')]
