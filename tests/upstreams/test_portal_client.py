"""PortalClient against faked HTTP: what it sends, what it parses, how it fails and retries,
and that both sides stay inside docs/portal-admin-api.yaml."""
from __future__ import annotations

import json
import random
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
import requests
import responses
import yaml
from openapi_core import OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse
from openapi_core.exceptions import OpenAPIError
from openapi_spec_validator import validate as validate_spec

from helpdesk_app.upstreams import trace
from helpdesk_app.upstreams.portal import PortalClient
from helpdesk_app.upstreams.retry import RetryPolicy
from workflows.errors import UpstreamError
from workflows.model import Customer, Subscription

ROOT = Path(__file__).resolve().parents[2]
SPEC_PATH = ROOT / "docs" / "portal-admin-api.yaml"
FIXTURES = ROOT / "tests" / "fixtures" / "portal"

# The spec's illustrative server, so that openapi-core can match the calls' URLs.
BASE = "https://portal.example.com"
TOKEN = "portal-token-7f3a9c"
TIMEOUT_S = 7.5
KEY = "run-42:link_subscription"


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def url(path: str) -> str:
    return f"{BASE}/api/v1{path}"


def add(mock, method, path, name=None, *, status=200, body=None, headers=None):
    """Register one answer; every answer carries X-Request-Id, as the contract says."""
    payload = fixture(name) if name else body
    mock.add(method, url(path), json=payload, status=status,
             headers={"X-Request-Id": f"req-{len(mock.registered())}", **(headers or {})})


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def client(sleeps) -> PortalClient:
    policy = RetryPolicy(sleep=sleeps.append, rng=random.Random(0))
    return PortalClient(BASE + "/", TOKEN, timeout_s=TIMEOUT_S, retry=policy)


@pytest.fixture
def mock():
    with responses.RequestsMock() as rsps:
        yield rsps


def sent(mock, index: int = -1) -> requests.PreparedRequest:
    return mock.calls[index].request


# --- what each method sends and returns ----------------------------------------------


def test_subscription_sends_auth_and_parses(client, mock):
    add(mock, "GET", "/subscriptions/A-S00012345", "get_subscription__seats")

    result = client.subscription("A-S00012345")

    request = sent(mock)
    assert request.method == "GET"
    assert request.url == url("/subscriptions/A-S00012345")
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["Accept"] == "application/json"
    assert "Idempotency-Key" not in request.headers
    assert result == Subscription(
        name="A-S00012345", customer_id=1234, product="saas", kind="seats",
        plan_code="premium", seats=25, units=None, status="active",
        start_date="2025-03-01", end_date="2026-02-28", channel="web_direct",
        program=None, namespace_id=4567,
    )


def test_subscription_compute_minutes(client, mock):
    add(mock, "GET", "/subscriptions/A-S00012346", "get_subscription__compute_minutes")

    result = client.subscription("A-S00012346")

    assert (result.kind, result.units, result.seats, result.plan_code) == (
        "compute_minutes", 10000, None, None)


def test_path_parts_are_url_quoted(client, mock):
    add(mock, "GET", "/subscriptions/A%2F1%20x%3F", "get_subscription__seats")

    client.subscription("A/1 x?")

    assert urlparse(sent(mock).url).path == "/api/v1/subscriptions/A%2F1%20x%3F"


def test_customer_ignores_unknown_keys(client, mock):
    body = {**fixture("get_customer"), "loyalty_tier": "gold"}
    add(mock, "GET", "/customers/1234", body=body)

    result = client.customer(1234)

    assert result == Customer(id=1234, email="alex.doe@example.com", name="Alex Doe",
                              company="Example Corp", gitlab_user_id=987,
                              login_activated=True)


def test_customers_by_email_sends_query(client, mock):
    add(mock, "GET", "/customers", "list_customers_by_email")

    result = client.customers_by_email("alex+billing@example.com")

    query = parse_qs(urlparse(sent(mock).url).query)
    assert query == {"email": ["alex+billing@example.com"]}
    assert [c.id for c in result] == [1234, 5678]
    assert result[1].login_activated is False


def test_customers_by_email_none_is_empty_list(client, mock):
    add(mock, "GET", "/customers", body={"customers": []})

    assert client.customers_by_email("nobody@example.com") == []


def test_customer_subscriptions(client, mock):
    add(mock, "GET", "/customers/1234/subscriptions", "list_customer_subscriptions")

    result = client.customer_subscriptions(1234)

    assert [s.name for s in result] == ["A-S00012345", "A-S00012346", "A-S00009876"]


