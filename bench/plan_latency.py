"""Plan and run latency when every upstream request takes a fixed time (issue 19, item 6).

    python bench/plan_latency.py [--delay-ms 150] [--quick] [--repeat N] [--runs N]

--quick (under a minute): each plan 3 times, each run once; else 10 and 5, after a first
plan of each case that is not timed.

The service runs as the Procfile runs it (gunicorn.conf.py, the embedded `threads`
executor, SQLite) against the sandbox, which answers every upstream request after
`--delay-ms` (its `delay` fault on every path: GitLab.com, Zendesk and a portal answer in
50-300 ms). An agent's requests are made as the sidebar makes them, on one keep-alive
connection, after the sidebar's load (GET /api/v1/tickets/<id>) has read the agent and the
ticket:

- a plan: POST /api/v1/plans, from sending it to its answer;
- a run, click to reported: POST /api/v1/runs (after the plan it confirms), then
  GET /api/v1/runs/<id>?wait=25&seen=<version> again and again, as static/sidebar/api.js
  `waitForRun` does, until the answer says the result is on the ticket.

Calls are the upstream requests the sandbox answered meanwhile (bench/sandbox_calls.py).

Levels are derived from which read needs which answer (the graphs below: each read names
the reads whose answers give its arguments); a plan's levels are its longest chain. The
ticket counts as a read of the plans that read its requester (its requester's user and
identities need its `requester_id`), as the issue's table counted it; the service takes it
from the access check's cache, so such a plan may come in under its limit. A run's levels
are its plan's, then the change (1), its verification's reads (1), and the post-back (2:
the ticket's comments, for the note's marker, and the ticket itself, at once; then one
ticket update). The limit is levels x the delay; the goals (README, "Performance"): every
plan <= 1.3x its limit, every run <= 1.5x.

Prints a table, then one JSON line: {"delay_ms", "workflows": {NAME: {"calls", "levels",
"measured_ms", "limit_ms", "ratio"}}, "worst_ratio"}, ratios of the median.
"""
from __future__ import annotations

import os
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

import cli
import databases
import metrics
import processes
import report
import requests
import sandbox_calls
import scenarios
import serve

PLAN_GOAL, RUN_GOAL = 1.3, 1.5
WAIT_S = 25  # the long poll's wait, as api.js asks it
REASON = "The customer confirmed it by email (benchmark)."

# --- which read needs which answer ---------------------------------------------------------
Graph = dict[str, tuple[str, ...]]
ASSOCIATE: Graph = {"subscription": (), "namespace": (), "customer": ("subscription",),
                    "namespace's subscriptions": ("namespace",), "linked user": ("customer",),
                    # the linked user's id is the customer's link: no need to read the user first
                    "linked user owns namespace": ("namespace", "customer")}
REQUESTER: Graph = {"ticket": (), "requester": ("ticket",), "requester's identities": ("ticket",)}
LINKED_ELSEWHERE: Graph = {**ASSOCIATE, **REQUESTER, "old namespace": ("subscription",),
                           "requester's GitLab users": ("requester",),
                           "they own old namespace": ("old namespace", "requester's GitLab users")}
CLEAR: Graph = {"subscription": (), "namespace": ("subscription",),
                "namespace's subscriptions": ("subscription",), "customer": ("subscription",),
                **REQUESTER, "requester's GitLab users": ("requester",),
                "they own namespace": ("namespace", "requester's GitLab users")}
UNLINK: Graph = {"customer": (), "customer's subscriptions": (), "linked user": ("customer",),
                 "subscription's namespace": ("customer's subscriptions",), **REQUESTER}
LINK: Graph = {"customer": (), "GitLab user": (), "namespace": (), **REQUESTER,
               "user owns namespace": ("GitLab user", "namespace")}
VERIFY: dict[str, Graph] = {
    "associate": {"subscription": (), "namespace": ()},
    "clear_subscription": {"subscription": (), "namespace's subscriptions": (), "namespace": ()},
    "unlink_account": {"customer": ()}, "link_account": {"customer": ()}}
VERIFY["force_associate"] = VERIFY["associate"]
POST_BACK: Graph = {"comments": (), "ticket": (), "one ticket update": ("comments", "ticket")}


