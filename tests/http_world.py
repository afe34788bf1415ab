"""A `tests.world.World` served at the HTTP edge with `responses`, for the real adapters.

`tests.world` fakes the ports; this module fakes the wire instead, so that plans run
through `PortalClient`, `GitLabAdapter` (python-gitlab) and `ZendeskAdapter` (zenpy): URL
building, auth headers, status handling and payload parsing are all exercised.

The world's state and rules stay in one place: portal reads and mutations go through
`FakePortal` (linking semantics, plan recomputation), GitLab's inherited membership through
`FakeGitLab.access_level`. What lives here is only the HTTP shape: payloads are the
fixtures in tests/fixtures/{portal,gitlab,zendesk}/ (each vendor's documented shape) with
the world's values laid over them, and each vendor's own not-found body.

    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        ports = http_ports(world, mock)
        workflows.plan("associate", ports, {...})
"""
from __future__ import annotations

import dataclasses
import itertools
import json
import re
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qs, unquote, urlsplit

import responses

from helpdesk_app.upstreams.gitlab import GitLabAdapter
from helpdesk_app.upstreams.portal import PortalClient
from helpdesk_app.upstreams.retry import RetryPolicy
from helpdesk_app.upstreams.zendesk import ZendeskAdapter
from tests.world import FakeGitLab, FakePortal, World
from workflows.errors import UpstreamError
from workflows.facts import Ports

PORTAL_URL = "https://portal.example.com"  # the spec's illustrative server
GITLAB_URL = "https://gitlab.example.com"
ZENDESK_SUBDOMAIN = "helpdesk"
ZENDESK_URL = f"https://{ZENDESK_SUBDOMAIN}.zendesk.com"
PORTAL_TOKEN, GITLAB_TOKEN, ZENDESK_TOKEN = "portal-token", "glpat-token", "zendesk-token"

FIXTURES = Path(__file__).resolve().parent / "fixtures"
# Customer has no created_at in the scenario format; the contract requires one.
CREATED_AT = "2024-01-01T00:00:00Z"

Reply = tuple[int, dict[str, str], str]


def fixture(vendor: str, name: str) -> Any:
    return json.loads((FIXTURES / vendor / f"{name}.json").read_text())


def http_ports(world: World, mock: responses.RequestsMock) -> Ports:
    """Serve `world` on `mock` and return Ports built from the three real clients."""
    HttpWorld(world).install(mock)
    retry = RetryPolicy(sleep=lambda seconds: None)  # no real waiting; none is expected
    return Ports(
        portal=PortalClient(PORTAL_URL, PORTAL_TOKEN, retry=retry),
        gitlab=GitLabAdapter(GITLAB_URL, GITLAB_TOKEN,
                             escalation_project="support/escalations", retry=retry),
        tickets=ZendeskAdapter(ZENDESK_SUBDOMAIN, "bot@vendor.test", ZENDESK_TOKEN, retry=retry),
    )


def _json(status: int, body: Any, headers: dict[str, str]) -> Reply:
    return status, {"Content-Type": "application/json", **headers}, json.dumps(body)


