"""Planning as a whole: inputs, bad input, facts in the JSON, diagnose, call counts."""
from __future__ import annotations

import json

import pytest

import workflows
from tests.scenario_edits import add_sub, customer, namespace, sub, user
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
    assert set(data["checks"][0]) == {"id", "label", "verdict", "message"}
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
    namespace(500, plan="premium")(scenario)  # v2: noop needs GitLab to show the plan too
    plan = workflows.plan("associate", World(scenario).ports, {"subscription": "A-S00000001", "namespace": "acme"})
    assert plan.decision == "noop" and plan.check("subscription_active").verdict == "block"


def test_messages_state_true_ups_and_what_force_replaces(scenario):
    namespace(500, billable_members_count=25)(scenario)
    sub("A-S00000002", namespace_id=500)(scenario)
    plan = workflows.plan("force_associate", World(scenario).ports, {"subscription": "A-S00000001", "namespace": "acme"})
    assert "true-ups = 5" in plan.check("seats_cover_usage").message
    assert "replaces A-S00000002" in plan.check("namespace_not_taken").message


@pytest.mark.parametrize("seats, in_use, verdict", [
    (70, 100, "override"),  # the spec's example: 30 apart, more than max(5, 7)
    (10, 12, "warn"),       # 2 apart, within max(5, 1)
    (20, 25, "warn"),       # 5 apart: "more than" 5 is needed
    (20, 26, "override"),
    (100, 110, "warn"),     # 10 apart, within 10 % of 100
    (100, 89, "override"),  # 11 apart, in either direction
])
def test_seats_substantially_different_is_more_than_max_of_five_and_a_tenth(scenario, seats, in_use, verdict):
    sub("A-S00000001", seats=seats)(scenario)
    namespace(500, billable_members_count=in_use)(scenario)
    plan = workflows.plan("force_associate", World(scenario).ports, {"subscription": "A-S00000001", "namespace": "acme"})
    assert plan.check("seats_cover_usage").verdict == verdict


def test_seat_thresholds_are_settings(scenario):
    namespace(500, billable_members_count=25)(scenario)  # 20 seats vs 25: 5 apart
    ports = World(scenario).ports
    inputs = {"subscription": "A-S00000001", "namespace": "acme"}
    assert workflows.plan("force_associate", ports, inputs).check("seats_cover_usage").verdict == "warn"
    strict = workflows.Rules(seats_override_min_difference=4)
    assert workflows.plan("force_associate", ports, inputs, strict).check("seats_cover_usage").verdict == "override"
    sub("A-S00000001", seats=100)(scenario)
    namespace(500, billable_members_count=115)(scenario)
    ports = World(scenario).ports
    assert workflows.plan("force_associate", ports, inputs).check("seats_cover_usage").verdict == "override"
    loose = workflows.Rules(seats_override_fraction=0.2)
    assert workflows.plan("force_associate", ports, inputs, loose).check("seats_cover_usage").verdict == "warn"


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


def test_diagnose_recommends_link_account_when_the_customer_cannot_link_themselves(scenario):
    customer(1, gitlab_user_id=None, login_activated=False)(scenario)  # a reseller purchase
    plan = workflows.plan("diagnose", World(scenario).ports, {"subscription": "A-S00000001", "namespace": "acme"})
    (entry,) = plan.recommendations
    assert entry["recommended"] == "link_account" and "not activated" in entry["reason"]
    customer(1, login_activated=True)(scenario)  # they can: they link it themselves
    plan = workflows.plan("diagnose", World(scenario).ports, {"subscription": "A-S00000001", "namespace": "acme"})
    assert plan.recommendations[0]["recommended"] is None


def test_diagnose_escalates_for_another_customers_active_plan_and_forces_over_a_lapsed_one(scenario):
    add_sub(name="A-S00000004", customer_id=2, plan_code="ultimate", seats=5, namespace_id=500,
            start_date="2026-03-01", end_date="2027-03-01")(scenario)
    inputs = {"subscription": "A-S00000001", "namespace": "acme"}
    (entry,) = workflows.plan("diagnose", World(scenario).ports, inputs).recommendations
    assert entry["recommended"] == "escalate" and "force_plan" not in entry
    sub("A-S00000004", status="expired")(scenario)
    (entry,) = workflows.plan("diagnose", World(scenario).ports, inputs).recommendations
    assert entry["recommended"] == "force_associate" and entry["force_plan"]["decision"] == "ready"


