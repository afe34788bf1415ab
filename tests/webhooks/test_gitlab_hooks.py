"""POST /webhooks/gitlab: token, shapes, filters, duplicates, and the news an escalation's
issue brings back to its ticket — on SQLite and PostgreSQL.

Payloads in tests/fixtures/gitlab/*issue_hook__*.json follow GitLab's "Webhook events"
page, "Work item events" (https://docs.gitlab.com/user/project/integrations/webhook_events/),
with `closed_at` as GitLab's IssueBuilder sends it (lib/gitlab/hook_data/issue_builder.rb);
a confidential issue comes as `Confidential Issue Hook` with `event_type: confidential_issue`.
"""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from helpdesk_app import create_app
from helpdesk_app.settings import Settings
from helpdesk_app.storage.models import Delivery, Escalation
from helpdesk_app.web.webhooks.gitlab import process_gitlab_delivery
from tests.app.test_settings import UPSTREAM_ENV
from tests.upstream_fakes import ZENDESK_API, fixture, sent

TOKEN = UPSTREAM_ENV["GITLAB_WEBHOOK_TOKEN"]
TICKET, IID = 35436, 14
ISSUE_URL = "https://gitlab.example.test/support/escalations/-/issues/14"


def make_app(migrated_url, **env):
    return create_app(Settings.from_env({**UPSTREAM_ENV, "DATABASE_URL": migrated_url, **env}))


@pytest.fixture
def app(migrated_url):
    app = make_app(migrated_url)
    yield app
    app.extensions["helpdesk"].db.kw["bind"].dispose()


@pytest.fixture
def client(app, zendesk):
    return app.test_client()


def add_escalation(app, *, state="open", iid=IID, workflow="associate") -> int:
    with app.extensions["helpdesk"].db() as session:
        row = Escalation(ticket_id=TICKET, workflow=workflow, state=state, gitlab_issue_iid=iid,
                         gitlab_issue_url=ISSUE_URL.replace("14", str(iid)),
                         marker=f"[lnr:escalation:{TICKET}:{workflow}:{iid:012d}]")
        session.add(row)
        session.commit()
        return row.id


def escalation(app, row_id) -> Escalation:
    with app.extensions["helpdesk"].db() as session:
        return session.get(Escalation, row_id)


def deliveries(app) -> list[Delivery]:
    with app.extensions["helpdesk"].db() as session:
        return list(session.scalars(select(Delivery).order_by(Delivery.id)))


def body_of(name: str, **attributes) -> bytes:
    data = fixture("gitlab", name)
    data["object_attributes"].update(attributes)
    return json.dumps(data).encode()


def headers(uuid="5f6b9f4e-0001", event="Issue Hook", token=TOKEN) -> dict:
    sent_headers = {"X-Gitlab-Event": event, "X-Gitlab-Event-UUID": uuid,
                    "X-Gitlab-Webhook-UUID": "0b0d2e1c-hook", "Content-Type": "application/json"}
    if token is not None:
        sent_headers["X-Gitlab-Token"] = token
    return sent_headers


def post(client, body: bytes, sent_headers: dict):
    return client.post("/webhooks/gitlab", data=body, headers=sent_headers)


def zendesk_writes(http) -> list[tuple]:
    return [(c.request.method, c.request.url, sent(c)) for c in http.calls if c.request.method != "GET"]


def closed_marker(app, row_id: int) -> str:
    return app.extensions["helpdesk"].marker("escalation-closed", f"{row_id}:20260302T101500Z")


# -- the edge ------------------------------------------------------------------------------


@pytest.mark.parametrize("token", [None, "", "not-the-token", TOKEN + "x", "ünïcode"])
def test_a_missing_or_wrong_token_is_401(client, app, http, token):
    row_id = add_escalation(app)
    response = post(client, body_of("issue_hook__closed"), headers(token=token))
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "bad_token"
    assert TOKEN not in response.get_data(as_text=True)
    assert deliveries(app) == [] and len(http.calls) == 0 and escalation(app, row_id).state == "open"


