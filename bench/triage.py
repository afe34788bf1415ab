"""Triage throughput: the pure classifier, and delivery-to-note through the whole service.

    python bench/triage.py           # 10 s of pure triage; 200 tickets end to end
    python bench/triage.py --quick   # 2 s; 50 tickets

pure_per_s: `workflows.triage(TicketText(...))` over the labelled corpus
(tests/triage/corpus/*.json) repeated, in this process, one thread.

end_to_end_per_s: tickets a second from the first ticket.created delivery posted to the
last one processed (its note and tag written to the sandbox's Zendesk), with the storm
machinery of bench/triage_storm.py at a smaller N: gunicorn as in the Procfile, the
`threads` executor on SQLite, the sandbox as every upstream. The Zendesk budgets are
raised out of the way so that the figure is the service's, not the account's rate limit
(at the default 200 requests a minute and about 5 requests per ticket, that limit alone
allows 40 tickets a minute).
"""
from __future__ import annotations

import json
import sys
import time

import checkout
import cli
import metrics
import processes
import report
from triage_storm import run_storm

CORPUS = checkout.ROOT / "tests" / "triage" / "corpus"


def pure(seconds: float) -> dict:
    from workflows.triage import TicketText, triage

    texts = []
    for path in sorted(CORPUS.glob("*.json")):
        data = json.loads(path.read_text())
        texts.append(TicketText(subject=data.get("subject", ""), description=data.get("description", ""),
                                comments=tuple(data.get("comments", []))))
    for text in texts:  # warm: compiled patterns, caches
        triage(text)
    timings = []
    done = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        for text in texts:
            t0 = time.perf_counter()
            triage(text)
            timings.append((time.perf_counter() - t0) * 1e6)
        done += len(texts)
    elapsed = time.perf_counter() - started
    return {"tickets": len(texts), "triaged": done, "elapsed_s": elapsed, "per_s": done / elapsed,
            "p50_us": metrics.percentile(timings, 50), "p99_us": metrics.percentile(timings, 99),
            "max_us": max(timings),
            "chars_mean": sum(len(t.subject) + len(t.description) + sum(map(len, t.comments))
                              for t in texts) / len(texts)}


def main() -> int:
    parser = cli.common_args(__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, help="pure triage duration (default 10, --quick 2)")
    parser.add_argument("--tickets", type=int, help="end-to-end tickets (default 200, --quick 50)")
    args = parser.parse_args()
    seconds = args.seconds or (2.0 if args.quick else 10.0)
    tickets = args.tickets or (50 if args.quick else 200)
    info = metrics.machine_info()
    p = pure(seconds)
    report.log(f"pure: {p['per_s']:,.0f} tickets/s; end to end with {tickets} tickets")
    with processes.Stack() as stack:
        work = cli.workdir(stack, args.keep)
        e = run_storm(stack, work, tickets=tickets, requests_per_min=100_000, updates_per_min=100_000,
                      concurrency=16)
    e2e = tickets / e["triage_done_s"]
    print(report.machine_table(info))
    print()
    print(report.kv_table("Triage", [
        ("pure: corpus", f"{p['tickets']} tickets (mean {p['chars_mean']:,.0f} characters), "
                         f"{p['triaged']:,} triaged in {p['elapsed_s']:.1f} s"),
        ("pure: tickets/s (one thread)", f"{p['per_s']:,.0f}"),
        ("pure: per ticket p50 / p99 / max", f"{p['p50_us']:,.0f} / {p['p99_us']:,.0f} / {p['max_us']:,.0f} us"),
        ("end to end: tickets", f"{tickets} ticket.created deliveries, 16 connections"),
        ("end to end: first posted -> last noted", f"{e['triage_done_s']:.2f} s"),
        ("end to end: tickets/s", f"{e2e:.1f}"),
        ("end to end: received -> processed p50 / p99",
         f"{e['delivery_to_processed_ms_p50']:,.0f} / {e['delivery_to_processed_ms_p99']:,.0f} ms"),
        ("end to end: notes per ticket min / max", f"{e['notes_per_ticket_min']} / {e['notes_per_ticket_max']}"),
        ("end to end: Zendesk requests per ticket", e["zendesk_requests_per_ticket"]),
        ("service", f"{e['web_workers']} gunicorn workers x {e['job_threads']} job threads, SQLite; "
                    "Zendesk budgets 100,000/min"),
    ]))
    report.emit({"pure_per_s": round(p["per_s"], 1), "end_to_end_per_s": round(e2e, 2),
                 "pure_p50_us": round(p["p50_us"], 1), "pure_p99_us": round(p["p99_us"], 1),
                 "end_to_end_tickets": tickets, "end_to_end_s": e["triage_done_s"],
                 "delivery_to_processed_ms_p50": e["delivery_to_processed_ms_p50"],
                 "delivery_to_processed_ms_p99": e["delivery_to_processed_ms_p99"],
                 "notes_per_ticket_min": e["notes_per_ticket_min"], "notes_per_ticket_max": e["notes_per_ticket_max"],
                 "machine": {"cores": info["cores"], "memory_mb": info["memory_mb"]}})
    return 0


if __name__ == "__main__":
    sys.exit(main())
