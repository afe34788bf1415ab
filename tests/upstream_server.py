"""The upstream fakes served over real HTTP on loopback, for tests that run other processes.

`tests/http_world.py` (the world's portal, GitLab reads and Zendesk reads) and
`tests/upstream_fakes.py` (tickets' notes, escalation issues) are `responses` callbacks;
here the same callbacks answer real sockets, so a worker process with its real clients
(requests, python-gitlab, zenpy) talks to them. zenpy reaches the Zendesk server through its
own ZENPY_FORCE_NETLOC / ZENPY_FORCE_SCHEME variables, set in the worker's environment only.
Not a test module.
"""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

from requests.structures import CaseInsensitiveDict

from tests.http_world import GITLAB_TOKEN, PORTAL_TOKEN, HttpWorld
from tests.sidebar_auth import zendesk_user_payloads
from tests.upstream_fakes import FakeGitLab, FakeZendesk, _reply

Callback = Callable[[Any], tuple[int, dict, str]]


@dataclass
class _Request:
    method: str
    url: str
    body: bytes | None
    headers: Any = field(default_factory=dict)


def _serve(route: Callable[[_Request], Callback]) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def _any(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            request = _Request(self.command, f"http://upstream{self.path}",
                               self.rfile.read(length) if length else None,
                               CaseInsensitiveDict(dict(self.headers)))
            status, headers, body = route(request)(request)
            try:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body.encode())))
                self.end_headers()
                self.wfile.write(body.encode())
            except (BrokenPipeError, ConnectionResetError):  # the caller died (SIGKILL)
                pass

        do_GET = do_PUT = do_POST = do_DELETE = _any

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


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
        return f"http://127.0.0.1:{self.servers[index].server_address[1]}"

    def env(self) -> dict[str, str]:
        """What a worker process needs to reach these servers."""
        netloc = self.url(2).removeprefix("http://")
        return {"PORTAL_API_URL": self.url(0), "PORTAL_API_TOKEN": PORTAL_TOKEN,
                "GITLAB_URL": self.url(1), "GITLAB_TOKEN": GITLAB_TOKEN,
                "GITLAB_ESCALATION_PROJECT": "support/escalations",
                "ZENPY_FORCE_NETLOC": netloc, "ZENPY_FORCE_SCHEME": "http"}

    def close(self) -> None:
        for server in self.servers:
            server.shutdown()

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
