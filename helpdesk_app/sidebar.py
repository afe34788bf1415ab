"""The ticket-sidebar page request: Zendesk's signed URL in, a short-lived session out.

STUB: implemented by the sidebar-auth work.
"""
from __future__ import annotations

from flask import Blueprint

blueprint = Blueprint("sidebar", __name__)
