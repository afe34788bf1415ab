"""The sidebar's JSON API under /api/v1 (docs/openapi.yaml)."""
from __future__ import annotations

from flask import Blueprint

blueprint = Blueprint("api", __name__, url_prefix="/api/v1")
