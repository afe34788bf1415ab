"""The triage job of a Zendesk delivery, on SQLite and PostgreSQL (helpdesk_app/engine/triage_job.py).

Zendesk is faked at the HTTP edge (tests/upstream_fakes.py: the ticket, its comments, notes
and tags); `diagnose` reads the portal and GitLab through the world (tests/http_world.py),
so the test sees that triage changes nothing there.
"""
from __future__ import annotations

import dataclasses
import json

import pytest
from sqlalchemy import select, update

from helpdesk_app.engine import triage_job
from helpdesk_app.engine.leases import Timing, claim_delivery
from helpdesk_app.engine.sweeper import sweep
from helpdesk_app.storage.models import Delivery, TicketFindings, utcnow
from helpdesk_app.upstreams.budgets import BLOCK_HOLD_S
from helpdesk_app.upstreams.zendesk_pacing import BUDGET_SPENT
from helpdesk_app.web import services_of
from tests.durability.test_runs_durable import AGENT, desk, make_app  # noqa: F401
from tests.sidebar_auth import mock_agent, session_header
from tests.upstream_fakes import SERVICE_USER as FAKE_ZENDESK_USER
from tests.webhooks.test_zendesk_intake import fixture_body, signed
from workflows.errors import UpstreamError

TICKET = 35436
SUBJECT = "Subscription not showing on our group"
DESCRIPTION = "Hi, we bought A-S00000001 but https://gitlab.com/groups/acme still shows Free."
SERVICE_USER = FAKE_ZENDESK_USER  # the author of the notes FakeZendesk stores


@pytest.fixture
def app(migrated_url, world, http, desk, zendesk):  # noqa: F811
    mock_agent(http, AGENT.id)
    return make_app(migrated_url, world, http, ZENDESK_SERVICE_USER_ID=str(SERVICE_USER))


def deliver(app, name: str, event_id: str, **comment) -> int:
    event = json.loads(fixture_body(name))
    event["id"] = event_id
    if comment:
        event["event"]["comment"].update(comment)
    body = json.dumps(event).encode()
    return app.test_client().post("/webhooks/zendesk", data=body, headers=signed(body)).status_code


def internal_notes(zendesk) -> list[str]:
    return [c["body"] for c in zendesk.comments.get(TICKET, []) if not c["public"]]


def delivery_states(app) -> list[tuple[str, int]]:
    with services_of(app).db() as session:
        return [(d.status, d.attempts) for d in session.scalars(select(Delivery).order_by(Delivery.id))]


def tags_sent(http) -> list[list[str]]:
    return [json.loads(c.request.body)["tags"] for c in http.calls
            if c.request.method == "PUT" and c.request.url.endswith(f"/tickets/{TICKET}/tags.json")]


def test_a_new_ticket_gets_one_note_its_tag_and_stored_findings(app, world, http, zendesk):
    zendesk.add_ticket(TICKET, SUBJECT, DESCRIPTION)
    assert deliver(app, "webhook_ticket_created", "ev-1") == 202
    (note,) = internal_notes(zendesk)
    assert note.rstrip().endswith("]") and f"[lnr:triage:{TICKET}:" in note
    assert "A-S00000001" in note and "acme" in note and "associate" in note
    assert tags_sent(http) == [["lnr_triage_associate_subscription"]]
    assert world.mutations() == []  # diagnose only read
    assert delivery_states(app) == [("processed", 1)]
    with services_of(app).db() as session:
        stored = session.scalars(select(TicketFindings)).one().findings
    assert stored["category"] == "associate_subscription"
    assert (stored["subscriptions"], stored["namespaces"]) == (["A-S00000001"], ["acme"])
    assert stored["recommended"] == "associate" and stored["diagnosis"]["decision"] == "ready"


def test_triage_again_with_the_same_findings_posts_nothing_new(app, http, zendesk):
    zendesk.add_ticket(TICKET, SUBJECT, DESCRIPTION)
    deliver(app, "webhook_ticket_created", "ev-1")
    deliver(app, "webhook_ticket_created", "ev-2")  # e.g. a second trigger on the same ticket
    assert len(internal_notes(zendesk)) == 1 and len(tags_sent(http)) == 1
    assert delivery_states(app) == [("processed", 1), ("processed", 1)]


def test_a_comment_triages_again_only_while_nothing_was_found(app, http, zendesk):
    zendesk.add_ticket(TICKET, "Help", "Our subscription is not on our group, please help.")
    deliver(app, "webhook_ticket_created", "ev-1")
    assert len(internal_notes(zendesk)) == 1  # found nothing, said so
    zendesk.add_comment(TICKET, "It is A-S00000001 for gitlab.com/acme")
    deliver(app, "webhook_ticket_comment_added", "ev-2")
    notes = internal_notes(zendesk)
    assert len(notes) == 2 and "A-S00000001" in notes[1]
    calls = len(http.calls)
    zendesk.add_comment(TICKET, "Any news? Also gitlab.com/acme/platform")
    deliver(app, "webhook_ticket_comment_added", "ev-3")
    assert len(http.calls) == calls  # something was found: no Zendesk call, no new note
    assert delivery_states(app)[-1] == ("ignored", 1)


