"""The ticket-sidebar page request: Zendesk's signed URL in, a short-lived session out.

With `"signed": true` on the app's ticket_sidebar location (zendesk_app/manifest.json; the
older top-level `"signedUrls": true` does the same), Zendesk loads the sidebar's first page
with a POST whose form field `token` holds a JWT it signs RS256 for the app installation; it is
sent on that first request only, so the page gets a session of its own for everything after
(https://developer.zendesk.com/documentation/apps/build-an-app/building-a-server-side-app/part-5-secure-the-app/;
the claims and their sources are in security/sidebar.py).

The session token goes into the page as a JSON data block that the page's script (served
from 'self') reads into memory: never a URL, a cookie or storage (architecture.md, "A
sidebar action"). POST /api/v1/session swaps a live session for a fresh one, so a page left
open longer than the session's life keeps working while its agent still is one.

The page itself is static markup; its behaviour is ES modules and a stylesheet under
helpdesk_app/static/sidebar/ (served by Flask's static route, 'self' in the CSP), plus
Zendesk's hosted ZAF SDK, the one script allowed from elsewhere. Inside Zendesk the script
reads the ticket id through ZAF; outside it (a local page framing the sidebar) from the
optional `ticket_id` of this request, echoed in the data block.

In sandbox mode there is no Zendesk to frame the page (the local agent page does), so the
page neither references the ZAF SDK nor allows it in its CSP: nothing is fetched from
another origin, and an offline machine does not hold the sidebar's module behind a
third-party script it would wait for (deferred scripts run in document order).
"""
from __future__ import annotations

import html
import json
import logging
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request, url_for

from helpdesk_app.errors import ApiError, unauthorized
from helpdesk_app.security.headers import private_page
from helpdesk_app.security.sidebar import AppClaims, SidebarAuthError, verify_zendesk_app_jwt
from helpdesk_app.settings import Settings
from helpdesk_app.web import services_of
from helpdesk_app.web.api.auth import current_agent, current_session, issue_session, load_agent, require_agent
from workflows.inputs import positive_id
from workflows.labels import workflow_name

blueprint = Blueprint("sidebar", __name__)
log = logging.getLogger(__name__)

# Zendesk's hosted ZAF SDK (the 2.0 channel gets Zendesk's patch releases); the only script
# the page loads from another origin. https://developer.zendesk.com/documentation/apps/app-developer-guide/using-the-apps-framework/
ZAF_SDK_ORIGIN = "https://static.zdassets.com"
ZAF_SDK_URL = f"{ZAF_SDK_ORIGIN}/zendesk_app_framework_sdk/2.0/zaf_sdk.min.js"
STYLESHEET = "sidebar/sidebar.css"
SCRIPT = "sidebar/sidebar.js"  # an ES module; it imports its siblings in static/sidebar/

