"""The upstream fakes served over real HTTP on loopback, for tests that run other processes.

`tests/http_world.py` (the world's portal, GitLab reads and Zendesk reads) and
`tests/upstream_fakes.py` (tickets' notes, escalation issues) are `responses` callbacks;
here the same callbacks answer real sockets through the sandbox's server
(sandbox/server.py), so a worker process with its real clients (requests,
python-gitlab, zenpy) talks to them. zenpy reaches the Zendesk server through its
own ZENPY_FORCE_NETLOC / ZENPY_FORCE_SCHEME variables, set in the worker's environment only.
Not a test module.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import urlencode

from requests.structures import CaseInsensitiveDict

from sandbox.server import Request, Response, Server
from tests.http_world import GITLAB_TOKEN, PORTAL_TOKEN, HttpWorld
from tests.sidebar_auth import zendesk_user_payloads
from tests.upstream_fakes import FakeGitLab, FakeZendesk, _reply

Callback = Callable[[Any], tuple[int, dict, str]]


@dataclass
class _Request:
    """What the `responses` callbacks read of a request."""

    method: str
    url: str
    body: bytes | None
    headers: Any = field(default_factory=dict)


class _Callbacks:
    """The sandbox's loopback server (sandbox/server.py) answering with a
    `responses` callback: the HTTP plumbing is the sandbox's, the answers the fakes'."""

    upstream = "test-double"

    def __init__(self, route: Callable[[_Request], Callback]) -> None:
        self._route = route

    def handle(self, request: Request) -> Response:
        query = urlencode(request.query, doseq=True)
        legacy = _Request(request.method, f"http://upstream{request.path}" + (f"?{query}" if query else ""),
                          request.body or None, CaseInsensitiveDict(dict(request.headers)))
        status, headers, body = self._route(legacy)(legacy)
        # The server sends JSON with its own Content-Type; the callbacks' bodies are JSON text.
        headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
        return Response(status, json.loads(body) if body else None, headers)

    def finish(self, request: Request, response: Response) -> Response:
        return response


def _serve(route: Callable[[_Request], Callback]) -> Server:
    return Server(_Callbacks(route), state=None).start()


class Upstreams:
    """Portal, GitLab and Zendesk servers over one world; `portal_hook` may wrap the portal."""

    def __init__(self, world, agents: dict[int, tuple] = {}) -> None:  # noqa: B006 (read only)
        self.world = HttpWorld(world)
        self.zendesk = FakeZendesk()
        self.gitlab = FakeGitLab()
        self.agents = agents  # user id -> (role, groups)
        self.portal_hook: Callable[[_Request, Callback], tuple] | None = None
        self.servers = [_serve(self._portal), _serve(self._gitlab), _serve(self._zendesk)]

    def url(self, index: int) -> str:
        return self.servers[index].url

    def env(self) -> dict[str, str]:
        """What a worker process needs to reach these servers."""
        netloc = self.url(2).removeprefix("http://")
        return {"PORTAL_API_URL": self.url(0), "PORTAL_API_TOKEN": PORTAL_TOKEN,
                "GITLAB_URL": self.url(1), "GITLAB_TOKEN": GITLAB_TOKEN,
                "GITLAB_ESCALATION_PROJECT": "support/escalations",
                "ZENPY_FORCE_NETLOC": netloc, "ZENPY_FORCE_SCHEME": "http"}

    def close(self) -> None:
        for server in self.servers:
            server.stop()

    def _portal(self, request: _Request) -> Callback:
        served = self.world._wrap(self.world._portal)
        if self.portal_hook is None:
            return served
        return lambda r: self.portal_hook(r, served)

    def _gitlab(self, request: _Request) -> Callback:
        path = request.url.split("?")[0]
        if "/projects/support%2Fescalations/issues" not in path:
            return self.world._wrap(self.world._gitlab)
        if request.method == "POST":
            return self.gitlab._note if path.endswith("/notes") else self.gitlab._create
        return self.gitlab._list_notes if path.endswith("/notes") else self.gitlab._search

    def _zendesk(self, request: _Request) -> Callback:
        path = request.url.split("?")[0]
        if m := re.search(r"/api/v2/users/(\d+)(/groups)?\.json$", path):
            if int(m[1]) in self.agents:
                user, groups = zendesk_user_payloads(int(m[1]), *self.agents[int(m[1])])
                return lambda r: _reply(200, groups if m[2] else user)
        if path.endswith("/comments.json"):
            return self.zendesk._list
        if path.endswith("/tags.json"):
            return self.zendesk._tags
        if request.method == "PUT":
            return self.zendesk._update
        return self.world._wrap(self.world._zendesk)
