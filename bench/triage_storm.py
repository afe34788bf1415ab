"""Ticket storm: N ticket.created deliveries at once against the sandbox.

    python bench/triage_storm.py            # 1,000 tickets, a few minutes
    python bench/triage_storm.py --quick    # 100 tickets, under a minute

The service runs as the Procfile runs it (gunicorn, WEB_CONCURRENCY workers, the embedded
`threads` executor on SQLite) against the sandbox, whose Zendesk holds N generated tickets
(scenarios.storm: realistic texts, naming subscriptions and groups that exist for some
customers and not for others). N signed `ticket.created` events with unique ids are posted
at high concurrency by another process. Measured:

- acknowledged (202) and how long intake took;
- when every delivery row was processed (the database is polled), and the service's
  notes per ticket in the sandbox's Zendesk: exactly one each is "nothing lost, nothing
  doubled";
- Zendesk's write rate seen by the sandbox (its request log, server-side timestamps):
  the most Update Ticket requests (PUT /api/v2/tickets/{id}.json) and the most requests
  of any kind in any 60 s window, against ZENDESK_TICKET_UPDATES_PER_MIN and
  ZENDESK_REQUESTS_PER_MIN, set so that the budgets (not the machine) pace the run.
"""
from __future__ import annotations

import re
import sys
import time
from collections import Counter
from typing import Any

import cli
import databases
import loadgen
import metrics
import processes
import report
import sandbox_calls
import scenarios
import serve
import webhooks

UPDATE_TICKET = re.compile(r"^/api/v2/tickets/(\d+)\.json$")
FINAL = ("processed", "ignored")


def run_storm(stack: processes.Stack, workdir, *, tickets: int, requests_per_min: int,
              updates_per_min: int, concurrency: int, database: str = "sqlite",
              extra_settings: dict[str, str] | None = None) -> dict[str, Any]:
    """Start everything, post the storm, wait for triage, and measure. Returns figures."""
    scenario = scenarios.storm(tickets)
    sandbox, calls = sandbox_calls.start_sandbox(stack, scenario)
    db = databases.fresh_database(stack, database, workdir)
    settings = {"JOB_EXECUTOR": "threads", "ZENDESK_REQUESTS_PER_MIN": requests_per_min,
                "ZENDESK_TICKET_UPDATES_PER_MIN": updates_per_min, **(extra_settings or {})}
    env = serve.service_env(sandbox, db, settings)
    rss = metrics.PeakRss().start()
    stack.callback(rss.stop)
    service = serve.start_service(stack, workdir, env, rss=rss)
    report.log(f"service up at {service.url} ({service.workers} workers); posting {tickets} deliveries")

    records = [sandbox.state.ticket(t["id"]) for t in scenario["zendesk"]["tickets"]]
    storm = webhooks.deliveries(env["ZENDESK_WEBHOOK_SECRET"], records, tickets)
    load = loadgen.run_python_load(service.url, storm, connections=concurrency, duration_s=None,
                                   workdir=workdir)
    started = load.started_at
    acked = load.statuses.get("202", 0)
    report.log(f"intake: {acked}/{tickets} acknowledged in {load.elapsed_s:.2f} s; waiting for triage")

    def states() -> dict[str, int]:
        return dict(db.query("SELECT status, COUNT(*) FROM deliveries WHERE source = 'zendesk' "
                             "GROUP BY status"))

    def done() -> bool:
        s = states()
        return sum(s.values()) >= acked and all(k in FINAL for k in s)

    # The budgets pace the run: the time it needs, three times over, plus start-up slack.
    writes = 5 * tickets / requests_per_min + tickets / updates_per_min
    timeout = 180 + 3 * 60 * writes
    processes.wait_until(done, timeout_s=timeout, every_s=0.5, what="every delivery processed",
                         progress=lambda: str(states()))
    finished = databases.epoch(db.query("SELECT MAX(processed_at) FROM deliveries")[0][0])
    # Let any straggling write land before counting (there should be none).
    time.sleep(1.0)
    rss.sample()

    ticket_ids = [t["id"] for t in scenario["zendesk"]["tickets"]]
    notes = sandbox.counters()["notes_per_ticket"]
    per_ticket = [notes.get(t, 0) for t in ticket_ids]
    zendesk = [c for c in calls.snapshot() if c.upstream == "zendesk" and c.start >= started]
    updates = [c.start for c in zendesk if c.method == "PUT" and UPDATE_TICKET.match(c.path.split("?")[0])]
    latencies = [(databases.epoch(done_at) - databases.epoch(got)) * 1000 for got, done_at in db.query(
        "SELECT received_at, processed_at FROM deliveries WHERE processed_at IS NOT NULL")]
    attempts = Counter(a for (a,) in db.query("SELECT attempts FROM deliveries WHERE source = 'zendesk'"))
    statuses = states()
    span = max(c.start for c in zendesk) - min(c.start for c in zendesk) if zendesk else 0.0
    by_kind = Counter(_kind(c) for c in zendesk)
    return {
        "tickets": tickets,
        "acked": acked,
        "processed": statuses.get("processed", 0),
        "notes_per_ticket_min": min(per_ticket),
        "notes_per_ticket_max": max(per_ticket),
        "lost": sum(1 for n in per_ticket if n == 0),
        "doubled": sum(1 for n in per_ticket if n > 1),
        "intake_s": round(load.elapsed_s, 3),
        "intake_p50_ms": _r(load.p50_ms), "intake_p99_ms": _r(load.p99_ms),
        "triage_done_s": round(finished - started, 2),
        "delivery_to_processed_ms_p50": _r(metrics.percentile(latencies, 50)),
        "delivery_to_processed_ms_p99": _r(metrics.percentile(latencies, 99)),
        "peak_updates_per_min": metrics.peak_per_window(updates),
        "update_budget_per_min": updates_per_min,
        "peak_requests_per_min": metrics.peak_per_window([c.start for c in zendesk]),
        "request_budget_per_min": requests_per_min,
        "zendesk_requests": len(zendesk),
        "zendesk_requests_per_ticket": round(len(zendesk) / tickets, 2),
        "zendesk_span_s": round(span, 1),
        "zendesk_by_kind": dict(by_kind),
        "zendesk_errors": sum(1 for c in zendesk if (c.status or 0) >= 400),
        "statuses": statuses,
        "attempts": {str(k): v for k, v in sorted(attempts.items())},
        "other_statuses": {k: v for k, v in load.statuses.items() if k != "202"},
        "concurrency": concurrency,
        "web_workers": service.workers,
        "job_threads": int(env.get("JOB_THREADS", 4)),
        "web_rss_mb": rss.peak_mb("web"),
        "loadgen": load.tool,
    }


