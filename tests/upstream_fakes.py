"""Zendesk tickets and GitLab escalation issues faked at the HTTP edge with `responses`.

Only the write side the post-back uses, with just enough memory to answer the reads that
make it idempotent: a ticket's comments (the adapter looks for a note's marker before it
posts) and the project's issues (searched for an escalation's marker). Bodies are the
vendors' documented shapes, built by the sandbox's payload builders
(sandbox/payloads.py, over the same files as tests/fixtures/; see the
docstrings of tests/upstreams/test_zendesk_adapter.py and test_gitlab_adapter.py for their
sources). Tests assert on `mock.calls`: the exact method, URL and JSON the real clients sent.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import responses

from sandbox import payloads
from sandbox.sandbox import GITLAB_BOT

FIXTURES = Path(__file__).resolve().parent / "fixtures"
ZENDESK_API = "https://acme.zendesk.com/api/v2"  # UPSTREAM_ENV's subdomain
GITLAB_WEB = "https://gitlab.example.test"  # UPSTREAM_ENV's GITLAB_URL
GITLAB_API = f"{GITLAB_WEB}/api/v4"
ISSUES_URL = f"{GITLAB_API}/projects/support%2Fescalations/issues"
PROJECT = {"id": 4, "path_with_namespace": "support/escalations"}
CREATED_AT = "2026-01-07T12:44:33Z"


def fixture(vendor: str, name: str) -> Any:
    return json.loads((FIXTURES / vendor / f"{name}.json").read_text())


def _reply(status: int, body: Any) -> tuple[int, dict[str, str], str]:
    return status, {"Content-Type": "application/json"}, json.dumps(body)


SERVICE_USER = 7000  # UPSTREAM_ENV's ZENDESK_SERVICE_USER_ID: who the API token acts as


class FakeZendesk:
    """Tickets whose comments grow as notes are posted (Zendesk never edits a comment)."""

    def __init__(self, service_user_id: int = SERVICE_USER) -> None:
        self.service_user_id = service_user_id  # the author of every comment posted here
        self.comments: dict[int, list[dict]] = {}
        self.tickets: dict[int, dict] = {}  # what `add_ticket` put there, served by Show Ticket
        # Answers for the next status updates: (status, body), e.g. a 422 from Zendesk.
        self.status_failures: list[tuple[int, Any]] = []
        # Answers for the next Show Ticket requests, e.g. Zendesk down: (status, body).
        self.show_failures: list[tuple[int, Any]] = []
        # Answers for the next updates that carry a comment (a note): (status, body).
        self.note_failures: list[tuple[int, Any]] = []
        # When set, the answer to every request about a ticket: (status, body), e.g. the
        # 404 of a deleted ticket or a 503 of Zendesk down.
        self.answer_all: tuple[int, Any] | None = None
        # Updates of a ticket between a read and a safe update: each makes the next safe
        # update answer 409 (someone else changed the ticket meanwhile).
        self.races = 0
        self.updates = 0

    def install(self, mock: responses.RequestsMock) -> "FakeZendesk":
        tickets = re.escape(ZENDESK_API) + r"/tickets/(\d+)"
        mock.add_callback("GET", re.compile(tickets + r"/comments\.json"), self._or_answer_all(self._list))
        mock.add_callback("GET", re.compile(tickets + r"\.json"), self._or_answer_all(self._show))
        mock.add_callback("PUT", re.compile(tickets + r"/tags\.json"), self._or_answer_all(self._tags))
        mock.add_callback("PUT", re.compile(tickets + r"\.json"), self._or_answer_all(self._update))
        return self

    def _or_answer_all(self, handler):
        def callback(request):
            return _reply(*self.answer_all) if self.answer_all else handler(request)
        return callback

    def add_ticket(self, ticket_id: int, subject: str, description: str,
                   requester_id: int = 9100) -> None:
        """A ticket whose first comment is its description, as Zendesk makes it."""
        self.tickets[ticket_id] = {"subject": subject, "description": description,
                                   "requester_id": requester_id, "tags": [], "status": "open",
                                   "custom_fields": [], "updated_at": CREATED_AT}
        self.comments.setdefault(ticket_id, []).insert(0, {
            "id": 4000, "body": description, "public": True, "author_id": requester_id,
            "created_at": CREATED_AT})

    def serve_ticket(self, ticket_id: int, **fields: Any) -> None:
        """Show Ticket answers for `ticket_id` (no comments added): Zendesk's example ticket
        with `fields` (e.g. group_id, assignee_id, organization_id) over it."""
        self.tickets[ticket_id] = {"subject": f"Ticket {ticket_id}", "description": "",
                                   "requester_id": 9100, "tags": [], "status": "open",
                                   "custom_fields": [], "updated_at": CREATED_AT, **fields}

    def add_comment(self, ticket_id: int, body: str, author_id: int = 9100) -> None:
        stored = self.comments.setdefault(ticket_id, [])
        stored.append({"id": 4001 + len(stored), "body": body, "public": True,
                       "author_id": author_id, "created_at": CREATED_AT})

    def notes(self, ticket_id: int) -> list[str]:
        return [c["body"] for c in self.comments.get(ticket_id, [])]

    def _ticket_id(self, request) -> int:
        return int(re.search(r"/tickets/(\d+)", request.url).group(1))

    def _list(self, request):
        comments = self.comments.get(self._ticket_id(request), [])
        return _reply(200, {"comments": [payloads.comment(c) for c in comments]})

    def _show(self, request):
        ticket_id = self._ticket_id(request)
        if self.show_failures:
            return _reply(*self.show_failures.pop(0))
        if ticket_id not in self.tickets:
            return _reply(404, fixture("zendesk", "error__record_not_found"))
        body = fixture("zendesk", "show_ticket")
        body["ticket"].update(id=ticket_id, raw_subject=self.tickets[ticket_id]["subject"],
                              submitter_id=self.tickets[ticket_id]["requester_id"],
                              **self.tickets[ticket_id])
        return _reply(200, body)

    def _update(self, request):
        ticket_id = self._ticket_id(request)
        sent_ticket = json.loads(request.body)["ticket"]
        if "status" in sent_ticket and self.status_failures:
            return _reply(*self.status_failures.pop(0))
        comment = sent_ticket.get("comment")
        if comment is not None and self.note_failures:
            return _reply(*self.note_failures.pop(0))
        ticket = self.tickets.get(ticket_id)
        if sent_ticket.get("safe_update") and self._raced(ticket, sent_ticket.get("updated_stamp")):
            # https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/#protecting-against-ticket-update-collisions
            return _reply(409, {"error": "UpdateConflict", "description": "Safe Update prevented "
                                "the update due to outdated ticket data."})
        if comment is not None:
            stored = self.comments.setdefault(ticket_id, [])
            stored.append({"id": 5000 + len(stored), "body": comment["body"],
                           "author_id": self.service_user_id,
                           "public": comment["public"], "created_at": CREATED_AT})
        if ticket is not None:
            self._apply(ticket, sent_ticket)
        body = fixture("zendesk", "update_ticket")
        body["ticket"]["id"] = ticket_id
        return _reply(200, body)

    def _raced(self, ticket: dict | None, stamp: str | None) -> bool:
        if self.races and ticket is not None:
            self.races -= 1
            self._apply(ticket, {})  # the other update
        # A ticket this fake does not serve (another answers Show Ticket) is never stale here.
        return ticket is not None and stamp != ticket["updated_at"]

    def _apply(self, ticket: dict, sent_ticket: dict) -> None:
        for name in ("tags", "status"):
            if name in sent_ticket:
                ticket[name] = sent_ticket[name]
        for field in sent_ticket.get("custom_fields", []):
            ticket["custom_fields"] = [f for f in ticket["custom_fields"] if f["id"] != field["id"]] + [field]
        self.updates += 1  # every update moves updated_at on
        ticket["updated_at"] = f"2026-06-15T10:{self.updates:02d}:00Z"

    def _tags(self, request):
        return _reply(200, fixture("zendesk", "add_tags"))


class FakeGitLab:
    """The escalation project's issues and their notes."""

    def __init__(self, first_iid: int = 14) -> None:
        self.issues: list[dict] = []
        self.notes: dict[int, list[str]] = {}
        # Answers for the next issue POSTs, before any issue is created: (status, body).
        self.create_failures: list[tuple[int, Any]] = []
        self._next_iid = first_iid

    def install(self, mock: responses.RequestsMock) -> "FakeGitLab":
        mock.add_callback("GET", re.compile(re.escape(ISSUES_URL) + r"(\?.*)?$"), self._search)
        mock.add_callback("POST", re.compile(re.escape(ISSUES_URL) + r"$"), self._create)
        mock.add_callback("POST", re.compile(re.escape(ISSUES_URL) + r"/(\d+)/notes$"), self._note)
        mock.add_callback("GET", re.compile(re.escape(ISSUES_URL) + r"/(\d+)/notes(\?.*)?$"),
                          self._list_notes)
        return self

    def add_issue(self, description: str, title: str = "left by a crashed attempt",
                  labels: tuple[str, ...] = ("Console Escalation - customers",)) -> dict:
        iid = self._next_iid
        self._next_iid += 1
        record = {"id": 80 + iid, "iid": iid, "title": title, "description": description,
                  "state": "opened", "labels": list(labels), "confidential": True,
                  "author": GITLAB_BOT, "created_at": CREATED_AT, "updated_at": CREATED_AT,
                  "closed_at": None, "closed_by": None}
        issue = payloads.issue(record, PROJECT, GITLAB_WEB)
        self.issues.append(issue)
        return issue

    def _search(self, request):
        query = parse_qs(urlsplit(request.url).query)
        term = query.get("search", [""])[0]
        return _reply(200, [i for i in self.issues if term in (i["description"] or "")])

    def _create(self, request):
        if self.create_failures:
            return _reply(*self.create_failures.pop(0))
        data = json.loads(request.body)
        return _reply(201, self.add_issue(data["description"], data["title"], data.get("labels", [])))

    def _note(self, request):
        iid = int(re.search(r"/issues/(\d+)/notes", request.url).group(1))
        body = json.loads(request.body)["body"]
        notes = self.notes.setdefault(iid, [])
        notes.append(body)
        return _reply(201, self._note_payload(iid, len(notes) - 1, body))

    def _list_notes(self, request):
        iid = int(re.search(r"/issues/(\d+)/notes", request.url).group(1))
        newest_first = reversed(list(enumerate(self.notes.get(iid, []))))
        return _reply(200, [self._note_payload(iid, n, body) for n, body in newest_first])

    @staticmethod
    def _note_payload(iid: int, index: int, body: str) -> dict:
        """The issue's `index`-th note (ids follow the order the notes were posted in)."""
        note_id = 900 + index
        return payloads.note({"id": note_id, "body": body, "author": GITLAB_BOT,
                              "created_at": CREATED_AT, "updated_at": CREATED_AT,
                              "noteable_id": 80 + iid, "noteable_iid": iid}, PROJECT, GITLAB_WEB)


def sent(call) -> Any:
    return json.loads(call.request.body) if call.request.body else None


def writes(mock: responses.RequestsMock) -> list[tuple[str, str, Any]]:
    """Every mutating request: (method, URL, JSON body)."""
    return [(c.request.method, c.request.url, sent(c)) for c in mock.calls
            if c.request.method != "GET"]

