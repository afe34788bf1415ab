"""A `tests.world.World` served at the HTTP edge with `responses`, for the real adapters.

`tests.world` fakes the ports; this module fakes the wire instead, so that plans run
through `PortalClient`, `GitLabAdapter` (python-gitlab) and `ZendeskAdapter` (zenpy): URL
building, auth headers, status handling and payload parsing are all exercised.

The world's state and rules stay in one place: portal reads and mutations go through
`FakePortal` (linking semantics, plan recomputation), GitLab's inherited membership through
`FakeGitLab.access_level` (both apply sandbox/rules.py). What lives here is
only the routing: payloads come from the sandbox's builders (sandbox/
payloads.py: each vendor's documented shape, the same files as tests/fixtures/, with the
world's values laid over them), and the Idempotency-Key rule from its
sandbox/idempotency.py.

    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        ports = http_ports(world, mock)
        workflows.plan("associate", ports, {...})
"""
from __future__ import annotations

import itertools
import json
import re
from typing import Any, Callable
from urllib.parse import parse_qs, unquote, urlsplit

import responses

from helpdesk_app.upstreams.gitlab import GitLabAdapter
from helpdesk_app.upstreams.portal import PortalClient
from helpdesk_app.upstreams.retry import RetryPolicy
from helpdesk_app.upstreams.zendesk import ZendeskAdapter
from sandbox import payloads
from sandbox.idempotency import IdempotencyKeys
from tests.world import FakeGitLab, FakePortal, World
from workflows.errors import UpstreamError
from workflows.facts import Ports

PORTAL_URL = "https://portal.example.com"  # the spec's illustrative server
GITLAB_URL = "https://gitlab.example.com"
ZENDESK_SUBDOMAIN = "helpdesk"
ZENDESK_URL = f"https://{ZENDESK_SUBDOMAIN}.zendesk.com"
PORTAL_TOKEN, GITLAB_TOKEN, ZENDESK_TOKEN = "portal-token", "glpat-token", "zendesk-token"

Reply = tuple[int, dict[str, str], str]