class HttpWorld:
    def __init__(self, world: World) -> None:
        self.w = world
        # Callers of the fakes record into world.calls as usual; that is harmless here.
        self.portal = FakePortal(world)
        self.gitlab = FakeGitLab(world)
        self._request_ids = itertools.count(1)
        # Idempotency-Key -> (method, path, body, reply): the contract's replay rule.
        self._idempotent: dict[str, tuple[str, str, Any, Reply]] = {}

    def install(self, mock: responses.RequestsMock) -> None:
        # One callback per vendor and method; each routes on the path itself, so an
        # unknown path gets the vendor's 404 instead of responses' ConnectionError.
        for base, handler in ((PORTAL_URL, self._portal), (GITLAB_URL, self._gitlab),
                              (ZENDESK_URL, self._zendesk)):
            for method in ("GET", "PUT", "DELETE"):
                mock.add_callback(method, re.compile(re.escape(base) + r"/.*"),
                                  callback=self._wrap(handler))

    def _wrap(self, handler: Callable[[str, str, dict, Any, Any], Reply]):
        def callback(request):
            url = urlsplit(request.url)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            body = json.loads(request.body) if request.body else None
            return handler(request.method, url.path, query, body, request.headers)
        return callback

    def _request_id(self, vendor: str) -> str:
        return f"{vendor}-req-{next(self._request_ids)}"

    # --- portal (docs/portal-admin-api.yaml) ---------------------------------------------

    def _portal(self, method, path, query, body, headers) -> Reply:
        rid = {"X-Request-Id": self._request_id("portal")}  # on every answer, per the contract
        if headers.get("Authorization") != f"Bearer {PORTAL_TOKEN}":
            return _json(401, _portal_error("unauthorized", "Bad token."), rid)
        key = headers.get("Idempotency-Key")
        if method != "GET" and key in self._idempotent:
            first_method, first_path, first_body, reply = self._idempotent[key]
            if (first_method, first_path, first_body) == (method, path, body):
                return reply  # the first answer again
            return _json(422, _portal_error("idempotency_key_reused", "Key reused."), rid)
        try:
            status, payload = self._portal_route(method, path, query, body)
        except UpstreamError as error:  # FakePortal's business errors (namespace_taken)
            status, payload = error.status or 500, _portal_error(error.code, str(error))
        reply = _json(status, payload, rid)
        if method != "GET" and key:
            self._idempotent[key] = (method, path, body, reply)
        return reply

    def _portal_route(self, method, path, query, body) -> tuple[int, Any]:
        p, w = self.portal, self.w
        m = re.fullmatch(r"/api/v1/(\w+)(?:/([^/]+))?(?:/(\w+))?", path)
        resource, arg, sub_resource = (m[1], unquote(m[2] or ""), m[3]) if m else (None,) * 3
        route = method, resource, bool(arg), sub_resource
        if route == ("GET", "subscriptions", True, None):
            sub = p.subscription(arg)
            return (200, _subscription(sub)) if sub else _sub_not_found(arg)
        if route in (("PUT", "subscriptions", True, "namespace"),
                     ("DELETE", "subscriptions", True, "namespace")):
            if arg not in w.subscriptions:
                return _sub_not_found(arg)
            if method == "PUT":
                # The key was handled in _portal; FakePortal only records it.
                sub = p.link_subscription(arg, body["namespace_id"],
                                          force=body.get("force", False), idempotency_key="http")
            else:
                sub = p.unlink_subscription(arg, idempotency_key="http")
            return 200, _subscription(sub)
        if route == ("GET", "customers", False, None):
            return 200, {"customers": [_customer(c) for c in p.customers_by_email(query["email"])]}
        if route == ("GET", "customers", True, None):
            found = p.customer(int(arg))
            return (200, _customer(found)) if found else _customer_not_found(arg)
        if route == ("GET", "customers", True, "subscriptions"):
            subs = p.customer_subscriptions(int(arg))
            if subs is None:
                return _customer_not_found(arg)
            return 200, {"subscriptions": [_subscription(s) for s in subs]}
        if route == ("DELETE", "customers", True, "gitlab_link"):
            if int(arg) not in w.customers:
                return _customer_not_found(arg)
            return 200, _customer(p.unlink_customer(int(arg), idempotency_key="http"))
        if route == ("GET", "namespaces", True, "subscriptions"):
            subs = p.namespace_subscriptions(int(arg))
            return 200, {"subscriptions": [_subscription(s) for s in subs]}
        # Not a route of the contract: a 404 whose code is no *_not_found, which the
        # client must treat as a failure, never as "not found".
        return 404, _portal_error("not_found", f"No route {method} {path}.")

    # --- GitLab REST API v4 ------------------------------------------------------------

    def _gitlab(self, method, path, query, body, headers) -> Reply:
        rid = {"X-Request-Id": self._request_id("gitlab")}
        if headers.get("PRIVATE-TOKEN") != GITLAB_TOKEN:
            return _json(401, {"message": "401 Unauthorized"}, rid)
        status, payload = self._gitlab_route(method, path, query) if method == "GET" else (
            405, {"message": "405 Method Not Allowed"})
        return _json(status, payload, rid)

    def _gitlab_route(self, method, path, query) -> tuple[int, Any]:
        # The path is still URL-encoded: `acme%2Fplatform` is one segment until unquoted.
        if m := re.fullmatch(r"/api/v4/namespaces/([^/]+)", path):
            ns = self._namespace(unquote(m[1]))
            return (200, _namespace(ns)) if ns else (404, {"message": "404 Namespace Not Found"})
        if m := re.fullmatch(r"/api/v4/groups/([^/]+)/members/all/(\d+)", path):
            group = self._namespace(unquote(m[1]))
            if group is None or group.kind != "group":  # personal namespaces are not groups
                return 404, {"message": "404 Group Not Found"}
            user = self.w.users.get(int(m[2]))
            level = self.gitlab.access_level(group.id, int(m[2])) if user else None
            if level is None:
                return 404, {"message": "404 Not found"}
            return 200, _member(user, level)
        if m := re.fullmatch(r"/api/v4/users/(\d+)", path):
            user = self.w.users.get(int(m[1]))
            return (200, _user(user)) if user else (404, {"message": "404 User Not Found"})
        if path == "/api/v4/users":
            # GitLab's search is fuzzy: email, username or name containing the term (a
            # scenario user's name is its username). The adapter must keep exact emails only.
            term = query.get("search", "").casefold()
            found = [u for u in self.w.users.values()
                     if any(term in (v or "").casefold() for v in (u.email, u.username))]
            return 200, [_user(u) for u in found[: int(query.get("per_page", 20))]]
        return 404, {"message": "404 Not Found"}

    def _namespace(self, ref: str):
        # GitLab's `:id` is a numeric id or a URL-encoded full path.
        return self.gitlab.namespace(int(ref) if ref.isdigit() else ref)

    # --- Zendesk Support API v2 ------------------------------------------------------------

    def _zendesk(self, method, path, query, body, headers) -> Reply:
        rid = {"X-Zendesk-Request-Id": self._request_id("zendesk")}
        if not headers.get("Authorization", "").startswith("Basic "):
            return _json(401, {"error": "Couldn't authenticate you"}, rid)
        found = self._zendesk_route(path) if method == "GET" else None
        if found is None:
            return _json(404, fixture("zendesk", "error__record_not_found"), rid)
        return _json(200, found, rid)

    def _zendesk_route(self, path) -> Any | None:
        if m := re.fullmatch(r"/api/v2/tickets/(\d+)\.json", path):
            ticket = self.w.tickets.get(int(m[1]))
            return {"ticket": _ticket(ticket)} if ticket else None
        if m := re.fullmatch(r"/api/v2/users/(\d+)\.json", path):
            user = self.w.zendesk_users.get(int(m[1]))
            return {"user": _zendesk_user(user)} if user else None
        if m := re.fullmatch(r"/api/v2/users/(\d+)/identities\.json", path):
            user = self.w.zendesk_users.get(int(m[1]))
            if user is None:
                return None
            identities = [_email_identity(user)] if user.get("email") else []
            return {"identities": identities, "next_page": None, "previous_page": None,
                    "count": len(identities)}
        return None


