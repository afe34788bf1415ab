"""Shared machinery of the benchmarks in bench/ (not a benchmark itself).

Every benchmark runs the service the way the Procfile does, against the local sandbox:

- the sandbox (`helpdesk_app.sandbox.Sandbox`) runs in the benchmark's own process, from a
  scenario dict; `RequestLog` records every request its three servers answer (arrival,
  answer sent, upstream, method, path with query, status), measured on the server side;
- a fresh database per run: a SQLite file in a temporary directory, or a PostgreSQL schema
  of the `test` database (`?options=-csearch_path%3D<schema>`), dropped afterwards; it is
  migrated by the Procfile's release command, `python -m helpdesk_app.migrate`;
- the web process is the Procfile's web line, word for word, bound to 127.0.0.1 and a
  free port: `gunicorn --bind 127.0.0.1:<port> --workers ${WEB_CONCURRENCY:-2}
  --access-logfile - wsgi:app` (its stdout, the access log, and stderr go to files in the
  run's temporary directory); optionally RQ workers (`python -m helpdesk_app.worker`);
- load comes from another process: `wrk` (pre-signed requests replayed by a Lua script:
  wrk's Lua has no HMAC, so Python signs them beforehand) or, without wrk, a Python load
  generator (this module run as `python bench/loadgen.py loadgen ...`: processes of
  threads, one keep-alive http.client connection per thread).

Everything started is stopped on exit, Ctrl-C or an exception (`Stack`); child processes
also get PR_SET_PDEATHSIG, so a benchmark killed outright leaves nothing running.
Nothing here edits the service; it only reads what it needs (settings names, the signing
function, the session token issuer).
"""
from __future__ import annotations

import argparse
import bisect
import contextlib
import ctypes
import json
import math
import os
import platform
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
# Where the service under test is run from (gunicorn's, the worker's and the migration's
# working directory): this checkout, or a copy named by BENCH_SERVICE_ROOT, to measure a
# proposed change without touching the checkout. The sandbox always comes from ROOT.
SERVICE_ROOT = Path(os.environ.get("BENCH_SERVICE_ROOT") or ROOT).resolve()
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

POSTGRES_ADMIN = dict(host="127.0.0.1", port=5432, user="postgres", dbname="test")
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
WEBHOOK_PATH = "/webhooks/zendesk"
# Settings a benchmark must never inherit from the shell that started it.
FOREIGN_ENV = ("PORTAL_", "GITLAB_", "ZENDESK_", "ZENPY_", "DATABASE_URL", "REDIS_URL", "JOB_",
               "SECRET_KEY", "WEB_CONCURRENCY", "PORT", "SWEEP_", "RUN_", "UPSTREAM_", "LOG_LEVEL",
               "AGENT_CACHE_S", "SESSION_TTL_S", "WORKFLOW_POLICY", "TRIAGE_", "VERIFY_")


# --- housekeeping -----------------------------------------------------------------------------


class Stack(contextlib.ExitStack):
    """An ExitStack that also turns SIGTERM/SIGHUP into a clean unwind (SIGINT already is)."""

    def __enter__(self) -> "Stack":
        super().__enter__()
        for sig in (signal.SIGTERM, signal.SIGHUP):
            with contextlib.suppress(ValueError):  # not the main thread
                signal.signal(sig, _raise_exit)
        return self


def _raise_exit(signum, frame):  # noqa: ARG001
    raise SystemExit(128 + signum)


def _pdeathsig() -> None:
    """In the child, before exec: die with the benchmark, however it ends (Linux only)."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def log(message: str) -> None:
    """Progress goes to stderr; stdout carries the table and, last, the JSON line."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(FOREIGN_ENV) and k != "PYTHONPATH"}
    env.update({k: str(v) for k, v in extra.items() if v is not None})
    return env


# --- machine ------------------------------------------------------------------------------------


def machine_info() -> dict[str, Any]:
    meminfo = _read_kv("/proc/meminfo")
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "memory_mb": round(int(meminfo.get("MemTotal", "0 kB").split()[0]) / 1024),
        "cpu": model,
        "python": platform.python_version(),
        "kernel": platform.release(),
        "wrk": bool(shutil.which("wrk")),
    }


def _read_kv(path: str) -> dict[str, str]:
    out: dict[str, str] = {}
    with contextlib.suppress(OSError):
        for line in Path(path).read_text().splitlines():
            key, _, value = line.partition(":")
            out[key.strip()] = value.strip()
    return out