def test_the_services_own_notes_are_not_read_as_the_customers_words(app, zendesk):
    zendesk.add_ticket(TICKET, "Help", "Please help with our subscription.")
    zendesk.add_comment(TICKET, "Earlier note about A-S00000002 [lnr:run:4]", author_id=SERVICE_USER)
    deliver(app, "webhook_ticket_created", "ev-1")
    with services_of(app).db() as session:
        stored = session.scalars(select(TicketFindings)).one().findings
    assert stored["subscriptions"] == []


def test_a_customer_comment_holding_markers_is_still_triaged(app, zendesk):
    # Issue 16, item 3: whose words they are is the author's to say, never the text.
    zendesk.add_ticket(TICKET, "Help", "Please help with our subscription.")
    zendesk.add_comment(TICKET, "[lnr:run:1] It is A-S00000002 [lnr:triage:1:abc]", author_id=9100)
    deliver(app, "webhook_ticket_created", "ev-1")
    with services_of(app).db() as session:
        stored = session.scalars(select(TicketFindings)).one().findings
    assert stored["subscriptions"] == ["A-S00000002"]


def test_a_zendesk_outage_schedules_the_triage_again(app, http, zendesk):
    zendesk.add_ticket(TICKET, SUBJECT, DESCRIPTION)
    zendesk.show_failures += [(503, {"error": "Unavailable"})] * 4  # every retry of the job
    deliver(app, "webhook_ticket_created", "ev-1")
    with services_of(app).db() as session:
        row = session.scalars(select(Delivery)).one()
        assert (row.status, row.attempts) == ("failed", 1) and row.next_attempt_at is not None
    assert internal_notes(zendesk) == []
    services = services_of(app)
    with services.db() as session:  # its time comes
        session.execute(update(Delivery).values(next_attempt_at=utcnow()))
        session.commit()
    # The sweeper dispatches it again although its first dispatch was moments ago.
    assert sweep(services.db, services.jobs, Timing(redispatch_after_s=120), "sweeper-a") == 1
    assert delivery_states(app) == [("processed", 2)] and len(internal_notes(zendesk)) == 1


def test_a_spent_budget_defers_the_next_tickets_without_asking_zendesk(
        migrated_url, world, http, desk, zendesk):  # noqa: F811
    app = make_app(migrated_url, world, http, ZENDESK_REQUESTS_PER_MIN="2")
    zendesk.add_ticket(TICKET, SUBJECT, DESCRIPTION)
    deliver(app, "webhook_ticket_created", "ev-1")  # reads the ticket; its comments are refused
    asked = len(http.calls)
    deliver(app, "webhook_ticket_created", "ev-2")
    assert len(http.calls) == asked  # the second one did not even read its ticket
    with services_of(app).db() as session:
        first, second = session.scalars(select(Delivery).order_by(Delivery.id))
    # Cut short by our own pacing, not failed: the attempt is given back (see below).
    assert (first.status, first.attempts) == ("received", 0)
    assert (first.last_error["code"], first.last_error["budget_cuts"]) == ("budget_spent", 1)
    assert (second.status, second.attempts) == ("received", 0)
    wait = (second.next_attempt_at - utcnow()).total_seconds()
    # When the minute's first request ages out: it was taken in a block, stamped at the
    # end of the block's hold (upstreams/budgets.py).
    assert 30 < wait <= 60 + BLOCK_HOLD_S


def paced(wait_s: float = 30.0) -> UpstreamError:
    """The refusal of our own Zendesk pacing (upstreams/zendesk_pacing.py), as it raises it."""
    return UpstreamError("zendesk", "Zendesk budget spent", status=429, code=BUDGET_SPENT,
                         retry_after=wait_s, transient=True)


def cut_short(services, delivery_id: int, error: UpstreamError) -> Delivery:
    """One attempt of the delivery's job that ends in `error` mid-way."""
    assert claim_delivery(services.db, delivery_id, "worker-a", 30.0)
    triage_job._retry_later(services, delivery_id, "worker-a", error)
    with services.db() as session:
        row = session.get(Delivery, delivery_id)
        session.expunge(row)  # as it was left; then due again at once
        session.execute(update(Delivery).values(next_attempt_at=utcnow()))
        session.commit()
    return row


