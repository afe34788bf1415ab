"""The subset of GitLab's REST API v4 that helpdesk_app/upstreams/gitlab.py calls.

https://docs.gitlab.com/api/rest/ . Auth by `PRIVATE-TOKEN` (python-gitlab's header) or
`Authorization: Bearer`. The admin token reads everything; the escalation token (a project
token) only reaches the escalation project, as a real project token would. Lists are
paginated with the headers python-gitlab reads (`X-Page`, `X-Per-Page`, `X-Total`,
`X-Total-Pages`, `X-Next-Page`, `X-Prev-Page`, `Link`;
https://docs.gitlab.com/api/rest/#pagination). Errors are `{"message": "404 Not Found"}`.
"""
from __future__ import annotations

import hmac
import math
import uuid
from typing import Any, Callable
from urllib.parse import parse_qsl, unquote, urlencode

from sandbox import payloads
from sandbox.faults import Fault
from sandbox.server import BadRequest, Request, Response, Router
from sandbox.state import Invalid, NotFound, State

API = "/api/v4"
PROJECT = API + r"/projects/([^/]+)"
ISSUE = PROJECT + r"/issues/(\d+)"
DEFAULT_PER_PAGE, MAX_PER_PAGE = 20, 100


def _error(status: int, what: str = "") -> Response:
    return Response(status, payloads.gitlab_error(status, what))