# --- memory ----------------------------------------------------------------------------------------


def children_of(pid: int) -> list[int]:
    """Direct children, from /proc/*/stat (no CONFIG_PROC_CHILDREN needed)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        if ppid == pid:
            found.append(int(entry))
    return found


def status_kb(pid: int, key: str) -> int | None:
    value = _read_kv(f"/proc/{pid}/status").get(key)
    return int(value.split()[0]) if value else None


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of one process (its exited children not included)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class PeakRss:
    """Samples VmHWM (the kernel's own peak RSS) of watched processes and their children,
    so a process that exits before the end still counts. `peak_mb(role)` is the largest."""

    def __init__(self, every_s: float = 0.5) -> None:
        self._roots: dict[str, tuple[int, bool]] = {}
        self._peaks: dict[int, tuple[str, int]] = {}
        self._every = every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="peak-rss")
        self._lock = threading.Lock()

    def watch(self, role: str, pid: int, *, children: bool) -> None:
        """`children=True`: the process's children are the ones that count (gunicorn's
        workers under the master); else the process itself."""
        with self._lock:
            self._roots[role + f":{pid}"] = (pid, children)
        self.sample()

    def start(self) -> "PeakRss":
        self._thread.start()
        return self

    def stop(self) -> None:
        self.sample()
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(2)

    def _loop(self) -> None:
        while not self._stop.wait(self._every):
            self.sample()

    def sample(self) -> None:
        with self._lock:
            roots = list(self._roots.items())
        for name, (pid, children) in roots:
            role = name.split(":")[0]
            for target in (children_of(pid) if children else [pid]):
                hwm = status_kb(target, "VmHWM")
                if hwm is not None:
                    with self._lock:
                        old = self._peaks.get(target, (role, 0))[1]
                        self._peaks[target] = (role, max(old, hwm))

    def peak_mb(self, role: str) -> float | None:
        with self._lock:
            values = [kb for r, kb in self._peaks.values() if r == role]
        return round(max(values) / 1024, 1) if values else None


# --- the sandbox, and what it was asked --------------------------------------------------------


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
    the sandbox builds for each server (helpdesk_app/sandbox/server.py, `_handler_class`),
    timing from the parsed request line to the answer written, which is what the service
    waits for, less the loopback hop.
    """

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self._lock = threading.Lock()

    def install(self) -> None:
        from helpdesk_app.sandbox import server as server_module

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
        from helpdesk_app.sandbox import server as server_module

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
    from helpdesk_app.sandbox import Sandbox

    calls = RequestLog()
    calls.install()
    stack.callback(RequestLog.uninstall)
    sandbox = Sandbox.start(scenario)
    stack.callback(sandbox.stop)
    return sandbox, calls


def peak_per_window(times: Iterable[float], window_s: float = 60.0) -> int:
    """The most events in any window of `window_s` seconds (windows start at an event)."""
    ordered = sorted(times)
    best = 0
    for i, t in enumerate(ordered):
        j = bisect.bisect_right(ordered, t + window_s - 1e-9)
        best = max(best, j - i)
    return best


# --- databases ------------------------------------------------------------------------------------


class Database:
    """A fresh database for one run: `url` for the service, `query` for the benchmark."""

    def __init__(self, kind: str, url: str, *, sqlite_path: str | None = None,
                 schema: str | None = None) -> None:
        self.kind, self.url, self.sqlite_path, self.schema = kind, url, sqlite_path, schema
        self._local = threading.local()

    def _connection(self):
        conn = getattr(self._local, "conn", None)
        if conn is None:
            if self.kind == "sqlite":
                conn = sqlite3.connect(f"file:{self.sqlite_path}?mode=ro", uri=True, timeout=10,
                                       check_same_thread=False)
            else:
                import psycopg

                conn = psycopg.connect(**POSTGRES_ADMIN, autocommit=True,
                                       options=f"-csearch_path={self.schema}")
            self._local.conn = conn
        return conn

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        """`?` placeholders on both backends."""
        conn = self._connection()
        if self.kind == "sqlite":
            return conn.execute(sql, tuple(params)).fetchall()
        with conn.cursor() as cur:
            cur.execute(sql.replace("?", "%s"), tuple(params))
            return cur.fetchall() if cur.description else []

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


