"""`python -m helpdesk_app.worker`: an RQ worker for the jobs, plus this deployment's sweeper.

The Procfile's `worker:` line; start as many as you like, on any machine that reaches the
same DATABASE_URL and REDIS_URL. Jobs run in the worker process itself (RQ's SimpleWorker):
a forked work horse would inherit the parent's open database connections, which must never
be shared across processes. A worker that dies (even by SIGKILL) leaves its run leased
until the lease expires; then the sweeper (in whichever process holds the `sweeper` lease)
dispatches it again, and another worker completes it.
"""
from __future__ import annotations

import logging
import sys

from helpdesk_app import ConfigError, Settings, create_app
from helpdesk_app.engine.jobs import QUEUE_NAME
from helpdesk_app.engine.sweeper import Sweeper

log = logging.getLogger(__name__)
_services = None


def services():
    """The services of this worker process, built once by create_app from the environment."""
    global _services
    if _services is None:
        settings = Settings.from_env()
        if settings.mode == "sandbox":
            # create_app would start a sandbox of this process's own: another world than
            # the web process's, which runs its jobs itself in sandbox mode.
            raise ConfigError("no upstream is configured: in sandbox mode the web process runs "
                              "the jobs itself; a worker needs the upstream settings and REDIS_URL")
        _services = create_app(settings).extensions["helpdesk"]
    return _services


def perform(kind: str, job_id: int, request_id: str | None = None) -> None:
    """What RQ runs: the queue carries a kind, an id and the request id of the request that
    dispatched it; everything else is reloaded. A crash is re-raised after it is recorded,
    so that RQ's failed registry keeps the job too."""
    services().jobs.perform(kind, job_id, request_id, reraise=True)


def main() -> int:
    from redis import Redis
    from rq import Queue, SimpleWorker

    try:
        app_services = services()
    except ConfigError as error:  # one line, naming what is missing, never a value
        print(f"error: {error}", file=sys.stderr)
        return 2
    settings = app_services.settings
    if not settings.redis_url:
        print("error: REDIS_URL is not set: the web process runs jobs itself (JOB_EXECUTOR=threads)",
              file=sys.stderr)
        return 2
    sweeper = Sweeper(app_services.db, app_services.jobs, app_services.timing).start()
    connection = Redis.from_url(settings.redis_url)
    try:
        SimpleWorker([Queue(QUEUE_NAME, connection=connection)], connection=connection).work()
    finally:
        sweeper.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
