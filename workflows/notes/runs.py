"""The notes after a run: success (what changed, true-ups, the draft reply), noop, and
superseded or refused (provisioning-rules.md, "After a run")."""
from __future__ import annotations

from typing import Any, Mapping

from ..associate import ASSOCIATE, FORCE_ASSOCIATE
from ..clear_subscription import CLEAR_SUBSCRIPTION
from ..link_account import LINK_ACCOUNT
from ..model import Outcome, OutcomeStatus, Plan, Verdict
from ..unlink_account import UNLINK_ACCOUNT
from .words import _check_lines, _compose, title

# Seed 001: the group's billing page. A personal namespace has its billing under the
# user's own settings instead of under /groups/.
BILLING_URL = "https://gitlab.com/groups/{full_path}/-/billings"
PERSONAL_BILLING_URL = "https://gitlab.com/-/profile/billings"
# Seed 001, step 12: the confirmation snippet.
CUSTOMER_REPLY = (
    "I have successfully provisioned your subscription and it has been associated with your "
    "account and namespace. Please navigate to your group's billing page for confirmation: "
    "{billing_url}"
)
# The check whose `info` verdict made a plan `noop`, per workflow.
NOOP_CHECKS = {w.name: w.noop_check for w in
               (ASSOCIATE, FORCE_ASSOCIATE, CLEAR_SUBSCRIPTION, UNLINK_ACCOUNT, LINK_ACCOUNT)}
LINK_WORKFLOWS = ("associate", "force_associate", "clear_subscription")
REPLY_WORKFLOWS = ("associate", "force_associate")

SUCCESS_HEADLINE = "{title}: done, and verified."
NOOP_HEADLINE = "{title}: nothing to do, the target state already holds. Nothing was changed."
SUPERSEDED_HEADLINE = ("{title} was not carried out: the world changed since the plan was "
                       "confirmed. Nothing was changed.")
REFUSED_HEADLINE = "{title} was refused: {message} Nothing was changed."
CONFIRM_AGAIN = "Review the new plan in the sidebar and confirm again."
FORCE_NO_RESET = ("Compute-minute usage was NOT reset by the force association: the "
                  "namespace keeps the compute minutes it has used.")
TRUE_UPS = ("True-ups: {true_ups} seat(s) - {in_use} seats in use exceed the {seats} seats "
            "bought; they appear as true-ups on the group's billing page.")
NO_TRUE_UPS = "No true-ups: {in_use} seats in use, {seats} seats bought."
REPLY_TRUE_UPS = ("The group has {in_use} users and the subscription {seats} seats: the "
                  "{true_ups} seat(s) beyond it will appear as true-ups on the billing page and "
                  "be billed at the next reconciliation.")
BACK_TO_FREE = "{namespace} is back on the Free plan."
ADD_ON_REMOVED = ("{units} of {subscription} left {namespace}; its plan ({plan}) is unchanged.")
NOT_FREE = ("{namespace} is on the {plan} plan: another seats subscription is still "
            "linked to it.")
LINK_REMOVED = ("The customer's GitLab.com link is removed: portal customer {customer} is no "
                "longer linked to {user}.")
LINK_AGAIN = ("Their subscriptions linked to namespaces ({subscriptions}) no longer receive "
              "changes: link the customer to the right Owner's GitLab.com account now "
              "(link_account).")
LINK_MADE = ("The customer's GitLab.com link is made: portal customer {customer} is linked to "
             "{user}. Later changes to the customer's subscriptions reach GitLab.com as this user.")
# provisioning-rules.md, link_account: the association that follows, when it is known.
NEXT_ASSOCIATE = ("Next: associate {subscription} with {namespace} (plan `associate` in the "
                  "sidebar for this ticket); the link alone does not provision the subscription.")
NEXT_UNKNOWN = ("Next: associate the customer's subscription with their namespace (plan "
                "`associate` with both); the link alone does not provision it.")


def billing_url(namespace: Mapping[str, Any]) -> str:
    if namespace.get("kind") == "user":
        return PERSONAL_BILLING_URL
    return BILLING_URL.format(full_path=namespace["full_path"])




