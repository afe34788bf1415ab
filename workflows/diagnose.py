"""`diagnose`: read only. What the ticket names, what the world says, what to do next.

With subscriptions and namespaces it plans `associate` for each pair (at most 3 x 3) and
recommends one next step per pair (provisioning-rules.md, "diagnose"). With only the
portal side (a subscription or a customer) it reports that side and what is missing. With
nothing written, it finds the portal customer by the ticket requester's verified email.
"""
from __future__ import annotations

import functools
from dataclasses import replace
from typing import Any

from .associate import ASSOCIATE, FORCE_ASSOCIATE
from .checks import CHECKS
from .facts import Facts, Ports
from .inputs import MAX_PAIRS, Inputs
from .labels import check_label, workflow_name
from .model import Check, Decision, Plan, Verdict
from .rules import Rules
from .view import View
from .workflow import decide, make_plan, plan_parts

FORCE_FIXABLE = {"program_allows_self_serve", "namespace_not_taken", "seats_cover_usage"}
SUBSCRIPTION_SIDE = (
    "subscription_exists", "subscription_active", "subscription_saas", "subscription_has_seats",
    "customer_linked", "linked_user_not_admin",
)
CUSTOMER_SIDE = ("customer_exists", "customer_has_link", "linked_user_not_admin")


def recommend(plan: Plan, force: Plan | None = None) -> tuple[str | None, str]:
    """The next step for one associate plan (and its force plan, when namespace_not_taken
    blocks it): (workflow or None, why)."""
    if plan.decision is Decision.NOOP:
        return None, "Already linked: nothing to do."
    if plan.decision is Decision.READY:
        return "associate", f"Every check passes: {workflow_name('associate')}."
    if plan.decision is Decision.NEEDS_OVERRIDE:
        return "associate", (f"{workflow_name('associate')} once the agent confirms the override: "
                             + check_label(plan.override_ids[0]))
    return after_blocks(plan.checks, plan.facts, force)


def after_blocks(checks: tuple[Check, ...], facts: dict[str, Any],
                 force: Plan | None = None) -> tuple[str | None, str]:
    """The next step when checks block (provisioning-rules.md, "diagnose", in its order)."""
    blocks = [c for c in checks if c.verdict is Verdict.BLOCK]
    blocked_by = {c.id for c in blocks}
    if "subscription_has_seats" in blocked_by:
        return "escalate", "Not a plan with seats: escalate to an L&R expert."
    if "linked_user_not_admin" in blocked_by:
        return "unlink_account", "An admin account is linked: unlink it first."
    customer = facts.get("customer") or {}
    if "customer_linked" in blocked_by and customer.get("login_activated") is False:
        return "link_account", (
            "The customer's portal login is not activated (a reseller or sales-assisted "
            "purchase), so they cannot link their GitLab.com account themselves: link it for "
            f"them with “{workflow_name('link_account')}” and the GitLab.com user who owns the group, "
            "then plan again.")
    if "namespace_not_taken" in blocked_by and force is not None and \
            force.check("namespace_not_taken").verdict is Verdict.BLOCK:
        return "escalate", ("Another customer's active plan is on the group: force association "
                            "must not take it. Escalate to find out who owns the group's billing.")
    if blocked_by <= FORCE_FIXABLE:
        return "force_associate", (f"Only the normal path is closed: {workflow_name('force_associate')} "
                                   "after review.")
    return None, blocks[0].message


def _pair(ports: Ports, inputs: Inputs, rules: Rules, sub: str, ns: int | str) -> dict[str, Any]:
    pair_inputs = _pair_inputs(inputs, sub, ns)
    plan = make_plan(ASSOCIATE, ports, pair_inputs, rules)
    force = None
    if plan.decision is Decision.BLOCKED and \
            plan.check("namespace_not_taken").verdict is Verdict.BLOCK:
        # Whose plan is on the group decides between force and escalate; force's check knows.
        force = make_plan(FORCE_ASSOCIATE, ports, pair_inputs, rules)
    workflow, why = recommend(plan, force)
    entry: dict[str, Any] = {
        "subscription": sub, "namespace": ns, "decision": str(plan.decision),
        "recommended": workflow, "reason": why, "plan": plan.to_dict(),
    }
    if workflow == "force_associate":
        force = force or make_plan(FORCE_ASSOCIATE, ports, pair_inputs, rules)
        entry["force_plan"] = force.to_dict()
    return entry


def _summary(entries: list[dict[str, Any]]) -> Decision:
    decisions = [Decision(e.get("force_plan", e["plan"])["decision"]) for e in entries]
    for candidate in (Decision.READY, Decision.NEEDS_OVERRIDE):
        if candidate in decisions:
            return candidate
    return Decision.NOOP if all(d is Decision.NOOP for d in decisions) else Decision.BLOCKED


def _pair_inputs(inputs: Inputs, sub: str, ns: int | str) -> Inputs:
    return replace(inputs, subscriptions=(sub,), namespaces=(ns,))


