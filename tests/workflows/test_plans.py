"""Planning as a whole: inputs, bad input, facts in the JSON, diagnose, call counts."""
from __future__ import annotations

import json

import pytest

import workflows
from tests.scenario_edits import customer, namespace, sub
from tests.world import World
from workflows import BadInput


@pytest.mark.parametrize("raw, field", [
    ({"namespace": "acme"}, "subscription"),
    ({"subscription": "A-S00000001"}, "namespace"),
    ({"subscription": "A S 1", "namespace": "acme"}, "subscription"),
    ({"subscription": "A-S00000001", "namespace": "acme/../etc"}, "namespace"),
    ({"subscription": "A-S00000001", "namespace": "acme group"}, "namespace"),
    ({"subscription": "A-S00000001", "namespace": "https://gitlab.com/acme"}, "namespace"),
    ({"subscription": "A-S00000001", "namespace": "acme", "ticket": "one"}, "ticket"),
    ({"subscription": "A-S00000001", "namespace": 0}, "namespace"),
    ({"subscription": 12, "namespace": "acme"}, "subscription"),
])
def test_bad_input_is_refused_before_any_call(world, raw, field):
    with pytest.raises(BadInput) as error:
        workflows.plan("associate", world.ports, raw)
    assert error.value.field == field
    assert world.calls == []


def test_unknown_workflow_is_bad_input(world):
    with pytest.raises(BadInput):
        workflows.plan("delete_everything", world.ports, {})


def test_subscription_name_is_trimmed_and_upper_cased(world):
    plan = workflows.plan("associate", world.ports, {"subscription": "  a-s00000001 ", "namespace": "500"})
    assert plan.inputs["subscriptions"] == ["A-S00000001"] and plan.inputs["namespaces"] == [500]
    assert plan.decision == "ready"


def test_plan_serialises_with_checks_in_order_and_the_facts_used(world):
    data = json.loads(json.dumps(workflows.plan("associate", world.ports,
                                                {"subscription": "A-S00000001", "namespace": "acme"}).to_dict()))
    assert data["workflow"] == "associate" and data["decision"] == "ready"
    assert [c["id"] for c in data["checks"]] == list(workflows.MUTATING["associate"].check_ids)
    assert set(data["checks"][0]) == {"id", "verdict", "message"}
    assert data["facts"]["namespace"]["billable_members_count"] == 18
    assert data["facts"]["subscription"]["seats"] == 20
    assert data["change"] == {"action": "link_subscription", "subscription": "A-S00000001",
                              "namespace_id": 500, "customer_id": None, "force": False, "gitlab_user_id": None}


def test_unknown_subscription_still_reports_namespace_checks(world):
    plan = workflows.plan("associate", world.ports, {"subscription": "A-S99999999", "namespace": "acme"})
    assert plan.check("namespace_exists").verdict == "pass"
    assert plan.check("namespace_top_level").verdict == "pass"
    assert plan.change is None


def test_noop_wins_over_blocks(scenario):
    sub("A-S00000001", namespace_id=500, status="expired")(scenario)
    plan = workflows.plan("associate", World(scenario).ports, {"subscription": "A-S00000001", "namespace": "acme"})
    assert plan.decision == "noop" and plan.check("subscription_active").verdict == "block"


def test_messages_state_true_ups_and_what_force_replaces(scenario):
    namespace(500, billable_members_count=25)(scenario)
    sub("A-S00000002", namespace_id=500)(scenario)
    plan = workflows.plan("force_associate", World(scenario).ports, {"subscription": "A-S00000001", "namespace": "acme"})
    assert "true-ups = 5" in plan.check("seats_cover_usage").message
    assert "replaces A-S00000002" in plan.check("namespace_not_taken").message


def test_seat_thresholds_are_settings(scenario):
    namespace(500, billable_members_count=28)(scenario)  # 20 seats vs 28: 1.4x, 8 apart
    ports = World(scenario).ports
    inputs = {"subscription": "A-S00000001", "namespace": "acme"}
    assert workflows.plan("force_associate", ports, inputs).check("seats_cover_usage").verdict == "warn"
    strict = workflows.Rules(seats_override_ratio=1.2, seats_override_min_difference=5)
    assert workflows.plan("force_associate", ports, inputs, strict).check("seats_cover_usage").verdict == "override"


def test_owner_lookup_is_one_request_per_namespace_never_a_listing(world):
    workflows.plan("associate", world.ports, {"subscription": "A-S00000001", "namespace": "acme", "ticket": 1})
    gitlab_calls = [c for c in world.calls if c[0] == "gitlab"]
    assert [c[1] for c in gitlab_calls].count("access_level") == 1
    assert {c[1] for c in gitlab_calls} <= {"namespace", "access_level", "user", "users_by_email"}


def test_unlink_with_a_subscription_of_another_customer_is_bad_input(world):
    with pytest.raises(BadInput):
        workflows.plan("unlink_account", world.ports, {"customer": 2, "subscription": "A-S00000001"})


def test_unlink_finds_the_customer_through_the_subscription(world):
    plan = workflows.plan("unlink_account", world.ports, {"subscription": "A-S00000001", "ticket": 1})
    assert plan.check("customer_exists").verdict == "pass" and plan.change.customer_id == 1


def test_diagnose_recommends_one_step_per_pair(scenario):
    customer(2, gitlab_user_id=300)(scenario)  # an admin linked by mistake
    sub("A-S00000002", status="active", namespace_id=None)(scenario)
    namespace(700, billable_members_count=50)(scenario)
    ports = World(scenario).ports
    plan = workflows.plan("diagnose", ports, {"subscriptions": ["A-S00000001", "A-S00000003", "A-S00000002"],
                                              "namespaces": ["acme", "beta"]})
    steps = {(r["subscription"], r["namespace"]): r["recommended"] for r in plan.recommendations}
    assert steps[("A-S00000001", "acme")] == "associate"
    assert steps[("A-S00000003", "acme")] == "escalate"
    assert steps[("A-S00000002", "beta")] == "unlink_account"
    assert plan.decision == "ready"


def test_diagnose_recommends_force_with_its_plan(scenario):
    namespace(500, billable_members_count=25)(scenario)
    plan = workflows.plan("diagnose", World(scenario).ports, {"subscription": "A-S00000001", "namespace": "acme"})
    (entry,) = plan.recommendations
    assert entry["recommended"] == "force_associate"
    assert entry["force_plan"]["decision"] == "ready"


def test_diagnose_limits_pairs_to_three_by_three(world):
    subs = [f"A-S0000000{i}" for i in range(1, 6)]
    plan = workflows.plan("diagnose", world.ports, {"subscriptions": subs, "namespaces": ["a", "b", "c", "d"]})
    assert len(plan.recommendations) == 9


def test_diagnose_with_only_a_subscription_reports_the_portal_side(scenario):
    sub("A-S00000001", namespace_id=600)(scenario)
    plan = workflows.plan("diagnose", World(scenario).ports, {"subscription": "A-S00000001"})
    assert [c.id for c in plan.checks][:2] == ["subscription_exists", "subscription_active"]
    assert "acme-old" in plan.recommendations[0]["reason"]


def test_diagnose_with_nothing_asks_for_details(world):
    plan = workflows.plan("diagnose", world.ports, {})
    assert "ask" in plan.recommendations[0]["reason"] and world.calls == []
