"""The sandbox in the benchmark's own process, and every request its servers answer.

The sandbox (`sandbox.Sandbox`) runs from a scenario dict; `RequestLog`
records every request its three servers answer (arrival, answer sent, upstream, method,
path with query, status), measured on the server side.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import checkout  # noqa: F401 - puts the checkout on sys.path, for helpdesk_app
from processes import Stack


@dataclass
class Call:
    start: float  # time.time() when the request line had been read
    end: float  # after the answer was written
    upstream: str
    method: str
    path: str  # as sent, query string included
    status: int | None


class RequestLog:
    """Every request the sandbox's servers answer, timed on the server side.

    Installed in this process before `Sandbox.start`: it wraps the request handler class
    the sandbox builds for each server (sandbox/server.py, `_handler_class`),
    timing from the parsed request line to the answer written, which is what the service
    waits for, less the loopback hop.
    """

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self._lock = threading.Lock()

    def install(self) -> None:
        from sandbox import server as server_module

        original = getattr(server_module, "_handler_class", None)
        if original is None or getattr(original, "_bench_wrapped", False):
            raise RuntimeError("the sandbox's handler factory changed: update RequestLog.install")
        recorder = self

        def wrapped_factory(server):
            base = original(server)
            serve = base.do_GET

            class Timed(base):  # type: ignore[misc, valid-type]
                def parse_request(self):
                    self._bench_t0 = time.time()
                    self._bench_status = None
                    return super().parse_request()

                def send_response(self, code, message=None):
                    self._bench_status = code
                    return super().send_response(code, message)

                def _bench_any(self):
                    try:
                        serve(self)
                    finally:
                        recorder.add(Call(self._bench_t0, time.time(), server.api.upstream,
                                          self.command, self.path, self._bench_status))

                do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _bench_any

            return Timed

        wrapped_factory._bench_wrapped = True  # type: ignore[attr-defined]
        wrapped_factory._bench_original = original  # type: ignore[attr-defined]
        server_module._handler_class = wrapped_factory

    @staticmethod
    def uninstall() -> None:
        from sandbox import server as server_module

        original = getattr(server_module._handler_class, "_bench_original", None)
        if original is not None:
            server_module._handler_class = original

    def add(self, call: Call) -> None:
        with self._lock:
            self.calls.append(call)

    def snapshot(self) -> list[Call]:
        with self._lock:
            return list(self.calls)

    def between(self, start: float, end: float) -> list[Call]:
        return [c for c in self.snapshot() if c.start >= start and c.start <= end]


def start_sandbox(stack: Stack, scenario: dict[str, Any]) -> tuple[Any, RequestLog]:
    from sandbox import Sandbox

    calls = RequestLog()
    calls.install()
    stack.callback(RequestLog.uninstall)
    sandbox = Sandbox.start(scenario)
    stack.callback(sandbox.stop)
    return sandbox, calls
