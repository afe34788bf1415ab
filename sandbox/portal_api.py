"""The portal admin API, exactly as docs/portal-admin-api.yaml describes it.

Bearer auth; JSON errors `{"error": {"code", "message"}}`; `X-Request-Id` on every answer;
mutations keyed by `Idempotency-Key` (state.portal_mutation: the first answer again for the
same request, 422 `idempotency_key_reused` for another). Beyond the contract, for callers
that break it: a mutation without the header answers 422 `idempotency_key_missing`, a
malformed body or query 422 `invalid_request`, and an unknown route 404 `not_found` (a code
that is no `*_not_found` of the contract, so a client must not read it as "no such thing").
"""
from __future__ import annotations

import hmac
import uuid
from typing import Any, Callable
from urllib.parse import unquote

from sandbox import payloads
from sandbox.faults import Fault
from sandbox.rules import Refusal
from sandbox.server import BadRequest, Request, Response, Router
from sandbox.state import NotFound, State

NAME = r"/api/v1/subscriptions/([^/]+)"
CUSTOMER = r"/api/v1/customers/([^/]+)"
STATUS_CODES = {429: "rate_limited", 500: "internal_error", 502: "bad_gateway",
                503: "service_unavailable", 504: "gateway_timeout"}


def _error(status: int, code: str, message: str, **headers: str) -> Response:
    return Response(status, payloads.portal_error(code, message), dict(headers))


def _sub_not_found(name: str) -> Response:
    return _error(404, "subscription_not_found", f"No subscription named {name}.")


def _customer_not_found(ref: str) -> Response:
    return _error(404, "customer_not_found", f"No customer with id {ref}.")