# Static markup only: every piece of ticket-derived text is put in by the script with
# textContent. No inline script or style, ever: the CSP below would refuse them anyway.
# Both scripts are deferred, so they run in this order once the document is parsed.
# The ids and data-testid attributes are what browser tests drive; keep them stable.
PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>License &amp; Renewals</title>
<link rel="stylesheet" href="{stylesheet}">
{zaf_sdk}<script type="module" src="{script}"></script>
</head>
<body>
<main id="lnr-sidebar" class="lnr" aria-labelledby="lnr-title" aria-busy="true">
<header class="lnr-header">
<h1 id="lnr-title">License &amp; Renewals</h1>
<p id="lnr-ticket" class="lnr-ticket" data-testid="ticket-label"></p>
{mode_banner}</header>
<div id="lnr-status" class="lnr-status" role="status" aria-live="polite" aria-atomic="true" data-testid="status">Loading…</div>
<div id="lnr-error" class="lnr-error" role="alert" tabindex="-1" data-testid="error" hidden></div>
<section id="lnr-triage" class="lnr-findings" aria-label="What triage found" data-testid="triage"></section>
<section id="lnr-plan" class="lnr-section lnr-plan" aria-labelledby="lnr-plan-title" data-testid="plan" hidden>
<h2 id="lnr-plan-title" tabindex="-1">Plan</h2>
<div id="lnr-plan-body"></div>
</section>
<section id="lnr-run" class="lnr-section" aria-labelledby="lnr-run-title" data-testid="run" hidden>
<h2 id="lnr-run-title" tabindex="-1">Run</h2>
<p id="lnr-run-status" class="lnr-run-status" data-testid="run-status"></p>
<p id="lnr-waiting" class="lnr-waiting" data-testid="waiting" hidden></p>
<div id="lnr-result" data-testid="result" hidden></div>
<p id="lnr-escalation" class="lnr-escalation" hidden><a id="lnr-escalation-link" target="_blank" rel="noopener noreferrer" data-testid="escalation-link"></a></p>
<details id="lnr-timeline" class="lnr-fold" data-testid="timeline" open>
<summary>Timeline</summary>
<ol id="lnr-run-events" class="lnr-events" aria-label="Timeline" data-testid="run-events"></ol>
</details>
</section>
<form id="lnr-plan-form" class="lnr-section" aria-labelledby="lnr-plan-form-title" novalidate data-testid="plan-form">
<h2 id="lnr-plan-form-title">Plan a workflow</h2>
<div class="lnr-field">
<label for="lnr-workflow">Workflow</label>
<select id="lnr-workflow" name="workflow" aria-describedby="lnr-workflow-hint" data-testid="workflow-select">
{workflow_options}</select>
<p id="lnr-workflow-hint" class="lnr-hint" data-testid="workflow-hint" hidden></p>
</div>
<div class="lnr-field" id="lnr-subscription-field">
<label for="lnr-subscription">Subscription</label>
<input id="lnr-subscription" name="subscription" type="text" autocomplete="off" spellcheck="false" maxlength="64" list="lnr-subscription-options" aria-describedby="lnr-subscription-hint lnr-subscription-error" data-testid="subscription-input">
<datalist id="lnr-subscription-options"></datalist>
<p id="lnr-subscription-hint" class="lnr-hint">For example A-S00012345.</p>
<p id="lnr-subscription-error" class="lnr-field-error" data-testid="subscription-error" hidden></p>
</div>
<div class="lnr-field" id="lnr-namespace-field">
<label for="lnr-namespace">Group</label>
<input id="lnr-namespace" name="namespace" type="text" autocomplete="off" spellcheck="false" maxlength="255" list="lnr-namespace-options" aria-describedby="lnr-namespace-hint lnr-namespace-error" data-testid="namespace-input">
<datalist id="lnr-namespace-options"></datalist>
<p id="lnr-namespace-hint" class="lnr-hint">A GitLab.com group path such as acme/platform, or its numeric id.</p>
<p id="lnr-namespace-error" class="lnr-field-error" data-testid="namespace-error" hidden></p>
</div>
<div class="lnr-field" id="lnr-customer-field" hidden>
<label for="lnr-customer">Portal customer id</label>
<input id="lnr-customer" name="customer" type="text" inputmode="numeric" autocomplete="off" spellcheck="false" maxlength="19" aria-describedby="lnr-customer-hint lnr-customer-error" data-testid="customer-input">
<p id="lnr-customer-hint" class="lnr-hint">Optional when a subscription is given: its customer is used.</p>
<p id="lnr-customer-error" class="lnr-field-error" data-testid="customer-error" hidden></p>
</div>
<div class="lnr-field" id="lnr-gitlab_user-field" hidden>
<label for="lnr-gitlab_user">GitLab.com user</label>
<input id="lnr-gitlab_user" name="gitlab_user" type="text" autocomplete="off" spellcheck="false" maxlength="255" aria-describedby="lnr-gitlab_user-hint lnr-gitlab_user-error" data-testid="gitlab-user-input">
<p id="lnr-gitlab_user-hint" class="lnr-hint">A username or numeric user id. Left empty: the GitLab.com user whose email is the requester's verified email.</p>
<p id="lnr-gitlab_user-error" class="lnr-field-error" data-testid="gitlab-user-error" hidden></p>
</div>
<button type="submit" id="lnr-show-plan" class="lnr-button" data-testid="show-plan-button" disabled>Show plan</button>
</form>
<section id="lnr-context" class="lnr-section" aria-labelledby="lnr-context-title" data-testid="context">
<h2 id="lnr-context-title">This ticket</h2>
<div id="lnr-runs" data-testid="earlier-runs"></div>
<div id="lnr-escalations" data-testid="open-escalations"></div>
</section>
</main>
<script type="application/json" id="lnr-session">{session}</script>
</body>
</html>
"""

# architecture.md: sandbox mode says so on every page.
SANDBOX_BANNER = ('<p id="lnr-mode" class="lnr-mode" data-testid="mode">Sandbox mode: the local '
                  'sandbox stands in for the portal, GitLab and Zendesk.</p>\n')

# The workflows an agent may plan here, in the dropdown's order, each under its one name
# (workflows/labels.py). The script greys out those the agent may not run, from the ticket
# context's `workflows`.
PLANNABLE = ("associate", "force_associate", "clear_subscription", "unlink_account", "link_account")

# Inside <script> the HTML parser decodes no entities, so HTML-escaping would corrupt the
# JSON. Instead the characters that could close the element (`</script>`) or open a comment
# (`<!--`) are written as JSON escapes, which JSON.parse turns back into themselves.
_SCRIPT_UNSAFE = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"})


@blueprint.post("/sidebar")
def page():
    settings = services_of(current_app).settings
    claims = _app_claims(settings, request.form.get("token", ""))
    ticket_id = _ticket_id()  # before any Zendesk call: bad input costs nothing upstream
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
        # Outside Zendesk the script has no ZAF to ask; inside it, ZAF's answer wins.
        "ticket_id": ticket_id,
    }
    return Response(_page(session, settings.mode), mimetype="text/html")


# Zendesk's SDK, where there is a Zendesk: not in sandbox mode (the module's pageHost serves).
ZAF_SDK_TAG = f'<script src="{ZAF_SDK_URL}" defer></script>\n'


def _page(session: dict[str, Any], mode: str) -> str:
    return PAGE.format(session=script_json(session),
                       zaf_sdk="" if mode == "sandbox" else ZAF_SDK_TAG,
                       stylesheet=url_for("static", filename=STYLESHEET),
                       script=url_for("static", filename=SCRIPT),
                       mode_banner=SANDBOX_BANNER if mode == "sandbox" else "",
                       workflow_options=_workflow_options())


def _workflow_options() -> str:
    return "".join(f'<option value="{name}">{html.escape(workflow_name(name))}</option>\n'
                   for name in PLANNABLE)


def _ticket_id() -> int | None:
    """The optional `ticket_id` form field or query parameter: a positive integer (400 else).

    For a page that frames the sidebar outside Zendesk. It grants nothing: every API call
    names its ticket and is authorised like any other input.
    """
    given = [values["ticket_id"] for values in (request.form, request.args) if "ticket_id" in values]
    if not given:
        return None
    ids = {positive_id(value, "ticket_id") for value in given}
    if len(ids) > 1:
        raise ApiError(400, "bad_input", "ticket_id differs between the form and the query",
                       field="ticket_id")
    return ids.pop()


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
    settings = services_of(current_app).settings
    return private_page(response, content_security_policy(
        settings.zendesk_subdomain, sandbox=settings.mode == "sandbox"))


def content_security_policy(subdomain: str | None, *, sandbox: bool = False) -> str:
    # Only the agent's own Zendesk may frame the page (clickjacking); in sandbox mode there
    # is no Zendesk, and the local agent page (agent_page.py, this origin) frames it instead.
    # Nothing inline runs; scripts come from this service and from Zendesk's ZAF SDK only
    # (this service only in sandbox mode, whose page loads no SDK); the page talks to this
    # service only (the SDK talks to Zendesk by postMessage, which CSP does not govern).
    if sandbox:
        ancestors, scripts = "'self'", "'self'"
    else:
        ancestors = f"https://{subdomain}.zendesk.com" if subdomain else "'none'"
        scripts = f"'self' {ZAF_SDK_ORIGIN}"
    return (f"default-src 'none'; script-src {scripts}; style-src 'self'; "
            f"img-src 'self' data:; connect-src 'self'; frame-ancestors {ancestors}; "
            "base-uri 'none'; form-action 'none'")


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
