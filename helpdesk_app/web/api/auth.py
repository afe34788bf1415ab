"""Authentication and authorisation of the sidebar's API calls.

A call carries `Authorization: Bearer <session token>` (issued by POST /sidebar, kept in
page memory only). The token names a Zendesk user; who that user is, and what they may
do, is read server-side (AgentDirectory, Policy), never taken from the browser.
"""
from __future__ import annotations

import functools
import logging
import math
from datetime import datetime, timedelta, timezone
from typing import Callable, TypeVar

from flask import after_this_request, current_app, g, request

from helpdesk_app.access.agents import Agent
from helpdesk_app.access.tickets import may_see
from helpdesk_app.engine.services import Services
from helpdesk_app.errors import ApiError, forbidden, unauthorized
from helpdesk_app.security.sidebar import (
    SessionClaims,
    SidebarAuthError,
    issue_session_token,
    verify_session_token,
)
from helpdesk_app.settings import Settings
from helpdesk_app.upstreams import zendesk_pacing
from helpdesk_app.upstreams.budgets import Budget, BudgetsUnavailable
from helpdesk_app.web import services_of

F = TypeVar("F", bound=Callable)
log = logging.getLogger(__name__)


def require_agent(view: F) -> F:
    """Decorator: a valid `Authorization: Bearer <session token>` naming a current agent,
    or a 401 ApiError; the agent (read server-side) is then `current_agent()`."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        claims = _verified_session(_services().settings)
        g.agent = load_agent(claims.user_id)
        g.session_claims = claims
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def current_agent() -> Agent:
    agent = g.get("agent")
    if agent is None:  # a view that forgot @require_agent: a bug, never a 401
        raise RuntimeError("current_agent() outside a view decorated with @require_agent")
    return agent


def current_session() -> SessionClaims:
    claims = g.get("session_claims")
    if claims is None:
        raise RuntimeError("current_session() outside a view decorated with @require_agent")
    return claims


def authorize(action: str) -> None:
    """Raise a 403 ApiError with the policy's reason unless the current agent may `action`;
    `action` is a workflow, `escalate`, or `audit` (admins only)."""
    agent = current_agent()
    reason = _services().policy.refusal(agent, action)
    if reason is not None:
        log.info("sidebar.forbidden", extra={"agent_id": agent.id, "action": action})
        raise forbidden(reason, action=action)


def authorize_overrides(override_ids) -> None:
    """403 unless the current agent may confirm each override (provisioning-rules.md, "Who
    may confirm an override"): one with another workflow's effect needs its permission."""
    agent = current_agent()
    refused = _services().policy.override_refusal(agent, override_ids)
    if refused is not None:
        workflow, reason = refused
        log.info("sidebar.override_forbidden", extra={"agent_id": agent.id, "action": workflow})
        raise forbidden(reason, action=workflow)
def limit_agent(action: str) -> None:
    """429 with Retry-After once the current agent has asked for AGENT_REQUESTS_PER_MIN
    plans and runs in a minute: one agent cannot spend what every agent shares (the
    upstreams' budgets). Counted where every process sees it (upstreams/budgets.py); when
    that count is out of reach, agents keep working (as Zendesk's pacing does)."""
    services, agent = _services(), current_agent()
    budget = Budget(f"agent:{agent.id}:work", services.settings.agent_requests_per_min, 60.0)
    try:
        wait = services.budgets.take([budget])
    except BudgetsUnavailable:
        log.warning("sidebar.agent_budget_unavailable", extra={"agent_id": agent.id})
        return
    if wait > 0:
        log.info("sidebar.agent_rate_limited", extra={"agent_id": agent.id, "action": action})

        @after_this_request
        def retry_after(response):
            response.headers["Retry-After"] = str(max(1, math.ceil(wait)))
            return response

        raise ApiError(429, "agent_rate_limited",
                       f"too many plans and runs for one agent; try again in {math.ceil(wait)} s",
                       retry_after=max(1, math.ceil(wait)))


def require_ticket(ticket_id: int) -> dict:
    """The ticket, when Zendesk has it and the current agent may see it (Zendesk's own
    rules, access/tickets.py); else a 404 `ticket_not_found` or a 403 `ticket_forbidden`.
    Asked before anything is read or changed for the ticket."""
    with zendesk_pacing.priority():  # a sidebar load: from the share held back for it
        ticket = _services().tickets.get(ticket_id)
    if ticket is None:
        raise ApiError(404, "ticket_not_found", f"Zendesk has no ticket {ticket_id}")
    agent = current_agent()
    if not may_see(agent, ticket):
        # 403, not 404: ticket ids are sequential and Zendesk itself tells agents a ticket
        # they may not see exists; the agent learns nothing of its content.
        log.info("sidebar.ticket_forbidden", extra={"agent_id": agent.id, "ticket_id": ticket_id})
        raise ApiError(403, "ticket_forbidden", "your Zendesk role does not let you see this ticket",
                       ticket_id=ticket_id)
    return ticket


def load_agent(user_id: int) -> Agent:
    """The agent named by a verified token, read through the directory; 403 unless an agent."""
    with zendesk_pacing.priority():  # every sidebar load starts here
        agent = _services().agents.get(user_id)
    if agent is None or not agent.is_agent:
        log.info("sidebar.not_an_agent", extra={"user_id": user_id})
        raise ApiError(403, "not_an_agent", "the sidebar is for Zendesk agents only")
    return agent


def issue_session(settings: Settings, *, user_id: int, installation_id: int) -> tuple[str, datetime]:
    """A session token for the page, and when it expires (whole seconds, as in the token)."""
    now = datetime.now(timezone.utc).replace(microsecond=0)
    token = issue_session_token(_secret_key(settings), user_id=user_id,
                                installation_id=installation_id,
                                subdomain=settings.zendesk_subdomain, now=now,
                                ttl_s=settings.session_ttl_s)
    return token, now + timedelta(seconds=settings.session_ttl_s)


def _verified_session(settings: Settings) -> SessionClaims:
    try:
        claims = verify_session_token(_secret_key(settings), _bearer_token(),
                                      now=datetime.now(timezone.utc))
    except SidebarAuthError as refused:
        raise _refused(refused.code, refused.message) from None
    # Signed by us, but for this account and installation? A key shared across deployments
    # (or a reinstalled app) must not carry a session over.
    if claims.subdomain != settings.zendesk_subdomain:
        raise _refused("wrong_account", "the session is for another Zendesk account")
    installation = settings.zendesk_app_installation_id
    if installation is not None and claims.installation_id != installation:
        raise _refused("wrong_installation", "the session is for another app installation")
    return claims


def _bearer_token() -> str:
    """The token of `Authorization: Bearer <token>`; "" when there is none (then refused)."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    # RFC 6750 section 2.1 / RFC 7235: the scheme name is case-insensitive.
    return token.strip() if scheme.lower() == "bearer" else ""


def _refused(code: str, message: str) -> ApiError:
    log.info("sidebar.session_refused", extra={"code": code})

    @after_this_request
    def challenge(response):
        # RFC 6750 section 3: a 401 for a bearer-protected resource names the scheme.
        response.headers["WWW-Authenticate"] = "Bearer"
        return response

    return unauthorized(code, message)


def _secret_key(settings: Settings) -> str:
    if settings.secret_key is None:  # required in upstream mode; fail closed regardless
        raise ApiError(503, "not_configured", "sessions are not configured on this service")
    return settings.secret_key.get_secret_value()


def _services() -> Services:
    return services_of(current_app)
