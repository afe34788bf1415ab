"""The sandbox's Zendesk through the service's real `ZendeskAdapter` (zenpy), reached with
the adapter's own `domain` and `scheme` (subdomain "127" + domain "0.0.1:<port>", http):
no ZENPY_FORCE_* variable is set in this process."""
from __future__ import annotations

import os

import pytest
import requests

from tests.sandbox.sandbox_support import clients_for, start
from workflows.errors import UpstreamError
from workflows.model import Requester

MARKER = "[lnr:run:7:associate]"


def zendesk_get(sandbox, path, **params):
    auth = (f"{sandbox.zendesk_email}/token", sandbox.credentials["ZENDESK_API_TOKEN"])
    return requests.get(f"{sandbox.zendesk_url}/api/v2{path}", params=params, auth=auth, timeout=5)


def test_zenpy_is_not_redirected_process_wide(clients):
    assert "ZENPY_FORCE_NETLOC" not in os.environ and "ZENPY_FORCE_SCHEME" not in os.environ
    assert clients.zendesk.requester(1) is not None


def test_the_requester_and_their_verified_identity(clients):
    z = clients.zendesk
    assert z.requester(1) == Requester(ticket_id=1, user_id=9100, email="owner@acme.test",
                                       verified=True, name="Ada Owner")
    assert z.requester(3).verified is False  # the scenario's `verified: false`
    assert z.requester(999) is None


def test_a_ticket_and_its_comments_the_first_being_the_description(scenario):
    scenario["zendesk"]["tickets"][0].update(
        description="We bought A-S00000001 for https://gitlab.com/groups/acme",
        comments=[{"author_id": 9000, "body": "Looking into it.", "public": False}])
    with start(scenario) as sandbox:
        ticket = clients_for(sandbox).zendesk.ticket(1)
        assert (ticket["subject"], ticket["status"], ticket["requester_id"]) == (
            "Subscription not showing", "open", 9100)
        first, second = ticket["comments"]
        assert (first["author_id"], first["body"], first["public"]) == (
            9100, "We bought A-S00000001 for https://gitlab.com/groups/acme", True)
        assert (second["author_id"], second["public"]) == (9000, False)


def test_notes_are_appended_once_per_marker_and_never_edited(clients, sandbox):
    z = clients.zendesk
    z.add_internal_note(1, f"Linked.\n\n{MARKER}", marker=MARKER)
    z.add_internal_note(1, f"Linked, again.\n\n{MARKER}", marker=MARKER)  # found: not posted
    z.add_internal_note(1, "Another note", marker="[lnr:run:8:associate]")
    comments = z.ticket(1)["comments"]
    assert [c["body"] for c in comments[1:]] == [f"Linked.\n\n{MARKER}",
                                                 "Another note\n\n[lnr:run:8:associate]"]
    assert all(c["author_id"] == sandbox.zendesk_service_user_id and c["public"] is False
               for c in comments[1:])
    assert sandbox.counters()["notes_per_ticket"] == {1: 2, 2: 0, 3: 0}
    assert sandbox.notes(1) == [c["body"] for c in comments[1:]]


def test_tags_status_and_custom_fields(clients, sandbox):
    z = clients.zendesk
    z.add_tags(1, ["lnr_associate", "LNR_Associate"])
    z.add_tags(1, ["vip"])
    z.set_status(1, "pending")
    z.set_custom_field(1, 360001, "associate_namespace")
    z.set_custom_field(1, 360001, "associate_namespace")  # idempotent
    ticket = zendesk_get(sandbox, "/tickets/1.json").json()["ticket"]
    assert ticket["tags"] == ["lnr_associate", "vip"]
    assert ticket["status"] == "pending"
    assert ticket["custom_fields"] == [{"id": 360001, "value": "associate_namespace"}]
    assert sandbox.notes(1) == []  # none of these is a comment


