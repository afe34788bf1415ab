"""execute: refusals, the re-plan against fresh state, the change, and its verification."""
from __future__ import annotations

import pytest

import workflows
from tests.scenario_edits import namespace, sub
from tests.world import FakeClock, World
from workflows import Confirmation, Decision, OutcomeStatus, Refused, Rules, UpstreamError

ASSOC = {"subscription": "A-S00000001", "namespace": "acme", "ticket": 1}
READY = Confirmation(decision=Decision.READY)


def run(world, workflow="associate", inputs=ASSOC, confirmation=READY, rules=None, clock=None):
    clock = clock or FakeClock()
    return workflows.execute(workflow, world.ports, inputs, rules, confirmation=confirmation,
                             idempotency_key="run-1:change", clock=clock, sleep=clock.sleep)


def test_ready_plan_links_once_with_the_key_and_verifies(world):
    outcome = run(world)
    assert outcome.status is OutcomeStatus.SUCCEEDED and outcome.verified and outcome.changed
    assert world.mutations() == [("portal", "link_subscription", ("A-S00000001", 500, False, "run-1:change"))]
    assert outcome.before["namespace_plan"] == "free"
    assert outcome.after == {"subscription_namespace_id": 500, "namespace_plan": "premium",
                             "seats_in_use": 18, "subscription_seats": 20}
    assert outcome.to_dict()["checks"][0]["id"] == "subscription_exists"


def test_force_associate_sends_force(scenario):
    sub("A-S00000001", program="edu")(scenario)
    world = World(scenario)
    assert run(world, "force_associate").status is OutcomeStatus.SUCCEEDED
    assert world.mutations()[0][2][2] is True


def test_blocked_plan_is_refused_without_a_change(scenario):
    sub("A-S00000001", status="expired")(scenario)
    world = World(scenario)
    with pytest.raises(Refused) as refused:
        run(world, confirmation=Confirmation())
    assert refused.value.code == "plan_blocked"
    with pytest.raises(Refused):
        run(world, confirmation=Confirmation(decision=Decision.BLOCKED))
    assert world.mutations() == []


def test_override_without_a_reason_is_refused(scenario):
    sub("A-S00000001", seats=10)(scenario)
    namespace(500, billable_members_count=40)(scenario)
    world = World(scenario)
    with pytest.raises(Refused) as refused:
        run(world, "force_associate", confirmation=Confirmation(decision=Decision.NEEDS_OVERRIDE))
    assert refused.value.code == "reason_required"
    with pytest.raises(Refused):
        run(world, "force_associate", confirmation=Confirmation(
            decision=Decision.NEEDS_OVERRIDE, override_ids=("seats_cover_usage",), reason="   "))
    assert world.mutations() == []


def test_override_with_a_reason_proceeds(scenario):
    sub("A-S00000001", seats=10)(scenario)
    namespace(500, billable_members_count=40)(scenario)
    world = World(scenario)
    outcome = run(world, "force_associate", confirmation=Confirmation(
        decision=Decision.NEEDS_OVERRIDE, override_ids=("seats_cover_usage",),
        reason="Customer confirmed 30 true-ups by email"))
    assert outcome.status is OutcomeStatus.SUCCEEDED
    assert len(world.mutations()) == 1


def test_world_moved_to_blocked_supersedes_without_change(world):
    confirmed = workflows.plan("associate", world.ports, ASSOC)
    assert confirmed.decision is Decision.READY
    world.subscriptions["A-S00000001"] = world.subscriptions["A-S00000001"].__class__(
        **{**world.subscriptions["A-S00000001"].__dict__, "status": "cancelled"})
    outcome = run(world, confirmation=Confirmation(decision=confirmed.decision))
    assert outcome.status is OutcomeStatus.SUPERSEDED
    assert outcome.plan.decision is Decision.BLOCKED
    assert world.mutations() == []


def test_new_override_after_confirmation_supersedes(world):
    # Confirmed ready; meanwhile the subscription got linked elsewhere, requester not an owner.
    world.subscriptions["A-S00000001"] = world.subscriptions["A-S00000001"].__class__(
        **{**world.subscriptions["A-S00000001"].__dict__, "namespace_id": 700})
    outcome = run(world, inputs={**ASSOC, "ticket": 2})
    assert outcome.status is OutcomeStatus.SUPERSEDED
    assert outcome.plan.override_ids == ("subscription_not_linked_elsewhere",)
    assert world.mutations() == []


def test_fresh_noop_succeeds_without_change(scenario):
    sub("A-S00000001", namespace_id=500)(scenario)
    namespace(500, plan="premium")(scenario)
    world = World(scenario)
    outcome = run(world)
    assert outcome.status is OutcomeStatus.SUCCEEDED and not outcome.changed
    assert world.mutations() == []


