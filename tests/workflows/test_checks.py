"""Every check id, for every workflow, once per verdict it can give there (and the decision).

Cases plan through the ports against an in-memory world in the sandbox scenario format.
`test_table_matches_provisioning_rules` ties the case list to docs/provisioning-rules.md.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

import workflows
from tests.scenario_edits import (
    add_sub,
    add_user,
    customer,
    drop_member,
    drop_user,
    namespace,
    sub,
    user,
    zendesk_user,
)
from tests.world import World

A, F = "associate", "force_associate"
ASSOC = {"subscription": "A-S00000001", "namespace": "acme", "ticket": 1}
CLEAR = {"subscription": "A-S00000001", "ticket": 1}
UNLINK = {"customer": 1, "ticket": 1}
linked_to_acme = sub("A-S00000001", namespace_id=500)  # and active (tests.world.TODAY)
premium_on_acme = namespace(500, plan="premium")  # GitLab shows the linked plan
expired_on_acme = sub("A-S00000001", namespace_id=500, status="expired")
# Another subscription on acme: another customer's (2) or the same one's (1), active or not.
def on_acme(customer_id=2, **fields):
    return add_sub(**{"name": "A-S00000004", "customer_id": customer_id, "plan_code": "ultimate",
                      "seats": 5, "start_date": "2026-03-01", "end_date": "2027-03-01",
                      "namespace_id": 500, **fields})
# link_account: customer 1 has no link yet; ada (100, owner@acme.test) owns acme; the
# requester of ticket 1 is owner@acme.test, verified.
LINK = {"customer": 1, "gitlab_user": "ada", "namespace": "acme", "ticket": 1}
L = "link_account"
unlinked = customer(1, gitlab_user_id=None)

# (workflow, check id, verdict, decision, edits, inputs)
CASES = [
    # associate and force_associate share these verdicts
    *[(w, "subscription_exists", "pass", "ready", [], ASSOC) for w in (A, F)],
    *[(w, "subscription_exists", "block", "blocked", [], {**ASSOC, "subscription": "A-S99999999"}) for w in (A, F)],
    *[(w, "subscription_active", "pass", "ready", [], ASSOC) for w in (A, F)],
    *[(w, "subscription_active", "block", "blocked", [sub("A-S00000001", status="expired")], ASSOC) for w in (A, F)],
    # v2: a stale `active` past its end date is lapsed; a term that starts later needs an override
    *[(w, "subscription_active", "block", "blocked", [sub("A-S00000001", end_date="2026-06-14")], ASSOC) for w in (A, F)],
    *[(w, "subscription_active", "pass", "ready", [sub("A-S00000001", end_date="2026-06-15")], ASSOC) for w in (A, F)],
    *[(w, "subscription_active", "override", "needs_override", [sub("A-S00000001", start_date="2026-06-16")], ASSOC) for w in (A, F)],
    *[(w, "subscription_active", "skipped", "blocked", [], {**ASSOC, "subscription": "A-S99999999"}) for w in (A, F)],
    *[(w, "subscription_saas", "pass", "ready", [], ASSOC) for w in (A, F)],
    *[(w, "subscription_saas", "block", "blocked", [sub("A-S00000001", product="self_managed")], ASSOC) for w in (A, F)],
    *[(w, "subscription_saas", "skipped", "blocked", [], {**ASSOC, "subscription": "A-S99999999"}) for w in (A, F)],
    *[(w, "subscription_has_seats", "pass", "ready", [], ASSOC) for w in (A, F)],
    *[(w, "subscription_has_seats", "block", "blocked", [], {**ASSOC, "subscription": "A-S00000003"}) for w in (A, F)],
    *[(w, "subscription_has_seats", "skipped", "blocked", [], {**ASSOC, "subscription": "A-S99999999"}) for w in (A, F)],
    *[(w, "namespace_exists", "pass", "blocked", [], {**ASSOC, "subscription": "A-S99999999"}) for w in (A, F)],
    *[(w, "namespace_exists", "block", "blocked", [], {**ASSOC, "namespace": "no-such-group"}) for w in (A, F)],
    *[(w, "namespace_top_level", "pass", "ready", [], ASSOC) for w in (A, F)],
    *[(w, "namespace_top_level", "block", "blocked", [], {**ASSOC, "namespace": "acme/platform"}) for w in (A, F)],
    *[(w, "namespace_top_level", "skipped", "blocked", [], {**ASSOC, "namespace": 999}) for w in (A, F)],
    *[(w, "customer_linked", "pass", "ready", [], ASSOC) for w in (A, F)],
    *[(w, "customer_linked", "block", "blocked", [customer(1, gitlab_user_id=None)], ASSOC) for w in (A, F)],
    *[(w, "customer_linked", "block", "blocked", [drop_user(100)], ASSOC) for w in (A, F)],
    *[(w, "customer_linked", "skipped", "blocked", [], {**ASSOC, "subscription": "A-S99999999"}) for w in (A, F)],
    *[(w, "linked_user_not_admin", "pass", "ready", [], ASSOC) for w in (A, F)],
    *[(w, "linked_user_not_admin", "block", "blocked", [customer(1, gitlab_user_id=300)], ASSOC) for w in (A, F)],
    *[(w, "linked_user_not_admin", "override", "needs_override", [user(100, is_admin=None)], ASSOC) for w in (A, F)],
    *[(w, "linked_user_not_admin", "skipped", "blocked", [customer(1, gitlab_user_id=None)], ASSOC) for w in (A, F)],
    *[(w, "linked_user_is_owner", "pass", "ready", [], ASSOC) for w in (A, F)],
    *[(w, "linked_user_is_owner", "pass", "ready", [sub("A-S00000001", seats=1)], {**ASSOC, "namespace": "ada"}) for w in (A,)],
    *[(w, "linked_user_is_owner", "block", "blocked", [drop_member(500, 100)], ASSOC) for w in (A, F)],
    *[(w, "linked_user_is_owner", "skipped", "blocked", [], {**ASSOC, "namespace": "no-such-group"}) for w in (A, F)],
    *[(w, "already_linked_here", "pass", "ready", [], ASSOC) for w in (A, F)],
    *[(w, "already_linked_here", "info", "noop", [linked_to_acme, premium_on_acme], ASSOC) for w in (A, F)],
    # v2: linked in the portal, but the plan never reached GitLab: link again to push it
    *[(w, "already_linked_here", "warn", "ready", [linked_to_acme], ASSOC) for w in (A, F)],
    *[(w, "already_linked_here", "skipped", "blocked", [], {**ASSOC, "namespace": "no-such-group"}) for w in (A, F)],
    *[(w, "subscription_not_linked_elsewhere", "pass", "ready", [], ASSOC) for w in (A, F)],
    *[(w, "subscription_not_linked_elsewhere", "warn", "ready", [sub("A-S00000001", namespace_id=600)], ASSOC) for w in (A, F)],
    *[(w, "subscription_not_linked_elsewhere", "override", "needs_override", [sub("A-S00000001", namespace_id=600)], {**ASSOC, "ticket": 2}) for w in (A, F)],
    *[(w, "subscription_not_linked_elsewhere", "override", "needs_override", [sub("A-S00000001", namespace_id=600)], {**ASSOC, "ticket": None}) for w in (A, F)],
    *[(w, "subscription_not_linked_elsewhere", "skipped", "blocked", [], {**ASSOC, "subscription": "A-S99999999"}) for w in (A, F)],
    *[(w, "namespace_not_taken", "pass", "ready", [], ASSOC) for w in (A, F)],
    (A, "namespace_not_taken", "block", "blocked", [on_acme()], ASSOC),
    (A, "namespace_not_taken", "block", "blocked", [on_acme(status="expired")], ASSOC),
    # v2: force never takes another customer's active plan; the customer's own needs their word
    (F, "namespace_not_taken", "block", "blocked", [on_acme()], ASSOC),
    (F, "namespace_not_taken", "block", "blocked", [on_acme(), on_acme(1, name="A-S00000005")], ASSOC),
    (F, "namespace_not_taken", "override", "needs_override", [on_acme(1)], ASSOC),
    (F, "namespace_not_taken", "warn", "ready", [on_acme(status="expired")], ASSOC),
    (F, "namespace_not_taken", "warn", "ready", [on_acme(end_date="2026-06-14")], ASSOC),
    (F, "namespace_not_taken", "warn", "ready", [sub("A-S00000003", namespace_id=500)], ASSOC),
    *[(w, "namespace_not_taken", "skipped", "blocked", [], {**ASSOC, "namespace": "no-such-group"}) for w in (A, F)],
    *[(w, "program_allows_self_serve", "pass", "ready", [], ASSOC) for w in (A, F)],
    (A, "program_allows_self_serve", "block", "blocked", [sub("A-S00000001", program="edu")], ASSOC),
    (F, "program_allows_self_serve", "pass", "ready", [sub("A-S00000001", program="oss")], ASSOC),
    *[(w, "program_allows_self_serve", "skipped", "blocked", [], {**ASSOC, "subscription": "A-S99999999"}) for w in (A, F)],
    (A, "seats_cover_usage", "pass", "ready", [], ASSOC),
    (A, "seats_cover_usage", "block", "blocked", [namespace(500, billable_members_count=25)], ASSOC),
    (F, "seats_cover_usage", "pass", "ready", [namespace(500, billable_members_count=20)], ASSOC),
    (F, "seats_cover_usage", "warn", "ready", [namespace(500, billable_members_count=25)], ASSOC),
    (F, "seats_cover_usage", "override", "needs_override", [sub("A-S00000001", seats=10), namespace(500, billable_members_count=40)], ASSOC),
    (F, "seats_cover_usage", "override", "needs_override", [sub("A-S00000001", seats=100)], ASSOC),
    *[(w, "seats_cover_usage", "skipped", "blocked", [], {**ASSOC, "subscription": "A-S00000003"}) for w in (A, F)],
    *[(w, "channel_read_only", "pass", "ready", [], ASSOC) for w in (A, F)],
    *[(w, "channel_read_only", "info", "ready", [sub("A-S00000001", channel="aws_marketplace")], ASSOC) for w in (A, F)],
    *[(w, "channel_read_only", "info", "ready", [customer(1, login_activated=False)], ASSOC) for w in (A, F)],
    *[(w, "channel_read_only", "skipped", "blocked", [], {**ASSOC, "subscription": "A-S99999999"}) for w in (A, F)],
    # clear_subscription (v2: clearing an active subscription needs an override)
    ("clear_subscription", "subscription_exists", "pass", "ready", [expired_on_acme], CLEAR),
    ("clear_subscription", "subscription_exists", "block", "blocked", [], {**CLEAR, "subscription": "A-S99999999"}),
    ("clear_subscription", "subscription_linked", "pass", "ready", [expired_on_acme], CLEAR),
    ("clear_subscription", "subscription_linked", "info", "noop", [], CLEAR),
    ("clear_subscription", "subscription_linked", "skipped", "blocked", [], {**CLEAR, "subscription": "A-S99999999"}),
    ("clear_subscription", "subscription_lapsed", "pass", "ready", [expired_on_acme], CLEAR),
    ("clear_subscription", "subscription_lapsed", "pass", "ready", [linked_to_acme, sub("A-S00000001", end_date="2026-06-14")], CLEAR),
    ("clear_subscription", "subscription_lapsed", "override", "needs_override", [linked_to_acme, premium_on_acme], CLEAR),
    ("clear_subscription", "subscription_lapsed", "override", "needs_override", [sub("A-S00000003", namespace_id=500)], {**CLEAR, "subscription": "A-S00000003"}),
    ("clear_subscription", "subscription_lapsed", "skipped", "noop", [], CLEAR),
    ("clear_subscription", "channel_read_only", "pass", "ready", [expired_on_acme], CLEAR),
    ("clear_subscription", "channel_read_only", "info", "ready", [expired_on_acme, sub("A-S00000001", channel="reseller")], CLEAR),
    ("clear_subscription", "channel_read_only", "skipped", "blocked", [], {**CLEAR, "subscription": "A-S99999999"}),
    ("clear_subscription", "requester_owns_namespace", "pass", "ready", [expired_on_acme], CLEAR),
    ("clear_subscription", "requester_owns_namespace", "override", "needs_override", [expired_on_acme], {**CLEAR, "ticket": 2}),
    ("clear_subscription", "requester_owns_namespace", "override", "needs_override", [expired_on_acme], {**CLEAR, "ticket": 3}),
    ("clear_subscription", "requester_owns_namespace", "override", "needs_override", [expired_on_acme], {**CLEAR, "ticket": 404}),
    ("clear_subscription", "requester_owns_namespace", "override", "needs_override", [expired_on_acme], {**CLEAR, "ticket": None}),
    ("clear_subscription", "requester_owns_namespace", "override", "needs_override",
     [expired_on_acme, add_user(id=101, username="ada2", email="OWNER@acme.test")], CLEAR),
    ("clear_subscription", "requester_owns_namespace", "skipped", "noop", [], CLEAR),
    # unlink_account
    ("unlink_account", "customer_exists", "pass", "ready", [], UNLINK),
    ("unlink_account", "customer_exists", "block", "blocked", [], {**UNLINK, "customer": 99}),
    ("unlink_account", "customer_exists", "block", "blocked", [], {"subscription": "A-S99999999", "ticket": 1}),
    ("unlink_account", "customer_has_link", "pass", "ready", [], UNLINK),
    ("unlink_account", "customer_has_link", "info", "noop", [customer(1, gitlab_user_id=None)], UNLINK),
    ("unlink_account", "customer_has_link", "skipped", "blocked", [], {**UNLINK, "customer": 99}),
    ("unlink_account", "requester_is_customer", "pass", "ready", [], UNLINK),
    ("unlink_account", "requester_is_customer", "pass", "ready", [customer(1, email="billing@acme.test")], UNLINK),
    ("unlink_account", "requester_is_customer", "override", "needs_override", [], {**UNLINK, "ticket": 2}),
    ("unlink_account", "requester_is_customer", "override", "needs_override", [], {**UNLINK, "ticket": 3}),
    ("unlink_account", "requester_is_customer", "skipped", "blocked", [], {**UNLINK, "customer": 99}),
    ("unlink_account", "customer_subscriptions_linked", "pass", "ready", [], UNLINK),
    # v2: an active subscription linked needs an override; only lapsed ones warn
    ("unlink_account", "customer_subscriptions_linked", "override", "needs_override", [linked_to_acme], UNLINK),
    ("unlink_account", "customer_subscriptions_linked", "warn", "ready", [expired_on_acme], UNLINK),
    ("unlink_account", "customer_subscriptions_linked", "skipped", "blocked", [], {**UNLINK, "customer": 99}),
    ("unlink_account", "linked_user_not_admin", "pass", "ready", [], UNLINK),
    ("unlink_account", "linked_user_not_admin", "info", "ready", [customer(1, gitlab_user_id=300)], UNLINK),
    ("unlink_account", "linked_user_not_admin", "info", "ready", [user(100, is_admin=None)], UNLINK),
    ("unlink_account", "linked_user_not_admin", "skipped", "noop", [customer(1, gitlab_user_id=None)], UNLINK),
    # link_account
    (L, "customer_exists", "pass", "ready", [unlinked], LINK),
    (L, "customer_exists", "pass", "ready", [unlinked], {**LINK, "customer": None, "subscription": "A-S00000001"}),
    (L, "customer_exists", "block", "blocked", [], {**LINK, "customer": 99}),
    (L, "customer_exists", "block", "blocked", [], {**LINK, "customer": None, "subscription": "A-S99999999"}),
    (L, "customer_link_free", "pass", "ready", [unlinked], LINK),
    (L, "customer_link_free", "info", "noop", [], LINK),
    (L, "customer_link_free", "info", "noop", [], {**LINK, "gitlab_user": 100}),
    (L, "customer_link_free", "block", "blocked", [customer(1, gitlab_user_id=200)], LINK),
    (L, "customer_link_free", "skipped", "blocked", [], {**LINK, "customer": 99}),
    (L, "gitlab_user_exists", "pass", "ready", [unlinked], LINK),
    (L, "gitlab_user_exists", "pass", "ready", [unlinked], {**LINK, "gitlab_user": 100}),
    (L, "gitlab_user_exists", "pass", "ready", [unlinked], {**LINK, "gitlab_user": None}),
    (L, "gitlab_user_exists", "block", "blocked", [unlinked], {**LINK, "gitlab_user": "nobody"}),
    (L, "gitlab_user_exists", "block", "blocked", [unlinked], {**LINK, "gitlab_user": 4242}),
    (L, "gitlab_user_exists", "block", "blocked", [unlinked], {**LINK, "gitlab_user": None, "ticket": 2}),
    (L, "gitlab_user_exists", "block", "blocked", [unlinked], {**LINK, "gitlab_user": None, "ticket": 3}),
    (L, "gitlab_user_exists", "block", "blocked", [unlinked], {**LINK, "gitlab_user": None, "ticket": None}),
    (L, "gitlab_user_exists", "block", "blocked",
     [unlinked, add_user(id=101, username="ada2", email="OWNER@acme.test")], {**LINK, "gitlab_user": None}),
    (L, "gitlab_user_not_admin", "pass", "ready", [unlinked], LINK),
    (L, "gitlab_user_not_admin", "block", "blocked", [unlinked], {**LINK, "gitlab_user": "root", "namespace": None}),
    (L, "gitlab_user_not_admin", "override", "needs_override", [unlinked, user(100, is_admin=None)], LINK),
    (L, "gitlab_user_not_admin", "skipped", "blocked", [unlinked], {**LINK, "gitlab_user": "nobody"}),
    (L, "gitlab_user_owns_namespace", "pass", "ready", [unlinked], LINK),
    (L, "gitlab_user_owns_namespace", "pass", "ready", [unlinked], {**LINK, "namespace": "ada"}),
    (L, "gitlab_user_owns_namespace", "block", "blocked", [unlinked, drop_member(500, 100)], LINK),
    (L, "gitlab_user_owns_namespace", "block", "blocked", [unlinked], {**LINK, "namespace": "no-such-group"}),
    (L, "gitlab_user_owns_namespace", "skipped", "ready", [unlinked], {**LINK, "namespace": None}),
    (L, "gitlab_user_owns_namespace", "skipped", "blocked", [unlinked], {**LINK, "gitlab_user": "nobody"}),
    (L, "requester_is_customer", "pass", "ready", [unlinked], LINK),
    (L, "requester_is_customer", "override", "needs_override", [unlinked], {**LINK, "ticket": 2}),
    (L, "requester_is_customer", "override", "needs_override", [unlinked], {**LINK, "ticket": 3}),
    (L, "requester_is_customer", "override", "needs_override", [unlinked], {**LINK, "ticket": None}),
    (L, "requester_is_customer", "skipped", "blocked", [], {**LINK, "customer": 99}),
    (L, "requester_is_gitlab_user", "pass", "ready", [unlinked], LINK),
    (L, "requester_is_gitlab_user", "override", "needs_override",
     [unlinked, zendesk_user(9100, email="billing@acme.test"), customer(1, gitlab_user_id=None, email="billing@acme.test")], LINK),
    (L, "requester_is_gitlab_user", "override", "needs_override", [unlinked], {**LINK, "ticket": 3}),
    (L, "requester_is_gitlab_user", "skipped", "blocked", [unlinked], {**LINK, "gitlab_user": "nobody"}),
]


def case_id(case):
    workflow, check_id, verdict, decision, _, _ = case
    return f"{workflow}-{check_id}-{verdict}-{decision}"


@pytest.mark.parametrize("case", CASES, ids=[case_id(c) for c in CASES])
def test_check_verdict_and_decision(scenario, case):
    workflow, check_id, verdict, decision, edits, inputs = case
    for edit in edits:
        edit(scenario)
    plan = workflows.plan(workflow, World(scenario).ports, {k: v for k, v in inputs.items() if v is not None})
    assert plan.check(check_id).verdict == verdict, plan.check(check_id).message
    assert plan.decision == decision, [c.to_dict() for c in plan.checks]


# The verdicts each check can give in each workflow, from the table's "verdict when it fails".
RULES = Path(__file__).resolve().parents[2] / "docs" / "provisioning-rules.md"


def table_rows(heading: str) -> list[list[str]]:
    text = RULES.read_text().split(heading, 1)[1]
    rows = []
    for line in text.splitlines()[2:]:
        if not line.startswith("|"):
            if rows:
                break
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        if not set(cells[0]) <= set("-"):
            rows.append(cells)
    return rows


def workflow_check_lists() -> dict[str, list[str]]:
    lists = {}
    for row in table_rows("## Workflows"):
        name, checks = row[0].strip("`"), row[2]
        if checks.startswith("the same"):
            checks = lists["associate"]
        elif "subscription_exists" in checks or "customer_exists" in checks:
            checks = [c.split(" ")[0] for c in re.split(r",\s*", checks)]
        else:
            continue
        lists[name] = checks
    return lists


def test_table_matches_provisioning_rules():
    """The code's workflows list the table's checks in the table's order."""
    lists = workflow_check_lists()
    assert set(lists) == set(workflows.MUTATING)
    for name, check_ids in lists.items():
        assert list(workflows.MUTATING[name].check_ids) == check_ids, name


