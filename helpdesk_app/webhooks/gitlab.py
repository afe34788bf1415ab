"""`POST /webhooks/gitlab`: escalation issues closed or reopened come back to their ticket.

STUB: implemented by the escalation work.
"""
from __future__ import annotations

from flask import Blueprint

blueprint = Blueprint("gitlab_webhook", __name__)
