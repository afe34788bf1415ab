"""The service's Prometheus metrics (docs/operating.md says what each one means).

Defined once here, incremented where the thing happens (engine, upstream adapters, web).
One process (the embedded executor) exposes prometheus_client's default registry. Many
processes (gunicorn workers, RQ workers on one machine) set PROMETHEUS_MULTIPROC_DIR
before start: prometheus_client then writes every sample to a file per process in that
directory, and `/metrics` sums the files (`scrape_registry`), so any worker's answer
counts every process of the machine.
"""
from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, multiprocess
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

__all__ = ["CONTENT_TYPE_LATEST", "exposition", "scrape_registry", "upstream_response"]

# Seconds: a plan reads three upstreams (about a second); a run also waits out retries.
PLAN_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60)
RUN_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120, 300)

RUNS_FINISHED = Counter("helpdesk_runs_finished", "Runs that reached an end state.",
                        ["workflow", "state"])
RUN_SECONDS = Histogram("helpdesk_run_duration_seconds",
                        "One attempt at a run: re-plan and act (upstream retries included).",
                        ["workflow"], buckets=RUN_BUCKETS)
PLAN_SECONDS = Histogram("helpdesk_plan_duration_seconds", "Making a plan for an agent.",
                         ["workflow"], buckets=PLAN_BUCKETS)
DELIVERIES = Counter("helpdesk_deliveries", "Webhook deliveries entering a state.",
                     ["source", "state"])
UPSTREAM_REQUESTS = Counter("helpdesk_upstream_requests",
                            "Requests answered by an upstream, by HTTP status ('error': no answer).",
                            ["upstream", "status"])
UPSTREAM_RETRIES = Counter("helpdesk_upstream_retries",
                           "Upstream calls repeated after a transient failure.", ["upstream"])
RATE_LIMITED = Counter("helpdesk_upstream_rate_limited", "429 answers from an upstream.",
                       ["upstream"])
BUDGET_REFUSALS = Counter("helpdesk_budget_refusals",
                          "Requests never sent because the shared rate budget was spent.",
                          ["upstream"])
SWEEPER_DISPATCHES = Counter("helpdesk_sweeper_dispatches",
                             "Jobs the sweeper dispatched again (due retries, lost or abandoned jobs).",
                             ["kind"])
DEAD_LETTERS = Counter("helpdesk_dead_letters",
                       "Deliveries given up after DELIVERY_MAX_ATTEMPTS (state `dead`).", ["kind"])
JOB_FAILURES = Counter("helpdesk_job_failures", "Jobs that raised (the traceback is in the row).",
                       ["kind"])


def upstream_response(upstream: str, status: int | str) -> None:
    """Count one answer (or "error": none came) from `upstream`; a 429 is also a rate limit."""
    UPSTREAM_REQUESTS.labels(upstream, str(status)).inc()
    if status == 429:
        RATE_LIMITED.labels(upstream).inc()


def scrape_registry(multiproc_dir: str | None) -> CollectorRegistry:
    """What `/metrics` exposes: the sum of the directory's files, or this process alone."""
    if not multiproc_dir:
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=multiproc_dir)
    return registry


def exposition(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)