def test_namespace_subscriptions(client, mock):
    add(mock, "GET", "/namespaces/4567/subscriptions", "list_namespace_subscriptions")

    result = client.namespace_subscriptions(4567)

    assert {s.kind for s in result} == {"seats", "compute_minutes"}
    assert all(s.namespace_id == 4567 for s in result)


def test_link_subscription_sends_body_and_key(client, mock):
    add(mock, "PUT", "/subscriptions/A-S00012345/namespace", "put_subscription_namespace")

    result = client.link_subscription("A-S00012345", 7890, force=False, idempotency_key=KEY)

    request = sent(mock)
    assert request.method == "PUT"
    assert request.url == url("/subscriptions/A-S00012345/namespace")
    assert request.headers["Idempotency-Key"] == KEY
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.body) == {"namespace_id": 7890, "force": False}
    assert result.namespace_id == 7890


def test_link_subscription_force_true_is_sent(client, mock):
    add(mock, "PUT", "/subscriptions/A-S00012345/namespace", "put_subscription_namespace")

    client.link_subscription("A-S00012345", 7890, force=True, idempotency_key=KEY)

    assert json.loads(sent(mock).body) == {"namespace_id": 7890, "force": True}


def test_unlink_subscription(client, mock):
    add(mock, "DELETE", "/subscriptions/A-S00012345/namespace",
        "delete_subscription_namespace")

    result = client.unlink_subscription("A-S00012345", idempotency_key=KEY)

    request = sent(mock)
    assert (request.method, request.url) == (
        "DELETE", url("/subscriptions/A-S00012345/namespace"))
    assert request.headers["Idempotency-Key"] == KEY
    assert request.body is None
    assert result.namespace_id is None


def test_unlink_customer(client, mock):
    add(mock, "DELETE", "/customers/1234/gitlab_link", "delete_customer_gitlab_link")

    result = client.unlink_customer(1234, idempotency_key=KEY)

    request = sent(mock)
    assert (request.method, request.url) == ("DELETE", url("/customers/1234/gitlab_link"))
    assert request.headers["Idempotency-Key"] == KEY
    assert result.gitlab_user_id is None


def test_link_customer(client, mock):
    add(mock, "PUT", "/customers/1234/gitlab_link", "put_customer_gitlab_link")

    result = client.link_customer(1234, 987, idempotency_key=KEY)

    request = sent(mock)
    assert (request.method, request.url) == ("PUT", url("/customers/1234/gitlab_link"))
    assert request.headers["Idempotency-Key"] == KEY
    assert json.loads(request.body) == {"gitlab_user_id": 987}
    assert result.gitlab_user_id == 987 and result.replayed is False


@pytest.mark.parametrize("name, status", [("error__already_linked", 409),
                                          ("error__gitlab_user_not_found", 422)])
def test_link_customer_refusals_raise_with_their_code(client, mock, sleeps, name, status):
    add(mock, "PUT", "/customers/1234/gitlab_link", name, status=status)

    with pytest.raises(UpstreamError) as caught:
        client.link_customer(1234, 987, idempotency_key=KEY)

    assert (caught.value.status, caught.value.code) == (status, fixture(name)["error"]["code"])
    assert caught.value.transient is False and sleeps == []


def test_a_replayed_answer_says_so(client, mock):
    # How a run taken over after its change knows the change was its own.
    add(mock, "PUT", "/customers/1234/gitlab_link", "put_customer_gitlab_link",
        headers={"Idempotent-Replayed": "true"})

    assert client.link_customer(1234, 987, idempotency_key=KEY).replayed is True


# --- not found -----------------------------------------------------------------------

LOOKUPS_404 = [
    ("/subscriptions/A-S00000000", "error__subscription_not_found",
     lambda c: c.subscription("A-S00000000")),
    ("/customers/999999", "error__customer_not_found", lambda c: c.customer(999999)),
    ("/customers/999999/subscriptions", "error__customer_not_found",
     lambda c: c.customer_subscriptions(999999)),
]


@pytest.mark.parametrize("path, name, call", LOOKUPS_404)
def test_lookup_404_is_none(client, mock, sleeps, path, name, call):
    add(mock, "GET", path, name, status=404)

    assert call(client) is None
    assert len(mock.calls) == 1 and sleeps == []