def diagnose_graph(n: int) -> Graph:
    graph: Graph = {}
    for i in range(n):
        graph |= {f"subscription {i}": (), f"namespace {i}": (), f"customer {i}": (f"subscription {i}",),
                  f"namespace {i}'s subscriptions": (f"namespace {i}",), f"linked user {i}": (f"customer {i}",)}
    for s in range(n):
        for ns in range(n):
            graph[f"user {s} owns namespace {ns}"] = (f"namespace {ns}", f"customer {s}")
    return graph


def depth(graph: Graph) -> int:
    memo: dict[str, int] = {}

    def level(read: str) -> int:
        if read not in memo:
            memo[read] = 1 + max((level(need) for need in graph[read]), default=0)
        return memo[read]

    return max(level(read) for read in graph)


# --- the cases -------------------------------------------------------------------------------


@dataclass
class Case:
    name: str
    workflow: str
    graph: Graph
    pairs: list[int]  # pair indices (scenarios.runs): a plan's, or one per run
    inputs: Callable[[list[int]], dict[str, Any]]
    run: bool = False
    times_ms: list[float] = field(default_factory=list)
    calls: list[int] = field(default_factory=list)

    @property
    def levels(self) -> int:
        plan = depth(self.graph)
        return plan + 1 + depth(VERIFY[self.workflow]) + depth(POST_BACK) if self.run else plan

    @property
    def expected_calls(self) -> int:
        if not self.run:
            return len(self.graph)
        return len(self.graph) + 1 + len(VERIFY[self.workflow]) + len(POST_BACK)


def pair_inputs(i: int) -> dict[str, Any]:
    return {"subscription": f"A-S{10_000_000 + i:08d}", "namespace": f"bench-ns-{i:05d}"}


def customer_inputs(i: int) -> dict[str, Any]:
    return {"customer": 100000 + i}


def link_inputs(i: int) -> dict[str, Any]:
    return {"customer": 100000 + i, "gitlab_user": f"olivia{i}", "namespace": f"bench-ns-{i:05d}"}


def diagnose_inputs(pairs: list[int]) -> dict[str, Any]:
    return {"subscriptions": [pair_inputs(i)["subscription"] for i in pairs],
            "namespaces": [pair_inputs(i)["namespace"] for i in pairs]}


class Pairs:
    """Hands out pair indices; `edits` records how each pair's world differs."""

    def __init__(self) -> None:
        self.next, self.linked_to, self.unlinked_customers = 0, {}, set()

    def take(self, n: int = 1) -> list[int]:
        taken = list(range(self.next, self.next + n))
        self.next += n
        return taken

    def linked(self, n: int, elsewhere: bool = False) -> list[int]:
        """Pairs whose subscription is linked: to its own group, or to one of its own."""
        taken = self.take(n)
        for i in taken:
            self.linked_to[i] = 300000 + (self.take()[0] if elsewhere else i)
        return taken

    def unlinked(self, n: int) -> list[int]:
        taken = self.take(n)
        self.unlinked_customers |= set(taken)
        return taken


def cases(pairs: Pairs, repeat_runs: int) -> list[Case]:
    one = lambda f: (lambda ids: f(ids[0]))  # noqa: E731
    plans = [
        Case("associate", "associate", ASSOCIATE, pairs.take(), one(pair_inputs)),
        Case("associate, subscription linked elsewhere", "associate", LINKED_ELSEWHERE,
             pairs.linked(1, elsewhere=True), one(pair_inputs)),
        Case("force_associate", "force_associate", ASSOCIATE, pairs.take(), one(pair_inputs)),
        Case("clear_subscription", "clear_subscription", CLEAR, pairs.linked(1),
             lambda ids: {"subscription": pair_inputs(ids[0])["subscription"]}),
        Case("unlink_account (by customer)", "unlink_account", UNLINK, pairs.linked(1), one(customer_inputs)),
        Case("link_account", "link_account", LINK, pairs.unlinked(1), one(link_inputs)),
        Case("diagnose 2 x 2", "diagnose", diagnose_graph(2), pairs.take(2), diagnose_inputs),
        Case("diagnose 3 x 3", "diagnose", diagnose_graph(3), pairs.take(3), diagnose_inputs),
    ]
    runs = [
        Case("associate run", "associate", ASSOCIATE, pairs.take(repeat_runs), one(pair_inputs), run=True),
        Case("force_associate run", "force_associate", ASSOCIATE, pairs.take(repeat_runs), one(pair_inputs),
             run=True),
        Case("clear_subscription run", "clear_subscription", CLEAR, pairs.linked(repeat_runs),
             lambda ids: {"subscription": pair_inputs(ids[0])["subscription"]}, run=True),
        Case("unlink_account run", "unlink_account", UNLINK, pairs.linked(repeat_runs), one(customer_inputs),
             run=True),
        Case("link_account run", "link_account", LINK, pairs.unlinked(repeat_runs), one(link_inputs), run=True),
    ]
    return plans + runs