class PortalApi:
    upstream = "portal"
    base = ""  # the server's URL; the portal's payloads name no URL of their own

    def __init__(self, state: State, token: str) -> None:
        self.state, self._token = state, token
        self.router = Router()
        r = self.router
        r.add("GET", NAME, self.get_subscription)
        r.add("PUT", NAME + "/namespace", self.put_namespace)
        r.add("DELETE", NAME + "/namespace", self.delete_namespace)
        r.add("GET", r"/api/v1/customers", self.customers_by_email)
        r.add("GET", CUSTOMER, self.get_customer)
        r.add("GET", CUSTOMER + "/subscriptions", self.customer_subscriptions)
        r.add("DELETE", CUSTOMER + "/gitlab_link", self.delete_gitlab_link)
        r.add("PUT", CUSTOMER + "/gitlab_link", self.put_gitlab_link)
        r.add("GET", r"/api/v1/namespaces/(\d+)/subscriptions", self.namespace_subscriptions)

    # --- the edge ------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        expected = f"Bearer {self._token}".encode()
        given = (request.headers.get("Authorization") or "").encode()
        if not hmac.compare_digest(given, expected):
            return _error(401, "unauthorized", "The bearer token is missing or not valid.")
        found = self.router.find(request)
        if not isinstance(found, tuple):
            return _error(404 if found is None else 405, "not_found",
                          f"No route {request.method} {request.path}.")
        handler, groups = found
        return handler(request, *(unquote(g) for g in groups))

    def fault_response(self, fault: Fault, request: Request) -> Response:
        if request.method != "GET":
            self.state.log_faulted(request.headers.get("Idempotency-Key"), _fingerprint(request))
        if fault.retry_after is not None:
            return _error(429, "rate_limited", "Too many requests; injected by the sandbox.",
                          **{"Retry-After": str(fault.retry_after)})
        body = fault.body if fault.body is not None else payloads.portal_error(
            STATUS_CODES.get(fault.status, "injected_fault"), "Injected by the sandbox.")
        return Response(fault.status, body)

    def finish(self, request: Request, response: Response) -> Response:
        response.headers.setdefault("X-Request-Id", f"req_{uuid.uuid4().hex}")
        return response

    # --- reads -----------------------------------------------------------------------------

    def get_subscription(self, request: Request, name: str) -> Response:
        try:
            return Response(200, payloads.subscription(self.state.subscription(name)))
        except NotFound:
            return _sub_not_found(name)

    def get_customer(self, request: Request, ref: str) -> Response:
        try:
            return Response(200, payloads.customer(self.state.customer(_int(ref))))
        except (NotFound, ValueError):
            return _customer_not_found(ref)

    def customers_by_email(self, request: Request) -> Response:
        email = request.arg("email")
        if not email:
            return _error(422, "invalid_request", "The email query parameter is required.")
        found = self.state.customers_by_email(email)
        return Response(200, {"customers": [payloads.customer(c) for c in found]})

    def customer_subscriptions(self, request: Request, ref: str) -> Response:
        try:
            subs = self.state.customer_subscriptions(_int(ref))
        except (NotFound, ValueError):
            return _customer_not_found(ref)
        return Response(200, {"subscriptions": [payloads.subscription(s) for s in subs]})

    def namespace_subscriptions(self, request: Request, namespace_id: str) -> Response:
        subs = self.state.namespace_subscriptions(int(namespace_id))
        return Response(200, {"subscriptions": [payloads.subscription(s) for s in subs]})

    # --- mutations -------------------------------------------------------------------------

    def put_namespace(self, request: Request, name: str) -> Response:
        try:
            namespace_id, force = _link_request(request)
        except BadRequest as error:
            return _error(422, "invalid_request", str(error))
        return self._mutate(request, lambda: self._link(name, namespace_id, force))

    def delete_namespace(self, request: Request, name: str) -> Response:
        return self._mutate(request, lambda: self._apply(
            lambda: payloads.subscription(self.state.unlink_subscription(name)),
            lambda: _sub_not_found(name)))

    def delete_gitlab_link(self, request: Request, ref: str) -> Response:
        if not ref.isdigit():
            return _customer_not_found(ref)
        return self._mutate(request, lambda: self._apply(
            lambda: payloads.customer(self.state.unlink_customer(int(ref))),
            lambda: _customer_not_found(ref)))

    def put_gitlab_link(self, request: Request, ref: str) -> Response:
        if not ref.isdigit():
            return _customer_not_found(ref)
        try:
            gitlab_user_id = _gitlab_link_request(request)
        except BadRequest as error:
            return _error(422, "invalid_request", str(error))
        return self._mutate(request, lambda: self._apply(
            lambda: payloads.customer(self.state.link_customer(int(ref), gitlab_user_id)),
            lambda: _customer_not_found(ref)))

    def _link(self, name: str, namespace_id: int, force: bool) -> Response:
        return self._apply(
            lambda: payloads.subscription(self.state.link_subscription(name, namespace_id, force=force)),
            lambda: _sub_not_found(name))

    @staticmethod
    def _apply(change: Callable[[], dict], not_found: Callable[[], Response]) -> Response:
        try:
            return Response(200, change())
        except NotFound:
            return not_found()
        except Refusal as refusal:
            return _error(refusal.status, refusal.code, refusal.message)

    def _mutate(self, request: Request, apply: Callable[[], Response]) -> Response:
        """One effect per Idempotency-Key (the contract's replay rule)."""
        key = request.headers.get("Idempotency-Key")
        if not key or len(key) > 255:
            return _error(422, "idempotency_key_missing",
                          "Every mutating request carries an Idempotency-Key (1 to 255 characters).")

        def first_time() -> tuple[int, Any]:
            response = apply()
            return response.status, response.body

        status, body, replayed = self.state.portal_mutation(key, _fingerprint(request), first_time)
        return Response(status, body, {"Idempotent-Replayed": "true"} if replayed else {})


def _fingerprint(request: Request) -> tuple:
    """What makes two requests "the same" for an Idempotency-Key: method, path, JSON body."""
    try:
        body = request.json()
    except BadRequest:
        body = request.body.decode("utf-8", "replace")
    return request.method, request.path, body


def _int(ref: str) -> int:
    if not ref.isdigit():
        raise ValueError(ref)
    return int(ref)


def _link_request(request: Request) -> tuple[int, bool]:
    """LinkRequest: closed on purpose, so a misspelt `forced` fails instead of meaning false."""
    body = request.json()
    if not isinstance(body, dict):
        raise BadRequest("The body must be a JSON object with namespace_id.")
    unknown = sorted(set(body) - {"namespace_id", "force"})
    if unknown:
        raise BadRequest(f"Unknown field {unknown[0]!r}.")
    namespace_id, force = body.get("namespace_id"), body.get("force", False)
    if isinstance(namespace_id, bool) or not isinstance(namespace_id, int):
        raise BadRequest("namespace_id must be an integer.")
    if not isinstance(force, bool):
        raise BadRequest("force must be true or false.")
    return namespace_id, force


def _gitlab_link_request(request: Request) -> int:
    """GitlabLinkRequest: closed, as LinkRequest."""
    body = request.json()
    if not isinstance(body, dict) or set(body) != {"gitlab_user_id"}:
        raise BadRequest("The body must be a JSON object with gitlab_user_id only.")
    user_id = body["gitlab_user_id"]
    if isinstance(user_id, bool) or not isinstance(user_id, int):
        raise BadRequest("gitlab_user_id must be an integer.")
    return user_id
