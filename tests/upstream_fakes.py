"""Zendesk tickets and GitLab escalation issues faked at the HTTP edge with `responses`.

Only the write side the post-back uses, with just enough memory to answer the reads that
make it idempotent: a ticket's comments (the adapter looks for a note's marker before it
posts) and the project's issues (searched for an escalation's marker). Bodies are the
vendors' documented shapes from tests/fixtures/ (see the docstrings of
tests/upstreams/test_zendesk_adapter.py and test_gitlab_adapter.py for their sources).
Tests assert on `mock.calls`: the exact method, URL and JSON the real clients sent.
"""
from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import responses

FIXTURES = Path(__file__).resolve().parent / "fixtures"
ZENDESK_API = "https://acme.zendesk.com/api/v2"  # UPSTREAM_ENV's subdomain
GITLAB_API = "https://gitlab.example.test/api/v4"  # UPSTREAM_ENV's GITLAB_URL
ISSUES_URL = f"{GITLAB_API}/projects/support%2Fescalations/issues"
ISSUE_WEB = "https://gitlab.example.test/support/escalations/-/issues/{iid}"


def fixture(vendor: str, name: str) -> Any:
    return json.loads((FIXTURES / vendor / f"{name}.json").read_text())


def _reply(status: int, body: Any) -> tuple[int, dict[str, str], str]:
    return status, {"Content-Type": "application/json"}, json.dumps(body)


class FakeZendesk:
    """Tickets whose comments grow as notes are posted (Zendesk never edits a comment)."""

    def __init__(self) -> None:
        self.comments: dict[int, list[dict]] = {}
        # Answers for the next status updates: (status, body), e.g. a 422 from Zendesk.
        self.status_failures: list[tuple[int, Any]] = []

    def install(self, mock: responses.RequestsMock) -> "FakeZendesk":
        tickets = re.escape(ZENDESK_API) + r"/tickets/(\d+)"
        mock.add_callback("GET", re.compile(tickets + r"/comments\.json"), self._list)
        mock.add_callback("PUT", re.compile(tickets + r"/tags\.json"), self._tags)
        mock.add_callback("PUT", re.compile(tickets + r"\.json"), self._update)
        return self

    def notes(self, ticket_id: int) -> list[str]:
        return [c["body"] for c in self.comments.get(ticket_id, [])]

    def _ticket_id(self, request) -> int:
        return int(re.search(r"/tickets/(\d+)", request.url).group(1))

    def _list(self, request):
        page = fixture("zendesk", "list_ticket_comments")
        template = page["comments"][0]
        page["comments"] = [dict(template, **c) for c in self.comments.get(self._ticket_id(request), [])]
        return _reply(200, page)

    def _update(self, request):
        ticket_id = self._ticket_id(request)
        sent_ticket = json.loads(request.body)["ticket"]
        if "status" in sent_ticket and self.status_failures:
            return _reply(*self.status_failures.pop(0))
        comment = sent_ticket.get("comment")
        if comment is not None:
            stored = self.comments.setdefault(ticket_id, [])
            stored.append({"id": 5000 + len(stored), "body": comment["body"],
                           "public": comment["public"], "attachments": []})
        body = fixture("zendesk", "update_ticket")
        body["ticket"]["id"] = ticket_id
        return _reply(200, body)

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

    def add_issue(self, description: str, title: str = "left by a crashed attempt") -> dict:
        issue = copy.deepcopy(fixture("gitlab", "post_project_issue"))
        iid = self._next_iid
        self._next_iid += 1
        issue.update(iid=iid, id=80 + iid, title=title, description=description,
                     web_url=ISSUE_WEB.format(iid=iid))
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
        return _reply(201, self.add_issue(data["description"], data["title"]))

    def _note(self, request):
        iid = int(re.search(r"/issues/(\d+)/notes", request.url).group(1))
        body = json.loads(request.body)["body"]
        self.notes.setdefault(iid, []).append(body)
        note = dict(fixture("gitlab", "post_issue_note"), body=body, noteable_iid=iid)
        return _reply(201, note)


    def _list_notes(self, request):
        iid = int(re.search(r"/issues/(\d+)/notes", request.url).group(1))
        template = fixture("gitlab", "post_issue_note")
        newest_first = reversed(self.notes.get(iid, []))
        return _reply(200, [dict(template, id=900 + n, body=body, noteable_iid=iid)
                            for n, body in enumerate(newest_first)])


def sent(call) -> Any:
    return json.loads(call.request.body) if call.request.body else None


def writes(mock: responses.RequestsMock) -> list[tuple[str, str, Any]]:
    """Every mutating request: (method, URL, JSON body)."""
    return [(c.request.method, c.request.url, sent(c)) for c in mock.calls
            if c.request.method != "GET"]

