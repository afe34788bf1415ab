"""`POST /operators`: the admins' page of failures, opened like the sidebar (a Zendesk
signed URL: the app's nav_bar location), for Zendesk admins only.

It lists what GET /api/v1/failures returns (failed and report-failed runs, dead deliveries,
overdue escalations) and sends one back with POST /api/v1/failures/{kind}/{id}/requeue.
Static markup; the script (static/operators/operators.js) reads the session from the data
block into memory and puts every value in with textContent, as the sidebar's does.
"""
from __future__ import annotations

import logging

from flask import Blueprint, Response, current_app, request, url_for

from helpdesk_app.errors import forbidden
from helpdesk_app.security.headers import private_page
from helpdesk_app.web import services_of
from helpdesk_app.web.api.auth import issue_session, load_agent
from helpdesk_app.web.sidebar import STYLESHEET, content_security_policy, script_json
from helpdesk_app.web.sidebar import _app_claims as app_claims

blueprint = Blueprint("operators", __name__)
log = logging.getLogger(__name__)
SCRIPT = "operators/operators.js"

SECTIONS = (("lnr-failed-runs", "Failed runs", ("Run", "Workflow", "Ticket", "State", "Attempts", "Error")),
            ("lnr-dead-deliveries", "Dead deliveries", ("Delivery", "Source", "Key", "Attempts", "Error")),
            ("lnr-overdue-escalations", "Escalations open too long", ("Escalation", "Ticket", "Workflow",
                                                                      "Opened", "Issue")))

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>License &amp; Renewals: failures</title>
<link rel="stylesheet" href="{stylesheet}">
<script type="module" src="{script}"></script>
</head>
<body>
<main id="lnr-operators" class="lnr" aria-labelledby="lnr-title">
<h1 id="lnr-title">Failures</h1>
<div id="lnr-status" class="lnr-status" role="status" aria-live="polite" data-testid="status">Loading…</div>
{sections}
</main>
<script type="application/json" id="lnr-session">{session}</script>
</body>
</html>
"""


def _section(element_id: str, title: str, columns: tuple[str, ...]) -> str:
    heads = "".join(f"<th scope=\"col\">{c}</th>" for c in columns) + "<th scope=\"col\"></th>"
    return (f'<section id="{element_id}" class="lnr-section" data-testid="{element_id}">\n'
            f"<h2>{title}</h2>\n<p class=\"lnr-empty lnr-muted\" hidden>None.</p>\n"
            f"<table><thead><tr>{heads}</tr></thead><tbody></tbody></table>\n</section>")


@blueprint.post("/operators")
def page():
    services = services_of(current_app)
    claims = app_claims(services.settings, request.form.get("token", ""))
    agent = load_agent(claims.user_id)
    refusal = services.policy.refusal(agent, "failures")
    if refusal is not None:
        raise forbidden(refusal, action="failures")
    token, expires_at = issue_session(services.settings, user_id=agent.id,
                                      installation_id=claims.installation_id)
    log.info("operators.session_issued", extra={"agent_id": agent.id})
    session = {"token": token, "expires_at": expires_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
               "agent": {"id": agent.id, "name": agent.name, "role": agent.role}}
    html = PAGE.format(stylesheet=url_for("static", filename=STYLESHEET),
                       script=url_for("static", filename=SCRIPT), session=script_json(session),
                       sections="\n".join(_section(*s) for s in SECTIONS))
    return Response(html, mimetype="text/html")


@blueprint.after_request
def security_headers(response: Response) -> Response:
    settings = services_of(current_app).settings
    return private_page(response, content_security_policy(
        settings.zendesk_subdomain, sandbox=settings.mode == "sandbox"))
