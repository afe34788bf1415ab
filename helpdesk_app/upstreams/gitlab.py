"""GitLab's REST API through python-gitlab: the `GitLab` and `IssueTracker` ports.

Reads (namespaces, members, users) use the main token; escalation issues and their notes
use the escalation token when one is configured, so a leak of either exposes less
(architecture.md, "Configuration and modes").

`RetryPolicy` is the only retry loop: python-gitlab's own retrying is switched off on the
client and on every call, because it sleeps with `time.sleep` (untestable), ignores our
backoff cap and, for 429, retries up to ten times by default.
"""
from __future__ import annotations

import json
import logging
import threading
from typing import TYPE_CHECKING, Any, Callable, TypeVar

import gitlab
import requests
from gitlab.exceptions import GitlabError

from helpdesk_app import metrics
from helpdesk_app.upstreams import trace
from helpdesk_app.upstreams.retry import RetryPolicy, is_transient_status, parse_retry_after
from workflows.errors import UpstreamError
from workflows.model import GitLabUser, Namespace

if TYPE_CHECKING:  # loaded by python-gitlab when a client is made, not before
    from gitlab.v4.objects import Project

T = TypeVar("T")
log = logging.getLogger(__name__)

UPSTREAM = "gitlab"
# Passed to every python-gitlab call: its Retry loop would otherwise retry 429s on its own.
_NO_LIBRARY_RETRY: dict[str, Any] = {"max_retries": 0, "obey_rate_limit": False}
# Failures where the request may never have reached GitLab, or its answer was lost.
_NETWORK_ERRORS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
)
_USER_SEARCH_PAGE = 20
_ISSUE_SEARCH_PAGE = 20
_MAX_MESSAGE = 300


