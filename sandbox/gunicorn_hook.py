"""gunicorn's hook for sandbox mode (`make run` with no upstream setting): the one line that
says where to go, printed once the worker has loaded the app, and so started the sandbox,
on a socket the master already listens on.

    gunicorn --config python:sandbox.gunicorn_hook --workers 1 ... wsgi:app

Only gunicorn setting names are read from this module, so it holds the hook alone; the
Makefile passes bind, workers and threads, where they are visible.
"""
from __future__ import annotations

from helpdesk_app.settings import AGENT_PAGE_PATH
from sandbox.mode import EXTENSION


def post_worker_init(worker) -> None:
    if EXTENSION not in getattr(worker.wsgi, "extensions", {}):
        return  # not sandbox mode after all: nothing to open
    host, port = worker.sockets[0].getsockname()[:2]
    print(f"Sandbox mode: open http://{host}:{port}{AGENT_PAGE_PATH}/ (the local agent page; "
          "Ctrl-C stops)", flush=True)
