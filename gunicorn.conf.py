"""gunicorn's settings for the Procfile's web line and `make run` (gunicorn reads this file
from the working directory; flags on the command line win).

Sized for the machine the service runs on (2 cores here): threaded workers, so that a
plan waiting on a slow upstream holds a thread, not the process, and a Zendesk webhook,
which only writes one row, is answered at once while plans wait. Zendesk gives a webhook
about 10 s and deactivates webhooks that keep failing, so intake must never queue behind
plans.
"""
from __future__ import annotations

import os
import sys

bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))  # one per core
worker_class = "gthread"
# Requests are mostly waiting on upstreams (up to 10 s a call), not on the CPU. A sidebar
# following a run long-polls it (GET /api/v1/runs/<id>?wait=25): each such request holds
# one of these threads for up to 25 s, and at most 8 of a worker's threads wait at once
# (engine/run_watch.py), so at least 8 stay for webhooks and plans; past that a waiter is
# answered at once and asks again a second later. A plan's reads that go out together run
# on a pool of 32 threads per worker beside these (upstreams/gather.py), at most 12 a plan.
threads = int(os.environ.get("WEB_THREADS", "16"))
# A request that has not answered in 60 s is stuck: its worker is restarted. A plan's
# slowest honest path is three dependent upstream calls at their 10 s timeout, plus retries.
timeout = 60
# On SIGTERM (a deploy), requests in flight get this long to finish; jobs are in the
# database, so one cut off is taken over after its lease.
graceful_timeout = 30
keepalive = 5
accesslog = "-"
access_log_format = "http.access"  # the fields come from the atoms (helpdesk_app.logs)
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"()": "helpdesk_app.logs.formatter"},
        "access": {"()": "helpdesk_app.logs.access_formatter"},
    },
    "handlers": {
        "error": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stdout"},
        "access": {"class": "logging.StreamHandler", "formatter": "access", "stream": "ext://sys.stdout"},
    },
    # The app's own lines reach the root logger's handler that helpdesk_app.logs adds.
    "root": {"level": "INFO", "handlers": []},
    "loggers": {
        "gunicorn.error": {"handlers": ["error"], "level": "INFO", "propagate": False},
        "gunicorn.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
    },
}


def on_starting(server) -> None:
    """Check the settings once, in the master, before any worker starts: a start that
    names no upstream and does not ask for the sandbox stops with one line."""
    from helpdesk_app.settings import ConfigError, Settings

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):  # every process of the machine writes there
        os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)
    try:
        settings = Settings.from_env()
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr, flush=True)
        sys.exit(2)
    if settings.mode == "sandbox" and not _loopback(server.cfg.bind):
        print("error: the sandbox binds loopback only (HOST=127.0.0.1)", file=sys.stderr, flush=True)
        sys.exit(2)


def post_worker_init(worker) -> None:
    """This process hosts jobs on the threads executor, so it sweeps too; in sandbox mode,
    say where to go."""
    from helpdesk_app import start_sweeper

    app = worker.wsgi
    services = app.extensions["helpdesk"]
    if services.settings.executor == "threads":
        start_sweeper(app)
    if "sandbox" in app.extensions:
        host, port = worker.sockets[0].getsockname()[:2]
        print(f"Sandbox mode: open http://{host}:{port}/sandbox/ (the local agent page; "
              "Ctrl-C stops)", flush=True)


def child_exit(server, worker) -> None:
    """In the master: a gone worker's live samples no longer count."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def worker_exit(server, worker) -> None:
    from helpdesk_app import stop_sweeper

    app = getattr(worker, "wsgi", None)
    if app is not None and hasattr(app, "extensions"):
        stop_sweeper(app)


def _loopback(binds: list[str]) -> bool:
    return all(b.split(":")[0] in ("127.0.0.1", "localhost", "[::1]") for b in binds)