def test_lookup_404_without_the_contract_code_raises(client, mock):
    # A 404 from a proxy or a wrong base URL is a misconfiguration, not "no such thing".
    mock.add("GET", url("/subscriptions/A-S00012345"), body="<html>Not Found</html>",
             status=404)

    with pytest.raises(UpstreamError) as caught:
        client.subscription("A-S00012345")

    assert caught.value.status == 404 and caught.value.code is None


MUTATIONS = [
    ("PUT", "/subscriptions/A-S00000000/namespace", "error__subscription_not_found",
     lambda c: c.link_subscription("A-S00000000", 7890, force=False, idempotency_key=KEY)),
    ("DELETE", "/subscriptions/A-S00000000/namespace", "error__subscription_not_found",
     lambda c: c.unlink_subscription("A-S00000000", idempotency_key=KEY)),
    ("DELETE", "/customers/999999/gitlab_link", "error__customer_not_found",
     lambda c: c.unlink_customer(999999, idempotency_key=KEY)),
    ("PUT", "/customers/999999/gitlab_link", "error__customer_not_found",
     lambda c: c.link_customer(999999, 987, idempotency_key=KEY)),
]


@pytest.mark.parametrize("method, path, name, call", MUTATIONS)
def test_mutation_404_raises(client, mock, method, path, name, call):
    add(mock, method, path, name, status=404)

    with pytest.raises(UpstreamError) as caught:
        call(client)

    error = caught.value
    assert (error.upstream, error.status, error.code) == (
        "portal", 404, fixture(name)["error"]["code"])
    assert error.transient is False


# --- error mapping -------------------------------------------------------------------


def test_error_carries_status_code_request_id_and_no_token(client, mock, sleeps):
    mock.add("PUT", url("/subscriptions/A-S00012345/namespace"),
             json=fixture("error__namespace_taken"), status=409,
             headers={"X-Request-Id": "req-409"})

    with pytest.raises(UpstreamError) as caught:
        client.link_subscription("A-S00012345", 7890, force=False, idempotency_key=KEY)

    error = caught.value
    assert (error.upstream, error.status, error.code, error.request_id) == (
        "portal", 409, "namespace_taken", "req-409")
    assert error.transient is False
    assert "Namespace 7890 is linked" in str(error)
    assert TOKEN not in str(error) and TOKEN not in repr(error)
    assert TOKEN not in repr(client)


def test_error_message_echoing_the_token_is_redacted(client, mock):
    body = {"error": {"code": "unauthorized", "message": f"bad token Bearer {TOKEN}"}}
    add(mock, "GET", "/customers/1234", body=body, status=401)

    with pytest.raises(UpstreamError) as caught:
        client.customer(1234)

    assert TOKEN not in str(caught.value)
    assert TOKEN not in json.dumps(caught.value.to_dict())


def test_non_json_success_is_an_upstream_error(client, mock):
    mock.add("GET", url("/customers/1234"), body="oops", status=200)

    with pytest.raises(UpstreamError) as caught:
        client.customer(1234)

    assert caught.value.code == "invalid_response"


# --- retries -------------------------------------------------------------------------


def test_503_three_times_then_200_succeeds_on_fourth_call(client, mock, sleeps):
    for _ in range(3):
        add(mock, "GET", "/subscriptions/A-S00012345", status=503,
            body={"error": {"code": "unavailable", "message": "try later"}})
    add(mock, "GET", "/subscriptions/A-S00012345", "get_subscription__seats")

    result = client.subscription("A-S00012345")

    assert result.name == "A-S00012345"
    assert len(mock.calls) == 4
    assert len(sleeps) == 3


def test_mutation_retry_repeats_the_same_idempotency_key(client, mock, sleeps):
    # Safe only because every attempt carries the same key: the portal applies it once.
    add(mock, "DELETE", "/customers/1234/gitlab_link", status=502,
        body={"error": {"code": "bad_gateway", "message": "upstream"}})
    add(mock, "DELETE", "/customers/1234/gitlab_link", "delete_customer_gitlab_link")

    client.unlink_customer(1234, idempotency_key=KEY)

    assert [c.request.headers["Idempotency-Key"] for c in mock.calls] == [KEY, KEY]
    assert len(sleeps) == 1


def test_persistent_503_gives_up_transient(client, mock, sleeps):
    add(mock, "GET", "/customers/1234", status=503,
        body={"error": {"code": "unavailable", "message": "down"}})

    with pytest.raises(UpstreamError) as caught:
        client.customer(1234)

    assert (caught.value.status, caught.value.transient) == (503, True)
    assert len(mock.calls) == 4 and len(sleeps) == 3