def _namespace_label(namespace_id: Any, facts: Mapping[str, Any]) -> str:
    if namespace_id is None:
        return "none"
    for key in ("namespace", "linked_namespace"):
        ns = facts.get(key)
        if isinstance(ns, dict) and ns.get("id") == namespace_id:
            return f"{ns['full_path']} (id {namespace_id})"
    return f"namespace id {namespace_id}"


def _user_label(user_id: Any, facts: Mapping[str, Any]) -> str:
    if user_id is None:
        return "none"
    for key in ("linked_user", "gitlab_user"):
        user = facts.get(key)
        if isinstance(user, dict) and user.get("id") == user_id:
            return f"@{user['username']} (GitLab.com user {user_id})"
    return f"GitLab.com user {user_id}"


def _arrow(before: Any, after: Any) -> str:
    return f"{before} -> {after}" if before != after else f"{after} (unchanged)"


def _seats(snapshot: Mapping[str, Any]) -> str:
    return f"{snapshot.get('subscription_seats')} bought, {snapshot.get('seats_in_use')} in use"


def _link_changes(outcome: Outcome) -> list[str]:
    facts, before, after = outcome.plan.facts, outcome.before, outcome.after
    change = outcome.plan.change
    sub = change.subscription if change else "the subscription"
    target = _namespace_label(change.namespace_id if change else None, facts)
    return [
        f"- Namespace linked to {sub}: " + _arrow(
            _namespace_label(before.get("subscription_namespace_id"), facts),
            _namespace_label(after.get("subscription_namespace_id"), facts)),
        f"- Plan of {target}: " + _arrow(before.get("namespace_plan"), after.get("namespace_plan")),
        f"- Seats of {sub} on {target}: " + _arrow(_seats(before), _seats(after)),
    ]


def _account_changes(outcome: Outcome) -> list[str]:
    facts = outcome.plan.facts
    return ["- GitLab.com link of the portal customer: " + _arrow(
        _user_label(outcome.before.get("gitlab_user_id"), facts),
        _user_label(outcome.after.get("gitlab_user_id"), facts))]


def changes(outcome: Outcome) -> str:
    lines = (_link_changes(outcome) if outcome.workflow in LINK_WORKFLOWS
             else _account_changes(outcome))
    return "What changed (before -> after):\n" + "\n".join(lines)


def true_ups_line(in_use: int | None, seats: int | None) -> str:
    """provisioning-rules.md, seats_cover_usage: true-ups = max(0, in use - seats)."""
    if in_use is None or seats is None:
        return ""
    true_ups = max(0, in_use - seats)
    if true_ups == 0:
        return NO_TRUE_UPS.format(in_use=in_use, seats=seats)
    return TRUE_UPS.format(true_ups=true_ups, in_use=in_use, seats=seats)


def _workflow_consequences(outcome: Outcome) -> list[str]:
    after, facts = outcome.after, outcome.plan.facts
    if outcome.workflow == "force_associate":
        true_ups = true_ups_line(after.get("seats_in_use"), after.get("subscription_seats"))
        return [FORCE_NO_RESET, true_ups]
    if outcome.workflow == "clear_subscription":
        return [_cleared(outcome)]
    if outcome.workflow == "unlink_account":
        customer = facts.get("customer") or {}
        label = f"{customer.get('id')} ({customer.get('email')})" if customer else "?"
        lines = [LINK_REMOVED.format(customer=label, user=_user_label(
            outcome.before.get("gitlab_user_id"), facts))]
        linked = [s["name"] for s in facts.get("customer_subscriptions") or []
                  if s.get("namespace_id") is not None]
        if linked:  # provisioning-rules.md v2, customer_subscriptions_linked
            lines.append(LINK_AGAIN.format(subscriptions=", ".join(linked)))
        return lines
    if outcome.workflow == "link_account":
        return _link_made(outcome)
    return []