@pytest.mark.parametrize("body", [
    b"not json", b"\xff\xfe", b"[1, 2]", b'{"object_kind": "issue"}',
    b'{"object_kind": "issue", "project": {"id": 4}, "object_attributes": {"state": "closed"}}',
    b'{"object_kind": "issue", "project": {"id": 4}, "object_attributes": {"iid": "14", "state": "closed"}}',
    b'{"object_kind": "issue", "project": [], "object_attributes": {"iid": 14, "state": "closed"}}',
])
def test_malformed_bodies_are_400(client, app, body):
    response = post(client, body, headers())
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "malformed_delivery"
    assert deliveries(app) == []


@pytest.mark.parametrize("event", ["Push Hook", "Note Hook", "Confidential Note Hook", ""])
def test_other_events_are_200_and_ignored(client, app, http, event):
    response = post(client, body_of("issue_hook__closed"), headers(event=event))
    assert response.status_code == 200 and response.get_json()["status"] == "ignored"
    assert deliveries(app) == [] and len(http.calls) == 0


def test_another_projects_hook_is_ignored(client, app, http):
    row_id = add_escalation(app)
    data = fixture("gitlab", "issue_hook__closed")
    data["project"].update(id=99, path_with_namespace="support/other")
    response = post(client, json.dumps(data).encode(), headers())
    assert response.status_code == 200
    assert response.get_json() == {"status": "ignored", "reason": "other_project"}
    assert len(http.calls) == 0 and escalation(app, row_id).state == "open"


def test_an_issue_that_is_no_escalation_is_ignored(client, app, http):
    add_escalation(app, iid=7)
    response = post(client, body_of("issue_hook__closed"), headers())
    assert response.get_json() == {"status": "ignored", "reason": "not_an_escalation"}
    assert len(http.calls) == 0 and deliveries(app) == []


def test_the_project_may_be_configured_by_id(migrated_url, zendesk):
    app = make_app(migrated_url, GITLAB_ESCALATION_PROJECT="4")
    add_escalation(app)
    response = post(app.test_client(), body_of("issue_hook__closed"), headers())
    assert response.status_code == 202
    app.extensions["helpdesk"].db.kw["bind"].dispose()


# -- closing and reopening -----------------------------------------------------------------


@pytest.mark.parametrize("name, event", [("issue_hook__closed", "Issue Hook"),
                                         ("confidential_issue_hook__closed", "Confidential Issue Hook")])
def test_closing_notes_the_ticket_once_and_reopens_it(client, app, http, zendesk, name, event):
    row_id = add_escalation(app)

    response = post(client, body_of(name), headers(event=event))

    assert response.status_code == 202 and response.get_json()["status"] == "accepted"
    (note,) = zendesk.notes(TICKET)
    assert note.endswith(closed_marker(app, row_id))
    assert ISSUE_URL in note and "@casey.console" in note
    assert zendesk_writes(http) == [
        ("PUT", f"{ZENDESK_API}/tickets/{TICKET}.json",
         {"ticket": {"id": TICKET, "comment": {"body": note, "public": False}}}),
        ("PUT", f"{ZENDESK_API}/tickets/{TICKET}.json", {"ticket": {"id": TICKET, "status": "open"}}),
    ]
    assert escalation(app, row_id).state == "closed"
    (delivery,) = deliveries(app)
    assert (delivery.source, delivery.delivery_key, delivery.status) == ("gitlab", "5f6b9f4e-0001", "processed")


def test_a_close_and_its_update_hook_make_one_note(client, app, http, zendesk):
    add_escalation(app)
    assert post(client, body_of("issue_hook__closed"), headers("uuid-close")).status_code == 202
    assert post(client, body_of("issue_hook__updated"), headers("uuid-update")).status_code == 202

    assert len(zendesk.notes(TICKET)) == 1
    assert [d.status for d in deliveries(app)] == ["processed", "ignored"]
    assert len(zendesk_writes(http)) == 2


