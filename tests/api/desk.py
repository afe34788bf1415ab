"""The write side of Zendesk tickets and GitLab issues at the HTTP edge, with state.

Not a test module. The post-back and escalations go through the real ZendeskAdapter (zenpy)
and GitLabAdapter (python-gitlab); this serves what they call, in the vendors' documented
shapes (fixtures under tests/fixtures/), and keeps what they wrote so tests can count
effects: notes per ticket, issues and issue notes.

  Zendesk  GET  /api/v2/tickets/{id}/comments.json   (list comments)
           PUT  /api/v2/tickets/{id}.json            (update: comment, status, custom_fields)
           PUT  /api/v2/tickets/{id}/tags.json       (add tags)
  GitLab   GET  /api/v4/projects/{project}/issues    (search)
           POST /api/v4/projects/{project}/issues
           POST /api/v4/projects/{project}/issues/{iid}/notes
"""
from __future__ import annotations

import copy
import itertools
import json
import re
from collections import defaultdict
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from tests.http_world import fixture


class Desk:
    def __init__(self, zendesk_url: str, gitlab_url: str, project: str) -> None:
        self.zendesk_url, self.gitlab_url = zendesk_url, gitlab_url
        self.project_path = f"/api/v4/projects/{quote(project, safe='')}"
        self.comments: dict[int, list[dict]] = defaultdict(list)
        self.updates: list[tuple[int, dict]] = []  # every ticket update body, in order
        self.tags: dict[int, list[str]] = defaultdict(list)
        self.issues: list[dict] = []
        self.issue_notes: dict[int, list[str]] = defaultdict(list)
        self._ids = itertools.count(1000)

    def install(self, mock) -> "Desk":
        zd, gl = re.escape(self.zendesk_url), re.escape(self.gitlab_url + self.project_path)
        mock.add_callback("GET", re.compile(zd + r"/api/v2/tickets/\d+/comments\.json.*"),
                          callback=self._list_comments)
        mock.add_callback("PUT", re.compile(zd + r"/api/v2/tickets/\d+\.json"),
                          callback=self._update_ticket)
        mock.add_callback("PUT", re.compile(zd + r"/api/v2/tickets/\d+/tags\.json"),
                          callback=self._add_tags)
        mock.add_callback("GET", re.compile(gl + r"/issues(\?.*)?$"), callback=self._search_issues)
        mock.add_callback("POST", re.compile(gl + r"/issues$"), callback=self._create_issue)
        mock.add_callback("POST", re.compile(gl + r"/issues/\d+/notes$"), callback=self._add_note)
        return self

    # --- what was written -------------------------------------------------------------

    def notes(self, ticket_id: int) -> list[str]:
        return [c["body"] for c in self.comments[ticket_id] if not c["public"]]

    def statuses(self, ticket_id: int) -> list[str]:
        return [u["status"] for t, u in self.updates if t == ticket_id and "status" in u]

    # --- Zendesk ------------------------------------------------------------------------

    @staticmethod
    def _ticket_id(request) -> int:
        return int(re.search(r"/tickets/(\d+)", request.url)[1])

    def _list_comments(self, request):
        body = {"comments": self.comments[self._ticket_id(request)], "next_page": None,
                "previous_page": None, "count": len(self.comments[self._ticket_id(request)])}
        return 200, {"Content-Type": "application/json"}, json.dumps(body)

    def _update_ticket(self, request):
        ticket_id = self._ticket_id(request)
        update = json.loads(request.body)["ticket"]
        self.updates.append((ticket_id, update))
        if "comment" in update:
            comment = {**fixture("zendesk", "list_ticket_comments")["comments"][0],
                       "id": next(self._ids), "attachments": [], "author_id": 7777,
                       "body": update["comment"]["body"],
                       "public": update["comment"].get("public", True)}
            self.comments[ticket_id].append(comment)
        answer = copy.deepcopy(fixture("zendesk", "update_ticket"))
        answer["ticket"].update(id=ticket_id, **{k: v for k, v in update.items() if k == "status"})
        return 200, {"Content-Type": "application/json"}, json.dumps(answer)

    def _add_tags(self, request):
        ticket_id = self._ticket_id(request)
        for tag in json.loads(request.body)["tags"]:
            if tag not in self.tags[ticket_id]:
                self.tags[ticket_id].append(tag)
        return 200, {"Content-Type": "application/json"}, json.dumps({"tags": self.tags[ticket_id]})

    # --- GitLab -------------------------------------------------------------------------

    def _search_issues(self, request):
        term = parse_qs(urlsplit(request.url).query).get("search", [""])[0]
        found = [i for i in self.issues if term in (i["description"] or "")]
        return 200, {"Content-Type": "application/json"}, json.dumps(found)

    def _create_issue(self, request):
        sent = json.loads(request.body)
        labels = sent.get("labels", [])  # python-gitlab sends a list as "a,b"
        iid = len(self.issues) + 1
        issue = {**fixture("gitlab", "post_project_issue"), "iid": iid, "id": next(self._ids),
                 "title": sent["title"], "description": sent["description"],
                 "labels": labels.split(",") if isinstance(labels, str) else labels, "confidential": sent.get("confidential", False),
                 "web_url": f"{self.gitlab_url}/support/escalations/-/issues/{iid}"}
        self.issues.append(issue)
        return 201, {"Content-Type": "application/json"}, json.dumps(issue)

    def _add_note(self, request):
        iid = int(re.search(r"/issues/(\d+)/notes", request.url)[1])
        body = json.loads(request.body)["body"]
        self.issue_notes[iid].append(body)
        note = {**fixture("gitlab", "post_issue_note"), "id": next(self._ids), "body": body}
        return 201, {"Content-Type": "application/json"}, json.dumps(note)