class GitLabApi:
    upstream = "gitlab"

    def __init__(self, state: State, *, token: str, escalation_token: str | None,
                 bot: dict[str, Any], project_bot: dict[str, Any]) -> None:
        self.state = state
        self._tokens = {token: bot, **({escalation_token: project_bot} if escalation_token else {})}
        self._project_only = escalation_token
        self.base = ""  # the server's URL, set once it listens (for web_url and Link)
        self.router = Router()
        r = self.router
        r.add("GET", API + r"/namespaces/([^/]+)", self.get_namespace)
        r.add("GET", API + r"/groups/([^/]+)/members/all/(\d+)", self.get_member)
        r.add("GET", API + r"/users/(\d+)", self.get_user)
        r.add("GET", API + r"/users", self.list_users)
        r.add("GET", PROJECT + r"/issues", self.list_issues)
        r.add("POST", PROJECT + r"/issues", self.create_issue)
        r.add("GET", ISSUE, self.get_issue)
        r.add("PUT", ISSUE, self.update_issue)
        r.add("GET", ISSUE + r"/notes", self.list_notes)
        r.add("POST", ISSUE + r"/notes", self.create_note)

    # --- the edge ------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        actor = self._actor(request)
        if actor is None:
            return _error(401)
        found = self.router.find(request)
        if not isinstance(found, tuple):
            return _error(404 if found is None else 405)
        handler, groups = found
        project_route = request.path.startswith(API + "/projects/")
        if project_route and not self.state.is_project(unquote(groups[0])):
            return _error(404, "Project")
        if actor.get("project_only") and not project_route:
            return _error(403)  # a project token reaches its project only
        try:
            return handler(request, actor, *groups)
        except BadRequest as error:
            return Response(400, {"error": str(error)})
        except Invalid as error:
            return Response(400, {"error": str(error)})

    def _actor(self, request: Request) -> dict[str, Any] | None:
        given = request.headers.get("PRIVATE-TOKEN") or \
            (request.headers.get("Authorization") or "").removeprefix("Bearer ")
        for token, user in self._tokens.items():
            if given and hmac.compare_digest(given.encode(), token.encode()):
                return {**user, "project_only": token == self._project_only}
        return None

    def fault_response(self, fault: Fault, request: Request) -> Response:
        if fault.retry_after is not None:
            return Response(429, payloads.gitlab_error(429), {"Retry-After": str(fault.retry_after)})
        body = fault.body if fault.body is not None else payloads.gitlab_error(fault.status)
        return Response(fault.status, body)

    def finish(self, request: Request, response: Response) -> Response:
        response.headers.setdefault("X-Request-Id", uuid.uuid4().hex[:26].upper())
        return response

    # --- namespaces, members, users ------------------------------------------------------

    def get_namespace(self, request: Request, actor: dict, ref: str) -> Response:
        """https://docs.gitlab.com/api/namespaces/#get-details-on-a-namespace"""
        try:
            found = self.state.namespace(_ref(ref))
        except NotFound:
            return _error(404, "Namespace")
        return Response(200, payloads.namespace(found, self.base))

    def get_member(self, request: Request, actor: dict, ref: str, user_id: str) -> Response:
        """https://docs.gitlab.com/api/members/ (members/all: inherited members too)."""
        try:
            _, user, level = self.state.group_member(_ref(ref), int(user_id))
        except NotFound as missing:
            return _error(404, "Group" if missing.args == ("group",) else "")
        return Response(200, payloads.member(user, level, self.base))

    def get_user(self, request: Request, actor: dict, user_id: str) -> Response:
        """https://docs.gitlab.com/api/users/#get-a-single-user (admin view)."""
        try:
            found = self.state.gitlab_user(int(user_id))
        except NotFound:
            return _error(404, "User")
        return Response(200, self._user(found))

    def list_users(self, request: Request, actor: dict) -> Response:
        """`?search=` is fuzzy (email, username, name); `?username=` is exact."""
        found = self.state.search_gitlab_users(request.arg("search") or "")
        username = request.arg("username")
        if username is not None:
            found = [u for u in found if u["username"].casefold() == username.casefold()]
        return self._page(request, [self._user(u) for u in sorted(found, key=lambda u: u["id"])])

    def _user(self, record: dict[str, Any]) -> dict[str, Any]:
        personal = self.state.personal_namespace_id(record["username"])
        return payloads.user(record, self.base, personal)

    # --- the escalation project's issues and notes --------------------------------------------

    def list_issues(self, request: Request, actor: dict, project: str) -> Response:
        """https://docs.gitlab.com/api/issues/#list-project-issues (search, in, state)."""
        fields = tuple(f for f in (request.arg("in") or "title,description").split(",")
                       if f in ("title", "description")) or ("title", "description")
        state = request.arg("state") or "all"
        if state not in ("opened", "closed", "all"):
            raise BadRequest("state does not have a valid value")
        found = self.state.list_issues(search=request.arg("search"), fields=fields, state=state)
        if request.arg("sort") == "asc":
            found.reverse()
        return self._page(request, [self._issue(i) for i in found])

    def create_issue(self, request: Request, actor: dict, project: str) -> Response:
        """https://docs.gitlab.com/api/issues/#new-issue"""
        created = self.state.create_issue(_body(request), _author(actor))
        return Response(201, self._issue(created))

    def get_issue(self, request: Request, actor: dict, project: str, iid: str) -> Response:
        return self._with_issue(lambda: self._issue(self.state.issue(int(iid))), 200)

    def update_issue(self, request: Request, actor: dict, project: str, iid: str) -> Response:
        """https://docs.gitlab.com/api/issues/#edit-an-issue (`state_event`: close, reopen)."""
        body = _body(request)
        return self._with_issue(
            lambda: self._issue(self.state.update_issue(int(iid), body, _author(actor))), 200)

    def list_notes(self, request: Request, actor: dict, project: str, iid: str) -> Response:
        """https://docs.gitlab.com/api/notes/#list-project-issue-notes (newest first by default)."""
        try:
            notes = self.state.issue_notes_of(int(iid))
        except NotFound:
            return _error(404)
        key = "updated_at" if request.arg("order_by") == "updated_at" else "created_at"
        notes.sort(key=lambda n: (n[key], n["id"]), reverse=request.arg("sort") != "asc")
        project_record = self.state.project
        return self._page(request, [payloads.note(n, project_record, self.base) for n in notes])

    def create_note(self, request: Request, actor: dict, project: str, iid: str) -> Response:
        """https://docs.gitlab.com/api/notes/#create-new-issue-note"""
        body = _body(request).get("body")
        return self._with_issue(lambda: payloads.note(
            self.state.add_issue_note(int(iid), body, _author(actor)), self.state.project, self.base), 201)

    def _issue(self, record: dict[str, Any]) -> dict[str, Any]:
        return payloads.issue(record, self.state.project, self.base)

    @staticmethod
    def _with_issue(build: Callable[[], dict], status: int) -> Response:
        try:
            return Response(status, build())
        except NotFound:
            return _error(404)

    # --- pagination -------------------------------------------------------------------------

    def _page(self, request: Request, items: list[Any]) -> Response:
        """One page, with the headers python-gitlab and GitLab's docs use."""
        per_page = min(MAX_PER_PAGE, max(1, _number(request.arg("per_page"), DEFAULT_PER_PAGE)))
        pages = max(1, math.ceil(len(items) / per_page))
        page = min(max(1, _number(request.arg("page"), 1)), pages)
        headers = {"X-Page": str(page), "X-Per-Page": str(per_page), "X-Total": str(len(items)),
                   "X-Total-Pages": str(pages),
                   "X-Next-Page": str(page + 1) if page < pages else "",
                   "X-Prev-Page": str(page - 1) if page > 1 else "",
                   "Link": self._links(request, page, pages)}
        return Response(200, items[(page - 1) * per_page: page * per_page], headers)

    def _links(self, request: Request, page: int, pages: int) -> str:
        query = [(k, v) for k, v in parse_qsl(urlencode(request.query, doseq=True)) if k != "page"]
        wanted = {"prev": page - 1 if page > 1 else None, "next": page + 1 if page < pages else None,
                  "first": 1, "last": pages}
        return ", ".join(f'<{self.base}{request.path}?{urlencode(query + [("page", n)])}>; rel="{rel}"'
                         for rel, n in wanted.items() if n is not None)


def _ref(ref: str) -> int | str:
    """GitLab's `:id`: a numeric id or a URL-encoded full path."""
    text = unquote(ref)
    return int(text) if text.isdigit() else text


def _number(text: str | None, default: int) -> int:
    return int(text) if text and text.isdigit() else default


def _body(request: Request) -> dict[str, Any]:
    """python-gitlab posts JSON; a form-encoded body is accepted as GitLab does."""
    content_type = request.headers.get("Content-Type") or ""
    if "application/x-www-form-urlencoded" in content_type:
        return dict(parse_qsl(request.body.decode("utf-8", "replace")))
    body = request.json()
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body


def _author(actor: dict[str, Any]) -> dict[str, Any]:
    return {k: actor[k] for k in ("id", "username", "name")}