def test_a_repeated_delivery_is_200_and_does_nothing(client, app, http, zendesk):
    add_escalation(app)
    body = body_of("issue_hook__closed")
    assert post(client, body, headers()).status_code == 202
    calls = len(http.calls)

    again = post(client, body, headers())

    assert again.status_code == 200 and again.get_json()["status"] == "duplicate"
    assert len(http.calls) == calls and len(deliveries(app)) == 1


def test_a_delivery_without_uuid_is_keyed_by_its_body(client, app, zendesk):
    add_escalation(app)
    sent_headers = {k: v for k, v in headers().items() if k != "X-Gitlab-Event-UUID"}
    assert post(client, body_of("issue_hook__closed"), sent_headers).status_code == 202
    assert post(client, body_of("issue_hook__closed"), sent_headers).status_code == 200
    assert deliveries(app)[0].delivery_key.startswith("sha256:")


def test_reopening_notes_the_ticket(client, app, http, zendesk):
    row_id = add_escalation(app, state="closed")

    assert post(client, body_of("issue_hook__reopened"), headers("uuid-reopen")).status_code == 202

    (note,) = zendesk.notes(TICKET)
    assert "was reopened by @casey.console" in note
    assert note.endswith(app.extensions["helpdesk"].marker("escalation-reopened", f"{row_id}:20260303T083000Z"))
    assert escalation(app, row_id).state == "open"
    assert len(zendesk_writes(http)) == 1  # a note; the status stays as the agent left it


def test_reopening_while_another_is_open_keeps_it_closed_and_notes(client, app, zendesk):
    row_id = add_escalation(app, state="closed")
    add_escalation(app, iid=15)  # opened meanwhile for the same ticket and workflow

    assert post(client, body_of("issue_hook__reopened"), headers("uuid-reopen")).status_code == 202

    (note,) = zendesk.notes(TICKET)
    assert "stays closed" in note and ISSUE_URL.replace("14", "15") in note
    assert escalation(app, row_id).state == "closed"
    # A later edit of the reopened issue is not news.
    edit = body_of("issue_hook__reopened", action="update", updated_at="2026-03-03T09:00:00Z")
    assert post(client, edit, headers("uuid-edit")).status_code == 202
    assert len(zendesk.notes(TICKET)) == 1


def test_closed_reopened_closed_again_notes_each_time(client, app, zendesk):
    add_escalation(app)
    post(client, body_of("issue_hook__closed"), headers("u1"))
    post(client, body_of("issue_hook__reopened"), headers("u2"))
    post(client, body_of("issue_hook__closed", closed_at="2026-03-04T12:00:00Z",
                         updated_at="2026-03-04T12:00:00Z"), headers("u3"))
    assert len(zendesk.notes(TICKET)) == 3


def test_a_failed_delivery_is_redone_without_a_second_note(client, app, http, zendesk):
    row_id = add_escalation(app)
    zendesk.status_failures.append((422, {"error": "RecordInvalid", "description": "Record validation errors"}))

    assert post(client, body_of("issue_hook__closed"), headers()).status_code == 202
    (delivery,) = deliveries(app)
    assert delivery.status == "failed" and len(zendesk.notes(TICKET)) == 1
    assert escalation(app, row_id).state == "closed"

    process_gitlab_delivery(app.extensions["helpdesk"], delivery.id)  # the job, retried

    assert deliveries(app)[0].status == "processed"
    assert len(zendesk.notes(TICKET)) == 1
    assert zendesk_writes(http)[-1] == ("PUT", f"{ZENDESK_API}/tickets/{TICKET}.json",
                                        {"ticket": {"id": TICKET, "status": "open"}})
    calls = len(http.calls)
    process_gitlab_delivery(app.extensions["helpdesk"], delivery.id)  # processed: nothing more
    assert len(http.calls) == calls
