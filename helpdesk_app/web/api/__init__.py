"""The sidebar's JSON API under /api/v1 (docs/openapi.yaml).

Views authenticate, parse, hand over and answer; the rules live in `workflows`, the run's
lifecycle in `helpdesk_app.engine.runs`.
"""
from __future__ import annotations

from helpdesk_app.web.api.views import blueprint

__all__ = ["blueprint"]
