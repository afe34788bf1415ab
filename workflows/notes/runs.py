"""The notes after a run: success (what changed, true-ups, the draft reply), noop, and
superseded or refused (provisioning-rules.md, "After a run")."""
from __future__ import annotations

from typing import Any, Mapping

from ..associate import ASSOCIATE, FORCE_ASSOCIATE
from ..clear_subscription import CLEAR_SUBSCRIPTION
from ..labels import decision_label, plan_name
from ..link_account import LINK_ACCOUNT
from ..model import Outcome, OutcomeStatus, Plan, Verdict
from ..unlink_account import UNLINK_ACCOUNT
from .summary import outcome_changes, plan_title
from .words import _compose, check_lines

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

SUCCESS_HEADLINE = "{title}: done and verified."
NOOP_HEADLINE = "{title}: already in place; nothing was changed."
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
ADD_ON_REMOVED = ("{units} of {subscription} left {namespace}; its plan ({plan}) is unchanged.")
NOT_FREE = ("{namespace} is on the {plan} plan: another seats subscription is still "
            "linked to it.")
LINK_AGAIN = ("Their subscriptions linked to namespaces ({subscriptions}) no longer receive "
              "changes: link the customer to the right Owner's GitLab.com account now "
              "(Link GitLab.com account in the sidebar).")
LINK_MADE = "Later changes to the customer's subscriptions reach GitLab.com as {user}."
# provisioning-rules.md, link_account: the association that follows, when it is known.
NEXT_ASSOCIATE = ("Next: associate {subscription} with {namespace} (Associate subscription in "
                  "the sidebar for this ticket); the link alone does not provision the subscription.")
NEXT_UNKNOWN = ("Next: associate the customer's subscription with their namespace (Associate "
                "subscription with both); the link alone does not provision it.")


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


def changes(outcome: Outcome) -> str:
    """What the run changed, row by row (notes.summary.outcome_changes)."""
    rows = outcome_changes(outcome)
    lines = [f"- {r['label']}: {r['before']} → {r['after']}" if r["before"] != r["after"]
             else f"- {r['label']}: {r['after']} (unchanged)" for r in rows]
    return "What changed (before → after):\n" + "\n".join(lines) if lines else ""


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
        lines = []  # the change itself is in "What changed"
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
                                     namespace=label, plan=plan_name(plan))
    # Back to Free is in "What changed"; another plan that remains is worth saying why.
    return "" if plan == "free" else NOT_FREE.format(namespace=label, plan=plan_name(plan))


def _link_made(outcome: Outcome) -> list[str]:
    facts, inputs = outcome.plan.facts, outcome.plan.inputs
    made = LINK_MADE.format(user=_user_label(outcome.after.get("gitlab_user_id"), facts))
    subscription = (inputs.get("subscriptions") or [None])[0]
    namespace = facts.get("namespace") if isinstance(facts.get("namespace"), dict) else None
    if subscription and namespace:
        return [made, NEXT_ASSOCIATE.format(subscription=subscription, namespace=namespace["full_path"])]
    return [made, NEXT_UNKNOWN]


def _warnings(plan: Plan) -> str:
    if not plan.warnings:
        return ""
    return "Warnings:\n" + check_lines(plan.warnings)


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
        SUCCESS_HEADLINE.format(title=plan_title(outcome.plan)),
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
        NOOP_HEADLINE.format(title=plan_title(plan)),
        "\n".join(c.message for c in held),
        "Also found:\n" + check_lines(others) if others else "",
    ], marker)


def superseded_note(outcome: Outcome, *, mode: str, marker: str) -> str:
    """Superseded or refused: the new plan's decision and every check, to confirm again."""
    plan = outcome.plan
    if outcome.status is OutcomeStatus.REFUSED:
        said = outcome.message.strip()
        headline = REFUSED_HEADLINE.format(title=plan_title(plan),
                                           message=said if said.endswith((".", "!", "?")) else said + ".")
    else:
        headline = SUPERSEDED_HEADLINE.format(title=plan_title(plan))
    deciding = [c for c in plan.checks if c.verdict not in (Verdict.PASS, Verdict.SKIPPED)]
    passed = sum(1 for c in plan.checks if c.verdict is Verdict.PASS)
    return _compose(mode, [
        headline,
        f"The new plan: {decision_label(str(plan.decision))}.",
        "What decides:\n" + check_lines(deciding) if deciding else "",
        f"{passed} other checks passed." if passed and deciding else "",
        CONFIRM_AGAIN,
    ], marker)