def test_zendesk_refuses_what_it_refuses(clients, sandbox):
    with pytest.raises(UpstreamError) as bad_status:
        clients.zendesk.set_status(1, "done")
    assert (bad_status.value.status, bad_status.value.code) == (422, "RecordInvalid")
    clients.zendesk.set_status(1, "closed")
    with pytest.raises(UpstreamError) as closed:
        clients.zendesk.add_internal_note(1, "too late", marker="[lnr:x]")
    assert closed.value.status == 422
    with pytest.raises(UpstreamError) as missing:
        clients.zendesk.add_tags(999, ["x"])
    assert (missing.value.status, missing.value.code) == (404, "RecordNotFound")


def test_users_and_their_groups(clients, sandbox):
    agent = clients.zendesk.user(9000)
    assert (agent["role"], agent["groups"]) == ("agent", [{"id": 1, "name": "License and Renewals"}])
    assert clients.zendesk.user(9100)["groups"] == []
    assert clients.zendesk.user(999) is None
    bot = clients.zendesk.user(sandbox.zendesk_service_user_id)
    assert (bot["email"], bot["role"]) == ("helpdesk-bot@sandbox.test", "agent")


def test_long_comment_lists_are_read_through_every_cursor_page(scenario):
    scenario["zendesk"]["tickets"][0]["comments"] = [
        {"author_id": 9100, "body": f"comment {n}"} for n in range(1, 231)]
    with start(scenario) as sandbox:
        comments = clients_for(sandbox).zendesk.ticket(1)["comments"]
        assert len(comments) == 231 and comments[-1]["body"] == "comment 230"
        page = zendesk_get(sandbox, "/tickets/1/comments.json", **{"page[size]": 100}).json()
        assert page["meta"]["has_more"] is True and page["links"]["next"].startswith(sandbox.zendesk_url)
        offset = zendesk_get(sandbox, "/tickets/1/comments.json", per_page=100, page=3).json()
        assert (len(offset["comments"]), offset["count"], offset["next_page"]) == (31, 231, None)
        assert offset["previous_page"].endswith("page=2&per_page=100")


def test_the_ticket_list_for_an_agent_page(sandbox):
    listed = zendesk_get(sandbox, "/tickets.json").json()
    assert [t["id"] for t in listed["tickets"]] == [1, 2, 3] and listed["count"] == 3
    assert listed["tickets"][0]["url"] == f"{sandbox.zendesk_url}/api/v2/tickets/1.json"
    cursor = zendesk_get(sandbox, "/tickets.json", **{"page[size]": 2}).json()
    assert [t["id"] for t in cursor["tickets"]] == [1, 2] and cursor["meta"]["has_more"]
    rest = requests.get(cursor["links"]["next"], auth=(f"{sandbox.zendesk_email}/token",
                                                       sandbox.credentials["ZENDESK_API_TOKEN"]),
                        timeout=5).json()
    assert [t["id"] for t in rest["tickets"]] == [3] and rest["meta"]["has_more"] is False


def test_auth_is_an_agents_email_and_the_account_token(sandbox):
    token = sandbox.credentials["ZENDESK_API_TOKEN"]
    url = f"{sandbox.zendesk_url}/api/v2/tickets/1.json"
    assert requests.get(url, auth=("agent@vendor.test/token", token), timeout=5).status_code == 200
    for auth in (("owner@acme.test/token", token), ("agent@vendor.test/token", "wrong"),
                 ("agent@vendor.test", token)):
        answer = requests.get(url, auth=auth, timeout=5)
        assert answer.status_code == 401 and answer.json() == {"error": "Couldn't authenticate you"}
    assert requests.get(url, auth=("agent@vendor.test/token", token), timeout=5).headers[
        "X-Zendesk-Request-Id"]


def test_a_created_ticket_is_served(sandbox, clients):
    created = sandbox.create_ticket(subject="Help", description="Link A-S00000001 please",
                                    requester_id=9100, tags=["web"])
    assert created["id"] == 4
    assert clients.zendesk.ticket(4)["comments"][0]["body"] == "Link A-S00000001 please"
