"""The sandbox's portal through the service's real `PortalClient`, and its wire against
docs/portal-admin-api.yaml (openapi-core)."""
from __future__ import annotations

import threading
from pathlib import Path

import pytest
import requests
import yaml
from openapi_core import OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse

from tests.sandbox.sandbox_support import clients_for, start
from tests.scenario_edits import add_sub, namespace, sub
from workflows.errors import UpstreamError

SPEC = Path(__file__).resolve().parents[2] / "docs" / "portal-admin-api.yaml"


def plan_of(clients, namespace_id: int) -> str:
    return clients.gitlab.namespace(namespace_id).plan


# --- reads ----------------------------------------------------------------------------


def test_reads_answer_the_scenario(clients):
    p = clients.portal
    found = p.subscription("A-S00000001")
    assert (found.customer_id, found.plan_code, found.seats, found.status) == (1, "premium", 20, "active")
    assert p.customer(1).email == "owner@acme.test" and p.customer(1).gitlab_user_id == 100
    assert [c.id for c in p.customers_by_email("OWNER@acme.test")] == [1]  # any case
    assert p.customers_by_email("nobody@else.test") == []
    assert [s.name for s in p.customer_subscriptions(1)] == ["A-S00000001", "A-S00000003"]
    assert [s.name for s in p.namespace_subscriptions(700)] == ["A-S00000002"]  # any status
    assert p.namespace_subscriptions(999) == []


def test_not_found_is_a_fact(clients):
    assert clients.portal.subscription("A-S99999999") is None
    assert clients.portal.customer(4711) is None
    assert clients.portal.customer_subscriptions(4711) is None


# --- linking semantics ------------------------------------------------------------------


def test_a_link_pushes_the_plan_to_gitlab(clients):
    assert plan_of(clients, 500) == "free"
    linked = clients.portal.link_subscription("A-S00000001", 500, force=False, idempotency_key="k1")
    assert linked.namespace_id == 500
    assert plan_of(clients, 500) == "premium"


@pytest.mark.parametrize("scenario_edit, plan", [
    ([], "free"),
    # Another active seats subscription stays linked to the old namespace: its plan remains.
    ([add_sub(name="A-S00000009", customer_id=1, plan_code="ultimate", seats=5, namespace_id=600,
              start_date="2025-01-01", end_date="2027-01-01")], "ultimate"),
])
def test_a_move_sends_the_old_namespace_to_free_unless_another_stays(scenario, scenario_edit, plan):
    for e in [sub("A-S00000001", namespace_id=600), *scenario_edit]:
        e(scenario)
    with start(scenario) as sandbox:
        clients = clients_for(sandbox)
        clients.portal.link_subscription("A-S00000001", 500, force=False, idempotency_key="k")
        assert plan_of(clients, 600) == plan and plan_of(clients, 500) == "premium"


def test_the_newest_active_seats_subscription_sets_the_plan(scenario):
    add_sub(name="A-S00000009", customer_id=1, plan_code="ultimate", seats=50, namespace_id=500,
            start_date="2026-06-01", end_date="2027-06-01")(scenario)
    with start(scenario) as sandbox:
        clients = clients_for(sandbox)
        assert plan_of(clients, 500) == "free"  # stated plan loaded as written
        clients.portal.link_subscription("A-S00000001", 500, force=True, idempotency_key="k")
        # force unlinked the other seats subscription: A-S00000001's plan now
        assert clients.portal.subscription("A-S00000009").namespace_id is None
        assert plan_of(clients, 500) == "premium"


def test_force_keeps_compute_minutes_linked_and_unlinks_other_seats(scenario):
    add_sub(name="A-S00000004", customer_id=2, plan_code="ultimate", seats=5, namespace_id=500,
            start_date="2025-01-01", end_date="2027-01-01")(scenario)
    sub("A-S00000003", namespace_id=500)(scenario)  # compute minutes
    with start(scenario) as sandbox:
        p = clients_for(sandbox).portal
        with pytest.raises(UpstreamError) as taken:
            p.link_subscription("A-S00000001", 500, force=False, idempotency_key="k1")
        assert (taken.value.status, taken.value.code) == (409, "namespace_taken")
        p.link_subscription("A-S00000001", 500, force=True, idempotency_key="k2")
        assert sorted(s.name for s in p.namespace_subscriptions(500)) == ["A-S00000001", "A-S00000003"]


@pytest.mark.parametrize("edits, name, status, code", [
    ([namespace(500, billable_members_count=21)], "A-S00000001", 422, "seats_exceeded"),
    ([], "A-S00000003", 422, "not_seats_subscription"),
    ([sub("A-S00000001", locked=True)], "A-S00000001", 409, "read_only"),
    ([add_sub(name="A-S00000004", customer_id=2, kind="storage", units=10, namespace_id=500,
              start_date="2025-01-01", end_date="2027-01-01")], "A-S00000001", 409, "namespace_taken"),
])
def test_the_portal_refuses_as_the_contract_says(scenario, edits, name, status, code):
    for e in edits:
        e(scenario)
    with start(scenario) as sandbox:
        clients = clients_for(sandbox)
        with pytest.raises(UpstreamError) as refused:
            clients.portal.link_subscription(name, 500, force=False, idempotency_key="k")
        assert (refused.value.status, refused.value.code, refused.value.transient) == (status, code, False)
        assert refused.value.request_id  # X-Request-Id, for the audit trail
        assert plan_of(clients, 500) == "free"