def test_portal_business_error_fails_with_its_code_and_request_id(world):
    world.failures["link_subscription"] = UpstreamError(
        "portal", "namespace is taken", status=409, code="namespace_taken", request_id="req-9")
    outcome = run(world)
    assert outcome.status is OutcomeStatus.FAILED
    assert outcome.error["code"] == "namespace_taken" and outcome.error["request_id"] == "req-9"


def test_verification_polls_with_backoff_then_fails_after_the_timeout(scenario):
    world = World(scenario, push_plans=False)  # the portal never pushes the plan to GitLab
    clock = FakeClock()
    rules = Rules(verify_timeout_s=30, verify_first_delay_s=1, verify_max_delay_s=8)
    outcome = run(world, rules=rules, clock=clock)
    assert outcome.status is OutcomeStatus.FAILED and outcome.changed and outcome.verified is False
    assert clock.sleeps == [1, 2, 4, 8, 8]
    assert clock.now <= 30
    assert "did not take effect" in outcome.message


def test_verification_succeeds_when_the_push_arrives_late(scenario):
    world = World(scenario, push_plans=False)
    clock = FakeClock()

    def late_sleep(seconds):
        clock.sleep(seconds)
        if clock.now >= 3:
            world.push_plans = True
            world.recompute_plan(500)

    outcome = workflows.execute("associate", world.ports, ASSOC, Rules(), confirmation=READY,
                                idempotency_key="k", clock=clock, sleep=late_sleep)
    assert outcome.status is OutcomeStatus.SUCCEEDED and outcome.verified
    assert clock.sleeps == [1, 2]


def test_clear_subscription_verifies_free(scenario):
    sub("A-S00000001", namespace_id=500)(scenario)
    namespace(500, plan="premium")(scenario)
    world = World(scenario)
    # v2: clearing an active subscription is an override the agent confirms.
    confirmed = Confirmation(decision=Decision.NEEDS_OVERRIDE, override_ids=("subscription_lapsed",),
                             reason="The customer asked to clear it now")
    outcome = run(world, "clear_subscription", {"subscription": "A-S00000001", "ticket": 1}, confirmed)
    assert outcome.status is OutcomeStatus.SUCCEEDED
    assert world.namespaces[500].plan == "free"
    assert outcome.after["namespace_plan"] == "free"


def test_a_plan_that_never_reached_the_group_is_linked_again_and_verified(scenario):
    sub("A-S00000001", namespace_id=500)(scenario)  # linked, but GitLab still shows free
    world = World(scenario)
    outcome = run(world)
    assert outcome.plan.check("already_linked_here").verdict == "warn"
    assert world.mutations() == [("portal", "link_subscription", ("A-S00000001", 500, False, "run-1:change"))]
    assert outcome.status is OutcomeStatus.SUCCEEDED and outcome.changed and outcome.verified
    assert (outcome.before["namespace_plan"], outcome.after["namespace_plan"]) == ("free", "premium")


def test_a_repeated_link_that_still_does_not_reach_the_group_fails_verification(scenario):
    sub("A-S00000001", namespace_id=500)(scenario)
    world = World(scenario, push_plans=False)
    outcome = run(world, rules=Rules(verify_timeout_s=4, verify_first_delay_s=1, verify_max_delay_s=2))
    assert outcome.status is OutcomeStatus.FAILED and outcome.changed and outcome.verified is False


def test_clearing_an_add_on_verifies_the_unlink_and_leaves_the_plan(scenario):
    sub("A-S00000001", namespace_id=500)(scenario)
    sub("A-S00000003", namespace_id=500)(scenario)
    namespace(500, plan="premium")(scenario)
    world = World(scenario)
    confirmed = Confirmation(decision=Decision.NEEDS_OVERRIDE, override_ids=("subscription_lapsed",),
                             reason="The customer asked to drop the minutes")
    outcome = run(world, "clear_subscription", {"subscription": "A-S00000003", "ticket": 1}, confirmed)
    assert outcome.status is OutcomeStatus.SUCCEEDED and outcome.verified
    assert world.subscriptions["A-S00000003"].namespace_id is None
    assert world.namespaces[500].plan == "premium"


def test_unlink_account_verifies_no_link(world):
    outcome = run(world, "unlink_account", {"customer": 1, "ticket": 1})
    assert outcome.status is OutcomeStatus.SUCCEEDED
    assert world.customers[1].gitlab_user_id is None
    assert outcome.before == {"gitlab_user_id": 100} and outcome.after == {"gitlab_user_id": None}


def test_diagnose_cannot_be_executed(world):
    with pytest.raises(Refused) as refused:
        run(world, "diagnose")
    assert refused.value.code == "not_executable"
