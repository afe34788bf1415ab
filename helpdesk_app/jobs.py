"""Running work after the request that asked for it: the queue carries ids, never objects.

`InlineJobs` runs a job at once, in the caller's thread, after the caller committed what
the job will reload (issue 3 allows runs to execute synchronously; the durable executor
replaces it behind the same `dispatch`).
"""
from __future__ import annotations

import logging
from typing import Callable

log = logging.getLogger(__name__)

Handler = Callable[[int], None]


class InlineJobs:
    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}

    def register(self, kind: str, handler: Handler) -> None:
        self._handlers[kind] = handler

    def dispatch(self, kind: str, job_id: int) -> None:
        handler = self._handlers[kind]
        log.info("job.start", extra={"kind": kind, "job_id": job_id})
        try:
            handler(job_id)
        except Exception:  # the job records its own failure; the request that asked is done
            log.exception("job.crashed", extra={"kind": kind, "job_id": job_id})
