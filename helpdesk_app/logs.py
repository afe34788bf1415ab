"""Logs: JSON lines on stdout, one event name and the fields its call passes, each with the
request id of the work it belongs to (architecture.md, "Operating it").

The request id is taken from an incoming `X-Request-Id` (when it is a plain token) or made,
returned in the response, sent on to every upstream call (`upstreams/trace.py`), carried
into jobs (`engine/jobs.py`) and recorded in the audit trail. A context variable carries it,
so concurrent requests, job threads and RQ jobs keep theirs apart.

Customer text never reaches a log: the service logs ids, counts and codes only, and the
client libraries that could write a request's URL or body (an address in a search query, a
ticket's comments) are held at WARNING whatever LOG_LEVEL says.
"""
from __future__ import annotations

import contextlib
import contextvars
import logging
import re
import sys
import uuid
from typing import IO, Any, Iterator

from pythonjsonlogger.json import JsonFormatter

HEADER = "X-Request-Id"
_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
# What an incoming id may be: a token a log search can find, never text to echo.
_PLAIN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
# Loggers of client libraries that write URLs (with e-mail addresses in queries) or bodies
# at DEBUG and INFO.
QUIET = ("urllib3", "requests", "zenpy", "gitlab", "charset_normalizer")
_HANDLER_NAME = "helpdesk-json"


def current() -> str | None:
    return _request_id.get()


def new_request_id() -> str:
    return uuid.uuid4().hex


def accepted(value: str | None) -> str:
    """The incoming id when it is a plain token, else a new one."""
    return value if value and _PLAIN_ID.fullmatch(value) else new_request_id()


@contextlib.contextmanager
def request_id(value: str | None) -> Iterator[str]:
    """Work done inside the block belongs to `value` (a new id when None)."""
    value = value or new_request_id()
    token = _request_id.set(value)
    try:
        yield value
    finally:
        _request_id.reset(token)


def bind(value: str) -> contextvars.Token:
    """For a request's lifetime (Flask's before/teardown hooks): `unbind` with the token."""
    return _request_id.set(value)


def unbind(token: contextvars.Token) -> None:
    _request_id.reset(token)


class _WithRequestId(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _request_id.get()
        return True


_FORMAT: dict[str, Any] = dict(fmt="%(asctime)s %(levelname)s %(name)s %(message)s",
               rename_fields={"asctime": "at", "levelname": "level", "name": "logger",
                              "message": "event"},
               datefmt="%Y-%m-%dT%H:%M:%S%z", json_ensure_ascii=False)


def formatter() -> logging.Formatter:
    return JsonFormatter(**_FORMAT)


def configure(level: str, stream: IO[str] | None = None) -> logging.Handler:
    """JSON lines on `stream` (stdout) from every logger; idempotent, so each process and
    each create_app may call it. Other handlers (a test runner's) are left as they are."""
    root = logging.getLogger()
    handler = next((h for h in root.handlers if isinstance(h, logging.StreamHandler)
                    and h.get_name() == _HANDLER_NAME), None)
    if handler is None:
        handler = logging.StreamHandler(stream or sys.stdout)
        handler.set_name(_HANDLER_NAME)
        handler.addFilter(_WithRequestId())
        handler.setFormatter(formatter())
        root.addHandler(handler)
    elif stream is not None:
        handler.setStream(stream)
    root.setLevel(level)
    _record_only_what_is_written()
    for name in QUIET:
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLevelName(level)))
    return handler


def _record_only_what_is_written() -> None:
    """A line holds its time, level, logger, event and fields, never the caller's file and
    line, thread or process: so a record does not look them up (the logging HOWTO's
    "Optimization" table): about 20 µs a line under load (docs/performance.md)."""
    logging._srcfile = None  # no caller frame walk (findCaller)
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False


class _AccessFormatter(JsonFormatter):
    """gunicorn's access lines as JSON: its atoms (a dict in `record.args`) become fields;
    no query string, which may carry an address."""

    def add_fields(self, log_record, record, message_dict) -> None:
        super().add_fields(log_record, record, message_dict)
        atoms = record.args if hasattr(record.args, "get") else {}
        log_record.update({
            "method": atoms.get("m"), "path": atoms.get("U"), "status": atoms.get("s"),
            "duration_ms": atoms.get("M"), "bytes": atoms.get("B"),
            "request_id": atoms.get("{x-request-id}o"),
        })


def access_formatter() -> logging.Formatter:
    return _AccessFormatter(**_FORMAT)
