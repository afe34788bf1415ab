"""One loopback HTTP server per upstream, over the shared state.

Every request goes: the sandbox's own endpoints (`/_sandbox/...`), else fault injection
(faults.py), else the vendor API. The vendor API (portal_api, gitlab_api, zendesk_api)
authenticates, routes and answers in its vendor's shapes; this module only carries bytes.

    GET    /_sandbox/state    the whole world as JSON, with counters and the portal's log
    POST   /_sandbox/reset    back to the scenario as loaded (faults and counters too)
    GET    /_sandbox/faults   the fault rules and how often each applied
    POST   /_sandbox/faults   add a rule, a list of rules, or {"faults": [...]}; a rule's
                              `upstream` defaults to this server's
    DELETE /_sandbox/faults   remove every rule
"""
from __future__ import annotations

import json
import logging
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Protocol
from urllib.parse import parse_qs, urlsplit

from sandbox import faults
from sandbox.state import State

log = logging.getLogger(__name__)
LOOPBACK = ("127.0.0.1", "localhost")  # IPv4: zenpy reaches 127.0.0.1 as "127" + "0.0.1:port"
MAX_BODY = 4 * 1024 * 1024


class BadRequest(Exception):
    """A body that is not JSON where JSON is required."""


@dataclass
class Request:
    method: str
    path: str  # as sent: percent-encoding kept, no query string
    query: dict[str, list[str]]
    headers: Any  # an email.message.Message: case-insensitive .get()
    body: bytes

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def json(self) -> Any:
        if not self.body:
            return None
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError):
            raise BadRequest("the body is not JSON") from None


@dataclass
class Response:
    status: int
    body: Any = None  # JSON-ready; None sends no body
    headers: dict[str, str] = field(default_factory=dict)


class Api(Protocol):
    upstream: str

    def handle(self, request: Request) -> Response: ...

    def fault_response(self, fault: faults.Fault, request: Request) -> Response: ...

    def finish(self, request: Request, response: Response) -> Response:
        """Headers every answer carries (request ids), faults' included."""
        ...


Handler = Callable[..., Response]


class Router:
    """(method, path regex) -> handler(request, *groups); unknown paths are None."""

    def __init__(self) -> None:
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []

    def add(self, method: str, pattern: str, handler: Handler) -> None:
        self._routes.append((method, re.compile(pattern), handler))

    def find(self, request: Request) -> tuple[Handler, tuple[str, ...]] | None | str:
        """The handler and its path groups; "method" when only the method is wrong."""
        wrong_method = False
        for method, pattern, handler in self._routes:
            match = pattern.fullmatch(request.path)
            if match and method == request.method:
                return handler, match.groups()
            wrong_method = wrong_method or bool(match)
        return "method" if wrong_method else None


class Server:
    """A ThreadingHTTPServer on loopback answering for one Api. Without a state (tests that
    serve their own doubles) there is no fault injection and no /_sandbox endpoint."""

    def __init__(self, api: Api, state: State | None, *, host: str = "127.0.0.1", port: int = 0) -> None:
        if host not in LOOPBACK:  # the sandbox has no real auth on /_sandbox: never expose it
            raise ValueError(f"the sandbox binds loopback only, not {host!r}")
        self.api, self.state = api, state
        self._httpd = ThreadingHTTPServer((host, port), _handler_class(self))
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        host = str(self._httpd.server_address[0])
        return f"http://{'[' + host + ']' if ':' in host else host}:{self.port}"

    def start(self) -> "Server":
        # A short poll: shutdown() waits up to one interval, and tests stop many sandboxes.
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,),
                                        daemon=True, name=f"sandbox-{self.api.upstream}")
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def respond(self, request: Request) -> Response:
        if self.state is None:
            return self.api.finish(request, self.api.handle(request))
        if request.path.startswith("/_sandbox/"):
            return self.control(request)
        fault = self.state.take_fault(self.api.upstream, request.method, request.path)
        if fault is not None and fault.delay is not None:
            time.sleep(fault.delay)  # outside the lock: other requests go on meanwhile
            fault = None
        try:
            response = self.api.fault_response(fault, request) if fault else self.api.handle(request)
        except Exception:  # a bug in the sandbox must answer, not hang the client
            log.exception("sandbox.error", extra={"upstream": self.api.upstream})
            response = Response(500, {"error": "sandbox_error"})
        return self.api.finish(request, response)

    # --- /_sandbox/... -------------------------------------------------------------------

    def control(self, request: Request) -> Response:
        route = (request.method, request.path)
        if route == ("GET", "/_sandbox/state"):
            return Response(200, self.state.snapshot())
        if route == ("POST", "/_sandbox/reset"):
            self.state.reset()
            return Response(200, {"status": "reset"})
        if route == ("GET", "/_sandbox/faults"):
            return Response(200, {"faults": self.state.snapshot()["faults"]})
        if route == ("DELETE", "/_sandbox/faults"):
            self.state.clear_faults()
            return Response(200, {"faults": []})
        if route == ("POST", "/_sandbox/faults"):
            return self._add_faults(request)
        return Response(404, {"error": {"code": "not_found", "message": "no such sandbox endpoint"}})

    def _add_faults(self, request: Request) -> Response:
        try:
            body = request.json()
            rules = body.get("faults") if isinstance(body, dict) and "faults" in body else body
            rules = rules if isinstance(rules, list) else [rules]
            added = [faults.parse(r, f"faults[{i}]", upstream=self.api.upstream)
                     for i, r in enumerate(rules)]
        except (BadRequest, ValueError) as error:
            return Response(400, {"error": {"code": "bad_fault", "message": str(error)}})
        self.state.add_faults(added)
        return Response(201, {"faults": [f.to_dict() for f in added]})


def _handler_class(server: Server) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the clients' sessions expect
        # Headers and body leave in two writes; with Nagle on, the body of a kept-alive
        # connection waits for a delayed ACK (about 40 ms per request).
        disable_nagle_algorithm = True

        def _any(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self.send_error(413)
                return
            url = urlsplit(self.path)
            request = Request(self.command, url.path, parse_qs(url.query), self.headers,
                              self.rfile.read(length) if length else b"")
            self._send(server.respond(request))

        def _send(self, response: Response) -> None:
            body = b"" if response.body is None else json.dumps(response.body).encode()
            try:
                self.send_response(response.status)
                for name, value in response.headers.items():
                    self.send_header(name, value)
                if response.body is not None:
                    self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):  # the client went away
                pass

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _any

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("sandbox.request", extra={"upstream": server.api.upstream, "line": format % args})

    return Handler