def epoch(value: Any) -> float | None:
    """A timestamp column as seconds since the epoch (SQLite stores naive UTC text)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.timestamp()


def fresh_database(stack: Stack, kind: str, workdir: Path) -> Database:
    """Create the database (or schema) and migrate it with the Procfile's release command."""
    if kind == "sqlite":
        path = workdir / "helpdesk.db"
        db = Database("sqlite", f"sqlite:///{path}", sqlite_path=str(path))
    elif kind == "postgresql":
        import psycopg

        schema = f"bench_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(**POSTGRES_ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')

        def drop() -> None:
            with psycopg.connect(**POSTGRES_ADMIN, autocommit=True) as conn:
                # Connections the service left behind must not keep the schema alive.
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')

        stack.callback(drop)
        url = (f"postgresql+psycopg://{POSTGRES_ADMIN['user']}@{POSTGRES_ADMIN['host']}:"
               f"{POSTGRES_ADMIN['port']}/{POSTGRES_ADMIN['dbname']}?options=-csearch_path%3D{schema}")
        db = Database("postgresql", url, schema=schema)
    else:
        raise ValueError(f"unknown database {kind!r}: sqlite or postgresql")
    stack.callback(db.close)
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "helpdesk_app.migrate"], cwd=SERVICE_ROOT,
                          env=clean_env(DATABASE_URL=db.url), capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"migration failed: {done.stderr.strip()[-2000:]}")
    log(f"database {kind} migrated in {time.monotonic() - started:.1f} s")
    return db


class RedisDb:
    """An empty logical Redis database for one run, flushed afterwards. Tests use 15; the
    benchmark takes the first empty one of 14..1, and refuses to touch a non-empty one."""

    def __init__(self, stack: Stack) -> None:
        import redis

        for number in range(14, 0, -1):
            client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=number, socket_timeout=5)
            if client.dbsize() == 0:
                break
        else:
            raise RuntimeError("no empty Redis logical database among 1..14")
        self.client, self.url = client, f"redis://{REDIS_HOST}:{REDIS_PORT}/{number}"
        stack.callback(self.client.flushdb)


# --- processes ------------------------------------------------------------------------------------


def gunicorn_command(port: int, app: str, workers: int | None = None) -> list[str]:
    """The Procfile's web line: `gunicorn --bind 0.0.0.0:${PORT:-8000} --workers
    ${WEB_CONCURRENCY:-2} --access-logfile - wsgi:app`, on loopback and a free port."""
    executable = Path(sys.executable).parent / "gunicorn"
    gunicorn = str(executable) if executable.exists() else (shutil.which("gunicorn") or "gunicorn")
    workers = workers if workers is not None else int(os.environ.get("WEB_CONCURRENCY") or 2)
    return [gunicorn, "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
            "--access-logfile", "-", app]