def test_a_link_already_in_effect_and_a_link_already_gone_answer_200(clients, sandbox):
    p = clients.portal
    p.link_subscription("A-S00000001", 500, force=False, idempotency_key="a")
    assert p.link_subscription("A-S00000001", 500, force=False, idempotency_key="b").namespace_id == 500
    assert p.unlink_subscription("A-S00000001", idempotency_key="c").namespace_id is None
    assert plan_of(clients, 500) == "free"
    assert p.unlink_subscription("A-S00000001", idempotency_key="d").namespace_id is None
    assert sandbox.counters()["portal_changes"] == 4  # all answered 200


def test_unlink_customer(clients):
    assert clients.portal.unlink_customer(1, idempotency_key="k").gitlab_user_id is None
    assert clients.portal.customer(1).gitlab_user_id is None
    with pytest.raises(UpstreamError) as missing:
        clients.portal.unlink_customer(4711, idempotency_key="k2")
    assert (missing.value.status, missing.value.code) == (404, "customer_not_found")


def test_link_customer_is_idempotent_and_refuses_as_the_contract_says(clients):
    p = clients.portal
    with pytest.raises(UpstreamError) as taken:  # customer 1 is linked to ada (100)
        p.link_customer(1, 200, idempotency_key="k1")
    assert (taken.value.status, taken.value.code) == (409, "already_linked")
    assert p.link_customer(1, 100, idempotency_key="k2").gitlab_user_id == 100  # in effect: 200
    p.unlink_customer(1, idempotency_key="k3")
    with pytest.raises(UpstreamError) as nobody:
        p.link_customer(1, 4242, idempotency_key="k4")
    assert (nobody.value.status, nobody.value.code) == (422, "gitlab_user_not_found")
    with pytest.raises(UpstreamError) as missing:
        p.link_customer(4711, 100, idempotency_key="k5")
    assert (missing.value.status, missing.value.code) == (404, "customer_not_found")
    first = p.link_customer(1, 200, idempotency_key="k6")
    again = p.link_customer(1, 200, idempotency_key="k6")
    assert (first.gitlab_user_id, first.replayed) == (200, False)
    assert (again.gitlab_user_id, again.replayed) == (200, True)  # the first answer, replayed
    assert p.customer(1).gitlab_user_id == 200


def test_a_stated_plan_disagreeing_with_links_is_loaded_as_written(scenario):
    sub("A-S00000001", namespace_id=500)(scenario)  # linked, yet GitLab still says free
    with start(scenario) as sandbox:
        assert plan_of(clients_for(sandbox), 500) == "free"


def test_a_link_already_in_effect_pushes_the_plan_again_and_repairs_the_group(scenario):
    sub("A-S00000001", namespace_id=500)(scenario)  # the push was lost: GitLab says free
    with start(scenario) as sandbox:
        clients = clients_for(sandbox)
        again = clients.portal.link_subscription("A-S00000001", 500, force=False, idempotency_key="k")
        assert again.namespace_id == 500
        assert plan_of(clients, 500) == "premium"


# --- idempotency ------------------------------------------------------------------------


def test_a_repeated_key_replays_the_first_answer_with_one_effect(clients, sandbox):
    first = clients.portal.link_subscription("A-S00000001", 500, force=False, idempotency_key="run-1")
    clients.portal.unlink_subscription("A-S00000001", idempotency_key="run-2")
    again = clients.portal.link_subscription("A-S00000001", 500, force=False, idempotency_key="run-1")
    assert again == first  # the first answer, though the state has moved since
    assert clients.portal.subscription("A-S00000001").namespace_id is None
    counters = sandbox.counters()
    assert counters["portal_mutations_per_key"] == {"run-1": 2, "run-2": 1}
    assert counters["portal_idempotency_keys"] == 2 and counters["portal_changes"] == 2


def test_a_key_reused_with_another_body_is_refused(clients):
    clients.portal.link_subscription("A-S00000001", 500, force=False, idempotency_key="k")
    with pytest.raises(UpstreamError) as reused:
        clients.portal.link_subscription("A-S00000001", 500, force=True, idempotency_key="k")
    assert (reused.value.status, reused.value.code) == (422, "idempotency_key_reused")


