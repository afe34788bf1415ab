"""The customers portal admin API client (implements `workflows.ports.Portal`).

The contract is `docs/portal-admin-api.yaml` (prose: portal-admin-api.md). One method per
endpoint; the URL templates live in `_PATHS`; `_request` is the one place that sends,
retries and maps HTTP failures to `UpstreamError`.
"""
from __future__ import annotations

import dataclasses
import threading
from typing import Any, TypeVar
from urllib.parse import quote

import requests

from helpdesk_app import metrics
from helpdesk_app.upstreams import trace
from helpdesk_app.upstreams.retry import RetryPolicy, is_transient_status, parse_retry_after
from workflows.errors import UpstreamError
from workflows.model import Customer, Subscription

UPSTREAM = "portal"
T = TypeVar("T")

# operationId in docs/portal-admin-api.yaml -> URL template.
_PATHS = {
    "getSubscription": "/api/v1/subscriptions/{name}",
    "getCustomer": "/api/v1/customers/{id}",
    "listCustomersByEmail": "/api/v1/customers",
    "listCustomerSubscriptions": "/api/v1/customers/{id}/subscriptions",
    "listNamespaceSubscriptions": "/api/v1/namespaces/{namespace_id}/subscriptions",
    "putSubscriptionNamespace": "/api/v1/subscriptions/{name}/namespace",
    "deleteSubscriptionNamespace": "/api/v1/subscriptions/{name}/namespace",
    "deleteCustomerGitlabLink": "/api/v1/customers/{id}/gitlab_link",
    "putCustomerGitlabLink": "/api/v1/customers/{id}/gitlab_link",
}
# docs/portal-admin-api.yaml: a mutation's answer replayed for a repeated Idempotency-Key.
REPLAYED_HEADER = "Idempotent-Replayed"