class Process:
    """A child process in its own session (Ctrl-C reaches the benchmark only, which then
    stops it), its output in files, stopped by `stop()` and by the benchmark's end."""

    def __init__(self, stack: Stack, name: str, argv: list[str], *, env: dict[str, str],
                 cwd: Path, workdir: Path) -> None:
        self.name = name
        self.stdout_path = workdir / f"{name}.out"
        self.stderr_path = workdir / f"{name}.err"
        self._out = open(self.stdout_path, "wb")
        self._err = open(self.stderr_path, "wb")
        self.popen = subprocess.Popen(argv, cwd=cwd, env=env, stdout=self._out, stderr=self._err,
                                      stdin=subprocess.DEVNULL, start_new_session=True,
                                      preexec_fn=_pdeathsig)
        stack.callback(self.stop)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, grace_s: float = 5.0) -> None:
        """SIGTERM, then SIGKILL to the whole process group (gunicorn's workers, whose job
        threads would otherwise drain their queue before exiting)."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signal.SIGCONT)  # in case it was paused
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(grace_s)
            except subprocess.TimeoutExpired:
                pass
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(5)
        for f in (self._out, self._err):
            with contextlib.suppress(Exception):
                f.close()

    def tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.stderr_path.read_text(errors="replace").splitlines()[-lines:])
        return ""


def wait_http(url: str, process: Process | None = None, timeout_s: float = 30.0) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout_s
    last: Exception | None = None
    while time.monotonic() < deadline:
        if process is not None and not process.alive():
            raise RuntimeError(f"{process.name} exited with {process.popen.returncode}:\n{process.tail()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status < 500:
                    return
        except Exception as error:  # noqa: BLE001 - not up yet
            last = error
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout_s} s ({last}):\n"
                       + (process.tail() if process else ""))


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
    argv = gunicorn_command(port, "bare_app:app", workers)
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


# --- Zendesk deliveries ----------------------------------------------------------------------------


def zendesk_timestamp() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def ticket_created_body(ticket: dict[str, Any]) -> bytes:
    """A `ticket.created` event as Zendesk sends it, for a ticket record of the sandbox
    (its payload builder: the documented shape, a fresh event id each time)."""
    from helpdesk_app.sandbox import payloads

    return json.dumps(payloads.ticket_created_event(ticket)).encode()


def signed_headers(secret: str, body: bytes, timestamp: str | None = None) -> dict[str, str]:
    from helpdesk_app.security.zendesk_webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign_zendesk

    timestamp = timestamp or zendesk_timestamp()
    return {"Content-Type": "application/json; charset=utf-8", "User-Agent": "Zendesk Webhook",
            SIGNATURE_HEADER: sign_zendesk(secret, timestamp, body), TIMESTAMP_HEADER: timestamp}


@dataclass
class Req:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes = b""

    def raw(self, host: str) -> bytes:
        lines = [f"{self.method} {self.path} HTTP/1.1", f"Host: {host}"]
        lines += [f"{k}: {v}" for k, v in self.headers.items()]
        lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + self.body

    def to_json(self) -> str:
        return json.dumps({"m": self.method, "p": self.path, "h": self.headers,
                           "b": self.body.decode("utf-8")})

    @classmethod
    def from_json(cls, line: str) -> "Req":
        d = json.loads(line)
        return cls(d["m"], d["p"], d["h"], d["b"].encode("utf-8"))


def deliveries(secret: str, tickets: Sequence[dict[str, Any]], count: int) -> list[Req]:
    """`count` signed ticket.created deliveries (unique event ids), cycling over `tickets`."""
    timestamp = zendesk_timestamp()
    out = []
    for i in range(count):
        body = ticket_created_body(tickets[i % len(tickets)])
        out.append(Req("POST", WEBHOOK_PATH, signed_headers(secret, body, timestamp), body))
    return out


# --- load generation -------------------------------------------------------------------------------


@dataclass
class LoadResult:
    requests: int
    elapsed_s: float
    statuses: dict[str, int]
    p50_ms: float | None
    p90_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    errors: int
    wrapped: int  # requests re-sent because the pre-signed ones ran out
    tool: str
    started_at: float = 0.0

    @property
    def per_s(self) -> float:
        return self.requests / self.elapsed_s if self.elapsed_s else 0.0


def percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[k]


def run_python_load(url: str, reqs: Sequence[Req], *, connections: int,
                    duration_s: float | None, workdir: Path, processes: int | None = None) -> LoadResult:
    """Another process (or several) of threads, one keep-alive connection per thread.
    `duration_s=None`: send each request exactly once, then stop."""
    processes = processes or max(1, min(os.cpu_count() or 1, math.ceil(connections / 64)))
    processes = min(processes, connections)
    spec = workdir / f"load-{uuid.uuid4().hex[:8]}"
    spec.mkdir()
    shares = [reqs[i::processes] for i in range(processes)]
    conns = [connections // processes + (1 if i < connections % processes else 0) for i in range(processes)]
    children = []
    start_at = time.time() + 0.5 + 0.002 * len(reqs) / processes  # all start together
    for i, share in enumerate(shares):
        path = spec / f"reqs-{i}.jsonl"
        path.write_text("\n".join(r.to_json() for r in share))
        argv = [sys.executable, str(Path(__file__).resolve()), "loadgen", url, str(path),
                str(conns[i]), str(duration_s or 0), str(start_at)]
        children.append(subprocess.Popen(argv, stdout=subprocess.PIPE, text=True,
                                         preexec_fn=_pdeathsig))
    results = []
    try:
        for child in children:
            out, _ = child.communicate()
            if child.returncode != 0:
                raise RuntimeError(f"load generator failed ({child.returncode})")
            results.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
        shutil.rmtree(spec, ignore_errors=True)
    latencies = [x for r in results for x in r["latencies_ms"]]
    statuses: dict[str, int] = {}
    for r in results:
        for k, v in r["statuses"].items():
            statuses[k] = statuses.get(k, 0) + v
    first = min(r["first"] for r in results)
    last = max(r["last"] for r in results)
    return LoadResult(
        requests=sum(r["count"] for r in results), elapsed_s=last - first, statuses=statuses,
        p50_ms=percentile(latencies, 50), p90_ms=percentile(latencies, 90),
        p99_ms=percentile(latencies, 99), max_ms=max(latencies) if latencies else None,
        errors=sum(r["errors"] for r in results), wrapped=sum(r["wrapped"] for r in results),
        tool=f"python ({processes} process{'es' if processes > 1 else ''})", started_at=first)


def _loadgen_main(url: str, spec: str, connections: int, duration_s: float, start_at: float) -> None:
    """The child: `python bench/loadgen.py loadgen URL FILE CONNECTIONS DURATION START_AT`."""
    import http.client
    from urllib.parse import urlsplit

    target = urlsplit(url)
    reqs = [Req.from_json(line) for line in Path(spec).read_text().splitlines() if line]
    counter = iter(range(10**12))
    lock = threading.Lock()
    statuses: dict[str, int] = {}
    latencies: list[float] = []
    state = {"errors": 0, "wrapped": 0, "first": None, "last": 0.0}

    def worker() -> None:
        conn = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
        mine_lat, mine_st = [], {}
        errors = wrapped = 0
        first = None
        last = 0.0
        deadline = start_at + duration_s if duration_s else None
        while True:
            n = next(counter)
            if deadline is None:
                if n >= len(reqs):
                    break
            elif time.time() >= deadline:
                break
            if n >= len(reqs):
                wrapped += 1
            req = reqs[n % len(reqs)]
            t0 = time.time()
            first = t0 if first is None else first
            try:
                conn.request(req.method, req.path, body=req.body, headers=req.headers)
                response = conn.getresponse()
                response.read()
                status = str(response.status)
                if response.will_close:
                    conn.close()
            except (OSError, http.client.HTTPException):
                errors += 1
                conn.close()
                status = "error"
            t1 = time.time()
            last = t1
            mine_lat.append((t1 - t0) * 1000)
            mine_st[status] = mine_st.get(status, 0) + 1
        conn.close()
        with lock:
            latencies.extend(mine_lat)
            for k, v in mine_st.items():
                statuses[k] = statuses.get(k, 0) + v
            state["errors"] += errors
            state["wrapped"] += wrapped
            if first is not None:
                state["first"] = first if state["first"] is None else min(state["first"], first)
            state["last"] = max(state["last"], last)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(connections)]
    time.sleep(max(0.0, start_at - time.time()))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(json.dumps({"count": len(latencies), "statuses": statuses, "latencies_ms": latencies,
                      "errors": state["errors"], "wrapped": state["wrapped"],
                      "first": state["first"] or time.time(), "last": state["last"] or time.time()}))


WRK_SCRIPT = r"""
-- Replays pre-signed requests: thread i reads reqs_<i>.bin (records "<length>\n<raw>").
local counter = 0
local threads = {}
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end
local reqs, n, idx = {}, 0, 0
wrapped = 0
function init(args)
  local f = assert(io.open(args[1] .. "/reqs_" .. id .. ".bin", "rb"))
  local data = f:read("*a")
  f:close()
  local pos = 1
  while pos <= #data do
    local nl = string.find(data, "\n", pos, true)
    local len = tonumber(string.sub(data, pos, nl - 1))
    n = n + 1
    reqs[n] = string.sub(data, nl + 1, nl + len)
    pos = nl + 1 + len
  end
