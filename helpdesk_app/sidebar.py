"""The ticket-sidebar page request: Zendesk's signed URL in, a short-lived session out.

With `"signedUrls": true` in the app's manifest, Zendesk loads the sidebar's first page with
a POST whose form field `token` holds a JWT it signs RS256 for the app installation; it is
sent on that first request only, so the page gets a session of its own for everything after
(https://developer.zendesk.com/documentation/apps/build-an-app/building-a-server-side-app/part-5-secure-the-app/;
the claims and their sources are in security/sidebar.py).

The session token goes into the page as a JSON data block that the page's script (served
from 'self') reads into memory: never a URL, a cookie or storage (architecture.md, "A
sidebar action"). POST /api/v1/session swaps a live session for a fresh one, so a page left
open longer than the session's life keeps working while its agent still is one.
"""
from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from . import services_of
from .api.auth import current_agent, current_session, issue_session, load_agent, require_agent
from .errors import ApiError, unauthorized
from .security.sidebar import AppClaims, SidebarAuthError, verify_zendesk_app_jwt
from .settings import Settings

blueprint = Blueprint("sidebar", __name__)
log = logging.getLogger(__name__)

# Minimal until the sidebar UI arrives; it will add <script src="/static/..."> (script-src
# 'self'). No inline script, ever: the CSP below would refuse it anyway.
PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>License &amp; Renewals</title>
</head>
<body>
<main id="lnr-sidebar"></main>
<script type="application/json" id="lnr-session">{session}</script>
</body>
</html>
"""

# Inside <script> the HTML parser decodes no entities, so HTML-escaping would corrupt the
# JSON. Instead the characters that could close the element (`</script>`) or open a comment
# (`<!--`) are written as JSON escapes, which JSON.parse turns back into themselves.
_SCRIPT_UNSAFE = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"})


@blueprint.post("/sidebar")
def page():
    settings = services_of(current_app).settings
    claims = _app_claims(settings, request.form.get("token", ""))
    agent = load_agent(claims.user_id)
    token, expires_at = issue_session(settings, user_id=agent.id,
                                      installation_id=claims.installation_id)
    log.info("sidebar.session_issued",
             extra={"agent_id": agent.id, "installation_id": claims.installation_id})
    session = {
        "token": token,
        "expires_at": _iso(expires_at),
        "agent": {"id": agent.id, "name": agent.name, "role": agent.role},
        "installation_id": claims.installation_id,
    }
    return Response(PAGE.format(session=script_json(session)), mimetype="text/html")


@blueprint.post("/api/v1/session")
@require_agent
def renew_session():
    settings = services_of(current_app).settings
    token, expires_at = issue_session(settings, user_id=current_agent().id,
                                      installation_id=current_session().installation_id)
    return jsonify(token=token, expires_at=_iso(expires_at))


@blueprint.after_request
def security_headers(response: Response) -> Response:
    """On every answer of this blueprint, errors included: they may carry a session."""
    subdomain = services_of(current_app).settings.zendesk_subdomain
    response.headers["Content-Security-Policy"] = content_security_policy(subdomain)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def content_security_policy(subdomain: str | None) -> str:
    # Only the agent's own Zendesk may frame the page (clickjacking); nothing inline runs.
    ancestors = f"https://{subdomain}.zendesk.com" if subdomain else "'none'"
    return ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
            f"connect-src 'self'; frame-ancestors {ancestors}; base-uri 'none'; form-action 'none'")


def script_json(value: Any) -> str:
    """JSON that is safe as the content of a <script type="application/json"> element."""
    return json.dumps(value).translate(_SCRIPT_UNSAFE)


def _app_claims(settings: Settings, token: str) -> AppClaims:
    if not (settings.zendesk_app_public_key and settings.zendesk_subdomain):
        # Required in upstream mode (settings.py); fail closed should a build lack them.
        raise ApiError(503, "not_configured", "the sidebar app is not configured on this service")
    try:
        return verify_zendesk_app_jwt(token, public_key_pem=settings.zendesk_app_public_key,
                                      subdomain=settings.zendesk_subdomain,
                                      installation_id=settings.zendesk_app_installation_id)
    except SidebarAuthError as refused:
        log.info("sidebar.page_refused", extra={"code": refused.code})
        raise unauthorized(refused.code, refused.message) from None


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
