"""Webhook intake while plans wait on a slow upstream (issue 17, item 6).

The service runs as the Procfile runs it (gunicorn.conf.py: threaded workers) against the
sandbox, whose GitLab answers every request after `--delay-s` (default 6 s). `--plans`
agents (default 6) keep asking for force-associate plans, each waiting on GitLab, while
signed Zendesk webhooks arrive one connection at a time; what is measured is how long a
webhook waits for its `202`. Zendesk gives a webhook about 10 s and deactivates webhooks
that keep failing, so the goal is p99 under 1 s whatever the plans wait on.

    .venv/bin/python bench/intake_while_plans_wait.py [--quick] [--delay-s 6] [--plans 6]

Prints a table, then one JSON line: {"delay_s", "plans", "plans_answered", "plan_p50_ms",
"webhooks", "webhook_p50_ms", "webhook_p99_ms", "webhook_max_ms", "statuses", "machine"}.
"""
from __future__ import annotations

import statistics
import threading
import time
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
import webhooks

AGENTS = scenarios.RUN_AGENT_BASE


def plan_body(i: int) -> dict[str, Any]:
    return {"workflow": "force_associate", "ticket_id": 400000 + i,
            "inputs": {"subscription": f"A-S{10_000_000 + i:08d}", "namespace": f"bench-ns-{i:05d}"}}


def token(env: dict[str, str], agent_id: int) -> str:
    from helpdesk_app.security.sidebar import issue_session_token

    return issue_session_token(env["SECRET_KEY"], user_id=agent_id, installation_id=1,
                               subdomain=env["ZENDESK_SUBDOMAIN"], now=datetime.now(timezone.utc),
                               ttl_s=900)


def keep_planning(url: str, env: dict[str, str], i: int, stop: threading.Event,
                  answered: list[float]) -> None:
    """One agent: a plan, then the next as soon as it is answered, until `stop`."""
    session = requests.Session()
    headers = {"Authorization": f"Bearer {token(env, AGENTS + i)}"}
    while not stop.is_set():
        sent = time.monotonic()
        try:
            session.post(f"{url}/api/v1/plans", json=plan_body(i), headers=headers, timeout=60)
            answered.append((time.monotonic() - sent) * 1000)
        except requests.RequestException:
            time.sleep(0.1)


def send_webhooks(url: str, reqs: list, seconds: float) -> tuple[list[float], dict[str, int]]:
    """One connection, one webhook after another, for `seconds`."""
    session, latencies, statuses = requests.Session(), [], {}
    deadline = time.monotonic() + seconds
    for req in reqs:
        if time.monotonic() > deadline:
            break
        sent = time.monotonic()
        status = str(session.post(url + req.path, data=req.body, headers=req.headers, timeout=30).status_code)
        latencies.append((time.monotonic() - sent) * 1000)
        statuses[status] = statuses.get(status, 0) + 1
        time.sleep(0.05)
    return latencies, statuses


def main() -> int:
    parser = cli.common_args(__doc__.splitlines()[0])
    parser.add_argument("--delay-s", type=float, default=6.0, help="GitLab's delay a request (default 6)")
    parser.add_argument("--plans", type=int, default=6, help="agents planning at once (default 6)")
    parser.add_argument("--duration", type=float, help="seconds of webhooks (default 30, --quick 12)")
    args = parser.parse_args()
    seconds = args.duration or (12.0 if args.quick else 30.0)

    with processes.Stack() as stack:
        work = cli.workdir(stack, args.keep)
        scenario = scenarios.runs(args.plans, group_counts=())
        scenario["faults"] = [{"upstream": "gitlab", "delay": args.delay_s, "times": None}]
        sandbox, _calls = sandbox_calls.start_sandbox(stack, scenario)
        tickets = [sandbox.state.ticket(t["id"]) for t in scenario["zendesk"]["tickets"]]
        db = databases.fresh_database(stack, "sqlite", work)
        env = serve.service_env(sandbox, db, {"JOB_EXECUTOR": "threads"})
        service = serve.start_service(stack, work, env)
        report.log(f"service {service.url}, {service.workers} workers; GitLab answers after "
                   f"{args.delay_s} s; {args.plans} agents planning")

        stop, answered = threading.Event(), []
        agents = [threading.Thread(target=keep_planning, args=(service.url, env, i, stop, answered),
                                   daemon=True) for i in range(args.plans)]
        for agent in agents:
            agent.start()
        time.sleep(1.0)  # every agent's first plan is waiting on GitLab
        reqs = webhooks.deliveries(env["ZENDESK_WEBHOOK_SECRET"], tickets, int(seconds * 25))
        latencies, statuses = send_webhooks(service.url, reqs, seconds)
        stop.set()
        for agent in agents:
            agent.join(args.delay_s * 4 + 30)

    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    result = {
        "delay_s": args.delay_s, "plans": args.plans, "plans_answered": len(answered),
        "plan_p50_ms": round(statistics.median(answered), 1) if answered else None,
        "webhooks": len(latencies), "webhook_p50_ms": round(statistics.median(latencies), 1),
        "webhook_p99_ms": round(p99, 1), "webhook_max_ms": round(ordered[-1], 1),
        "statuses": statuses, "machine": metrics.machine_info(),
    }
    print(report.kv_table("Webhook intake while plans wait on GitLab",
                          [(k, v) for k, v in result.items() if k != "machine"]))
    print(report.machine_table(result["machine"]))
    report.emit(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