end
function request()
  idx = idx + 1
  if idx > n then
    idx = 1
    wrapped = wrapped + 1
  end
  return reqs[idx]
end
function done(summary, latency, requests)
  local w = 0
  for _, t in ipairs(threads) do w = w + (t:get("wrapped") or 0) end
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, "wrapped": %d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, w))
end
"""


def run_wrk(url: str, reqs: Sequence[Req], *, connections: int, duration_s: float,
            workdir: Path, threads: int | None = None) -> LoadResult:
    """wrk replaying pre-signed requests (its Lua cannot sign); latency from wrk itself."""
    from urllib.parse import urlsplit

    host = urlsplit(url).netloc
    threads = threads or max(1, min(connections, os.cpu_count() or 1))
    spec = workdir / f"wrk-{uuid.uuid4().hex[:8]}"
    spec.mkdir()
    for i in range(threads):
        with open(spec / f"reqs_{i}.bin", "wb") as f:
            for req in reqs[i::threads]:
                raw = req.raw(host)
                f.write(f"{len(raw)}\n".encode() + raw)
    script = spec / "replay.lua"
    script.write_text(WRK_SCRIPT)
    argv = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{max(1, round(duration_s))}s",
            "--timeout", "30s", "-s", str(script), url, "--", str(spec)]
    started = time.time()
    done = subprocess.run(argv, capture_output=True, text=True, preexec_fn=_pdeathsig)
    shutil.rmtree(spec, ignore_errors=True)
    line = next((l for l in done.stdout.splitlines() if l.startswith("WRKJSON ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stdout[-1500:]} {done.stderr[-1500:]}")
    r = json.loads(line[len("WRKJSON "):])
    errors = r["connect"] + r["read"] + r["write"] + r["timeout"]
    return LoadResult(requests=r["requests"], elapsed_s=r["duration_us"] / 1e6,
                      statuses={"non_2xx_3xx": r["status"]}, p50_ms=r["p50_us"] / 1000,
                      p90_ms=r["p90_us"] / 1000, p99_ms=r["p99_us"] / 1000, max_ms=r["max_us"] / 1000,
                      errors=errors, wrapped=r["wrapped"], tool=f"wrk ({threads} thread{'s' if threads > 1 else ''})",
                      started_at=started)


# --- polling ---------------------------------------------------------------------------------------


def wait_until(check: Callable[[], bool], *, timeout_s: float, every_s: float = 0.25,
               what: str = "condition", progress: Callable[[], str] | None = None) -> float:
    """Seconds waited until `check()`; TimeoutError after `timeout_s`."""
    started = time.monotonic()
    last_note = started
    while True:
        if check():
            return time.monotonic() - started
        now = time.monotonic()
        if now - started > timeout_s:
            raise TimeoutError(f"{what}: not reached within {timeout_s:.0f} s"
                               + (f" ({progress()})" if progress else ""))
        if progress and now - last_note > 10:
            log(f"waiting for {what}: {progress()}")
            last_note = now
        time.sleep(every_s)


# --- output ---------------------------------------------------------------------------------------


def fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def table(title: str, headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    rows = [[fmt(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    line = "  ".join("-" * w for w in widths)
    out = [title, line, "  ".join(h.ljust(w) for h, w in zip(headers, widths)), line]
    for r in rows:
        out.append("  ".join(c.rjust(w) if _numeric(c) else c.ljust(w) for c, w in zip(r, widths)))
    out.append(line)
    return "\n".join(out)


_NUMBER = re.compile(r"^-?[\d,]+(\.\d+)?( ?(%|s|ms|MB|/s|x))?$")


def _numeric(text: str) -> bool:
    return bool(_NUMBER.match(text))


def kv_table(title: str, pairs: Sequence[tuple[str, Any]]) -> str:
    rows = [(k, fmt(v)) for k, v in pairs]
    width = max(len(k) for k, _ in rows)
    out = [title, "-" * min(100, max(len(title), width + 40))]
    out += [f"{k.ljust(width)}  {v}" for k, v in rows]
    out.append("-" * min(100, max(len(title), width + 40)))
    return "\n".join(out)


def machine_table(info: dict[str, Any]) -> str:
    return kv_table("Machine", [("CPU", info["cpu"]), ("cores (usable)", f"{info['cores']} ({info['cores_usable']})"),
                                ("memory", f"{info['memory_mb']:,} MB"), ("Python", info["python"]),
                                ("kernel", info["kernel"])])


def emit(result: dict[str, Any]) -> None:
    """The last line of every benchmark: one JSON object."""
    sys.stdout.flush()
    print(json.dumps(result, sort_keys=False), flush=True)


def workdir(stack: Stack, keep: bool = False) -> Path:
    path = Path(tempfile.mkdtemp(prefix="helpdesk-bench-"))
    if keep:
        log(f"work directory kept: {path}")
    else:
        stack.callback(shutil.rmtree, path, True)
    return path


def common_args(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="a smaller run, under a minute")
    parser.add_argument("--keep", action="store_true",
                        help="keep the work directory (database, gunicorn logs) for inspection")
    return parser


if __name__ == "__main__":
    if len(sys.argv) == 7 and sys.argv[1] == "loadgen":
        _loadgen_main(sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6]))
    else:
        print("usage: python bench/loadgen.py loadgen URL FILE CONNECTIONS DURATION_S START_AT\n"
              "(the benchmarks are bench/triage_storm.py, webhook_intake.py, workflow_runs.py, triage.py)",
              file=sys.stderr)
        sys.exit(2)