def http_ports(world: World, mock: responses.RequestsMock) -> Ports:
    """Serve `world` on `mock` and return Ports built from the three real clients."""
    HttpWorld(world).install(mock)
    retry = RetryPolicy(sleep=lambda seconds: None)  # no real waiting; none is expected
    return Ports(
        portal=PortalClient(PORTAL_URL, PORTAL_TOKEN, retry=retry),
        gitlab=GitLabAdapter(GITLAB_URL, GITLAB_TOKEN,
                             escalation_project="support/escalations", retry=retry),
        tickets=ZendeskAdapter(ZENDESK_SUBDOMAIN, "bot@vendor.test", ZENDESK_TOKEN, retry=retry),
        clock=world.clock,
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
        self._idempotent = IdempotencyKeys()  # the contract's replay rule

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

        def answer() -> tuple[int, Any]:
            try:
                return self._portal_route(method, path, query, body)
            except UpstreamError as error:  # FakePortal's business errors (namespace_taken)
                return error.status or 500, _portal_error(error.code, str(error))

        if method == "GET" or not key:
            return _json(*answer(), rid)
        (status, payload), happened = self._idempotent.answer(key, (method, path, body), answer)
        replayed = {"Idempotent-Replayed": "true"} if happened == "replayed" else {}
        return _json(status, payload, {**rid, **replayed})

    def _portal_route(self, method, path, query, body) -> tuple[int, Any]:
        p, w = self.portal, self.w
        m = re.fullmatch(r"/api/v1/(\w+)(?:/([^/]+))?(?:/(\w+))?", path)
        resource, arg, sub_resource = (m[1], unquote(m[2] or ""), m[3]) if m else (None,) * 3
        route = method, resource, bool(arg), sub_resource
        if route == ("GET", "subscriptions", True, None):
            sub = p.subscription(arg)
            return (200, payloads.subscription(sub)) if sub else _sub_not_found(arg)
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
            return 200, payloads.subscription(sub)
        if route == ("GET", "customers", False, None):
            return 200, {"customers": [payloads.customer(c) for c in p.customers_by_email(query["email"])]}
        if route == ("GET", "customers", True, None):
            found = p.customer(int(arg))
            return (200, payloads.customer(found)) if found else _customer_not_found(arg)
        if route == ("GET", "customers", True, "subscriptions"):
            subs = p.customer_subscriptions(int(arg))
            if subs is None:
                return _customer_not_found(arg)
            return 200, {"subscriptions": [payloads.subscription(s) for s in subs]}
        if route == ("DELETE", "customers", True, "gitlab_link"):
            if int(arg) not in w.customers:
                return _customer_not_found(arg)
            return 200, payloads.customer(p.unlink_customer(int(arg), idempotency_key="http"))
        if route == ("PUT", "customers", True, "gitlab_link"):
            if int(arg) not in w.customers:
                return _customer_not_found(arg)
            return 200, payloads.customer(p.link_customer(int(arg), body["gitlab_user_id"],
                                                          idempotency_key="http"))
        if route == ("GET", "namespaces", True, "subscriptions"):
            subs = p.namespace_subscriptions(int(arg))
            return 200, {"subscriptions": [payloads.subscription(s) for s in subs]}
        # Not a route of the contract: a 404 whose code is no *_not_found, which the
        # client must treat as a failure, never as "not found".
        return 404, _portal_error("not_found", f"No route {method} {path}.")

    # --- GitLab REST API v4 ------------------------------------------------------------

    def _gitlab(self, method, path, query, body, headers) -> Reply:
        rid = {"X-Request-Id": self._request_id("gitlab")}
        if headers.get("PRIVATE-TOKEN") != GITLAB_TOKEN:
            return _json(401, payloads.gitlab_error(401), rid)
        status, payload = self._gitlab_route(method, path, query) if method == "GET" else (
            405, payloads.gitlab_error(405))
        return _json(status, payload, rid)

    def _gitlab_route(self, method, path, query) -> tuple[int, Any]:
        # The path is still URL-encoded: `acme%2Fplatform` is one segment until unquoted.
        if m := re.fullmatch(r"/api/v4/namespaces/([^/]+)", path):
            ns = self._namespace(unquote(m[1]))
            return (200, payloads.namespace(ns, GITLAB_URL)) if ns else (404, payloads.gitlab_error(404, "Namespace"))
        if m := re.fullmatch(r"/api/v4/groups/([^/]+)/members/all/(\d+)", path):
            group = self._namespace(unquote(m[1]))
            if group is None or group.kind != "group":  # personal namespaces are not groups
                return 404, payloads.gitlab_error(404, "Group")
            user = self.w.users.get(int(m[2]))
            level = self.gitlab.access_level(group.id, int(m[2])) if user else None
            if level is None:
                return 404, payloads.gitlab_error(404)
            return 200, payloads.member(user, level, GITLAB_URL)
        if m := re.fullmatch(r"/api/v4/users/(\d+)", path):
            user = self.w.users.get(int(m[1]))
            return (200, payloads.user(user, GITLAB_URL)) if user else (404, payloads.gitlab_error(404, "User"))
        if path == "/api/v4/users":
            # GitLab's search is fuzzy: email, username or name containing the term (a
            # scenario user's name is its username). The adapter must keep exact emails only.
            # `?username=` is exact (case-insensitive).
            term = query.get("search", "").casefold()
            found = [u for u in self.w.users.values()
                     if any(term in (v or "").casefold() for v in (u.email, u.username))]
            if "username" in query:
                found = [u for u in found if u.username.casefold() == query["username"].casefold()]
            return 200, [payloads.user(u, GITLAB_URL) for u in found[: int(query.get("per_page", 20))]]
        return 404, payloads.gitlab_error(404)

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
            return _json(404, payloads.zendesk_not_found(), rid)
        return _json(200, found, rid)

    def _zendesk_route(self, path) -> Any | None:
        if m := re.fullmatch(r"/api/v2/tickets/(\d+)\.json", path):
            ticket = self.w.tickets.get(int(m[1]))
            return {"ticket": payloads.ticket(ticket, ZENDESK_URL)} if ticket else None
        if m := re.fullmatch(r"/api/v2/users/(\d+)\.json", path):
            user = self.w.zendesk_users.get(int(m[1]))
            return {"user": payloads.zendesk_user(user, ZENDESK_URL)} if user else None
        if m := re.fullmatch(r"/api/v2/users/(\d+)/identities\.json", path):
            user = self.w.zendesk_users.get(int(m[1]))
            if user is None:
                return None
            identities = [payloads.email_identity(user)] if user.get("email") else []
            return {"identities": identities, "next_page": None, "previous_page": None,
                    "count": len(identities)}
        return None


# --- payloads: the sandbox's builders, with this double's base URLs ---------------------


def _portal_error(code: str | None, message: str) -> dict:
    return payloads.portal_error(code or "error", message)


def _sub_not_found(name: str) -> tuple[int, dict]:
    return 404, _portal_error("subscription_not_found", f"No subscription named {unquote(name)}.")


def _customer_not_found(customer_id: str) -> tuple[int, dict]:
    return 404, _portal_error("customer_not_found", f"No customer with id {customer_id}.")
