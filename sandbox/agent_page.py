"""The local agent page, /sandbox/ (sandbox mode only): what Zendesk's agent interface is to
the real service, for the sandbox's world.

- `GET /sandbox/`: every sandbox ticket (subject, requester, status, tags, demo case) and a
  "New ticket" form (`POST /sandbox/tickets`: the sandbox then sends `ticket.created` to
  this service, whose triage notes the ticket).
- `GET /sandbox/tickets/<id>`: the ticket, its conversation and the service's notes, its
  escalation issues in the sandbox's GitLab (each with "Close issue (as engineer)",
  `POST /sandbox/issues/<iid>/close`, whose Issue Hook flows back), and the sidebar in an
  iframe. `GET /sandbox/tickets/<id>/live` is the refreshing part alone (static/agent/agent.js).
- `GET /sandbox/issues/<iid>`: one escalation issue with its comments.

The sidebar is loaded as Zendesk loads it: a form POSTs to /sidebar, into the iframe, a
`token` signed RS256 with the sandbox's app key for the demo agent (the first agent of the
License and Renewals group; `?agent=<id>` picks another) and the `ticket_id`.

Server-rendered with Jinja2's autoescaping; every POST carries a CSRF token kept in Flask's
session and compared in constant time; no inline script (the CSP forbids it).
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections import defaultdict
from typing import Any, Mapping

import jwt
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from markdown_it import MarkdownIt
from markupsafe import Markup, escape
from werkzeug.exceptions import HTTPException

from helpdesk_app.security.headers import private_page
from helpdesk_app.security.sidebar import zendesk_audience, zendesk_user_url
from helpdesk_app.settings import LICENSE_AND_RENEWALS, Settings
from helpdesk_app.web import services_of
from sandbox.mode import EXTENSION, RunningSandbox
from sandbox.state import NotFound
from workflows import notes
from workflows.labels import check_label, decision_label, workflow_name

blueprint = Blueprint("agent_page", __name__, url_prefix="/sandbox", template_folder="templates",
                      static_folder="static")

CSRF_FIELD = "csrf_token"


@blueprint.record_once
def _uses_the_session(state) -> None:
    """Its forms' CSRF token lives in Flask's session, which the app opens only under the
    paths that ask (helpdesk_app.app.SessionOnlyWhereUsed)."""
    used = state.app.config.get("SESSION_PATHS", ())
    state.app.config["SESSION_PATHS"] = (*used, f"{state.url_prefix}/")
# What the page may load: its own scripts, styles and frames (the sidebar), nothing inline;
# its forms post to this service only (the sidebar's form included); nobody frames it.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; frame-src 'self'; form-action 'self'; frame-ancestors 'none'; "
       "base-uri 'none'")
SIDEBAR_TOKEN_TTL_S = 300  # a signed URL is used at once; Zendesk's live minutes too
SUBJECT_MAX, DESCRIPTION_MAX = 200, 20_000
# GitLab renders an issue's Markdown; so does this page, as CommonMark with GitLab's tables.
# `html: False` escapes any HTML in the text (an issue quotes tickets and upstream errors),
# and markdown-it drops links to javascript:, vbscript:, file: and data: URLs.
MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable("table")
# A note's web address, as Zendesk links it in a comment; trailing punctuation is the text's.
WEB_ADDRESS = re.compile(r"https?://[^\s<>\"']+")


# --- views ------------------------------------------------------------------------------

@blueprint.get("/")
def tickets():
    return _tickets_page(_world(), form={}, errors={})


@blueprint.post("/tickets")
def new_ticket():
    _check_csrf()
    world = _world()
    fields, errors = new_ticket_fields(request.form, end_users(world))
    if errors:
        return _tickets_page(world, form=request.form, errors=errors), 400
    created = _running().sandbox.create_ticket(**fields)
    return redirect(url_for(".ticket", ticket_id=created["id"]), 303)


@blueprint.get("/tickets/<int:ticket_id>")
def ticket(ticket_id: int):
    world = _world()
    live, version = _live(world, ticket_id)
    agents = demo_agents(world, _running().sandbox.zendesk_service_user_id)
    agent = _chosen_agent(agents)
    return render_template("agent_page/ticket.html", ticket=find_ticket(world, ticket_id),
                           live=live, version=version, agents=agents, agent=agent,
                           sidebar_token=sidebar_token(_settings(), _private_key(), agent["id"]))


@blueprint.get("/tickets/<int:ticket_id>/live")
def ticket_live(ticket_id: int):
    live, version = _live(_world(), ticket_id)
    response = make_response(live)
    response.headers["X-Live-Version"] = version
    return response


@blueprint.get("/issues/<int:iid>")
def issue(iid: int):
    world = _world()
    found = next((i for i in world["gitlab"]["issues"] if i["iid"] == iid), None)
    if found is None:
        abort(404, "no such issue in the sandbox's GitLab")
    return render_template("agent_page/issue.html", issue=found, ticket_id=issue_ticket(found),
                           description=markdown_html(found.get("description") or ""),
                           comments=[dict(n, html=markdown_html(n.get("body") or ""))
                                     for n in found.get("notes", [])])


@blueprint.post("/issues/<int:iid>/close")
def close_issue(iid: int):
    _check_csrf()
    try:
        closed = _running().sandbox.close_issue(iid)
    except NotFound:
        abort(404, "no such issue in the sandbox's GitLab")
    ticket_id = issue_ticket(closed)
    if ticket_id is not None:
        return redirect(url_for(".ticket", ticket_id=ticket_id), 303)
    return redirect(url_for(".issue", iid=iid), 303)


@blueprint.context_processor
def _page_globals() -> dict[str, Any]:
    return {"csrf_token": csrf_token, "mode": _settings().mode}


@blueprint.after_request
def _security_headers(response: Response) -> Response:
    return private_page(response, CSP)  # pages carry a sidebar token


@blueprint.errorhandler(HTTPException)
def _error(error: HTTPException):
    # People read this page, so errors are pages too (the API's are JSON).
    return render_template("agent_page/error.html", error=error), error.code


def _tickets_page(world: dict[str, Any], *, form: Mapping[str, str], errors: dict[str, str]) -> str:
    return render_template("agent_page/tickets.html", rows=ticket_rows(world, _running().demo_cases),
                           requesters=end_users(world), form=form, errors=errors)


def _live(world: dict[str, Any], ticket_id: int) -> tuple[Markup, str]:
    """The refreshing part of the ticket view, and a version the script compares."""
    html = render_template("agent_page/_ticket_live.html", **ticket_view(world, ticket_id))
    return Markup(html), hashlib.sha256(html.encode()).hexdigest()[:16]


def _chosen_agent(agents: list[dict[str, Any]]) -> dict[str, Any]:
    if not agents:
        abort(500, "the scenario has no Zendesk agent to show the sidebar to")
    wanted = request.args.get("agent")
    if wanted is None:
        return agents[0]
    chosen = next((a for a in agents if str(a["id"]) == wanted), None)
    if chosen is None:
        abort(400, "agent: not an agent of the sandbox's Zendesk")
    return chosen


# --- CSRF ---------------------------------------------------------------------------------

def csrf_token() -> str:
    """The token forms carry; one per browser session (Flask's signed session cookie)."""
    if CSRF_FIELD not in session:
        session[CSRF_FIELD] = secrets.token_urlsafe(32)
    return session[CSRF_FIELD]


def _check_csrf() -> None:
    expected = session.get(CSRF_FIELD, "")
    given = request.form.get(CSRF_FIELD, "")
    if not expected or not hmac.compare_digest(expected.encode(), given.encode()):
        abort(400, "the form's CSRF token is missing or stale: reload the page and try again")


# --- the sandbox's world, read for the page -------------------------------------------------

def _running() -> RunningSandbox:
    return current_app.extensions[EXTENSION]


def _settings() -> Settings:
    return services_of(current_app).settings


def _private_key() -> str:
    return _running().sandbox.app_private_key_pem


def _world() -> dict[str, Any]:
    """A consistent copy of everything the sandbox holds (tickets with comments, issues)."""
    return _running().sandbox.state.snapshot()


def _users(world: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {u["id"]: u for u in world["zendesk"]["users"]}


def end_users(world: dict[str, Any]) -> list[dict[str, Any]]:
    return [u for u in world["zendesk"]["users"] if u["role"] == "end-user"]


def demo_agents(world: dict[str, Any], service_user_id: int) -> list[dict[str, Any]]:
    """The scenario's agents and admins (not the service's own account), the demo agent
    first: the first agent of the License and Renewals group, if there is one."""
    groups = {g["id"]: g["name"] for g in world["zendesk"]["groups"]}
    agents = [dict(u, groups=[groups[g] for g in u["group_ids"] if g in groups])
              for u in world["zendesk"]["users"]
              if u["role"] in ("agent", "admin") and u["id"] != service_user_id]
    lnr = [a for a in agents if a["role"] == "agent" and LICENSE_AND_RENEWALS in a["groups"]]
    return lnr[:1] + [a for a in agents if a not in lnr[:1]]


def case_labels(demo_cases: list[dict[str, Any]]) -> dict[int, list[str]]:
    """`demo_cases` of the scenario (demo.json) as words, by ticket."""
    labels: dict[int, list[str]] = defaultdict(list)
    for case in demo_cases:
        text = f"{workflow_name(str(case.get('workflow', '')))}: {decision_label(str(case.get('decision')))}"
        if case.get("check"):
            text += f", by “{check_label(case['check'])}” ({case['check']})"
        if case.get("run") == "escalates":
            kind = case.get("failure")
            text += (", the portal keeps failing (transient): retried, then the run fails and escalates"
                     if kind == "transient" else ", the run fails and escalates")
        labels[case.get("ticket")].append(text)
    return labels


def ticket_rows(world: dict[str, Any], demo_cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    users, labels = _users(world), case_labels(demo_cases)
    return [dict(t, requester=users.get(t["requester_id"], {}), cases=labels.get(t["id"], []),
                 notes=sum(1 for c in t["comments"] if c["via_api"]))
            for t in sorted(world["zendesk"]["tickets"], key=lambda t: t["id"])]


def find_ticket(world: dict[str, Any], ticket_id: int) -> dict[str, Any]:
    found = next((t for t in world["zendesk"]["tickets"] if t["id"] == ticket_id), None)
    if found is None:
        abort(404, "no such ticket in the sandbox's Zendesk")
    return found


def ticket_view(world: dict[str, Any], ticket_id: int) -> dict[str, Any]:
    """The ticket with its comments in order (the service's notes marked), and its issues."""
    ticket, users = find_ticket(world, ticket_id), _users(world)
    thread = [dict(c, author=users.get(c["author_id"], {"name": f"user {c['author_id']}"}))
              for c in ticket["comments"]]
    return {"ticket": ticket, "requester": users.get(ticket["requester_id"], {}),
            "thread": thread, "issues": ticket_issues(world, ticket_id),
            "fields": ticket_fields(world, ticket)}


def ticket_fields(world: dict[str, Any], ticket: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The ticket's custom field values as Zendesk shows them: the field's title and the
    option's name (the id and the tag value when the account has no such field)."""
    defined = {f["id"]: f for f in world["zendesk"].get("ticket_fields", [])}
    shown = []
    for value in ticket.get("custom_fields", []):
        field = defined.get(value.get("id"), {})
        options = {o.get("value"): o.get("name") for o in field.get("custom_field_options", [])}
        shown.append({"id": value.get("id"), "title": field.get("title") or f"field {value.get('id')}",
                      "value": options.get(value.get("value")) or value.get("value")})
    return shown


def ticket_issues(world: dict[str, Any], ticket_id: int) -> list[dict[str, Any]]:
    return [i for i in world["gitlab"]["issues"] if issue_ticket(i) == ticket_id]


@blueprint.app_template_filter("linkified")
def linkified(text: str) -> Markup:
    """Plain text, escaped, with its http(s) addresses as links (the service's notes link
    the ticket's escalation issue)."""
    parts, last = [], 0
    for found in WEB_ADDRESS.finditer(text):
        address = found.group(0).rstrip(".,;:)")
        parts += [escape(text[last:found.start()]),
                  Markup('<a href="{0}" data-testid="note-link">{0}</a>').format(address)]
        last = found.start() + len(address)
    parts.append(escape(text[last:]))
    return Markup("").join(parts)


def markdown_html(text: str) -> Markup:
    """An issue's or comment's Markdown as HTML, safe to put in the page as it is."""
    return Markup(MARKDOWN.render(text))


def issue_ticket(issue: Mapping[str, Any]) -> int | None:
    """The ticket an escalation issue is for: its marker `[lnr:escalation:<ticket>:...]`,
    which the service writes at the end of every escalation (postback.py)."""
    head = f"[{notes.MARKER_PREFIX}:escalation:"
    text = issue.get("description") or ""
    start = text.rfind(head)
    if start < 0:
        return None
    ticket = text[start + len(head):].split(":", 1)[0]
    return int(ticket) if ticket.isdigit() else None


def new_ticket_fields(form: Mapping[str, str], requesters: list[dict[str, Any]]
                      ) -> tuple[dict[str, Any], dict[str, str]]:
    """The sandbox ticket the form asks for, or what is wrong with each field."""
    subject = form.get("subject", "").strip()
    description = form.get("description", "").strip()
    requester = form.get("requester_id", "")
    errors = {}
    if not subject or len(subject) > SUBJECT_MAX:
        errors["subject"] = f"a subject of 1 to {SUBJECT_MAX} characters"
    if not description or len(description) > DESCRIPTION_MAX:
        errors["description"] = f"a description of 1 to {DESCRIPTION_MAX} characters"
    if requester not in {str(u["id"]) for u in requesters}:
        errors["requester_id"] = "one of the sandbox's customers"
    fields = {"subject": subject, "description": description, "status": "new",
              "requester_id": int(requester) if "requester_id" not in errors else None}
    return fields, errors


def sidebar_token(settings: Settings, private_key_pem: str, user_id: int) -> str:
    """What Zendesk signs for a signed-URL app request (security/sidebar.py checks it),
    signed with the sandbox's app key: the sandbox stands in for Zendesk here."""
    now = int(time.time())
    subdomain = settings.zendesk_subdomain
    claims = {"iss": f"{subdomain}.zendesk.com",
              "aud": zendesk_audience(subdomain, settings.zendesk_app_installation_id),
              "sub": zendesk_user_url(subdomain, user_id), "iat": now,
              "exp": now + SIDEBAR_TOKEN_TTL_S,
              "context": {"product": "support", "location": "ticket_sidebar"}}
    return jwt.encode(claims, private_key_pem, algorithm="RS256")