# --- payloads: a fixture's shape, with the world's values over it ----------------------


def _portal_error(code: str | None, message: str) -> dict:
    return {"error": {"code": code or "error", "message": message}}


def _sub_not_found(name: str) -> tuple[int, dict]:
    return 404, _portal_error("subscription_not_found", f"No subscription named {unquote(name)}.")


def _customer_not_found(customer_id: str) -> tuple[int, dict]:
    return 404, _portal_error("customer_not_found", f"No customer with id {customer_id}.")


def _subscription(sub) -> dict:
    # Every field of the model is a field of the contract's Subscription.
    return dataclasses.asdict(sub)


def _customer(customer) -> dict:
    return {**dataclasses.asdict(customer), "created_at": CREATED_AT}


def _namespace(ns) -> dict:
    if ns.kind == "user":  # personal namespaces carry no seat statistics
        payload = fixture("gitlab", "get_namespace__user")
        seats = {}
    else:
        payload = fixture("gitlab", "get_namespace__group")
        # sandbox-scenarios.md: both default to billable_members_count.
        used = ns.max_seats_used if ns.max_seats_used is not None else ns.billable_members_count
        seats = {"max_seats_used": used, "seats_in_use": ns.billable_members_count,
                 "members_count_with_descendants": ns.billable_members_count}
    name = ns.full_path.rsplit("/", 1)[-1]
    web = f"{GITLAB_URL}/{'groups/' if ns.kind == 'group' else ''}{ns.full_path}"
    return {**payload, **seats, "id": ns.id, "name": name, "path": name, "kind": ns.kind,
            "full_path": ns.full_path, "parent_id": ns.parent_id, "web_url": web,
            "plan": ns.plan, "billable_members_count": ns.billable_members_count}


def _user(user) -> dict:
    # The admin view (the adapter's token is an admin's): `email` and `is_admin` are there.
    # Every field naming the fixture's person is replaced, so no stray email can match.
    return {**fixture("gitlab", "get_user__admin_view"), "id": user.id, "username": user.username,
            "name": user.username, "email": user.email, "public_email": None,
            "commit_email": user.email, "is_admin": user.is_admin, "identities": [], "note": "",
            "web_url": f"{GITLAB_URL}/{user.username}", "namespace_id": None}


def _member(user, level: int) -> dict:
    return {**fixture("gitlab", "get_group_member_all"), "id": user.id,
            "username": user.username, "name": user.username, "email": user.email,
            "web_url": f"{GITLAB_URL}/{user.username}", "access_level": level}


def _ticket(ticket: dict) -> dict:
    return {**fixture("zendesk", "show_ticket")["ticket"], "id": ticket["id"],
            "url": f"{ZENDESK_URL}/api/v2/tickets/{ticket['id']}.json",
            "subject": ticket.get("subject", ""), "raw_subject": ticket.get("subject", ""),
            "description": ticket.get("description", ""), "status": ticket.get("status", "open"),
            "tags": ticket.get("tags", []), "custom_fields": [],
            "requester_id": ticket["requester_id"], "submitter_id": ticket["requester_id"]}


def _zendesk_user(user: dict) -> dict:
    role = user.get("role", "end-user")
    template = "show_user__agent" if role == "agent" else "show_user__end_user"
    return {**fixture("zendesk", template)["user"], "id": user["id"], "email": user.get("email"),
            "name": user.get("name", ""), "role": role,
            "url": f"{ZENDESK_URL}/api/v2/users/{user['id']}.json",
            "verified": user.get("verified", True)}


def _email_identity(user: dict) -> dict:
    # Verification lives on the identity (that is what the adapter reads), from the
    # scenario user's `verified`.
    identity = fixture("zendesk", "list_user_identities")["identities"][0]
    return {**identity, "user_id": user["id"], "value": user["email"],
            "verified": user.get("verified", True)}
