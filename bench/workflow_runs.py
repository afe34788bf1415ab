"""Workflow runs: force-associate runs as production executes them, and their overhead.

    python bench/workflow_runs.py           # 200 runs (and 30 one at a time)
    python bench/workflow_runs.py --quick   # 40 runs (and 10 one at a time)

Each run has its own subscription/namespace pair, ticket, requester and agent in a
generated scenario (scenarios.runs), so every upstream request names its run. Runs are
started the way the sidebar starts them: POST /api/v1/runs with a session token (issued
with SECRET_KEY as POST /sidebar would) and an Idempotency-Key; the service (gunicorn, the
Procfile's web line) executes them with the embedded `threads` executor; the benchmark
polls the database until each run is reported back to its ticket.

overhead = the run's wall time (runs.started_at -> finished_at, i.e. claim -> outcome
recorded) minus the time spent waiting on the upstreams inside that interval, measured on
the sandbox's side (server-side start and end of every request, attributed to runs by the
ids in the request path). The sandbox adds no latency. Zendesk budgets are raised so that
the account's rate limit does not pace the runs (at the default 200 requests a minute, it
would: see the table).

Also: upstream calls made by one run whose linked GitLab user belongs to 10 groups, and to
10,000 groups; they should be equal.
"""
from __future__ import annotations

import os
import re
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Any

import cli
import databases
import metrics
import processes
import report
import requests
import sandbox_calls
import scenarios
import serve

FINISHED = ("succeeded", "failed", "superseded", "escalated")
GROUP_COUNTS = (10, 10_000)
_SUB = re.compile(r"A-S(\d{8})")
_SLUG = re.compile(r"bench-ns-(\d{5})")
_NUM = re.compile(r"(?<!\d)([1-7]\d{5})(?!\d)")


def run_of(path: str) -> int | None:
    """The pair index a request path names (ids are spaced: scenarios.py)."""
    found = {int(m) - 10_000_000 for m in _SUB.findall(path)}
    found |= {int(m) for m in _SLUG.findall(path)}
    for m in _NUM.findall(path):
        n = int(m)
        if n // 100000 in (1, 2, 3, 4, 5, 7):  # customer, user, namespace, ticket, requester, agent
            found.add(n % 100000)
    return found.pop() if len(found) == 1 else None


class Client:
    """The sidebar page's calls: a session token per agent, POST /runs, GET /plans."""

    def __init__(self, url: str, env: dict[str, str]) -> None:
        self.url, self.env = url, env
        self.local = threading.local()

    def _session(self) -> requests.Session:
        if not hasattr(self.local, "s"):
            self.local.s = requests.Session()
        return self.local.s

    def token(self, agent_id: int) -> str:
        from helpdesk_app.security.sidebar import issue_session_token

        return issue_session_token(self.env["SECRET_KEY"], user_id=agent_id, installation_id=1,
                                   subdomain=self.env["ZENDESK_SUBDOMAIN"],
                                   now=datetime.now(timezone.utc), ttl_s=900)

    def plan(self, i: int) -> dict[str, Any]:
        r = self._session().post(f"{self.url}/api/v1/plans", json=_body(i, None),
                                 headers={"Authorization": f"Bearer {self.token(700000 + i)}"}, timeout=60)
        r.raise_for_status()
        return r.json()

    def start(self, i: int, decision: str) -> tuple[int, float]:
        """POST /runs; (run id, when the request was sent)."""
        sent = time.time()
        r = self._session().post(f"{self.url}/api/v1/runs", json=_body(i, decision), timeout=60,
                                 headers={"Authorization": f"Bearer {self.token(700000 + i)}",
                                          "Idempotency-Key": f"bench-{uuid.uuid4().hex}"})
        if r.status_code != 202:
            raise RuntimeError(f"POST /runs answered {r.status_code}: {r.text[:500]}")
        return r.json()["id"], sent