def test_diagnose_with_nothing_written_finds_the_customer_by_the_requesters_verified_email(scenario):
    customer(1, gitlab_user_id=300)(scenario)  # the 502 of seed 001: an admin linked
    plan = workflows.plan("diagnose", World(scenario).ports, {"ticket": 1})
    assert plan.check("customer_exists").verdict == "pass" and plan.inputs["customer_id"] == 1
    assert plan.recommendations[0]["recommended"] == "unlink_account"
    assert workflows.diagnose.admin_not_ruled_out(plan) is True
    unverified = workflows.plan("diagnose", World(scenario).ports, {"ticket": 3})
    assert unverified.recommendations[0]["recommended"] is None
    assert "verified email" in unverified.recommendations[0]["reason"]


def test_diagnose_with_only_a_namespace_finds_the_customer_and_asks_for_the_subscription(scenario):
    plan = workflows.plan("diagnose", World(scenario).ports, {"namespace": "acme", "ticket": 1})
    assert plan.inputs["customer_id"] == 1 and plan.check("customer_exists").verdict == "pass"
    (entry,) = plan.recommendations
    assert entry["recommended"] is None and entry["reason"].startswith("No subscription was named for acme")


@pytest.mark.parametrize("is_admin, expected", [(True, True), (None, None), (False, False)])
def test_a_diagnosis_says_whether_an_admin_account_is_ruled_out(scenario, is_admin, expected):
    user(100, is_admin=is_admin)(scenario)
    plan = workflows.plan("diagnose", World(scenario).ports, {"subscription": "A-S00000001", "namespace": "acme"})
    assert workflows.diagnose.admin_not_ruled_out(plan) is expected
    if is_admin:
        assert plan.recommendations[0]["recommended"] == "unlink_account"


@pytest.mark.parametrize("is_admin, expected", [(False, "associate"), (True, "unlink_account"), (None, None)])
def test_triage_never_recommends_associate_for_a_portal_502_unless_no_admin_is_linked(scenario, is_admin, expected):
    from helpdesk_app.engine.triage_job import _recommended
    from workflows.triage import TicketText, triage

    user(100, is_admin=is_admin)(scenario)
    findings = triage(TicketText(
        subject="502 Bad Gateway when linking subscription",
        description='Every time I click "Link subscription to a group" for A-S00000001 in the '
                    "customers portal I get a 502 Bad Gateway page."))
    assert findings.category == "portal_502"
    diagnosis = workflows.plan("diagnose", World(scenario).ports, {"subscription": "A-S00000001", "ticket": 1})
    assert _recommended(findings, diagnosis) == expected


def test_v2_messages_say_what_was_found_and_what_follows(scenario):
    sub("A-S00000001", namespace_id=500)(scenario)
    add_sub(name="A-S00000004", customer_id=2, plan_code="ultimate", seats=5, namespace_id=500,
            start_date="2026-03-01", end_date="2027-03-01")(scenario)
    sub("A-S00000003", namespace_id=500)(scenario)
    user(100, is_admin=None)(scenario)
    ports = World(scenario).ports
    clear = workflows.plan("clear_subscription", ports, {"subscription": "A-S00000001", "ticket": 1})
    # The plan that remains is the other active seats subscription's, not Free.
    assert "clearing puts acme on Ultimate now, before its term ends on 2027-01-01" in clear.check("subscription_lapsed").message
    add_on = workflows.plan("clear_subscription", ports, {"subscription": "A-S00000003", "ticket": 1})
    assert "clearing removes its 10000 compute minutes from acme" in add_on.check("subscription_lapsed").message
    force = workflows.plan("force_associate", ports, {"subscription": "A-S00000002", "namespace": "acme"})
    taken = force.check("namespace_not_taken").message
    assert "A-S00000004 of customer Beta (bob@beta.test), active, ultimate, 5 seats, ending 2027-03-01" in taken
    assert "A-S00000001 of customer Acme (owner@acme.test), active, premium, 20 seats, ending 2027-01-01" in taken
    assert "stay linked: A-S00000003" in taken and "escalate" in taken
    assoc = workflows.plan("associate", ports, {"subscription": "A-S00000001", "namespace": "acme"})
    assert "lacks admin rights" in assoc.check("linked_user_not_admin").message
    assert "push the plan" in assoc.check("already_linked_here").message
    unlink = workflows.plan("unlink_account", ports, {"customer": 1, "ticket": 1})
    assert "(link_account)" in unlink.check("customer_subscriptions_linked").message
    assert "2026-01-01 to 2027-01-01; today is 2026-06-15" in assoc.check("subscription_active").message