class GitLabAdapter:
    """One client class for GitLab; one method per endpoint."""

    def __init__(
        self,
        url: str,
        token: str,
        *,
        escalation_project: str | int,
        escalation_token: str | None = None,
        timeout_s: float = 10.0,
        retry: RetryPolicy | None = None,
    ) -> None:
        self._url = url
        self._secrets = tuple(t for t in (token, escalation_token) if t)
        self._retry = retry or RetryPolicy()
        self._tokens = (token, escalation_token or token)
        self._timeout_s = timeout_s
        # The hooks of both sessions write here: python-gitlab's exceptions carry no
        # headers, so X-Request-Id and Retry-After are read from the last response seen
        # by this thread.
        self._last = threading.local()
        # python-gitlab's client wraps one requests.Session and says nothing of threads, and
        # Session is not documented as thread-safe (https://github.com/psf/requests/issues/2766):
        # each thread gets clients of its own, made on first use.
        self._clients = threading.local()
        self._escalation_project = escalation_project

    def __repr__(self) -> str:  # never the tokens
        return f"GitLabAdapter(url={self._url!r}, escalation_project={self._escalation_project!r})"

    @property
    def _gl(self) -> gitlab.Gitlab:
        return self._mine()[0]

    @property
    def _project(self) -> "Project":
        return self._mine()[2]

    def _mine(self) -> tuple[gitlab.Gitlab, gitlab.Gitlab, "Project"]:
        """This thread's reading client, issues client and escalation project."""
        made = getattr(self._clients, "made", None)
        if made is None:
            reader = self._client(self._url, self._tokens[0], self._timeout_s)
            issues = self._client(self._url, self._tokens[1], self._timeout_s)
            # Lazy: no request until an issue call is made.
            project = issues.projects.get(self._escalation_project, lazy=True)
            made = self._clients.made = (reader, issues, project)
        return made

    # --- the GitLab port (read side) ---------------------------------------------------

    def namespace(self, id_or_path: int | str) -> Namespace | None:
        """`GET /namespaces/:id` (id or URL-encoded full path); None when GitLab answers 404.

        https://docs.gitlab.com/api/namespaces/ ("Get details on a namespace")
        """
        found = self._read_or_none(
            lambda: self._gl.namespaces.get(id_or_path, **_NO_LIBRARY_RETRY),
            name="gitlab.namespace",
        )
        return None if found is None else _namespace(found.asdict())

    def access_level(self, group_id: int, user_id: int) -> int | None:
        """`GET /groups/:id/members/all/:user_id`: direct or inherited level; None if not a member.

        Exactly one request: listing members or a user's groups is unbounded (seed 001's 502).
        https://docs.gitlab.com/api/members/ ("Get a member of a group or project, including
        inherited and invited members")
        """
        group = self._gl.groups.get(group_id, lazy=True)
        member = self._read_or_none(
            lambda: group.members_all.get(user_id, **_NO_LIBRARY_RETRY),
            name="gitlab.access_level",
        )
        return None if member is None else int(member.access_level)

    def user(self, user_id: int) -> GitLabUser | None:
        """`GET /users/:id`; `is_admin` is only present for an admin token (else unknown: None).

        https://docs.gitlab.com/api/users/ ("Get a single user", "As an administrator")
        """
        found = self._read_or_none(
            lambda: self._gl.users.get(user_id, **_NO_LIBRARY_RETRY), name="gitlab.user"
        )
        return None if found is None else _user(found.asdict())

    def user_by_username(self, username: str) -> GitLabUser | None:
        """`GET /users?username=<username>`: exact (case-insensitive); None when nobody has it.

        https://docs.gitlab.com/api/users/ ("List users": "username" filter)
        """
        found = self._retry.call(
            lambda: self._call(lambda: self._gl.users.list(
                username=username, per_page=1, get_all=False, **_NO_LIBRARY_RETRY
            )),
            name="gitlab.user_by_username",
        )
        exact = [u.asdict() for u in found if u.username.casefold() == username.casefold()]
        return _user(exact[0]) if exact else None

    def users_by_email(self, email: str) -> list[GitLabUser]:
        """`GET /users?search=<email>`, filtered to exact, case-insensitive email matches.

        The search is fuzzy (name and username match too), so only users whose `email`
        (visible to an admin token) or `public_email` equals the address are kept.
        https://docs.gitlab.com/api/users/ ("List users", "As an administrator")
        """
        if not email.strip():
            return []  # an empty search would list every user
        found = self._retry.call(
            lambda: self._call(lambda: self._gl.users.list(
                search=email, per_page=_USER_SEARCH_PAGE, get_all=False, **_NO_LIBRARY_RETRY
            )),
            name="gitlab.users_by_email",
        )
        candidates = (u.asdict() for u in found)
        return [_user(u) for u in candidates if _has_email(u, email)]

    # --- the IssueTracker port (escalation project) -----------------------------------

    def create_issue(
        self, title: str, description: str, *, labels: list[str], marker: str
    ) -> dict:
        """`POST /projects/:id/issues`, confidential; never creates a second issue per marker.

        A transient failure may come after GitLab created the issue (a timeout on the
        answer), so before any retry the project is searched for the marker: if the first
        attempt left an issue, that issue is returned instead of posting again.
        https://docs.gitlab.com/api/issues/ ("New issue")
        """
        data = {"title": title, "description": description, "labels": list(labels),
                "confidential": True}
        return self._create_once(
            lambda: self._project.issues.create(data, **_NO_LIBRARY_RETRY).asdict(),
            lambda: self.find_issue_by_marker(marker), name="gitlab.create_issue")

    def find_issue_by_marker(self, marker: str) -> dict | None:
        """The escalation project's issue whose description holds `marker`, any state.

        `GET /projects/:id/issues?search=<marker>&in=description`; the search matches words,
        so the marker itself is checked in each description.
        https://docs.gitlab.com/api/issues/ ("List project issues")
        """
        found = self._retry.call(
            lambda: self._call(lambda: self._project.issues.list(
                search=marker, per_page=_ISSUE_SEARCH_PAGE, get_all=False,
                # `in` is a Python keyword, hence the dict.
                **{"in": "description"}, **_NO_LIBRARY_RETRY,  # type: ignore[call-overload]
            )),
            name="gitlab.find_issue_by_marker",
        )
        issues = (i.asdict() for i in found)
        return next((i for i in issues if marker in (i.get("description") or "")), None)

    def comment_on_issue(self, issue_iid: int, body: str, *, marker: str | None = None) -> dict:
        """`POST /projects/:id/issues/:iid/notes`, once per marker.

        With a `marker`, the issue's notes are read first (`GET .../notes`) and a note that
        holds it is returned instead of posting again: a crash between posting and
        recording must not comment twice. The POST itself is retried only after such a
        read found nothing; without a marker it is never retried (nothing to look for).
        https://docs.gitlab.com/api/notes/ ("List project issue notes", "Create new issue note")
        """
        issue = self._project.issues.get(issue_iid, lazy=True)
        if marker and (found := self._note_with(issue, marker)) is not None:
            log.info("gitlab.note.already_present", extra={"issue_iid": issue_iid})
            return found
        return self._create_once(
            lambda: issue.notes.create({"body": body}, **_NO_LIBRARY_RETRY).asdict(),
            (lambda: self._note_with(issue, marker)) if marker else None,
            name="gitlab.comment_on_issue")

    def _create_once(self, create: Callable[[], dict], find: Callable[[], dict | None] | None,
                     *, name: str) -> dict:
        """POST once; repeat only after `find` saw no trace of the failed attempt, and return
        what it found instead when it did (a timeout may come after GitLab created it).
        Without `find` a failed POST is never repeated."""
        left_behind: list[dict] = []

        def nothing_left_behind() -> bool:
            found = find()
            if found is not None:
                left_behind.append(found)
            return found is None

        try:
            return self._retry.call(lambda: self._call(create), name=name, safe_to_repeat=False,
                                    before_retry=nothing_left_behind if find else None)
        except UpstreamError:
            if left_behind:
                return left_behind[0]
            raise

    def _note_with(self, issue: Any, marker: str) -> dict | None:
        # Newest first: the note a failed attempt left is among the last ones.
        notes = self._retry.call(
            lambda: self._call(lambda: issue.notes.list(
                sort="desc", order_by="created_at", per_page=_ISSUE_SEARCH_PAGE, get_all=False,
                **_NO_LIBRARY_RETRY)),
            name="gitlab.list_issue_notes",
        )
        return next((n.asdict() for n in notes if marker in (n.body or "")), None)

    # --- one place for HTTP plumbing and error mapping ---------------------------------

    def _client(self, url: str, token: str, timeout_s: float) -> gitlab.Gitlab:
        session = trace.send_request_ids(requests.Session(), url)
        session.hooks["response"].append(self._remember_response)
        return gitlab.Gitlab(
            url, private_token=token, timeout=timeout_s,
            retry_transient_errors=False, session=session,
        )

    def _remember_response(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self._last.response = response
        trace.record(UPSTREAM, response.headers.get("X-Request-Id"))
        metrics.upstream_response(UPSTREAM, response.status_code)

    def _read_or_none(self, fn: Callable[[], T], *, name: str) -> T | None:
        """A retried read where 404 is a fact (not found), not a failure."""
        try:
            return self._retry.call(lambda: self._call(fn), name=name)
        except UpstreamError as error:
            if error.status == 404:
                return None
            raise

    def _call(self, fn: Callable[[], T]) -> T:
        """One attempt; any python-gitlab or requests failure becomes an UpstreamError."""
        self._last.response = None  # a stale response must not lend its headers
        try:
            return fn()
        except (GitlabError, requests.RequestException) as exc:
            raise self._upstream_error(exc) from exc

    def _upstream_error(self, exc: Exception) -> UpstreamError:
        response: requests.Response | None = getattr(self._last, "response", None)
        headers = response.headers if response is not None else {}
        status = getattr(exc, "response_code", None) or (
            response.status_code if response is not None and response.status_code >= 400 else None
        )
        if isinstance(exc, _NETWORK_ERRORS):
            metrics.upstream_response(UPSTREAM, "error")
            message, transient = f"GitLab did not answer ({type(exc).__name__})", True
        elif isinstance(exc, GitlabError) and status is not None:
            message = f"GitLab answered {status}: {exc.error_message}"
            transient = is_transient_status(status)
        else:
            message, transient = f"GitLab request failed ({type(exc).__name__})", False
        return UpstreamError(
            UPSTREAM,
            self._scrub(message),
            status=status,
            code=_error_code(getattr(exc, "response_body", None)),
            request_id=headers.get("X-Request-Id"),
            retry_after=parse_retry_after(headers.get("Retry-After")),
            transient=transient,
        )

    def _scrub(self, text: str) -> str:
        """Defence in depth: the message is built from the answer, but never let a token out."""
        for secret in self._secrets:
            text = text.replace(secret, "[redacted]")
        return text[:_MAX_MESSAGE]


def _error_code(body: bytes | None) -> str | None:
    """GitLab's REST errors are `{"message": ...}`; OAuth-style ones add a string `error`."""
    try:
        parsed = json.loads(body or b"")
    except ValueError:
        return None
    code = parsed.get("error") if isinstance(parsed, dict) else None
    return code if isinstance(code, str) else None


def _namespace(data: dict[str, Any]) -> Namespace:
    return Namespace(
        id=data["id"],
        full_path=data["full_path"],
        kind=data.get("kind") or "group",
        parent_id=data.get("parent_id"),
        plan=data.get("plan") or "free",
        # Seats in use; GitLab omits it where it does not count (provisioning-rules.md).
        billable_members_count=data.get("billable_members_count") or 0,
        max_seats_used=data.get("max_seats_used"),
    )


def _user(data: dict[str, Any]) -> GitLabUser:
    return GitLabUser(
        id=data["id"],
        username=data["username"],
        email=data.get("email") or data.get("public_email"),
        # GitLab leaves it out for a token without admin rights: unknown, never "not an admin".
        is_admin=bool(data["is_admin"]) if data.get("is_admin") is not None else None,
    )


def _has_email(data: dict[str, Any], email: str) -> bool:
    wanted = email.strip().casefold()
    return any(
        (data.get(key) or "").strip().casefold() == wanted for key in ("email", "public_email")
    )
