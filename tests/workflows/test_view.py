"""The request's view (workflows/view.py): each read made once, reads found level by level,
and the plan the same as when every read waits for the one before it."""
from __future__ import annotations

import dataclasses
from collections import Counter

import pytest

import workflows
from tests.scenario_edits import customer, drop_user, sub
from tests.world import FakeClock, World
from workflows import Confirmation, Decision
from workflows.view import NOT_READ, Missing, View

TICKET = {"ticket": 1}
ASSOCIATE = {"subscription": "A-S00000001", "namespace": "acme", **TICKET}


def levels(world: World) -> tuple[list[list[tuple]], workflows.Ports]:
    """The world's ports with a gather that notes which reads went out in each level."""
    rounds: list[list[tuple]] = []

    def gather(calls):
        first = len(world.calls)
        for call in calls:
            call()
        rounds.append(world.calls[first:])

    return rounds, dataclasses.replace(world.ports, gather=gather)


def reads(calls) -> set[tuple]:
    return {(port, method, args) for port, method, args in calls}


def lazily(monkeypatch, scenario, name, inputs) -> tuple[workflows.Plan, set[tuple]]:
    """The plan with no reading ahead: every read made when a check asks for it."""
    world = World(scenario)
    with monkeypatch.context() as patched:
        patched.setattr(View, "warm", lambda self, parts: None)
        plan = workflows.plan(name, world.ports, inputs)
    return plan, reads(world.calls)


# (workflow, edits, inputs, reads made ahead that a lazy plan would not make)
CASES = [
    ("associate", [], ASSOCIATE, set()),
    ("associate", [sub("A-S00000001", namespace_id=600)], ASSOCIATE, set()),  # linked elsewhere
    ("associate", [sub("A-S00000001", namespace_id=500)], ASSOCIATE, set()),  # linked here
    ("associate", [], {"subscription": "A-S99999999", "namespace": "acme"}, set()),
    ("associate", [], {"subscription": "A-S00000001", "namespace": "nowhere"}, set()),
    ("associate", [], {"subscription": "A-S00000001", "namespace": "ada"}, set()),  # a user namespace
    # The linked account is gone: asking whether it owns the group was a guess.
    ("associate", [drop_user(100)], ASSOCIATE, {("gitlab", "access_level", (500, 100))}),
    ("force_associate", [sub("A-S00000002", status="active", end_date="2027-01-01", namespace_id=500)],
     ASSOCIATE, set()),
    ("clear_subscription", [sub("A-S00000001", namespace_id=500)], {"subscription": "A-S00000001", **TICKET},
     set()),
    ("clear_subscription", [], {"subscription": "A-S00000002", **TICKET}, set()),
    # Not linked: nothing to clear, and the requester was read for nothing.
    ("clear_subscription", [], {"subscription": "A-S00000001", **TICKET}, {("zendesk", "requester", (1,))}),
    ("unlink_account", [sub("A-S00000001", namespace_id=500)], {"customer": 1, **TICKET}, set()),
    ("unlink_account", [], {"subscription": "A-S00000002", **TICKET}, set()),
    ("unlink_account", [], {"customer": 4711, **TICKET},
     {("zendesk", "requester", (1,)), ("portal", "customer_subscriptions", (4711,))}),
    ("link_account", [customer(1, gitlab_user_id=None)],
     {"customer": 1, "gitlab_user": "bob", "namespace": "beta", **TICKET}, set()),
    ("link_account", [customer(1, gitlab_user_id=None)], {"customer": 1, **TICKET}, set()),
    ("diagnose", [], {"subscriptions": ["A-S00000001", "A-S00000002"], "namespaces": ["acme", "beta"], **TICKET},
     set()),
    # Blocked: the recommendation does not name the linked group it was read for.
    ("diagnose", [], {"subscription": "A-S00000002", **TICKET}, {("gitlab", "namespace", (700,))}),
    ("diagnose", [sub("A-S00000001", namespace_id=500)], {"subscription": "A-S00000001", **TICKET}, set()),
    ("diagnose", [], TICKET, set()),
]


@pytest.mark.parametrize("name, edits, inputs, guessed", CASES)
def test_reading_ahead_changes_no_plan_and_makes_only_the_reads_named(monkeypatch, scenario, name, edits,
                                                                        inputs, guessed):
    for edit in edits:
        edit(scenario)
    expected, lazy_reads = lazily(monkeypatch, scenario, name, inputs)
    world = World(scenario)

    plan = workflows.plan(name, world.ports, inputs)

    assert plan.to_dict() == expected.to_dict()
    assert reads(world.calls) - lazy_reads == guessed
    assert lazy_reads <= reads(world.calls)