def world(pairs: Pairs, delay_ms: float) -> dict[str, Any]:
    scenario = scenarios.runs(pairs.next, group_counts=())
    for sub in scenario["portal"]["subscriptions"]:
        i = int(sub["name"][3:]) - 10_000_000
        sub["namespace_id"] = pairs.linked_to.get(i)
    for customer in scenario["portal"]["customers"]:
        if customer["id"] - 100000 in pairs.unlinked_customers:
            customer["gitlab_user_id"] = None
    scenario["faults"] = [{"delay": delay_ms / 1000, "times": None}]  # every request, every upstream
    return scenario


# --- the agent's side ------------------------------------------------------------------------


class Agent:
    """One agent's sidebar: a session token and one keep-alive connection."""

    def __init__(self, url: str, env: dict[str, str], pair: int) -> None:
        from helpdesk_app.security.sidebar import issue_session_token

        self.url, self.ticket = url, 400000 + pair
        self.http = requests.Session()
        token = issue_session_token(env["SECRET_KEY"], user_id=scenarios.RUN_AGENT_BASE + pair,
                                    installation_id=1, subdomain=env["ZENDESK_SUBDOMAIN"],
                                    now=datetime.now(timezone.utc), ttl_s=900)
        self.http.headers["Authorization"] = f"Bearer {token}"

    def load(self) -> None:
        """The sidebar's load: the agent and the ticket are read (and cached)."""
        self._ok(self.http.get(f"{self.url}/api/v1/tickets/{self.ticket}", timeout=60))

    def plan(self, workflow: str, inputs: dict[str, Any]) -> dict[str, Any]:
        body = {"workflow": workflow, "ticket_id": self.ticket, "inputs": inputs}
        return self._ok(self.http.post(f"{self.url}/api/v1/plans", json=body, timeout=60))

    def run(self, workflow: str, inputs: dict[str, Any], plan: dict[str, Any]) -> dict[str, Any]:
        """Click to reported: the run as the sidebar last sees it, its result on the ticket."""
        overrides = [c["id"] for c in plan["checks"] if c["verdict"] == "override"]
        confirmation = {"decision": plan["decision"], "override_ids": overrides}
        if overrides:
            confirmation["reason"] = REASON
        body = {"workflow": workflow, "ticket_id": self.ticket, "inputs": inputs,
                "confirmation": confirmation}
        run = self._ok(self.http.post(f"{self.url}/api/v1/runs", json=body, timeout=60,
                                      headers={"Idempotency-Key": f"bench-{uuid.uuid4().hex}"}))
        deadline = time.monotonic() + 60
        while run["reported_at"] is None and run["state"] != "report_failed":
            if time.monotonic() > deadline:
                raise RuntimeError(f"run {run['id']} not reported in 60 s: {run['state']}")
            run = self._ok(self.http.get(f"{self.url}/api/v1/runs/{run['id']}", timeout=WAIT_S + 30,
                                         params={"wait": WAIT_S, "seen": run["version"]}))
        return run

    @staticmethod
    def _ok(response: requests.Response) -> dict[str, Any]:
        if response.status_code >= 300:
            raise RuntimeError(f"{response.request.method} {response.url} answered "
                               f"{response.status_code}: {response.text[:300]}")
        return response.json()


# --- measuring -------------------------------------------------------------------------------


def measure_plan(case: Case, agent: Agent, log: sandbox_calls.RequestLog, repeat: int,
                 warm: bool) -> None:
    inputs = case.inputs(case.pairs)
    if warm:  # a first plan of its own (--quick: the warm-up run's plan only)
        agent.load()
        agent.plan(case.workflow, inputs)
    for _ in range(repeat):
        agent.load()  # the caches stay fresh however long the benchmark takes
        time.sleep(0.05)
        start = time.time()
        agent.plan(case.workflow, inputs)
        end = time.time()
        case.times_ms.append((end - start) * 1000)
        case.calls.append(len(log.between(start, end)))
    report.log(f"{case.name}: {repeat} plans")