def _kind(call: sandbox_calls.Call) -> str:
    path = call.path.split("?")[0]
    if UPDATE_TICKET.match(path):
        return f"{call.method} ticket" if call.method == "PUT" else "GET ticket"
    if path.endswith("/comments.json"):
        return "GET comments"
    if path.endswith("/tags.json"):
        return "PUT tags"
    return call.method + " " + re.sub(r"/\d+", "/{id}", path)


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def main() -> int:
    parser = cli.common_args(__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, help="default 1000, --quick 100")
    parser.add_argument("--requests-per-min", type=int, default=3000,
                        help="ZENDESK_REQUESTS_PER_MIN (default 3000)")
    parser.add_argument("--updates-per-min", type=int, default=600,
                        help="ZENDESK_TICKET_UPDATES_PER_MIN (default 600)")
    parser.add_argument("--concurrency", type=int, default=64, help="connections posting (default 64)")
    args = parser.parse_args()
    tickets = args.tickets or (100 if args.quick else 1000)
    info = metrics.machine_info()
    with processes.Stack() as stack:
        work = cli.workdir(stack, args.keep)
        r = run_storm(stack, work, tickets=tickets, requests_per_min=args.requests_per_min,
                      updates_per_min=args.updates_per_min, concurrency=args.concurrency)
    print(report.machine_table(info))
    print()
    print(report.kv_table(f"Ticket storm: {tickets} ticket.created deliveries, threads executor on SQLite, "
                          f"{r['web_workers']} gunicorn workers x {r['job_threads']} job threads", [
        ("posted (connections)", f"{tickets} ({r['concurrency']}, {r['loadgen']})"),
        ("acknowledged 202", r["acked"]),
        ("other answers", r["other_statuses"] or "none"),
        ("intake time", f"{r['intake_s']:.2f} s ({tickets / r['intake_s']:,.0f}/s; "
                        f"p50 {r['intake_p50_ms']} ms, p99 {r['intake_p99_ms']} ms)"),
        ("deliveries by status", r["statuses"]),
        ("delivery attempts (attempts: rows)", r["attempts"]),
        ("all triaged after", f"{r['triage_done_s']:.1f} s"),
        ("received -> processed, p50 / p99", f"{r['delivery_to_processed_ms_p50']:,.0f} / "
                                              f"{r['delivery_to_processed_ms_p99']:,.0f} ms"),
        ("notes per ticket min / max", f"{r['notes_per_ticket_min']} / {r['notes_per_ticket_max']}"),
        ("tickets without a note (lost)", r["lost"]),
        ("tickets with 2+ notes (doubled)", r["doubled"]),
        ("Zendesk requests (per ticket)", f"{r['zendesk_requests']} ({r['zendesk_requests_per_ticket']})"),
        ("  by kind", ", ".join(f"{k} {v}" for k, v in sorted(r["zendesk_by_kind"].items()))),
        ("  answered 4xx/5xx", r["zendesk_errors"]),
        ("peak Update Ticket in any 60 s", f"{r['peak_updates_per_min']} (budget {r['update_budget_per_min']}/min)"),
        ("peak requests in any 60 s", f"{r['peak_requests_per_min']} (budget {r['request_budget_per_min']}/min)"),
        ("peak RSS of a web worker", f"{r['web_rss_mb']} MB"),
    ]))
    keys = ("tickets", "acked", "processed", "notes_per_ticket_min", "notes_per_ticket_max", "lost",
            "intake_s", "triage_done_s", "peak_updates_per_min", "update_budget_per_min",
            "peak_requests_per_min", "request_budget_per_min")
    report.emit({**{k: r[k] for k in keys}, "doubled": r["doubled"],
                 "zendesk_requests_per_ticket": r["zendesk_requests_per_ticket"], "web_rss_mb": r["web_rss_mb"],
                 "machine": {"cores": info["cores"], "memory_mb": info["memory_mb"]}})
    return 0


if __name__ == "__main__":
    sys.exit(main())