class PortalClient:
    """One instance per configured portal, shared by threads: each thread sends on a
    requests.Session of its own (Session is not documented as thread-safe, and its
    maintainers advise one per thread: https://github.com/psf/requests/issues/2766)."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout_s: float = 10.0,
        retry: RetryPolicy | None = None,
        session: requests.Session | None = None,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._token = token
        self._timeout_s = timeout_s
        self._retry = retry or RetryPolicy()
        # A given session (tests) is used by every thread; else one per thread, on first use.
        self._shared = trace.send_request_ids(session, self._base_url) if session is not None else None
        self._local = threading.local()

    def __repr__(self) -> str:
        # Never the token: this object may end up in a log line or a traceback.
        return f"PortalClient({self._base_url!r})"

    @property
    def _session(self) -> requests.Session:
        if self._shared is not None:
            return self._shared
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = trace.send_request_ids(requests.Session(), self._base_url)
        return session

    # --- reads -----------------------------------------------------------------------

    def subscription(self, name: str) -> Subscription | None:
        """`GET /api/v1/subscriptions/{name}`; None on 404 `subscription_not_found`."""
        data = self._request(
            "GET", "getSubscription", {"name": name}, not_found="subscription_not_found"
        )
        return None if data is None else _build(Subscription, data)

    def customer(self, customer_id: int) -> Customer | None:
        """`GET /api/v1/customers/{id}`; None on 404 `customer_not_found`."""
        data = self._request(
            "GET", "getCustomer", {"id": customer_id}, not_found="customer_not_found"
        )
        return None if data is None else _build(Customer, data)

    def customers_by_email(self, email: str) -> list[Customer]:
        """`GET /api/v1/customers?email=`; an empty list when nobody has that email."""
        data = self._request("GET", "listCustomersByEmail", {}, params={"email": email})
        return _build_list(Customer, data, "customers")

    def customer_subscriptions(self, customer_id: int) -> list[Subscription] | None:
        """`GET /api/v1/customers/{id}/subscriptions`; None on 404 `customer_not_found`."""
        data = self._request(
            "GET", "listCustomerSubscriptions", {"id": customer_id},
            not_found="customer_not_found",
        )
        return None if data is None else _build_list(Subscription, data, "subscriptions")

    def namespace_subscriptions(self, namespace_id: int) -> list[Subscription]:
        """`GET /api/v1/namespaces/{namespace_id}/subscriptions`, any status and kind."""
        data = self._request(
            "GET", "listNamespaceSubscriptions", {"namespace_id": namespace_id}
        )
        return _build_list(Subscription, data, "subscriptions")

    # --- mutations (idempotent by key, so retrying them is safe) ----------------------

    def link_subscription(
        self, name: str, namespace_id: int, *, force: bool, idempotency_key: str
    ) -> Subscription:
        """`PUT /api/v1/subscriptions/{name}/namespace` with `{namespace_id, force}`."""
        return self._mutate(
            Subscription, "PUT", "putSubscriptionNamespace", {"name": name},
            json={"namespace_id": namespace_id, "force": force}, idempotency_key=idempotency_key,
        )

    def unlink_subscription(self, name: str, *, idempotency_key: str) -> Subscription:
        """`DELETE /api/v1/subscriptions/{name}/namespace`."""
        return self._mutate(
            Subscription, "DELETE", "deleteSubscriptionNamespace", {"name": name},
            idempotency_key=idempotency_key,
        )

    def unlink_customer(self, customer_id: int, *, idempotency_key: str) -> Customer:
        """`DELETE /api/v1/customers/{id}/gitlab_link`."""
        return self._mutate(
            Customer, "DELETE", "deleteCustomerGitlabLink", {"id": customer_id},
            idempotency_key=idempotency_key,
        )

    def link_customer(self, customer_id: int, gitlab_user_id: int, *, idempotency_key: str) -> Customer:
        """`PUT /api/v1/customers/{id}/gitlab_link` with `{gitlab_user_id}` (v2).

        404 `customer_not_found`, 409 `already_linked` (linked to another user) and 422
        `gitlab_user_not_found` raise `UpstreamError` with that code, as every refusal does.
        """
        return self._mutate(
            Customer, "PUT", "putCustomerGitlabLink", {"id": customer_id},
            json={"gitlab_user_id": gitlab_user_id}, idempotency_key=idempotency_key,
        )

    def _mutate(self, cls: type[T], method: str, operation: str, path_params: dict[str, Any],
                *, idempotency_key: str, json: dict[str, Any] | None = None) -> T:
        """A mutation's resource, `replayed` when the portal answered with its first answer
        to this Idempotency-Key: how a taken-over run knows the change was its own."""
        headers: dict[str, str] = {}
        data = self._request(method, operation, path_params, json=json,
                             idempotency_key=idempotency_key, answer_headers=headers)
        replayed = headers.get(REPLAYED_HEADER, "").strip().lower() == "true"
        built: Any = _build(cls, data)
        return dataclasses.replace(built, replayed=replayed)

    # --- transport ---------------------------------------------------------------------

    def _request(
        self,
        method: str,
        operation: str,
        path_params: dict[str, Any],
        *,
        params: dict[str, str] | None = None,
        json: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
        not_found: str | None = None,
        answer_headers: dict[str, str] | None = None,
    ) -> Any:
        """Send one call through the retry policy; the decoded JSON, or None for not-found.

        `not_found` is the error code that means "no such thing" for a lookup. A 404 with
        any other code (a wrong base URL, a proxy) raises: answering "not found" for every
        subscription because of a misconfiguration would be a wrong fact, not a failure.
        """
        url = self._url(operation, path_params)
        headers = self._headers(idempotency_key)

        def attempt() -> Any:
            response = self._send(method, url, headers=headers, params=params, json=json)
            decoded = self._decode(method, operation, response, not_found)
            if answer_headers is not None:  # the answer that counts is the last attempt's
                answer_headers[REPLAYED_HEADER] = response.headers.get(REPLAYED_HEADER, "")
            return decoded

        # Reads are naturally safe to repeat; mutations are, thanks to the Idempotency-Key.
        return self._retry.call(attempt, name=f"{UPSTREAM}.{operation}", safe_to_repeat=True)

    def _url(self, operation: str, path_params: dict[str, Any]) -> str:
        quoted = {key: quote(str(value), safe="") for key, value in path_params.items()}
        return self._base_url + _PATHS[operation].format(**quoted)

    def _headers(self, idempotency_key: str | None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self._token}", "Accept": "application/json"}
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        return headers

    def _send(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        try:
            return self._session.request(method, url, timeout=self._timeout_s, **kwargs)
        except (requests.ConnectionError, requests.Timeout) as exc:
            metrics.upstream_response(UPSTREAM, "error")
            # The exception's text holds the URL (an email in a query string); the class
            # name is enough to tell a timeout from a refused connection.
            raise UpstreamError(
                UPSTREAM, f"portal {method}: {type(exc).__name__}", transient=True
            ) from exc
        except requests.RequestException as exc:
            raise UpstreamError(UPSTREAM, f"portal {method}: {type(exc).__name__}") from exc

    def _decode(
        self, method: str, operation: str, response: requests.Response, not_found: str | None
    ) -> Any:
        request_id = response.headers.get("X-Request-Id")
        trace.record(UPSTREAM, request_id)
        metrics.upstream_response(UPSTREAM, response.status_code)
        if response.ok:
            return self._json(operation, response, request_id)
        code, message = _error_body(response)
        if response.status_code == 404 and not_found is not None and code == not_found:
            return None
        raise UpstreamError(
            UPSTREAM,
            self._redact(f"portal {operation} answered {response.status_code} {code}: {message}"),
            status=response.status_code,
            code=code,
            request_id=request_id,
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
            transient=is_transient_status(response.status_code),
        )

    def _json(self, operation: str, response: requests.Response, request_id: str | None) -> Any:
        try:
            return response.json()
        except ValueError:
            raise UpstreamError(
                UPSTREAM, f"portal {operation} answered {response.status_code} without JSON",
                status=response.status_code, code="invalid_response", request_id=request_id,
            ) from None

    def _redact(self, text: str) -> str:
        # The message comes from the response, but a portal that echoes headers back must
        # still not put the token into our logs.
        return text.replace(self._token, "[redacted]") if self._token else text


def _error_body(response: requests.Response) -> tuple[str | None, str]:
    """The contract's `{"error": {"code", "message"}}`, tolerating bodies that are not."""
    try:
        error = response.json().get("error") or {}
        return error.get("code"), str(error.get("message") or response.reason)
    except (ValueError, AttributeError):
        return None, str(response.reason)


def _build(cls: type[T], data: Any) -> T:
    """A model dataclass from a JSON object, ignoring keys the contract may add later."""
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    try:
        return cls(**{key: value for key, value in data.items() if key in names})
    except (AttributeError, TypeError) as exc:
        raise UpstreamError(
            UPSTREAM, f"portal answered a malformed {cls.__name__}: {exc}",
            code="invalid_response",
        ) from None


def _build_list(cls: type[T], data: Any, key: str) -> list[T]:
    try:
        items = data[key]
    except (KeyError, TypeError):
        raise UpstreamError(
            UPSTREAM, f"portal answered without {key!r}", code="invalid_response"
        ) from None
    return [_build(cls, item) for item in items]
