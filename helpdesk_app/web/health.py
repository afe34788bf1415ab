"""`GET /healthz`: the process is up and configured (liveness; it calls nothing).
`GET /readyz`: the process can do its work (engine/readiness.py): 200, or 503 naming what
is wrong."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify

blueprint = Blueprint("health", __name__)
READINESS = "helpdesk_readiness"  # the app extension create_app() puts the checks under


@blueprint.get("/healthz")
def healthz():
    settings = current_app.extensions["helpdesk"].settings
    return jsonify(status="ok", mode=settings.mode)


@blueprint.get("/readyz")
def readyz():
    problems = current_app.extensions[READINESS].report()
    failing = {name: problem for name, problem in problems.items() if problem}
    checks = {name: problem or "ok" for name, problem in problems.items()}
    if failing:
        response = jsonify(status="not_ready", failing=sorted(failing), checks=checks)
        response.status_code = 503
    else:
        response = jsonify(status="ready", checks=checks)
    response.headers["Cache-Control"] = "no-store"
    return response