def test_concurrent_requests_with_one_key_change_the_portal_once(clients, sandbox):
    answers = []

    def link():
        answers.append(clients.portal.link_subscription("A-S00000001", 500, force=False,
                                                        idempotency_key="same"))

    threads = [threading.Thread(target=link) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(answers) == 12 and len({a.namespace_id for a in answers}) == 1
    effects = [r["effect"] for r in sandbox.state.snapshot()["portal_requests"]]
    assert effects.count("applied") == 1 and effects.count("replayed") == 11


# --- the wire, raw --------------------------------------------------------------------


def test_every_answer_carries_a_request_id_and_errors_their_envelope(sandbox):
    url = sandbox.portal_url + "/api/v1/subscriptions/A-S00000001"
    anonymous = requests.get(url, timeout=5)
    assert anonymous.status_code == 401 and anonymous.headers["X-Request-Id"]
    assert anonymous.json() == {"error": {"code": "unauthorized",
                                          "message": "The bearer token is missing or not valid."}}
    auth = {"Authorization": f"Bearer {sandbox.credentials['PORTAL_API_TOKEN']}"}
    unknown = requests.get(sandbox.portal_url + "/api/v2/whatever", headers=auth, timeout=5)
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "not_found"
    no_key = requests.delete(url + "/namespace", headers=auth, timeout=5)
    assert no_key.status_code == 422 and no_key.json()["error"]["code"] == "idempotency_key_missing"
    misspelt = requests.put(url + "/namespace", json={"namespace_id": 500, "forced": True},
                            headers={**auth, "Idempotency-Key": "k"}, timeout=5)
    assert misspelt.status_code == 422 and misspelt.json()["error"]["code"] == "invalid_request"
    replay = [requests.put(url + "/namespace", json={"namespace_id": 500},
                           headers={**auth, "Idempotency-Key": "r"}, timeout=5) for _ in range(2)]
    assert replay[1].headers.get("Idempotent-Replayed") == "true"
    assert replay[0].headers["X-Request-Id"] != replay[1].headers["X-Request-Id"]


@pytest.fixture
def openapi(sandbox) -> OpenAPI:
    spec = yaml.safe_load(SPEC.read_text())
    spec["servers"] = [{"url": sandbox.portal_url}]  # the spec's server is illustrative
    return OpenAPI.from_dict(spec)


def test_every_endpoint_and_error_validates_against_the_contract(openapi, sandbox):
    """Each operation of docs/portal-admin-api.yaml, its errors included, through the real
    client; every request and response recorded at the client's session is validated."""
    clients = clients_for(sandbox)
    seen: list[requests.Response] = []
    clients.portal._session.hooks["response"].append(lambda r, *a, **k: seen.append(r))
    p = clients.portal
    p.subscription("A-S00000001"), p.subscription("A-S99999999"), p.customer(1), p.customer(4711)
    p.customers_by_email("owner@acme.test"), p.customer_subscriptions(1), p.customer_subscriptions(4711)
    p.namespace_subscriptions(700)
    p.link_subscription("A-S00000001", 500, force=False, idempotency_key="k1")
    for call in (lambda: p.link_subscription("A-S00000003", 500, force=False, idempotency_key="k2"),
                 lambda: p.link_subscription("A-S00000002", 500, force=False, idempotency_key="k3"),
                 lambda: p.link_subscription("A-S00000001", 500, force=True, idempotency_key="k1"),
                 lambda: p.unlink_subscription("A-S99999999", idempotency_key="k4")):
        with pytest.raises(UpstreamError):
            call()
    p.unlink_subscription("A-S00000001", idempotency_key="k5")
    p.unlink_customer(1, idempotency_key="k6")
    p.link_customer(1, 100, idempotency_key="k7")
    for call in (lambda: p.link_customer(1, 200, idempotency_key="k8"),
                 lambda: p.link_customer(2, 4242, idempotency_key="k9"),
                 lambda: p.link_customer(4711, 100, idempotency_key="k10")):
        with pytest.raises(UpstreamError):
            call()
    statuses = set()
    for response in seen:
        openapi.validate_request(RequestsOpenAPIRequest(response.request))
        openapi.validate_response(RequestsOpenAPIRequest(response.request),
                                  RequestsOpenAPIResponse(response))
        statuses.add(response.status_code)
    assert statuses == {200, 404, 409, 422} and len(seen) == 19
    anonymous = requests.get(sandbox.portal_url + "/api/v1/customers/1", timeout=5)
    openapi.validate_response(RequestsOpenAPIRequest(anonymous.request),
                              RequestsOpenAPIResponse(anonymous))


def test_concurrent_moves_leave_plans_consistent_with_links(clients, sandbox):
    """One lock for the whole world: a link and the plan it implies change together."""
    def move(n: int):
        target = (500, 600, 700)[n % 3]
        clients.portal.link_subscription("A-S00000001", target, force=True, idempotency_key=f"m{n}")

    threads = [threading.Thread(target=move, args=(n,)) for n in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    linked_to = clients.portal.subscription("A-S00000001").namespace_id
    plans = {n: plan_of(clients, n) for n in (500, 600, 700)}
    assert plans == {n: "premium" if n == linked_to else "free" for n in (500, 600, 700)}
    assert sandbox.counters()["portal_idempotency_keys"] == 30
