"""Apps in sandbox mode for tests, and a loopback server for the sandbox's webhooks.

Not a test module. `sandbox_app(tmp_path)` is what `make run` serves with SANDBOX=1
(`sandbox.mode.sandboxed_app`: the sandbox starts in this process); `served_sandbox_app(tmp_path)` also serves the app over HTTP on
an ephemeral loopback port, which SANDBOX_SERVICE_URL names, so the sandbox's webhooks
(ticket.created, Issue Hook) reach it as they reach `make run`. Both stop the sandbox (and
the server) on exit: no thread or port outlives the test.
"""
from __future__ import annotations

import contextlib
import re
import threading
import time
from typing import Any, Callable, Iterator

from flask import Flask
from werkzeug.serving import make_server

from sandbox import mode

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def sandbox_env(tmp_path, **env: str) -> dict[str, str]:
    # Each test its own database file; everything else is the sandbox's defaults, but for
    # the start's triage of every ticket: its notes would land beside what a test counts,
    # at a moment of their own. Tests of it turn it on (SANDBOX_TRIAGE_AT_START="1").
    return {"SANDBOX": "1", "DATABASE_URL": f"sqlite:///{tmp_path / 'sandbox.db'}",
            "SANDBOX_TRIAGE_AT_START": "0", **env}


@contextlib.contextmanager
def sandbox_app(tmp_path, **env: str) -> Iterator[Flask]:
    app = mode.sandboxed_app(sandbox_env(tmp_path, **env))
    try:
        yield app
    finally:
        mode.stop(app)


class _Later:
    """A WSGI app that is set after the server listens (the port must be known first)."""

    app: Flask | None = None

    def __call__(self, environ, start_response):
        return self.app(environ, start_response)


@contextlib.contextmanager
def served_sandbox_app(tmp_path, **env: str) -> Iterator[Flask]:
    later = _Later()
    server = make_server("127.0.0.1", 0, later, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="test-service", daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        with sandbox_app(tmp_path, SANDBOX_SERVICE_URL=url, **env) as app:
            later.app = app
            yield app
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def sandbox_of(app: Flask):
    return app.extensions["sandbox"].sandbox


def csrf_token(client, path: str = "/sandbox/") -> str:
    """The CSRF token of the client's session, as a page of the agent page carries it."""
    return CSRF.search(client.get(path).get_data(as_text=True)).group(1)


def wait_for(condition: Callable[[], Any], timeout_s: float = 20.0, every_s: float = 0.1) -> Any:
    """Poll until `condition()` is truthy, and return it; fail after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout_s} s")
        time.sleep(every_s)
