"""A plan and a run in an agent's words: the title, what decides, what to do next, and what
changes (before -> after with group paths, plan names and seats), for the sidebar's JSON,
the notes and the CLI.

Everything is read from what a plan or an outcome carries (the plan's facts, the outcome's
before and after), never from an upstream. A value nobody knows reads "—".
"""
from __future__ import annotations

import re
from typing import Any, Mapping

from ..diagnose import after_blocks
from ..labels import check_label, decision_label, plan_name, upstream_name, workflow_name
from ..model import Decision, Outcome, OutcomeStatus, Plan, Subscription, Verdict, namespace_plan, parse_date

NONE = "—"
# The verdicts that decide a plan, in the order an agent reads them.
DECIDING = (Verdict.BLOCK, Verdict.OVERRIDE, Verdict.WARN, Verdict.INFO)
FREE_UNLESS = "Free, unless another plan is linked"
LINK_ACTIONS = ("link_subscription", "unlink_subscription")


# --- the plan's words ---------------------------------------------------------------------

def deciding(plan: Plan) -> list[str]:
    """The ids of the checks that decide: blocks, overrides, warnings, notes (passes and
    skipped ones decide nothing)."""
    return [c.id for verdict in DECIDING for c in plan.checks if c.verdict is verdict]


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _given(plan: Plan, plural: str, single: str) -> list[Any]:
    """What the inputs name: parsed (`subscriptions`), or as a run's request gave them
    (`subscription`: a run refused before it planned keeps its request's inputs)."""
    many = plan.inputs.get(plural)
    if isinstance(many, list) and many:
        return many
    one = plan.inputs.get(single)
    return [one] if one not in (None, "") else []


def _subscription_ref(plan: Plan) -> str:
    sub = _dict(plan.facts.get("subscription"))
    names = _given(plan, "subscriptions", "subscription")
    return str(sub.get("name") or (str(names[0]).upper() if names else "") or "the subscription")


def _namespace_path(plan: Plan, namespace_id: Any = None) -> str:
    """The group's full path: the one with `namespace_id`, or the plan's target."""
    for key in ("namespace", "linked_namespace"):
        ns = _dict(plan.facts.get(key))
        if ns and (namespace_id is None or ns.get("id") == namespace_id):
            return str(ns["full_path"])
    if namespace_id is not None:
        return f"namespace {namespace_id}"
    refs = _given(plan, "namespaces", "namespace")
    if not refs:
        return "the group"
    return f"namespace {refs[0]}" if isinstance(refs[0], int) else str(refs[0])


def _customer_words(plan: Plan) -> str:
    customer = _dict(plan.facts.get("customer"))
    if customer:
        return f"the portal account of {customer.get('name') or customer.get('email')}"
    customer = plan.inputs.get("customer_id", plan.inputs.get("customer"))
    if customer is not None:
        return f"portal customer {customer}"
    return "the customer's portal account"


def _user_words(user: Mapping[str, Any] | None) -> str:
    return f"@{user['username']}" if user and user.get("username") else ""


def plan_title(plan: Plan) -> str:
    """E.g. "Associate subscription A-S00000001 with acme": group paths, never ids."""
    name, facts = workflow_name(plan.workflow), plan.facts
    if plan.workflow in ("associate", "force_associate"):
        return f"{name} {_subscription_ref(plan)} with {_namespace_path(plan)}"
    if plan.workflow == "clear_subscription":
        linked = _dict(facts.get("linked_namespace"))
        where = f" from {linked['full_path']}" if linked else ""
        return f"{name} {_subscription_ref(plan)}{where}"
    if plan.workflow == "unlink_account":
        user = _user_words(_dict(facts.get("linked_user")))
        return f"{name}{' ' + user if user else ''} from {_customer_words(plan)}"
    if plan.workflow == "link_account":
        user = _user_words(_dict(facts.get("gitlab_user")))
        return f"{name}{' ' + user if user else ''} to {_customer_words(plan)}"
    named = [str(v) for v in (*_given(plan, "subscriptions", "subscription"),
                              *_given(plan, "namespaces", "namespace"))]
    if named:
        return f"{name} {' and '.join(named)}"
    ticket = plan.inputs.get("ticket_id")
    return f"{name} ticket {ticket}" if ticket else name


def _quoted_labels(check_ids: list[str] | tuple[str, ...]) -> str:
    return " and ".join(f"“{check_label(i)}”" for i in check_ids)


def next_step(plan: Plan, *, confirm_groups: list[str] | None = None) -> str:
    """One sentence: what the agent does now. `confirm_groups`: the groups one of whose
    members must confirm an override this agent may not (policy.confirmer; [] for admins
    only); None when the agent may confirm every override."""
    if plan.workflow == "diagnose":
        reasons = [e.get("reason") for e in plan.recommendations if e.get("reason")]
        return str(reasons[0]) if reasons else "Pick a workflow and plan it."
    if plan.decision is Decision.NOOP:
        return "Nothing to run: tell the customer it is already in place."
    if plan.decision is Decision.BLOCKED:
        return _after_blocks(plan)
    if plan.decision is Decision.NEEDS_OVERRIDE:
        if confirm_groups is not None:
            who = f"a member of {' or '.join(confirm_groups)}" if confirm_groups else "a Zendesk admin"
            return (f"Ask {who} to confirm the override of {_quoted_labels(plan.override_ids)}: "
                    "you may not.")
        # The checks to override are listed right under it, by label: not named again.
        many = len(plan.override_ids) > 1
        return f"Write why the override{'s are' if many else ' is'} right, then confirm."
    if plan.warnings:
        return "Read the warning, then confirm to run it." if len(plan.warnings) == 1 else \
            "Read the warnings, then confirm to run it."
    return "Check the change and confirm to run it."