def _body(i: int, decision: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {"workflow": "force_associate", "ticket_id": 400000 + i,
                            "inputs": {"subscription": f"A-S{10_000_000 + i:08d}",
                                       "namespace": f"bench-ns-{i:05d}"}}
    if decision:
        body["confirmation"] = {"decision": decision}
    return body


def rows(db: databases.Database, ids: list[int]) -> dict[int, dict[str, Any]]:
    if not ids:
        return {}
    marks = ",".join("?" * len(ids))
    out = {}
    for rid, state, started, finished, reported, attempts in db.query(
            f"SELECT id, state, started_at, finished_at, reported_at, attempts FROM runs WHERE id IN ({marks})", ids):
        out[rid] = {"state": state, "started": databases.epoch(started),
                    "finished": databases.epoch(finished), "reported": databases.epoch(reported),
                    "attempts": attempts}
    return out


def wait_reported(db: databases.Database, ids: list[int], timeout_s: float) -> dict[int, dict[str, Any]]:
    result: dict[int, dict[str, Any]] = {}

    def done() -> bool:
        result.clear()
        result.update(rows(db, ids))
        return len(result) == len(ids) and all(r["reported"] is not None for r in result.values())

    processes.wait_until(done, timeout_s=timeout_s, every_s=0.05, what=f"{len(ids)} runs reported",
                         progress=lambda: f"{sum(1 for r in result.values() if r['reported'])} reported")
    return result


def measure(calls: list[sandbox_calls.Call], pair_of_run: dict[int, int], runs: dict[int, dict[str, Any]]
            ) -> dict[int, dict[str, float]]:
    """Per run: wall, upstream (sum of its calls inside started->finished), overhead, calls."""
    by_pair: dict[int, list[sandbox_calls.Call]] = {}
    for c in calls:
        pair = run_of(c.path)
        if pair is not None:
            by_pair.setdefault(pair, []).append(c)
    out = {}
    for rid, r in runs.items():
        st, fin = r["started"], r["finished"]
        mine = [c for c in by_pair.get(pair_of_run[rid], []) if c.end > st and c.start < fin]
        upstream = sum(min(c.end, fin) - max(c.start, st) for c in mine)
        out[rid] = {"wall_ms": (fin - st) * 1000, "upstream_ms": upstream * 1000,
                    "overhead_ms": (fin - st - upstream) * 1000, "calls": len(mine)}
    return out


def main() -> int:
    parser = cli.common_args(__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, help="concurrent phase (default 200, --quick 40)")
    parser.add_argument("--sequential", type=int, help="one-at-a-time phase (default 30, --quick 10)")
    parser.add_argument("--clients", type=int, default=8, help="agents starting runs at once (default 8)")
    args = parser.parse_args()
    n = args.runs or (40 if args.quick else 200)
    seq = args.sequential if args.sequential is not None else (10 if args.quick else 30)
    warmup = 4
    info = metrics.machine_info()
    pairs = n + seq + warmup

    with processes.Stack() as stack:
        work = cli.workdir(stack, args.keep)
        scenario = scenarios.runs(pairs, group_counts=GROUP_COUNTS)
        sandbox, log = sandbox_calls.start_sandbox(stack, scenario)
        db = databases.fresh_database(stack, "sqlite", work)
        env = serve.service_env(sandbox, db, {"JOB_EXECUTOR": "threads",
                                              "ZENDESK_REQUESTS_PER_MIN": 100_000,
                                              "ZENDESK_TICKET_UPDATES_PER_MIN": 100_000})
        service = serve.start_service(stack, work, env)
        client = Client(service.url, env)
        plan = client.plan(0)
        decision = plan["decision"]
        if decision != "ready":
            raise RuntimeError(f"the generated case plans as {decision!r}, not ready: {plan}")
        report.log(f"service up at {service.url}; plan of a pair: {decision}; warming up")
        pair_of_run: dict[int, int] = {}

        def start(i: int) -> tuple[int, float]:
            rid, sent = client.start(i, decision)
            pair_of_run[rid] = i
            return rid, sent

        # Warm-up: every worker process and job thread has imported and connected.
        with ThreadPoolExecutor(warmup) as pool:
            wait_reported(db, [rid for rid, _ in pool.map(start, range(n + seq, pairs))], 120)

        # One at a time: the overhead of a run with nothing else going on.
        report.log(f"{seq} runs one at a time")
        seq_rows: dict[int, dict[str, Any]] = {}
        for i in range(n, n + seq):
            rid, _ = start(i)
            seq_rows.update(wait_reported(db, [rid], 60))

        # Concurrent: `clients` agents start N runs as fast as the service takes them.
        report.log(f"{n} runs from {args.clients} clients at once")
        t0 = time.time()
        cpu0, own0 = service.cpu_s(), _own_cpu()
        with ThreadPoolExecutor(args.clients) as pool:
            started = list(pool.map(start, range(n)))
        posted = time.time() - t0
        conc_rows = wait_reported(db, [rid for rid, _ in started], 60 + 2 * n)
        service_cpu_ms = (service.cpu_s() - cpu0) * 1000 / n
        bench_cpu_ms = (_own_cpu() - own0) * 1000 / n
        first_sent = min(sent for _, sent in started)
        last_reported = max(r["reported"] for r in conc_rows.values())
        last_finished = max(r["finished"] for r in conc_rows.values())

        # Group membership: one run each, alone; every request from POST to report counted.
        group_calls: dict[int, dict[str, Any]] = {}
        for k, count in enumerate(GROUP_COUNTS):
            time.sleep(0.3)
            i = 90000 + k
            before = time.time()
            rid, _ = start(i)
            r = wait_reported(db, [rid], 60)[rid]
            time.sleep(0.3)
            mine = [c for c in log.between(before, r["reported"] + 0.2)]
            execution = [c for c in mine if c.start >= r["started"] and c.start <= r["finished"]]
            group_calls[count] = {"total": len(mine), "execution": len(execution),
                                  "unattributed": sum(1 for c in mine if run_of(c.path) != i),
                                  "state": r["state"],
                                  "paths": sorted({re.sub(r"\d+", "#", c.method + " " + c.path.split("?")[0])
                                                   for c in mine})}
        calls = log.snapshot()
        portal_changes = sandbox.counters()["portal_changes"]

    seq_m = measure(calls, pair_of_run, seq_rows)
    conc_m = measure(calls, pair_of_run, conc_rows)
    states = {}
    for r in (*seq_rows.values(), *conc_rows.values()):
        states[r["state"]] = states.get(r["state"], 0) + 1

    def stats(m: dict[int, dict[str, float]], key: str) -> tuple[float | None, ...]:
        values = [v[key] for v in m.values()]
        return (metrics.percentile(values, 50), metrics.percentile(values, 90),
                metrics.percentile(values, 99), max(values) if values else None)

    runs_per_s = n / (last_reported - first_sent)
    rows_out = []
    for label, m in (("one at a time", seq_m), (f"{n} at once, {args.clients} clients", conc_m)):
        for key in ("wall_ms", "upstream_ms", "overhead_ms"):
            p50, p90, p99, mx = stats(m, key)
            rows_out.append((label, key.replace("_ms", ""), p50, p90, p99, mx))
    calls_per_run = metrics.percentile([v["calls"] for v in conc_m.values()], 50)
    print(report.machine_table(info))
    print()
    print(report.table(f"Workflow runs: force_associate via POST /api/v1/runs, threads executor in "
                       f"{service.workers} gunicorn workers, SQLite, sandbox without added latency (ms)",
                       ("phase", "per run", "p50", "p90", "p99", "max"), rows_out))
    print()
    g10, g10k = group_calls[GROUP_COUNTS[0]], group_calls[GROUP_COUNTS[1]]
    o50 = stats(conc_m, "overhead_ms")[0]
    s50 = stats(seq_m, "overhead_ms")[0]
    print(report.kv_table("Figures", [
        ("runs started (concurrent phase)", f"{n} in {posted:.2f} s"),
        ("runs/s (first POST -> last reported)", f"{runs_per_s:.2f}"),
        ("  first POST -> last outcome recorded", f"{last_finished - first_sent:.2f} s"),
        ("run states", states),
        ("portal changes (one per run expected)", f"{portal_changes} for {n + seq + warmup + len(GROUP_COUNTS)} runs"),
        ("upstream calls inside a run's execution (p50)", calls_per_run),
        ("CPU per run: service / sandbox + clients", f"{service_cpu_ms:.1f} ms / {bench_cpu_ms:.1f} ms "
                                                      f"({info['cores']} cores)"),
        ("overhead p50 < 20 ms, runs at once", f"{o50:.1f} ms -> {'met' if o50 < 20 else 'MISSED'}"),
        ("overhead p50 < 20 ms, one at a time", f"{s50:.1f} ms -> {'met' if s50 < 20 else 'MISSED'}"),
        (f"calls by one run, user in {GROUP_COUNTS[0]} groups", f"{g10['total']} (execution {g10['execution']}, {g10['state']})"),
        (f"calls by one run, user in {GROUP_COUNTS[1]:,} groups", f"{g10k['total']} (execution {g10k['execution']}, {g10k['state']})"),
        ("  equal", g10["total"] == g10k["total"]),
        ("  requests made", "; ".join(g10k["paths"])),
        ("agents", "one per run: each run reads its agent from Zendesk (a cache miss, as for "
                   "an agent's first run in a minute)"),
        ("Zendesk budgets", "100,000/min (raised: at the default 200/min the account's limit paces runs)"),
    ]))
    p = stats(conc_m, "overhead_ms")
    s = stats(seq_m, "overhead_ms")
    report.emit({"runs_per_s": round(runs_per_s, 2), "overhead_ms_p50": _r(p[0]), "overhead_ms_p99": _r(p[2]),
                 "upstream_calls_10_groups": g10["total"], "upstream_calls_10000_groups": g10k["total"],
                 "overhead_ms_p50_one_at_a_time": _r(s[0]), "overhead_ms_p99_one_at_a_time": _r(s[2]),
                 "wall_ms_p50": _r(stats(conc_m, "wall_ms")[0]), "upstream_ms_p50": _r(stats(conc_m, "upstream_ms")[0]),
                 "runs": n, "states": states, "web_workers": service.workers,
                 "service_cpu_ms_per_run": round(service_cpu_ms, 1), "sandbox_and_bench_cpu_ms_per_run": round(bench_cpu_ms, 1),
                 "machine": {"cores": info["cores"], "memory_mb": info["memory_mb"]}})
    return 0


def _own_cpu() -> float:
    """This process: the sandbox's three servers, the clients, the polling."""
    t = os.times()
    return t.user + t.system


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


if __name__ == "__main__":
    sys.exit(main())
