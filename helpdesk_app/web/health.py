"""`GET /healthz`: the process is up and configured. It calls no upstream."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify

blueprint = Blueprint("health", __name__)


@blueprint.get("/healthz")
def healthz():
    settings = current_app.extensions["helpdesk"].settings
    return jsonify(status="ok", mode=settings.mode)