def _after_blocks(plan: Plan) -> str:
    if plan.workflow in ("associate", "force_associate"):
        # A forced plan's own namespace_not_taken says whether force may take the group.
        forced = plan if plan.workflow == "force_associate" else None
        return after_blocks(plan.checks, plan.facts, forced)[1]
    blocks = [c for c in plan.checks if c.verdict is Verdict.BLOCK]
    return blocks[0].message if blocks else "The plan is blocked."


def plan_summary(plan: Plan, *, confirm_groups: list[str] | None = None) -> dict[str, Any]:
    """What the sidebar shows first: the plan in words (API: POST /api/v1/plans)."""
    return {
        "workflow_name": workflow_name(plan.workflow),
        "title": plan_title(plan),
        "decision_label": decision_label(str(plan.decision)),
        "next_step": next_step(plan, confirm_groups=confirm_groups),
        "deciding": deciding(plan),
        "changes": plan_changes(plan),
    }


# --- what a plan would change ----------------------------------------------------------------

def _row(label: str, before: Any, after: Any) -> dict[str, str]:
    return {"label": label, "before": str(before), "after": str(after)}


def _subscriptions(facts: Mapping[str, Any], key: str) -> list[Subscription]:
    fields = Subscription.__dataclass_fields__
    return [Subscription(**{k: v for k, v in s.items() if k in fields})
            for s in facts.get(key) or [] if isinstance(s, dict)]


def _plan_after_leaving(facts: Mapping[str, Any], key: str, leaving: str) -> str | None:
    """The group's plan once `leaving` is no longer linked to it (the portal's rule), or
    None when the plan did not read what else is linked there."""
    today = parse_date(facts.get("today"))
    if key not in facts or today is None:
        return None
    remaining = [s for s in _subscriptions(facts, key) if s.name != leaving]
    return namespace_plan(remaining, today)


def _seats(in_use: Any, seats: Any = None) -> str:
    if in_use is None:
        return NONE
    return f"{in_use} in use of {seats} bought" if seats is not None else f"{in_use} in use"


def _link_rows(plan: Plan) -> list[dict[str, str]]:
    facts, sub_name = plan.facts, _subscription_ref(plan)
    sub, ns = _dict(facts.get("subscription")), _dict(facts.get("namespace"))
    old = _dict(facts.get("linked_namespace"))
    path = ns.get("full_path") or _namespace_path(plan)
    rows = [_row(f"Group of {sub_name}", old.get("full_path", NONE), path),
            _row(f"Plan of {path}", plan_name(ns.get("plan")), plan_name(sub.get("plan_code")))]
    in_use = ns.get("billable_members_count")
    rows.append(_row(f"Seats on {path}", _seats(in_use), _seats(in_use, sub.get("seats"))))
    if old and old.get("id") != ns.get("id"):
        left = _plan_after_leaving(facts, "linked_namespace_subscriptions", sub_name)
        rows.append(_row(f"Plan of {old['full_path']}", plan_name(old.get("plan")),
                         plan_name(left) if left else FREE_UNLESS))
    return rows


def _clear_rows(plan: Plan) -> list[dict[str, str]]:
    facts, sub_name = plan.facts, _subscription_ref(plan)
    sub, old = _dict(facts.get("subscription")), _dict(facts.get("linked_namespace"))
    path = old.get("full_path") or _namespace_path(plan, sub.get("namespace_id"))
    rows = [_row(f"Group of {sub_name}", path, NONE)]
    if sub.get("kind") not in (None, "seats"):
        unit = "compute minutes" if sub["kind"] == "compute_minutes" else "GiB of storage"
        return [*rows, _row(f"Add-on on {path}", f"{sub.get('units')} {unit}", NONE)]
    left = _plan_after_leaving(facts, "linked_namespace_subscriptions", sub_name)
    rows.append(_row(f"Plan of {path}", plan_name(old.get("plan")),
                     plan_name(left) if left else FREE_UNLESS))
    return rows


def _account_rows(plan: Plan) -> list[dict[str, str]]:
    label = f"GitLab.com account linked to {_customer_words(plan)}"
    linked = _user_words(_dict(plan.facts.get("linked_user"))) or NONE
    if plan.change is not None and plan.change.action == "link_customer":
        return [_row(label, NONE, _user_words(_dict(plan.facts.get("gitlab_user"))) or NONE)]
    return [_row(label, linked, NONE)]