WORKFLOW_PREFIX = re.compile(r"(?:^|(?<=[.;])\s+)(?=(?:[a-z_]+, )*[a-z_]+: )")


def verdict_text_for(cell: str, workflow: str) -> str | None:
    """"associate: block; force_associate: warn" -> the text naming `workflow`, if any."""
    for segment in WORKFLOW_PREFIX.split(cell):
        names, _, text = segment.partition(": ")
        if text and workflow in names.split(", "):
            return text
    return None


def test_verdict_text_for():
    cell = "associate: pass when fine, else block. force_associate: pass when equal; override when not"
    assert verdict_text_for(cell, "associate") == "pass when fine, else block."
    assert verdict_text_for(cell, "force_associate") == "pass when equal; override when not"
    assert verdict_text_for("block", "associate") is None


def test_every_check_and_failing_verdict_has_a_case():
    check_table = {row[0].strip("`"): row[1] for row in table_rows("## Stable check ids")}
    covered = {(c[0], c[1], c[2]) for c in CASES}
    for workflow, check_ids in workflow_check_lists().items():
        for check_id in check_ids:
            failing = check_table[check_id]
            named = verdict_text_for(failing, workflow)
            verdicts = {v for v in ("pass", "info", "warn", "override", "block")
                        if v in (named if named is not None else failing)}
            verdicts |= {"pass"} if check_id not in ("requester_owns_namespace",) else set()
            for verdict in verdicts:
                assert (workflow, check_id, verdict) in covered, (workflow, check_id, verdict)