def test_429_honours_retry_after(client, mock, sleeps):
    add(mock, "GET", "/customers/1234", status=429, headers={"Retry-After": "2"},
        body={"error": {"code": "rate_limited", "message": "slow down"}})
    add(mock, "GET", "/customers/1234", "get_customer")

    assert client.customer(1234).id == 1234
    assert len(sleeps) == 1 and sleeps[0] >= 2


@pytest.mark.parametrize("status, code", [
    (401, "unauthorized"), (409, "read_only"), (422, "seats_exceeded"),
    (422, "idempotency_key_reused"),
])
def test_4xx_is_not_retried(client, mock, sleeps, status, code):
    add(mock, "PUT", "/subscriptions/A-S00012345/namespace", status=status,
        body={"error": {"code": code, "message": "no"}})

    with pytest.raises(UpstreamError) as caught:
        client.link_subscription("A-S00012345", 4567, force=False, idempotency_key=KEY)

    assert (caught.value.status, caught.value.code, caught.value.transient) == (
        status, code, False)
    assert len(mock.calls) == 1 and sleeps == []


@pytest.mark.parametrize("exc", [
    requests.ConnectionError("connection refused"), requests.ReadTimeout("read timed out"),
])
def test_connection_failures_are_transient_and_retried(client, mock, sleeps, exc):
    mock.add("GET", url("/customers/1234"), body=exc)

    with pytest.raises(UpstreamError) as caught:
        client.customer(1234)

    error = caught.value
    assert error.transient is True and error.status is None
    assert TOKEN not in str(error)
    assert len(mock.calls) == 4 and len(sleeps) == 3


def test_timeout_is_passed_on_every_call(client, mock):
    add(mock, "GET", "/customers/1234", status=500,
        body={"error": {"code": "internal", "message": "boom"}})
    add(mock, "GET", "/customers/1234", "get_customer")
    add(mock, "DELETE", "/customers/1234/gitlab_link", "delete_customer_gitlab_link")

    client.customer(1234)
    client.unlink_customer(1234, idempotency_key=KEY)

    assert [c.request.req_kwargs["timeout"] for c in mock.calls] == [TIMEOUT_S] * 3


def test_every_response_request_id_is_traced(client, mock):
    add(mock, "GET", "/customers/1234", status=503,
        body={"error": {"code": "unavailable", "message": "down"}})
    add(mock, "GET", "/customers/1234", "get_customer")

    with trace.capture() as ids:
        client.customer(1234)

    assert ids == ["portal:req-0", "portal:req-1"]


# --- the contract --------------------------------------------------------------------


def load_spec() -> dict:
    return yaml.safe_load(SPEC_PATH.read_text())


@pytest.fixture(scope="module")
def openapi() -> OpenAPI:
    return OpenAPI.from_dict(load_spec())


def test_spec_is_valid_openapi():
    spec = load_spec()
    validate_spec(spec)
    assert spec["openapi"] == "3.1.0"
    assert len([op for path in spec["paths"].values() for op in path
                if op in {"get", "put", "delete"}]) == 9


# Each fixture, served for the endpoint it is named after, through the client.
FIXTURE_CALLS = {
    "get_subscription__seats": (
        "GET", "/subscriptions/A-S00012345", 200, lambda c: c.subscription("A-S00012345")),
    "get_subscription__compute_minutes": (
        "GET", "/subscriptions/A-S00012346", 200, lambda c: c.subscription("A-S00012346")),
    "get_customer": ("GET", "/customers/1234", 200, lambda c: c.customer(1234)),
    "list_customers_by_email": (
        "GET", "/customers", 200, lambda c: c.customers_by_email("alex.doe@example.com")),
    "list_customer_subscriptions": (
        "GET", "/customers/1234/subscriptions", 200, lambda c: c.customer_subscriptions(1234)),
    "list_namespace_subscriptions": (
        "GET", "/namespaces/4567/subscriptions", 200,
        lambda c: c.namespace_subscriptions(4567)),
    "put_subscription_namespace": (
        "PUT", "/subscriptions/A-S00012345/namespace", 200,
        lambda c: c.link_subscription("A-S00012345", 7890, force=True, idempotency_key=KEY)),
    "delete_subscription_namespace": (
        "DELETE", "/subscriptions/A-S00012345/namespace", 200,
        lambda c: c.unlink_subscription("A-S00012345", idempotency_key=KEY)),
    "delete_customer_gitlab_link": (
        "DELETE", "/customers/1234/gitlab_link", 200,
        lambda c: c.unlink_customer(1234, idempotency_key=KEY)),
    "put_customer_gitlab_link": (
        "PUT", "/customers/1234/gitlab_link", 200,
        lambda c: c.link_customer(1234, 987, idempotency_key=KEY)),
    "error__already_linked": (
        "PUT", "/customers/1234/gitlab_link", 409,
        lambda c: c.link_customer(1234, 987, idempotency_key=KEY)),
    "error__gitlab_user_not_found": (
        "PUT", "/customers/1234/gitlab_link", 422,
        lambda c: c.link_customer(1234, 987, idempotency_key=KEY)),
    "error__namespace_taken": (
        "PUT", "/subscriptions/A-S00012345/namespace", 409,
        lambda c: c.link_subscription("A-S00012345", 7890, force=False, idempotency_key=KEY)),
    "error__subscription_not_found": (
        "GET", "/subscriptions/A-S00000000", 404, lambda c: c.subscription("A-S00000000")),
    "error__customer_not_found": (
        "GET", "/customers/999999", 404, lambda c: c.customer(999999)),
}