@pytest.mark.parametrize("name, edits, inputs, depth", [
    # subscription, namespace | customer, namespace's subscriptions | linked user, its ownership
    ("associate", [], ASSOCIATE, 3),
    # ... | + the old namespace, the requester | + the requester's GitLab users | their ownership of the old one
    ("associate", [sub("A-S00000001", namespace_id=600)], ASSOCIATE, 4),
    # subscription, requester | namespace, customer, requester's users | its subscriptions, ownership
    ("clear_subscription", [sub("A-S00000001", namespace_id=500)], {"subscription": "A-S00000001", **TICKET}, 3),
    # customer, its subscriptions, requester | linked user, the subscriptions' namespaces
    ("unlink_account", [sub("A-S00000001", namespace_id=500)], {"customer": 1, **TICKET}, 2),
    # 2 x 2 pairs: as deep as one associate plan
    ("diagnose", [], {"subscriptions": ["A-S00000001", "A-S00000002"], "namespaces": ["acme", "beta"], **TICKET},
     3),
    ("diagnose", [], {"subscriptions": ["A-S00000001", "A-S00000002", "A-S00000003"],
                      "namespaces": ["acme", "beta", "acme-old"], **TICKET}, 3),
])
def test_a_plan_reads_in_as_many_levels_as_its_reads_depend_on_each_other(scenario, name, edits, inputs,
                                                                         depth):
    for edit in edits:
        edit(scenario)
    world = World(scenario)
    rounds, ports = levels(world)

    workflows.plan(name, ports, inputs)

    assert len(rounds) == depth
    assert sum(len(r) for r in rounds) == len(world.calls)  # every read went out in a level


def test_the_first_level_holds_every_read_that_needs_no_answer(scenario):
    rounds, ports = levels(World(scenario))
    workflows.plan("associate", ports, ASSOCIATE)
    assert reads(rounds[0]) == {("portal", "subscription", ("A-S00000001",)), ("gitlab", "namespace", ("acme",))}


def test_diagnose_reads_what_its_pairs_share_once(scenario):
    world = World(scenario)
    inputs = {"subscriptions": ["A-S00000001", "A-S00000002"], "namespaces": ["acme", "beta"], **TICKET}
    workflows.plan("diagnose", world.ports, inputs)
    counts = Counter(world.calls)
    assert max(counts.values()) == 1
    assert counts[("portal", "subscription", ("A-S00000001",))] == 1
    assert counts[("gitlab", "namespace", ("acme",))] == 1


def test_a_run_reads_before_and_after_from_its_plan_and_its_verification(world):
    clock = FakeClock()
    outcome = workflows.execute("associate", world.ports, ASSOCIATE,
                                confirmation=Confirmation(decision=Decision.READY),
                                idempotency_key="k", clock=clock, sleep=clock.sleep)
    assert outcome.verified and outcome.before["namespace_plan"] == "free"
    assert outcome.after["namespace_plan"] == "premium"
    methods = [method for _, method, _ in world.calls]
    # The plan's six reads, the change, and the verification's two: no snapshot reads.
    assert methods.count("link_subscription") == 1 and len(methods) == 6 + 1 + 2
    after_change = methods[methods.index("link_subscription") + 1:]
    assert sorted(after_change) == ["namespace", "subscription"]


def test_a_failed_read_is_raised_where_the_plan_makes_it(world):
    error = workflows.UpstreamError("gitlab", "boom", status=500)
    world.failures["namespace"] = error
    with pytest.raises(workflows.UpstreamError) as raised:
        workflows.plan("associate", world.ports, ASSOCIATE)
    assert raised.value is error


def test_a_part_goes_on_past_a_read_whose_answer_it_does_not_use_yet(world):
    view = View(world.ports)

    def part(ports):
        sub = ports.portal.subscription("A-S00000001")
        ns = ports.gitlab.namespace("acme")  # needs nothing of `sub`
        ports.portal.customer(sub.customer_id)  # needs `sub`
        return ns

    view.warm(lambda ports: [lambda: part(ports)])
    assert view.rounds == 2
    assert [c[1] for c in world.calls] == ["subscription", "namespace", "customer"]


def test_an_answer_not_read_yet_cannot_be_used():
    for use in (bool, len, iter, hash, str, lambda x: x.id, lambda x: x == 1, lambda x: x[0],
                lambda x: f"{x}", lambda x: x >= 50):
        with pytest.raises(Missing):
            use(NOT_READ)
