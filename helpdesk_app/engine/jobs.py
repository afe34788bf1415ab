"""Jobs: the queue carries a kind and an id, never objects; a worker reloads everything.

`JOB_EXECUTOR` picks where jobs run, with the same code path for each:

- `threads` (the embedded default, REDIS_URL unset): a pool of threads in the web process;
- `rq` (REDIS_URL set): RQ workers on Redis (`python -m helpdesk_app.worker`, the
  Procfile's `worker:` line), any number of them, on any machine sharing the database;
- `inline`: in the caller's thread, after the caller committed (tests, debugging).

Each job thread gets its own upstream clients (`Services.for_worker`): zenpy and
python-gitlab sessions are not shared across threads.
"""
from __future__ import annotations

import logging
import threading
import traceback
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

from sqlalchemy import update

from helpdesk_app import logs, metrics
from helpdesk_app.storage.models import Delivery, Run, utcnow

log = logging.getLogger(__name__)

QUEUE_NAME = "helpdesk"
# kind -> the table whose row the job works on (its `dispatched_at` is noted).
MODELS: dict[str, Any] = {"run": Run, "zendesk_delivery": Delivery, "gitlab_delivery": Delivery}
Handler = Callable[[Any, int], None]  # (services, job id)


class Jobs:
    def __init__(self, db) -> None:
        self._db = db
        self._services_for_thread: Callable[[], Any] | None = None
        self.handlers: dict[str, Handler] = {}
        self.queue: Any = InlineQueue(self)

    def bind(self, services: Any) -> None:
        """The services jobs run with (create_app binds the app's own): the same object for
        inline jobs, a copy with its own clients per job thread otherwise."""
        if isinstance(self.queue, InlineQueue):
            self._services_for_thread = lambda: services
        else:
            self._services_for_thread = per_thread(services.for_worker)

    def register(self, kind: str, handler: Handler) -> None:
        self.handlers[kind] = handler

    def dispatch(self, kind: str, job_id: int, noted: bool = False) -> bool:
        """Queue the job and note when; False (logged) when the queue is unreachable: the
        row is recorded, and the sweeper dispatches it when the queue is back.

        `noted`: the row's `dispatched_at` was set when it was written (webhook intake), so
        only a failed put writes, to clear it for the sweeper."""
        try:
            self.queue.put(kind, job_id, logs.current())
        except Exception as error:  # never fail the request that asked
            log.warning("job.dispatch_failed", extra={"kind": kind, "job_id": job_id,
                                                       "error": type(error).__name__})
            if noted:
                self._note(kind, job_id, None)
            return False
        if not noted:
            self._note(kind, job_id, utcnow())
        return True

    def _note(self, kind: str, job_id: int, dispatched_at: Any) -> None:
        model = MODELS[kind]
        with self._db() as session:
            session.execute(update(model).where(model.id == job_id).values(dispatched_at=dispatched_at))
            session.commit()

    def perform(self, kind: str, job_id: int, request_id: str | None = None, *,
                reraise: bool = False) -> None:
        """Run one job here and now (a worker thread or process calls this), under the
        request id of the request that dispatched it (a new one for the sweeper's).

        A crash is written to the row (`last_error`, with the traceback) and its state kept:
        the sweeper comes back to it, up to the delivery cap. `reraise`: RQ's worker passes
        True, so the job also lands in RQ's failed registry; threads and inline jobs (the
        caller is a web request) never raise."""
        with logs.request_id(request_id):
            log.info("job.start", extra={"kind": kind, "job_id": job_id})
            try:
                self.handlers[kind](self._services_for_thread(), job_id)
            except Exception as error:
                log.exception("job.crashed", extra={"kind": kind, "job_id": job_id})
                metrics.JOB_FAILURES.labels(kind).inc()
                self._record_crash(kind, job_id, error)
                if reraise:
                    raise

    def _record_crash(self, kind: str, job_id: int, error: Exception) -> None:
        model = MODELS[kind]
        detail = {"message": f"{type(error).__name__}: {error}"[:1000], "at": utcnow().isoformat(),
                  "traceback": traceback.format_exc()[-8000:]}
        try:
            with self._db() as session:
                session.execute(update(model).where(model.id == job_id).values(last_error=detail))
                session.commit()
        except Exception:  # the database may be why it crashed; the log has it anyway
            log.warning("job.crash_not_recorded", extra={"kind": kind, "job_id": job_id}, exc_info=True)


class InlineQueue:
    def __init__(self, jobs: Jobs) -> None:
        self._jobs = jobs

    def put(self, kind: str, job_id: int, request_id: str | None = None) -> None:
        self._jobs.perform(kind, job_id, request_id)


class ThreadQueue:
    def __init__(self, jobs: Jobs, workers: int) -> None:
        self._jobs = jobs
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="job")

    def put(self, kind: str, job_id: int, request_id: str | None = None) -> None:
        self._pool.submit(self._jobs.perform, kind, job_id, request_id)


class RQQueue:
    """Enqueues `helpdesk_app.worker.perform(kind, id)` on Redis."""

    def __init__(self, redis_url: str) -> None:
        from redis import Redis
        from rq import Queue

        # Short timeouts: intake must answer even when Redis is down (the sweeper catches up).
        connection = Redis.from_url(redis_url, socket_connect_timeout=1, socket_timeout=2)
        self._queue = Queue(QUEUE_NAME, connection=connection)

    def put(self, kind: str, job_id: int, request_id: str | None = None) -> None:
        # No result kept: the database holds the outcome.
        self._queue.enqueue_call("helpdesk_app.worker.perform", args=(kind, job_id, request_id),
                                 result_ttl=0, failure_ttl=24 * 3600)


def per_thread(factory: Callable[[], Any]) -> Callable[[], Any]:
    """One object per thread, made on first use."""
    local = threading.local()

    def get() -> Any:
        if not hasattr(local, "value"):
            local.value = factory()
        return local.value

    return get