def plan_changes(plan: Plan) -> list[dict[str, str]]:
    """The change the plan would make, row by row; [] when it would make none."""
    if plan.change is None:
        return []
    if plan.change.action == "link_subscription":
        return _link_rows(plan)
    if plan.change.action == "unlink_subscription":
        return _clear_rows(plan)
    return _account_rows(plan)


# --- what a run changed ------------------------------------------------------------------------

def _group_of(plan: Plan, namespace_id: Any) -> str:
    return NONE if namespace_id is None else _namespace_path(plan, namespace_id)


def _snapshot_seats(snapshot: Mapping[str, Any], target: Any) -> str:
    linked_here = snapshot.get("subscription_namespace_id") == target
    return _seats(snapshot.get("seats_in_use"), snapshot.get("subscription_seats") if linked_here else None)


def outcome_changes(outcome: Outcome) -> list[dict[str, str]]:
    """What the run changed, before -> after, from the states it read around its change;
    [] when it changed nothing."""
    plan, before, after, change = outcome.plan, outcome.before, outcome.after, outcome.plan.change
    if not outcome.changed or change is None:
        return []
    if change.action in LINK_ACTIONS:
        sub, path = change.subscription, _group_of(plan, change.namespace_id)
        return [
            _row(f"Group of {sub}", _group_of(plan, before.get("subscription_namespace_id")),
                 _group_of(plan, after.get("subscription_namespace_id"))),
            _row(f"Plan of {path}", plan_name(before.get("namespace_plan")),
                 plan_name(after.get("namespace_plan"))),
            _row(f"Seats on {path}", _snapshot_seats(before, change.namespace_id),
                 _snapshot_seats(after, change.namespace_id)),
        ]
    label = f"GitLab.com account linked to {_customer_words(plan)}"
    return [_row(label, _account_of(plan, before.get("gitlab_user_id")),
                 _account_of(plan, after.get("gitlab_user_id")))]


def _account_of(plan: Plan, user_id: Any) -> str:
    if user_id is None:
        return NONE
    for key in ("linked_user", "gitlab_user"):
        user = _dict(plan.facts.get(key))
        if user.get("id") == user_id and user.get("username"):
            return f"@{user['username']}"
    return f"GitLab.com user {user_id}"


# --- a run's result and failure ----------------------------------------------------------------

def failure(outcome: Outcome, *, attempts: int | None = None) -> dict[str, str] | None:
    """Why a run failed and whether trying again could have helped: `business` (the
    portal refused, or the service did: retrying cannot help, so it failed at once) or
    `transient` (the upstream kept failing, or the change did not show in time)."""
    if outcome.status not in (OutcomeStatus.FAILED, OutcomeStatus.REFUSED):
        return None
    error = outcome.error or {}
    if outcome.status is OutcomeStatus.REFUSED:
        return {"kind": "business", "message": outcome.message}
    if not error:  # changed, but the read-back never showed it
        return {"kind": "transient", "message": outcome.message}
    who = upstream_name(str(error.get("upstream") or ""))
    said = _error_words(error)
    if error.get("transient"):
        tries = f" after {attempts} attempts" if attempts and attempts > 1 else ""
        return {"kind": "transient", "message": f"{who} kept failing{tries} ({said})."}
    return {"kind": "business",
            "message": f"{who} refused the request ({said}); trying again would not help, so "
                       "the run stopped at once."}


# The adapters' messages begin with the call for engineers ("portal putSubscriptionNamespace
# answered 500 internal_error: ..."); an agent reads what the upstream said.
_CALL_PREFIX = re.compile(r"^(?:portal|GitLab|Zendesk)\b[^:]{0,200}? answered \d{3}(?: [a-z_]+)?: ")


def _error_words(error: Mapping[str, Any]) -> str:
    status = f"HTTP {error['status']}" if error.get("status") else "no answer"
    message = _CALL_PREFIX.sub("", str(error.get("message") or "").strip()).rstrip(".")
    return f"{status}: {message}" if message else status


def run_headline(outcome: Outcome, *, attempts: int | None = None, escalated: bool = False) -> str:
    """The run's result in one or two sentences, with no phrase said twice."""
    title = plan_title(outcome.plan)
    if outcome.status is OutcomeStatus.SUCCEEDED:
        if outcome.changed:
            return f"{title}: done and verified."
        return f"{title}: already in place; nothing was changed."
    if outcome.status is OutcomeStatus.SUPERSEDED:
        return (f"{title} was not run: the plan changed since you confirmed it and is now "
                f"“{decision_label(str(outcome.plan.decision))}”. Review it and confirm again.")
    said = failure(outcome, attempts=attempts) or {"message": outcome.message}
    if outcome.status is OutcomeStatus.REFUSED:
        return f"{title} was refused: {said['message']}"
    changed = "" if outcome.changed else " Nothing was changed."
    sent = " The engineers were asked to look (escalation)." if escalated else ""
    return f"{title} failed: {said['message']}{changed}{sent}"


def run_result(outcome: Outcome, *, attempts: int | None = None, escalated: bool = False) -> dict[str, Any]:
    return {"headline": run_headline(outcome, attempts=attempts, escalated=escalated),
            "changes": outcome_changes(outcome)}
