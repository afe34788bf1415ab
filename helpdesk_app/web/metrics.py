"""`GET /metrics`: Prometheus' text format, for a scraper holding METRICS_TOKEN.

Without the setting the endpoint answers 404, as if it did not exist: a deployment that
never configured a scraper shows the public nothing (not even that there is something to
guess a token for). With it, a request without the right `Authorization: Bearer` token gets
401; the token is compared in constant time.
"""
from __future__ import annotations

import hmac

from flask import Blueprint, Response, abort, current_app, jsonify, request

from helpdesk_app import metrics
from helpdesk_app.web import services_of

blueprint = Blueprint("metrics", __name__)
REGISTRY = "helpdesk_metrics_registry"  # the app extension create_app() puts it under


@blueprint.get("/metrics")
def scrape():
    token = services_of(current_app).settings.metrics_token
    if token is None:
        abort(404)
    if not _bearer_matches(token.get_secret_value()):
        response = jsonify(error={"code": "unauthorized", "message": "a valid metrics token is required"})
        response.headers["WWW-Authenticate"] = "Bearer"
        return response, 401
    body = metrics.exposition(current_app.extensions[REGISTRY])
    return Response(body, content_type=metrics.CONTENT_TYPE_LATEST,
                    headers={"Cache-Control": "no-store"})


def _bearer_matches(expected: str) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    # Bytes: compare_digest refuses non-ASCII str, and a header may hold anything.
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode("utf-8", "surrogateescape"), expected.encode())