def _pairs_parts(inputs: Inputs, rules: Rules, subs, namespaces):
    """Every pair's associate checks, for one `View.warm`: all pairs' reads of a level go
    out together, and each subscription and namespace is read once for all its pairs (the
    force plan, when one is made, reads what its associate plan read)."""
    pairs = [plan_parts(ASSOCIATE, _pair_inputs(inputs, s, n), rules) for s in subs for n in namespaces]
    return lambda ports: [part for parts in pairs for part in parts(ports)]


def _side_ids(inputs: Inputs) -> tuple[str, ...]:
    return SUBSCRIPTION_SIDE if inputs.subscription else CUSTOMER_SIDE


def _side_parts(inputs: Inputs, rules: Rules, ids: tuple[str, ...]):
    """The portal side's checks and the linked namespace its recommendation names (read
    with the customer, though only named when no check blocks)."""
    def parts(ports: Ports) -> list:
        facts = Facts(ports, inputs, rules)
        checks = [functools.partial(CHECKS[i], facts, "diagnose") for i in ids]
        return [*checks, lambda: facts.linked_namespace]

    return parts


def _portal_side(ports: Ports, inputs: Inputs, rules: Rules) -> Plan:
    ids = _side_ids(inputs)
    view = View.of(ports)
    view.warm(_side_parts(inputs, rules, ids))
    facts = Facts(view.ports, inputs, rules)
    checks = tuple(CHECKS[i](facts, "diagnose") for i in ids)
    sub = facts.subscription
    workflow: str | None = None
    if any(c.verdict is Verdict.BLOCK for c in checks):
        workflow, why = after_blocks(checks, facts.to_dict())
    elif sub is not None and sub.namespace_id is not None:
        ns = facts.linked_namespace
        why = f"{sub.name} is linked to {ns.full_path if ns else sub.namespace_id}."
    elif inputs.namespaces:
        # the customer was found (by id or by the requester's email) but no subscription named
        why = (f"No subscription was named for {inputs.namespaces[0]}: ask the customer which one, "
               "or find it among this customer's in the portal.")
    else:
        why = "No namespace was named: ask the customer for the group's full path."
    recommendation = {"subscription": inputs.subscription, "namespace": None,
                      "recommended": workflow, "reason": why}
    return Plan(
        workflow="diagnose", inputs=inputs.to_dict(), checks=checks,
        decision=decide(checks, None), facts=facts.to_dict(),
        recommendations=(recommendation,),
    )


def plan(ports: Ports, inputs: Inputs, rules: Rules) -> Plan:
    """One view for the whole diagnosis: what two pairs both read is read once."""
    view = View.of(ports)
    ports = view.ports
    subs, namespaces = inputs.subscriptions[:MAX_PAIRS], inputs.namespaces[:MAX_PAIRS]
    if subs and namespaces:
        view.warm(_pairs_parts(inputs, rules, subs, namespaces))
        entries = [_pair(ports, inputs, rules, s, n) for s in subs for n in namespaces]
        return Plan(
            workflow="diagnose", inputs=inputs.to_dict(), checks=(),
            decision=_summary(entries), facts={}, recommendations=tuple(entries),
        )
    if subs or inputs.customer_id is not None:
        return _portal_side(ports, inputs, rules)
    found, why = customer_by_requester(ports, inputs, rules)
    if found is not None:
        return _portal_side(ports, replace(inputs, customer_id=found), rules)
    nothing = {"subscription": None, "namespace": None, "recommended": None,
               "reason": f"The ticket names no subscription or customer, and {why}: ask for them."}
    return Plan(workflow="diagnose", inputs=inputs.to_dict(), checks=(),
                decision=Decision.BLOCKED, facts={}, recommendations=(nothing,))


def customer_by_requester(ports: Ports, inputs: Inputs, rules: Rules) -> tuple[int | None, str]:
    """The one portal customer whose email is the ticket requester's verified email."""
    if inputs.ticket_id is None:
        return None, "there is no ticket to find the requester"
    requester = Facts(ports, inputs, rules).requester
    if requester is None or not requester.email or not requester.verified:
        return None, "the ticket requester has no verified email to look the customer up by"
    found = ports.portal.customers_by_email(requester.email)
    if len(found) != 1:
        return None, f"{len(found) or 'no'} portal customers have the requester's email {requester.email}"
    return found[0].id, ""


def admin_not_ruled_out(diagnosis: Plan) -> bool | None:
    """Across a diagnosis, whether a linked account is an admin: True (it is), None (GitLab
    did not say), False (it is not, or no account was seen). A portal 502 is usually an
    admin account, so triage never recommends `associate` unless this is False."""
    plans = [diagnosis.checks] + [
        tuple(Check(c["id"], Verdict(c["verdict"]), c["message"]) for c in e["plan"]["checks"])
        for e in diagnosis.recommendations if "plan" in e]
    verdicts = {c.verdict for checks in plans for c in checks if c.id == "linked_user_not_admin"}
    if Verdict.BLOCK in verdicts:
        return True
    return None if Verdict.OVERRIDE in verdicts else False
