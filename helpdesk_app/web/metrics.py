"""`GET /metrics`: Prometheus' text format, for a scraper holding METRICS_TOKEN.

Without the setting the endpoint answers 404, as if it did not exist: a deployment that
never configured a scraper shows the public nothing (not even that there is something to
guess a token for). With it, a request without the right `Authorization: Bearer` token gets
401; the token is compared in constant time.
"""
from __future__ import annotations

import hmac
import logging

from flask import Blueprint, Response, abort, current_app, jsonify, request
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select

from helpdesk_app import metrics
from helpdesk_app.storage.models import Delivery, Run
from helpdesk_app.web import services_of

blueprint = Blueprint("metrics", __name__)
REGISTRY = "helpdesk_metrics_registry"  # the app extension create_app() puts it under
BACKLOG = "helpdesk_metrics_backlog"
log = logging.getLogger(__name__)
# What is waiting, being worked on or given up, right now; the states rows leave again.
# (Finished rows only grow: the counters say how many got there.)
OPEN_DELIVERY_STATES = ("received", "processing", "failed", "dead")
OPEN_RUN_STATES = ("queued", "running", "report_failed")


@blueprint.get("/metrics")
def scrape():
    token = services_of(current_app).settings.metrics_token
    if token is None:
        abort(404)
    if not _bearer_matches(token.get_secret_value()):
        response = jsonify(error={"code": "unauthorized", "message": "a valid metrics token is required"})
        response.headers["WWW-Authenticate"] = "Bearer"
        return response, 401
    body = (metrics.exposition(current_app.extensions[REGISTRY])
            + metrics.exposition(current_app.extensions[BACKLOG]))
    return Response(body, content_type=metrics.CONTENT_TYPE_LATEST,
                    headers={"Cache-Control": "no-store"})


def _bearer_matches(expected: str) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    # Bytes: compare_digest refuses non-ASCII str, and a header may hold anything.
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode("utf-8", "surrogateescape"), expected.encode())


class Backlog:
    """Rows by state, counted in the database at each scrape: the same answer from every
    process, so it is exposed beside the per-process samples, never summed with them."""

    def __init__(self, db) -> None:
        self._db = db

    def collect(self):
        deliveries = GaugeMetricFamily("helpdesk_deliveries_in_state",
                                       "Webhook deliveries now in a state.", labels=["source", "state"])
        runs = GaugeMetricFamily("helpdesk_runs_in_state", "Runs now in a state.", labels=["state"])
        try:
            with self._db() as session:
                for source, state, count in session.execute(
                        select(Delivery.source, Delivery.status, func.count())
                        .where(Delivery.status.in_(OPEN_DELIVERY_STATES))
                        .group_by(Delivery.source, Delivery.status)):
                    deliveries.add_metric([source, state], count)
                for state, count in session.execute(
                        select(Run.state, func.count()).where(Run.state.in_(OPEN_RUN_STATES))
                        .group_by(Run.state)):
                    runs.add_metric([state], count)
        except Exception:  # the counters still answer; /readyz says what is wrong
            log.warning("metrics.backlog_failed", exc_info=True)
            return
        yield deliveries
        yield runs


def backlog_registry(db) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(Backlog(db))
    return registry