def test_pacing_cuts_give_their_attempt_back_up_to_a_cap_of_their_own(
        migrated_url, world, http, desk, zendesk):  # noqa: F811
    app = make_app(migrated_url, world, http, DELIVERY_MAX_ATTEMPTS="3")
    services = services_of(app)
    deliver(app, "webhook_ticket_created", "ev-1")  # no such ticket: ignored, 1 attempt
    with services.db() as session:  # as if its triage were still to do
        delivery_id = session.scalars(select(Delivery.id)).one()
        session.execute(update(Delivery).values(status="received", attempts=0, next_attempt_at=None))
        session.commit()
    # A long storm: the budget runs out mid-way again and again; nothing failed.
    row = cut_short(services, delivery_id, paced())
    assert (row.status, row.attempts, row.last_error["budget_cuts"]) == ("received", 0, 1)
    assert 25 < (row.next_attempt_at - utcnow()).total_seconds() <= 30
    row = cut_short(services, delivery_id, paced())
    assert (row.status, row.attempts, row.last_error["budget_cuts"]) == ("received", 0, 2)
    # A real failure counts an attempt and ends the run of cuts.
    row = cut_short(services, delivery_id, UpstreamError("zendesk", "Unavailable", status=503,
                                                         code="http_503", transient=True))
    assert (row.status, row.attempts, row.last_error["code"]) == ("failed", 1, "http_503")
    row = cut_short(services, delivery_id, paced())
    assert (row.status, row.attempts, row.last_error["budget_cuts"]) == ("received", 1, 1)
    # A budget too small for even one triage: DELIVERY_MAX_ATTEMPTS cuts in a row, a dead letter.
    cut_short(services, delivery_id, paced())
    row = cut_short(services, delivery_id, paced())
    assert (row.status, row.last_error["budget_cuts"]) == ("dead", 3)
    assert "ZENDESK_REQUESTS_PER_MIN" in row.last_error["message"]


def test_a_deleted_ticket_is_ignored(app, zendesk):
    deliver(app, "webhook_ticket_created", "ev-1")  # no such ticket in Zendesk
    assert delivery_states(app) == [("ignored", 1)]


def test_the_sidebar_shows_the_latest_findings(app, zendesk):
    zendesk.add_ticket(TICKET, SUBJECT, DESCRIPTION)
    deliver(app, "webhook_ticket_created", "ev-1")
    context = app.test_client().get(f"/api/v1/tickets/{TICKET}",
                                    headers=session_header(app, AGENT.id)).get_json()
    assert context["findings"]["category"] == "associate_subscription"
    assert context["findings"]["recommended"] == "associate"


def requester_in_the_world(world, requester_id: int = 9100) -> None:
    """Diagnose asks Zendesk for the ticket's requester through the world's Zendesk (the
    job's own reads go to FakeZendesk): both are one Zendesk in production."""
    world.tickets[TICKET] = {**world.tickets[1], "id": TICKET, "requester_id": requester_id}


def stored_findings(app) -> dict:
    with services_of(app).db() as session:
        return session.scalars(select(TicketFindings)).one().findings


def test_a_ticket_naming_no_customer_is_diagnosed_on_the_requesters_portal_customer(app, world, zendesk):
    # Rules v2, diagnose: with nothing written, the portal customer whose email is the
    # ticket requester's verified email (requester 9100: owner@acme.test, customer 1).
    requester_in_the_world(world)
    zendesk.add_ticket(TICKET, "Subscription not showing", "We bought Premium but it does not show on "
                                                           "our group gitlab.com/acme. Please help.")
    deliver(app, "webhook_ticket_created", "ev-1")
    stored = stored_findings(app)
    assert stored["category"] == "associate_subscription" and stored["customer_ids"] == []
    diagnosis = stored["diagnosis"]
    assert diagnosis["inputs"]["customer_id"] == 1
    assert {c["id"]: c["verdict"] for c in diagnosis["checks"]}["customer_exists"] == "pass"
    assert "No subscription was named for acme" in diagnosis["recommendations"][0]["reason"]
    (note,) = internal_notes(zendesk)
    assert "Diagnosis (read only" in note and "No subscription was named for acme" in note


def test_a_portal_502_is_diagnosed_on_the_linked_account_and_an_admin_is_unlinked(app, world, zendesk):
    # Rules v2: a portal_502 ticket is diagnosed on the customer's linked account and never
    # recommends associate while that account is an admin (seed 001's 502).
    world.customers[1] = dataclasses.replace(world.customers[1], gitlab_user_id=300)
    requester_in_the_world(world)
    zendesk.add_ticket(TICKET, "502 in the customers portal",
                       "Every time I open the group list in the customers portal to link our "
                       "subscription I get 502 Bad Gateway.\n\nAda\nAcme, 502 Market Street")
    deliver(app, "webhook_ticket_created", "ev-1")
    stored = stored_findings(app)
    assert stored["category"] == "portal_502" and stored["recommended"] == "unlink_account"
    checks = {c["id"]: c["verdict"] for c in stored["diagnosis"]["checks"]}
    assert stored["diagnosis"]["inputs"]["customer_id"] == 1 and checks["linked_user_not_admin"] == "block"
    (note,) = internal_notes(zendesk)
    assert "linked_user_not_admin" in note and "Unlink GitLab.com account. An admin account" in note


def test_an_unverified_requester_is_not_looked_up(app, world, zendesk):
    requester_in_the_world(world, requester_id=9300)  # owner@acme.test, not verified
    zendesk.add_ticket(TICKET, "Subscription not showing", "Our subscription is not on gitlab.com/acme.")
    deliver(app, "webhook_ticket_created", "ev-1")
    diagnosis = stored_findings(app)["diagnosis"]
    assert diagnosis["inputs"]["customer_id"] is None and diagnosis["checks"] == []
    assert "no verified email" in diagnosis["recommendations"][0]["reason"]