def _cleared(outcome: Outcome) -> str:
    """What clearing did, by the subscription's kind (provisioning-rules.md v2)."""
    facts, after, change = outcome.plan.facts, outcome.after, outcome.plan.change
    label = _namespace_label(change.namespace_id if change else None, facts)
    plan = after.get("namespace_plan")
    sub = facts.get("subscription") or {}
    if sub.get("kind") not in (None, "seats"):
        unit = "compute minutes" if sub["kind"] == "compute_minutes" else "GiB of storage"
        return ADD_ON_REMOVED.format(units=f"{sub.get('units')} {unit}", subscription=sub["name"],
                                     namespace=label, plan=plan)
    return (BACK_TO_FREE.format(namespace=label) if plan == "free"
            else NOT_FREE.format(namespace=label, plan=plan))


def _customer_label(facts: Mapping[str, Any]) -> str:
    customer = facts.get("customer") or {}
    return f"{customer.get('id')} ({customer.get('email')})" if customer else "?"


def _link_made(outcome: Outcome) -> list[str]:
    facts, inputs = outcome.plan.facts, outcome.plan.inputs
    made = LINK_MADE.format(customer=_customer_label(facts),
                            user=_user_label(outcome.after.get("gitlab_user_id"), facts))
    subscription = (inputs.get("subscriptions") or [None])[0]
    namespace = facts.get("namespace") if isinstance(facts.get("namespace"), dict) else None
    if subscription and namespace:
        return [made, NEXT_ASSOCIATE.format(subscription=subscription, namespace=namespace["full_path"])]
    return [made, NEXT_UNKNOWN]


def _warnings(plan: Plan) -> str:
    if not plan.warnings:
        return ""
    return "Warnings:\n" + _check_lines(plan.warnings)


def draft_reply(outcome: Outcome) -> str:
    namespace = outcome.plan.facts.get("namespace")
    if outcome.workflow not in REPLY_WORKFLOWS or not isinstance(namespace, dict):
        return ""
    reply = CUSTOMER_REPLY.format(billing_url=billing_url(namespace))
    in_use, seats = outcome.after.get("seats_in_use"), outcome.after.get("subscription_seats")
    if in_use is not None and seats is not None and in_use > seats:
        # provisioning-rules.md v2: the customer hears of true-ups before the bill does.
        reply += " " + REPLY_TRUE_UPS.format(in_use=in_use, seats=seats, true_ups=in_use - seats)
    return f"Draft reply to the customer (not sent):\n{reply}"


def success_note(outcome: Outcome, *, mode: str, marker: str) -> str:
    """A run that changed something and verified it (provisioning-rules.md, "After a run")."""
    return _compose(mode, [
        SUCCESS_HEADLINE.format(title=title(outcome.workflow)),
        changes(outcome),
        *_workflow_consequences(outcome),
        _warnings(outcome.plan),
        draft_reply(outcome),
    ], marker)


def noop_note(outcome: Outcome, *, mode: str, marker: str) -> str:
    """The target state already held; the other verdicts are still reported."""
    plan = outcome.plan
    noop_id = NOOP_CHECKS.get(plan.workflow)
    held = [c for c in plan.checks if c.id == noop_id]
    others = [c for c in plan.checks if c.id != noop_id
              and c.verdict not in (Verdict.PASS, Verdict.SKIPPED)]
    return _compose(mode, [
        NOOP_HEADLINE.format(title=title(plan.workflow)),
        "\n".join(c.message for c in held),
        "Also found:\n" + _check_lines(others) if others else "",
    ], marker)


def superseded_note(outcome: Outcome, *, mode: str, marker: str) -> str:
    """Superseded or refused: the new plan's decision and every check, to confirm again."""
    plan = outcome.plan
    if outcome.status is OutcomeStatus.REFUSED:
        headline = REFUSED_HEADLINE.format(title=title(plan.workflow), message=outcome.message)
    else:
        headline = SUPERSEDED_HEADLINE.format(title=title(plan.workflow))
    return _compose(mode, [
        headline,
        f"The new plan's decision: {plan.decision}.",
        "Checks:\n" + _check_lines(plan.checks),
        CONFIRM_AGAIN,
    ], marker)
