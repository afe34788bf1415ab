"""The sidebar's JSON API under /api/v1 (docs/openapi.yaml).

Views authenticate, parse, hand over and answer; the rules live in `workflows`, the run's
lifecycle in `helpdesk_app.engine.runs`.
"""
from __future__ import annotations

from flask import Blueprint

blueprint = Blueprint("api", __name__, url_prefix="/api/v1")


@blueprint.after_request
def _never_cached(response):
    # Answers hold customer data for one agent's session; no proxy or browser keeps them.
    response.headers["Cache-Control"] = "no-store"
    return response


from helpdesk_app.web.api import views  # noqa: E402,F401  (registers the routes on the blueprint)
