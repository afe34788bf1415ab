"""Load on the service from another process: wrk, or without wrk a Python load generator.

wrk replays pre-built requests with a Lua script (its Lua has no HMAC, so Python signs
them beforehand: bench/webhooks.py). The Python load generator is this module run as
`python bench/loadgen.py loadgen ...`: processes of threads, one keep-alive http.client
connection per thread. Either way the latency is the client's, per request.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

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
                                         preexec_fn=pdeathsig))
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
    done = subprocess.run(argv, capture_output=True, text=True, preexec_fn=pdeathsig)
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


if __name__ == "__main__":
    if len(sys.argv) == 7 and sys.argv[1] == "loadgen":
        _loadgen_main(sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6]))
    else:
        print("usage: python bench/loadgen.py loadgen URL FILE CONNECTIONS DURATION_S START_AT\n"
              "(the benchmarks are bench/triage_storm.py, webhook_intake.py, workflow_runs.py, triage.py)",
              file=sys.stderr)
        sys.exit(2)
