"""The service, and the bare baseline app, served under gunicorn against the sandbox.

The web process is the Procfile's web line, `gunicorn --config gunicorn.conf.py wsgi:app`,
bound to 127.0.0.1 and a free port (its stdout, the access log, and stderr go to files in
the run's work directory); optionally RQ workers (`python -m helpdesk_app.worker`). The
bare baseline app runs with the same worker class and threads, without the service's
configuration hooks.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from checkout import BENCH, SERVICE_ROOT, clean_env
from databases import Database
from metrics import PeakRss, children_of, cpu_s
from processes import Process, Stack, free_port, wait_http


def gunicorn_command(port: int, app: str, workers: int | None = None, *,
                     service: bool = True) -> list[str]:
    """The Procfile's web line, `gunicorn --config gunicorn.conf.py wsgi:app`, on loopback
    and a free port; for the bare app (`service=False`) the same worker class and threads
    on the command line instead of the service's configuration file."""
    executable = Path(sys.executable).parent / "gunicorn"
    gunicorn = str(executable) if executable.exists() else (shutil.which("gunicorn") or "gunicorn")
    workers = workers if workers is not None else int(os.environ.get("WEB_CONCURRENCY") or 2)
    config = (["--config", str(SERVICE_ROOT / "gunicorn.conf.py")] if service else
              ["--worker-class", "gthread", "--threads", "16", "--access-logfile", "-"])
    return [gunicorn, *config, "--bind", f"127.0.0.1:{port}", "--workers", str(workers), app]


@dataclass
class Service:
    web: Process
    url: str
    workers: int
    env: dict[str, str]
    rq_workers: list[Process] = field(default_factory=list)

    def worker_pids(self) -> list[int]:
        return children_of(self.web.pid)

    def cpu_s(self) -> float:
        """CPU seconds used so far by the web master, its workers and the RQ workers."""
        pids = [self.web.pid, *self.worker_pids(), *(w.pid for w in self.rq_workers)]
        return sum(cpu_s(pid) for pid in pids)

    def pause(self) -> None:
        """SIGSTOP every process of the service (web and job workers), so that its
        background work does not run while something else is measured."""
        for process in (self.web, *self.rq_workers):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        for process in (self.web, *self.rq_workers):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGCONT)


def service_env(sandbox: Any, db: Database, settings: dict[str, Any] | None = None) -> dict[str, str]:
    """The sandbox's settings, the database, and the benchmark's own settings on top."""
    return clean_env(**sandbox.env(), DATABASE_URL=db.url, **(settings or {}))


def start_service(stack: Stack, workdir: Path, env: dict[str, str], *, workers: int | None = None,
                  rq_workers: int = 0, rss: PeakRss | None = None, name: str = "web") -> Service:
    port = free_port()
    argv = gunicorn_command(port, "wsgi:app", workers)
    web = Process(stack, name, argv, env=env, cwd=SERVICE_ROOT, workdir=workdir)
    url = f"http://127.0.0.1:{port}"
    wait_http(url + "/healthz", web)
    count = int(argv[argv.index("--workers") + 1])
    _wait_workers(web, count)
    service = Service(web, url, count, env)
    if rss is not None:
        rss.watch("web", web.pid, children=True)
    for i in range(rq_workers):
        worker = Process(stack, f"rq-worker-{i}", [sys.executable, "-m", "helpdesk_app.worker"],
                         env=env, cwd=SERVICE_ROOT, workdir=workdir)
        service.rq_workers.append(worker)
        if rss is not None:
            rss.watch("rq", worker.pid, children=False)
    if rq_workers:
        time.sleep(1.0)
        for worker in service.rq_workers:
            if not worker.alive():
                raise RuntimeError(f"{worker.name} exited:\n{worker.tail()}")
    return service


def start_bare(stack: Stack, workdir: Path, *, workers: int | None = None,
               rss: PeakRss | None = None) -> Service:
    """bench/bare_app.py under the very same gunicorn command line."""
    port = free_port()
    argv = gunicorn_command(port, "bare_app:app", workers, service=False)
    web = Process(stack, "bare", argv, env=clean_env(), cwd=BENCH, workdir=workdir)
    url = f"http://127.0.0.1:{port}"
    wait_http(url + "/", web)
    count = int(argv[argv.index("--workers") + 1])
    _wait_workers(web, count)
    if rss is not None:
        rss.watch("bare", web.pid, children=True)
    return Service(web, url, count, {})


def _wait_workers(web: Process, count: int, timeout_s: float = 20.0) -> None:
    # /healthz answers as soon as one worker is up; measure with all of them booted.
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and len(children_of(web.pid)) < count:
        time.sleep(0.1)
    time.sleep(0.5)