def measure_run(case: Case, url: str, env: dict[str, str], log: sandbox_calls.RequestLog) -> None:
    for i in case.pairs:
        agent = Agent(url, env, i)
        inputs = case.inputs([i])
        agent.load()
        plan = agent.plan(case.workflow, inputs)
        time.sleep(0.05)
        start = time.time()
        run = agent.run(case.workflow, inputs, plan)
        end = time.time()
        if run["state"] != "succeeded":
            raise RuntimeError(f"{case.name}: the run {run['state']}: {run['outcome']}")
        case.times_ms.append((end - start) * 1000)
        case.calls.append(len(log.between(start, end)))
    report.log(f"{case.name}: {len(case.pairs)} runs")


def figures(case: Case, delay_ms: float) -> dict[str, Any]:
    measured = metrics.percentile(case.times_ms, 50) or 0.0
    limit = case.levels * delay_ms
    return {"calls": int(metrics.percentile(case.calls, 50) or 0), "levels": case.levels,
            "measured_ms": round(measured, 1), "limit_ms": round(limit, 1),
            "ratio": round(measured / limit, 2)}


def main() -> int:
    parser = cli.common_args(__doc__.splitlines()[0])
    parser.add_argument("--delay-ms", type=float, default=150.0,
                        help="every upstream request's delay (default 150)")
    parser.add_argument("--repeat", type=int, help="timed plans of each case (default 10, --quick 3)")
    parser.add_argument("--runs", type=int, help="timed runs of each workflow (default 5, --quick 1)")
    args = parser.parse_args()
    repeat = args.repeat or (3 if args.quick else 10)
    pairs = Pairs()
    # Untimed: a job thread's first run makes its clients and connections.
    warm_up = Case("warm-up run", "associate", ASSOCIATE, pairs.take(), lambda ids: pair_inputs(ids[0]), run=True)
    all_cases = cases(pairs, args.runs or (1 if args.quick else 5))
    load_before = os.getloadavg()

    with processes.Stack() as stack:
        work = cli.workdir(stack, args.keep)
        sandbox, log = sandbox_calls.start_sandbox(stack, world(pairs, args.delay_ms))
        db = databases.fresh_database(stack, "sqlite", work)
        env = serve.service_env(sandbox, db, {"JOB_EXECUTOR": "threads",
                                              "ZENDESK_REQUESTS_PER_MIN": 100_000,
                                              "ZENDESK_TICKET_UPDATES_PER_MIN": 100_000})
        service = serve.start_service(stack, work, env)
        report.log(f"service {service.url}, {service.workers} workers; every upstream request "
                   f"answers after {args.delay_ms:g} ms")
        measure_run(warm_up, service.url, env, log)
        for case in all_cases:
            if case.run:
                measure_run(case, service.url, env, log)
            else:
                measure_plan(case, Agent(service.url, env, case.pairs[0]), log, repeat, not args.quick)

    load_after = os.getloadavg()
    results = {case.name: figures(case, args.delay_ms) for case in all_cases}
    print_table(all_cases, results, args.delay_ms, load_before, load_after)
    report.emit({"delay_ms": args.delay_ms, "workflows": results,
                 "worst_ratio": max(r["ratio"] for r in results.values())})
    return 0


def print_table(all_cases: list[Case], results: dict[str, Any], delay_ms: float,
                load_before: tuple[float, ...], load_after: tuple[float, ...]) -> None:
    rows = []
    for case in all_cases:
        r, goal = results[case.name], RUN_GOAL if case.run else PLAN_GOAL
        rows.append((case.name, f"{r['calls']} ({case.expected_calls})", r["levels"],
                     f"{r['measured_ms']:,.0f} ms", f"{min(case.times_ms):,.0f}-{max(case.times_ms):,.0f}",
                     f"{r['limit_ms']:,.0f} ms", f"{r['ratio']:.2f}", "met" if r["ratio"] <= goal else "MISSED"))
    print(report.machine_table(metrics.machine_info()))
    print()
    print(report.table(
        f"Plans and runs (click to reported) at {delay_ms:g} ms an upstream request; median; "
        f"calls measured (in the graph); goals: plan <= {PLAN_GOAL}x, run <= {RUN_GOAL}x levels x delay",
        ("workflow", "calls", "levels", "measured", "range", "limit", "ratio", "goal"), rows))
    print(f"load average (1, 5, 15 min): before {_load(load_before)}, after {_load(load_after)}")


def _load(load: tuple[float, ...]) -> str:
    return ", ".join(f"{x:.2f}" for x in load)


if __name__ == "__main__":
    sys.exit(main())
