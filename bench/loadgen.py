"""Load on the service from another process: wrk, or without wrk a Python load generator.

wrk replays pre-built requests with a Lua script (its Lua has no HMAC, so Python signs
them beforehand: bench/webhooks.py). The Python load generator is this module run as
`python bench/loadgen.py loadgen ...`: processes of threads, one keep-alive http.client
connection per thread. Either way the latency is the client's, per request.
"""
from __future__ import annotations

import http.client
import json
import math
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator, Sequence
from urllib.parse import SplitResult, urlsplit

from metrics import percentile
from processes import pdeathsig


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


def run_python_load(url: str, reqs: Sequence[Req], *, connections: int,
                    duration_s: float | None, workdir: Path, processes: int | None = None) -> LoadResult:
    """Another process (or several) of threads, one keep-alive connection per thread.
    `duration_s=None`: send each request exactly once, then stop."""
    processes = processes or max(1, min(os.cpu_count() or 1, math.ceil(connections / 64)))
    processes = min(processes, connections)
    spec = workdir / f"load-{uuid.uuid4().hex[:8]}"
    spec.mkdir()
    try:
        total = _run_children(url, reqs, spec, connections, processes, duration_s)
    finally:
        shutil.rmtree(spec, ignore_errors=True)
    latencies = total.latencies_ms
    return LoadResult(
        requests=len(latencies), elapsed_s=total.last - total.first, statuses=total.statuses,
        p50_ms=percentile(latencies, 50), p90_ms=percentile(latencies, 90),
        p99_ms=percentile(latencies, 99), max_ms=max(latencies) if latencies else None,
        errors=total.errors, wrapped=total.wrapped,
        tool=f"python ({processes} process{'es' if processes > 1 else ''})", started_at=total.first)


@dataclass
class _Tally:
    """What load generators saw: one thread's, one child's, or all children's together."""

    latencies_ms: list[float] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)
    errors: int = 0
    wrapped: int = 0
    first: float | None = None
    last: float = 0.0

    def record(self, t0: float, t1: float, status: str) -> None:
        self.first = t0 if self.first is None else self.first
        self.last = t1
        self.latencies_ms.append((t1 - t0) * 1000)
        self.statuses[status] = self.statuses.get(status, 0) + 1
        if status == "error":
            self.errors += 1

    def add(self, other: "_Tally") -> None:
        self.latencies_ms.extend(other.latencies_ms)
        for k, v in other.statuses.items():
            self.statuses[k] = self.statuses.get(k, 0) + v
        self.errors += other.errors
        self.wrapped += other.wrapped
        if other.first is not None:
            self.first = other.first if self.first is None else min(self.first, other.first)
        self.last = max(self.last, other.last)


def _run_children(url: str, reqs: Sequence[Req], spec: Path, connections: int, processes: int,
                  duration_s: float | None) -> _Tally:
    """Child i sends every `processes`-th request over its share of the connections."""
    start_at = time.time() + 0.5 + 0.002 * len(reqs) / processes  # all start together
    children = [_spawn(url, spec / f"reqs-{i}.jsonl", reqs[i::processes],
                       connections // processes + (1 if i < connections % processes else 0),
                       duration_s, start_at) for i in range(processes)]
    total = _Tally()
    try:
        for child in children:
            out, _ = child.communicate()
            if child.returncode != 0:
                raise RuntimeError(f"load generator failed ({child.returncode})")
            total.add(_Tally(**json.loads(out.strip().splitlines()[-1])))
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
    return total


def _spawn(url: str, path: Path, share: Sequence[Req], connections: int, duration_s: float | None,
           start_at: float) -> subprocess.Popen:
    path.write_text("\n".join(r.to_json() for r in share))
    argv = [sys.executable, str(Path(__file__).resolve()), "loadgen", url, str(path),
            str(connections), str(duration_s or 0), str(start_at)]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, preexec_fn=pdeathsig)


def _loadgen_main(url: str, spec: str, connections: int, duration_s: float, start_at: float) -> None:
    """The child: `python bench/loadgen.py loadgen URL FILE CONNECTIONS DURATION START_AT`."""
    target = urlsplit(url)
    reqs = [Req.from_json(line) for line in Path(spec).read_text().splitlines() if line]
    deadline = start_at + duration_s if duration_s else None
    counter = iter(range(10**12))  # shared by the threads: each request number is sent once
    total, lock = _Tally(), threading.Lock()

    def worker() -> None:
        mine = _send(target, reqs, counter, deadline)
        with lock:
            total.add(mine)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(connections)]
    time.sleep(max(0.0, start_at - time.time()))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    now = time.time()
    print(json.dumps({**asdict(total), "first": total.first or now, "last": total.last or now}))


def _send(target: SplitResult, reqs: Sequence[Req], counter: Iterator[int],
          deadline: float | None) -> _Tally:
    """One thread on its own keep-alive connection: every request until the deadline, or
    without one, each request once."""
    conn = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
    mine = _Tally()
    for n in counter:
        if (n >= len(reqs)) if deadline is None else (time.time() >= deadline):
            break
        if n >= len(reqs):
            mine.wrapped += 1
        t0 = time.time()
        status = _exchange(conn, reqs[n % len(reqs)])
        mine.record(t0, time.time(), status)
    conn.close()
    return mine


def _exchange(conn: http.client.HTTPConnection, req: Req) -> str:
    """One request, its answer read to the end: the status, or "error"."""
    try:
        conn.request(req.method, req.path, body=req.body, headers=req.headers)
        response = conn.getresponse()
        response.read()
        if response.will_close:
            conn.close()
        return str(response.status)
    except (OSError, http.client.HTTPException):
        conn.close()  # the next request opens a new connection
        return "error"


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
    done = subprocess.run(argv, capture_output=True, text=True, preexec_fn=pdeathsig)
    shutil.rmtree(spec, ignore_errors=True)
    line = next((out for out in done.stdout.splitlines() if out.startswith("WRKJSON ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stdout[-1500:]} {done.stderr[-1500:]}")
    r = json.loads(line[len("WRKJSON "):])
    errors = r["connect"] + r["read"] + r["write"] + r["timeout"]
    return LoadResult(requests=r["requests"], elapsed_s=r["duration_us"] / 1e6,
                      statuses={"non_2xx_3xx": r["status"]}, p50_ms=r["p50_us"] / 1000,
                      p90_ms=r["p90_us"] / 1000, p99_ms=r["p99_us"] / 1000, max_ms=r["max_us"] / 1000,
                      errors=errors, wrapped=r["wrapped"], tool=f"wrk ({threads} thread{'s' if threads > 1 else ''})",
                      started_at=started)


if __name__ == "__main__":
    if len(sys.argv) == 7 and sys.argv[1] == "loadgen":
        _loadgen_main(sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6]))
    else:
        print("usage: python bench/loadgen.py loadgen URL FILE CONNECTIONS DURATION_S START_AT\n"
              "(the benchmarks are bench/triage_storm.py, webhook_intake.py, workflow_runs.py, triage.py)",
              file=sys.stderr)
        sys.exit(2)