def validate_calls(openapi: OpenAPI, calls) -> int:
    """Validate every request sent and every response answered; connection errors skipped."""
    checked = 0
    for call in calls:
        openapi.validate_request(RequestsOpenAPIRequest(call.request))
        if isinstance(call.response, requests.Response):
            openapi.validate_response(RequestsOpenAPIRequest(call.request),
                                      RequestsOpenAPIResponse(call.response))
            checked += 1
    return checked


def test_every_fixture_is_covered():
    assert {p.stem for p in FIXTURES.glob("*.json")} == set(FIXTURE_CALLS)


def test_requests_and_fixture_responses_match_the_spec(client, mock, openapi):
    for name, (method, path, status, call) in FIXTURE_CALLS.items():
        add(mock, method, path, name, status=status)
        try:
            call(client)
        except UpstreamError:
            assert status >= 400  # the error fixtures are meant to fail the call

    assert validate_calls(openapi, mock.calls) == len(FIXTURE_CALLS)


def test_retry_and_rate_limit_answers_match_the_spec(client, mock, openapi):
    add(mock, "GET", "/customers/1234", status=429, headers={"Retry-After": "2"},
        body={"error": {"code": "rate_limited", "message": "slow down"}})
    add(mock, "GET", "/customers/1234", status=503,
        body={"error": {"code": "unavailable", "message": "down"}})
    add(mock, "GET", "/customers/1234", "get_customer")

    client.customer(1234)

    assert validate_calls(openapi, mock.calls) == 3


# The contract test must be able to fail: drifted payloads and requests are rejected.
BAD_SUBSCRIPTIONS = {
    "unknown kind": {**fixture("get_subscription__seats"), "kind": "seat"},
    "namespace_id missing": {
        k: v for k, v in fixture("get_subscription__seats").items() if k != "namespace_id"},
    "seats as string": {**fixture("get_subscription__seats"), "seats": "25"},
}


@pytest.mark.parametrize("body", BAD_SUBSCRIPTIONS.values(), ids=BAD_SUBSCRIPTIONS.keys())
def test_spec_rejects_a_drifted_subscription(client, mock, openapi, body):
    add(mock, "GET", "/subscriptions/A-S00012345", body=body)
    client.subscription("A-S00012345")  # the client is lenient; the contract is not

    with pytest.raises(OpenAPIError):
        validate_calls(openapi, mock.calls)


def test_spec_rejects_a_response_without_request_id(client, mock, openapi):
    mock.add("GET", url("/customers/1234"), json=fixture("get_customer"))
    client.customer(1234)

    with pytest.raises(OpenAPIError):
        validate_calls(openapi, mock.calls)


def prepared(method: str, path: str, headers: dict, body: dict | None = None):
    return requests.Request(method, url(path), headers=headers, json=body).prepare()


@pytest.mark.parametrize("headers, body", [
    ({"Authorization": f"Bearer {TOKEN}"}, {"namespace_id": 7890, "force": False}),
    ({"Authorization": f"Bearer {TOKEN}", "Idempotency-Key": KEY}, {"forced": True}),
    ({"Idempotency-Key": KEY}, {"namespace_id": 7890, "force": False}),
], ids=["no idempotency key", "misspelt body", "no bearer token"])
def test_spec_rejects_a_bad_link_request(openapi, headers, body):
    request = prepared("PUT", "/subscriptions/A-S00012345/namespace", headers, body)

    with pytest.raises(OpenAPIError):
        openapi.validate_request(RequestsOpenAPIRequest(request))
