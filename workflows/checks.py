"""Every check of provisioning-rules.md under its stable id.

A check takes the plan's facts and the workflow's name (some verdicts differ between
workflows) and returns one `Check`. A check whose facts are missing is `skipped`, naming
the earlier check that could not provide them. Messages are written for an agent: what
was found, and what to do next.
"""
from __future__ import annotations

from typing import Callable

from .facts import Facts
from .inputs import SUBSCRIPTION_NAME
from .labels import check_label, workflow_name
from .model import Check, Namespace, Subscription, Verdict, namespace_plan, parse_date

CheckFn = Callable[[Facts, str], Check]
CHECKS: dict[str, CheckFn] = {}

READ_ONLY_CHANNELS = ("reseller", "aws_marketplace", "gcp_marketplace")
# provisioning-rules.md, "Who may confirm an override": the policy applies to effects, not
# names. An override listed here has another workflow's effect, so only an agent allowed
# to run that workflow may confirm it (check id -> (workflow, the effect in words)).
OVERRIDE_EFFECTS = {
    "subscription_not_linked_elsewhere": ("clear_subscription", "the old namespace loses its plan"),
}
SELF_SERVE_LESS_PROGRAMS = ("edu", "oss", "startups")


def check(check_id: str) -> Callable[[Callable[[Facts, str], tuple[Verdict, str]]], CheckFn]:
    def register(fn: Callable[[Facts, str], tuple[Verdict, str]]) -> CheckFn:
        def run(facts: Facts, workflow: str) -> Check:
            verdict, message = fn(facts, workflow)
            return Check(check_id, verdict, message)

        run.__name__ = fn.__name__
        run.__doc__ = fn.__doc__
        CHECKS[check_id] = run
        return run

    return register


def skipped(needs: str) -> tuple[Verdict, str]:
    # Named by its label: the message reaches agents, the id is shown beside it.
    return Verdict.SKIPPED, f"Not checked: it needs “{check_label(needs)}” to hold first."


def describe(sub: Subscription) -> str:
    if sub.kind == "seats":
        what = f"{sub.plan_code or 'seats'}, {sub.seats} seats"
    else:
        what = f"{sub.kind}, {sub.units} units"
    return f"{sub.name} (customer {sub.customer_id}, {sub.status}, {what})"


def describe_linked(facts: Facts, sub: Subscription) -> str:
    """A subscription as namespace_not_taken names it: customer, status, plan, end date."""
    customer = facts.customer_of(sub.customer_id)
    who = (f"customer {customer.company or customer.name or customer.email} ({customer.email})"
           if customer else f"portal customer {sub.customer_id}")
    status = "active" if facts.is_active(sub) else (
        sub.status if sub.status != "active" else "lapsed (its status is stale)")
    if sub.kind == "seats":
        what = f"{sub.plan_code or 'seats'}, {sub.seats} seats"
    else:
        what = units_of(sub)
    return f"{sub.name} of {who}, {status}, {what}, ending {sub.end_date or '?'}"


def units_of(sub: Subscription) -> str:
    """An add-on's amount in its own words: 10000 compute minutes, 10 GiB of storage."""
    if sub.kind == "compute_minutes":
        return f"{sub.units} compute minutes"
    return f"{sub.units} GiB of storage"


def plan_name(plan: str) -> str:
    return "Free" if plan == "free" else plan.capitalize()


def path_of(facts: Facts, namespace_id: int) -> str:
    found = facts.namespace_by_ref(namespace_id)
    return found.full_path if found else f"namespace {namespace_id}"


# --- the subscription -------------------------------------------------------------------
@check("subscription_exists")
def subscription_exists(facts: Facts, workflow: str):
    name = facts.inputs.subscription
    if name is None:
        return Verdict.SKIPPED, "Skipped: no subscription was given."
    if facts.subscription is None:
        # The portal judges other names (inputs.py); say what one looks like either way.
        shape = ("" if SUBSCRIPTION_NAME.match(name) else
                 f", and {name} is not of that shape")
        return Verdict.BLOCK, (
            f"Subscription {name} was not found in the customers portal. A subscription name "
            f"is A-S and 8 digits, like A-S00012345{shape}: check the name with the customer."
        )
    return Verdict.PASS, f"Subscription {describe(facts.subscription)} exists."


@check("subscription_active")
def subscription_active(facts: Facts, workflow: str):
    sub = facts.subscription
    if sub is None:
        return skipped("subscription_exists")
    today = facts.today
    dates = f"{sub.start_date or '?'} to {sub.end_date or '?'}; today is {today.isoformat()}"
    ask = ("Expired or cancelled subscriptions are not associated; ask the customer which "
           "active subscription they mean.")
    if sub.status != "active":
        return Verdict.BLOCK, f"{sub.name} is {sub.status} ({dates}). {ask}"
    end, start = parse_date(sub.end_date), parse_date(sub.start_date)
    if end is not None and end < today:
        return Verdict.BLOCK, (
            f"{sub.name} ended on {sub.end_date} ({dates}): it is lapsed, although the portal "
            f"still says active. {ask}"
        )
    if start is not None and start > today:
        return Verdict.OVERRIDE, (
            f"{sub.name} starts on {sub.start_date} ({dates}). Associating it now gives the group "
            "its plan before its term starts and replaces what the group has now. Confirm the "
            "customer wants it now, or associate it on its start date."
        )
    return Verdict.PASS, f"{sub.name} is active ({dates})."


@check("subscription_saas")
def subscription_saas(facts: Facts, workflow: str):
    sub = facts.subscription
    if sub is None:
        return skipped("subscription_exists")
    if sub.product != "saas":
        return Verdict.BLOCK, (
            f"{sub.name} is a self-managed subscription: it has no namespace. The customer "
            "downloads and activates a license instead."
        )
    return Verdict.PASS, f"{sub.name} is a GitLab.com (SaaS) subscription."


@check("subscription_has_seats")
def subscription_has_seats(facts: Facts, workflow: str):
    sub = facts.subscription
    if sub is None:
        return skipped("subscription_exists")
    if sub.kind != "seats":
        return Verdict.BLOCK, (
            f"{sub.name} is a {sub.kind.replace('_', '-')} add-on, not a plan with seats. "
            "STOP: associating it could overwrite and lose the namespace's existing compute "
            "minutes. Escalate to an L&R expert to review the purchases."
        )
    return Verdict.PASS, f"{sub.name} is a plan with seats ({sub.plan_code}, {sub.seats} seats)."


# --- the namespace ------------------------------------------------------------------------
@check("namespace_exists")
def namespace_exists(facts: Facts, workflow: str):
    ref = facts.inputs.namespace
    if ref is None:
        return Verdict.SKIPPED, "Skipped: no namespace was given."
    ns = facts.namespace
    if ns is None:
        return Verdict.BLOCK, (
            f"Namespace {ref} was not found on GitLab.com. Ask the customer for the group's "
            "full path (what follows gitlab.com/ in the group's address)."
        )
    return Verdict.PASS, (
        f"Namespace {ns.full_path} (id {ns.id}, {ns.kind}) exists on the {ns.plan} plan with "
        f"{ns.billable_members_count} seats in use (max seats used: {ns.max_seats_used})."
    )


@check("namespace_top_level")
def namespace_top_level(facts: Facts, workflow: str):
    ns = facts.namespace
    if ns is None:
        return skipped("namespace_exists")
    if not ns.is_top_level:
        top = ns.full_path.split("/")[0]
        return Verdict.BLOCK, (
            f"{ns.full_path} is a subgroup. Subscriptions apply to top-level groups or personal "
            f"namespaces only: ask the customer whether they mean {top}."
        )
    return Verdict.PASS, f"{ns.full_path} is a top-level {'group' if ns.kind == 'group' else 'namespace'}."


# --- the customer and its linked GitLab.com account ----------------------------------
@check("customer_linked")
def customer_linked(facts: Facts, workflow: str):
    if facts.subscription is None:
        return skipped("subscription_exists")
    customer = facts.customer
    if customer is None:
        return Verdict.BLOCK, (
            f"The portal customer {facts.subscription.customer_id} of {facts.subscription.name} "
            "was not found. Escalate: the subscription points at a missing account."
        )
    ask = (
        "Ask the customer to sign in to the customers portal with the GitLab.com account that "
        "owns the group and link it (\"Link a GitLab.com account\"), then plan again."
    )
    if customer.gitlab_user_id is None:
        return Verdict.BLOCK, (
            f"No GitLab.com account is linked to portal customer {customer.id} ({customer.email}). "
            f"Without one, later changes to the subscription do not reach the namespace. {ask}"
        )
    if facts.linked_user is None:
        return Verdict.BLOCK, (
            f"The linked account no longer exists: portal customer {customer.id} is linked to "
            f"GitLab.com user {customer.gitlab_user_id}, which was not found. {ask}"
        )
    return Verdict.PASS, (
        f"Portal customer {customer.id} ({customer.email}) is linked to GitLab.com user "
        f"@{facts.linked_user.username} (id {facts.linked_user.id})."
    )


@check("linked_user_not_admin")
def linked_user_not_admin(facts: Facts, workflow: str):
    user = facts.linked_user
    if user is None:
        return skipped("customer_has_link" if workflow == "unlink_account" else "customer_linked")
    if user.is_admin is None:
        return admin_unknown(user.username, workflow)
    if not user.is_admin:
        return Verdict.PASS, f"@{user.username} is not a GitLab admin."
    if workflow == "unlink_account":
        return Verdict.INFO, (
            f"@{user.username} is a GitLab admin account. This explains 502 errors in the "
            "portal: it tries to fetch every group the admin can see. Unlinking fixes it."
        )
    return Verdict.BLOCK, (
        f"The linked GitLab.com account @{user.username} is a GitLab admin, linked by mistake: "
        f"the portal fetches every group an admin can see and fails with 502. Unlink it with "
        f"“{workflow_name('unlink_account')}”, ask the customer to link their own account, then "
        "plan again."
    )


def admin_unknown(username: str, workflow: str) -> tuple[Verdict, str]:
    """GitLab leaves `is_admin` out for a token without admin rights: unknown, never a pass."""
    found = (f"GitLab did not say whether @{username} is a GitLab admin: the service's GitLab "
             "token lacks admin rights, so this is unknown.")
    if workflow == "unlink_account":
        return Verdict.INFO, (
            f"{found} If the customer sees 502 errors in the portal, an admin account linked by "
            "mistake would explain them."
        )
    return Verdict.OVERRIDE, (
        f"{found} An admin account linked by mistake makes the portal fail with 502. Confirm "
        f"with a GitLab admin that @{username} is not an admin before proceeding."
    )


@check("linked_user_is_owner")
def linked_user_is_owner(facts: Facts, workflow: str):
    user, ns = facts.linked_user, facts.namespace
    if user is None:
        return skipped("customer_linked")
    if ns is None:
        return skipped("namespace_exists")
    if not facts.is_owner(ns, user):
        return Verdict.BLOCK, (
            f"@{user.username} is not an Owner of {ns.full_path}. The customer must get "
            "themselves added to the group as an Owner, then plan again."
        )
    return Verdict.PASS, f"@{user.username} is an Owner of {ns.full_path}."


# --- the link -----------------------------------------------------------------------------
@check("already_linked_here")
def already_linked_here(facts: Facts, workflow: str):
    sub, ns = facts.subscription, facts.namespace
    if sub is None:
        return skipped("subscription_exists")
    if ns is None:
        return skipped("namespace_exists")
    if sub.namespace_id != ns.id:
        return Verdict.PASS, f"{sub.name} is not linked to {ns.full_path} yet."
    if ns.plan == sub.plan_code:
        return Verdict.INFO, (
            f"{sub.name} is already linked to {ns.full_path}, and GitLab shows its "
            f"{plan_name(ns.plan)} plan there: nothing to do."
        )
    # Seed 003: "sees the subscription in CustomersDot but the billing page shows Free".
    return Verdict.WARN, (
        f"{sub.name} is linked to {ns.full_path} in the portal, but GitLab shows "
        f"{ns.full_path} on {plan_name(ns.plan)}, not {plan_name(sub.plan_code or 'free')}: the "
        "plan never reached the group. The change links it again, which makes the portal push "
        "the plan to GitLab; the run then checks GitLab's plan."
    )


@check("subscription_not_linked_elsewhere")
def subscription_not_linked_elsewhere(facts: Facts, workflow: str):
    sub, ns = facts.subscription, facts.namespace
    if sub is None:
        return skipped("subscription_exists")
    if sub.namespace_id is None:
        return Verdict.PASS, f"{sub.name} is not linked to any namespace."
    if ns is not None and sub.namespace_id == ns.id:
        return Verdict.PASS, f"{sub.name} is linked here, not elsewhere."
    old = facts.linked_namespace
    old_path = old.full_path if old else f"namespace {sub.namespace_id}"
    moves = (
        f"{sub.name} is linked to {old_path} now. Associating moves it, and {old_path} goes "
        "back to Free unless another seats subscription remains linked to it."
    )
    problem = (
        facts.requester_owner_problem(old) if old else f"{old_path} was not found on GitLab.com"
    )
    if problem is None:
        return Verdict.WARN, f"{moves} The ticket requester is an Owner of {old_path}."
    return Verdict.OVERRIDE, (
        f"{moves} Confirm with an Owner of {old_path} that it may go back to Free ({problem})."
    )


@check("namespace_not_taken")
def namespace_not_taken(facts: Facts, workflow: str):
    ns = facts.namespace
    if ns is None:
        return skipped("namespace_exists")
    others = [s for s in facts.namespace_subscriptions if s.name != facts.inputs.subscription]
    if not others:
        return Verdict.PASS, f"No other subscription is linked to {ns.full_path}."
    if workflow != "force_associate":
        listed = "; ".join(describe_linked(facts, s) for s in others)
        return Verdict.BLOCK, (
            f"{ns.full_path} already has a subscription linked ({listed}), so it is grayed out "
            f"for a normal association. Clear the old one with “{workflow_name('clear_subscription')}”, "
            "or force associate after review."
        )
    return force_takes(facts, ns, others)


def force_takes(facts: Facts, ns: Namespace, others: list[Subscription]) -> tuple[Verdict, str]:
    """force_associate's verdict: what the force would take from whom."""
    replaced = [s for s in others if s.kind == "seats"]
    kept = [s for s in others if s.kind != "seats"]
    active = [s for s in replaced if facts.is_active(s)]
    # An unknown subscription has no customer to compare: count every active plan as another's.
    own_customer = facts.subscription.customer_id if facts.subscription else None
    theirs = [s for s in active if s.customer_id != own_customer]
    parts = []
    if replaced:
        parts.append("Force association replaces "
                     + "; ".join(describe_linked(facts, s) for s in replaced) + ".")
    if kept:
        parts.append("These compute-minute or storage subscriptions stay linked: "
                     + "; ".join(describe_linked(facts, s) for s in kept) + ".")
    found = f"{ns.full_path} already has subscriptions linked. " + " ".join(parts)
    if theirs:
        return Verdict.BLOCK, (
            f"{found} {ns.full_path} has another customer's active paid plan: force association "
            "must not take it away. Find out who owns the group's billing: escalate to an L&R "
            "expert (escalate)."
        )
    if active:
        ends = ", ".join(f"{s.name} on {s.end_date or '?'}" for s in active)
        return Verdict.OVERRIDE, (
            f"{found} It replaces the customer's own active plan before its term ends ({ends}), "
            "as for an upgrade or an early renewal. Confirm with the customer that they want it "
            "replaced now."
        )
    return Verdict.WARN, found


@check("program_allows_self_serve")
def program_allows_self_serve(facts: Facts, workflow: str):
    sub = facts.subscription
    if sub is None:
        return skipped("subscription_exists")
    if sub.program not in SELF_SERVE_LESS_PROGRAMS:
        return Verdict.PASS, f"{sub.name} is not an EDU, OSS or Startups subscription."
    program = sub.program.upper() if sub.program != "startups" else "Startups"
    if workflow == "force_associate":
        return Verdict.PASS, f"{sub.name} is a {program} subscription: force association is its path."
    return Verdict.BLOCK, (
        f"{sub.name} is a {program} subscription: it has no self-serve \"Change linked "
        f"namespace\" path. Provision it with “{workflow_name('force_associate')}”."
    )


@check("seats_cover_usage")
def seats_cover_usage(facts: Facts, workflow: str):
    sub, ns = facts.subscription, facts.namespace
    if sub is None:
        return skipped("subscription_exists")
    if sub.kind != "seats" or sub.seats is None:
        return skipped("subscription_has_seats")
    if ns is None:
        return skipped("namespace_exists")
    seats, in_use = sub.seats, ns.billable_members_count
    true_ups = max(0, in_use - seats)
    figures = f"{ns.full_path} has {in_use} seats in use; {sub.name} has {seats} seats"
    if workflow != "force_associate":
        if in_use <= seats:
            return Verdict.PASS, f"{figures}: they fit."
        return Verdict.BLOCK, (
            f"{figures}. The customer must buy {true_ups} more seats, or, if they accept "
            "true-ups, force associate."
        )
    if in_use == seats:
        return Verdict.PASS, f"{figures}: the same."
    consequence = f"true-ups = {true_ups}."
    if facts.rules.seats_substantially_different(seats, in_use):
        return Verdict.OVERRIDE, (
            f"{figures}: substantially different, which can cause an unexpected QSR; "
            f"{consequence} Confirm the way forward with the customer before proceeding."
        )
    return Verdict.WARN, f"{figures}; {consequence}"


@check("channel_read_only")
def channel_read_only(facts: Facts, workflow: str):
    sub = facts.subscription
    if sub is None:
        return skipped("subscription_exists")
    customer = facts.customer
    reasons = []
    if sub.channel in READ_ONLY_CHANNELS:
        reasons.append(f"it was bought through {sub.channel.replace('_', ' ')}")
    if customer is not None and not customer.login_activated:
        reasons.append("the customer's portal login is not activated")
    if reasons:
        return Verdict.INFO, (
            f"{sub.name} is read-only for the customer in the portal ({' and '.join(reasons)}); "
            "they can still associate it under Manage Purchases, and support may do it for them."
        )
    if customer is None:
        return skipped("customer_linked")
    return Verdict.PASS, f"{sub.name} was bought {sub.channel.replace('_', ' ')}; the customer can manage it."


# --- clear_subscription ---------------------------------------------------------------
@check("subscription_linked")
def subscription_linked(facts: Facts, workflow: str):
    sub = facts.subscription
    if sub is None:
        return skipped("subscription_exists")
    if sub.namespace_id is None:
        return Verdict.INFO, f"{sub.name} is not linked to any namespace: nothing to clear."
    return Verdict.PASS, f"{sub.name} is linked to {path_of(facts, sub.namespace_id)}."


@check("subscription_lapsed")
def subscription_lapsed(facts: Facts, workflow: str):
    sub = facts.subscription
    if sub is None:
        return skipped("subscription_exists")
    if sub.namespace_id is None:
        return skipped("subscription_linked")
    if not facts.is_active(sub):
        return Verdict.PASS, (
            f"{sub.name} is lapsed ({sub.status}, ended {sub.end_date or '?'}): clearing it "
            "takes nothing the customer still has a term for."
        )
    return Verdict.OVERRIDE, (
        f"{sub.name} is active until {sub.end_date or '?'}: {clearing_effect(facts, sub)}. "
        "Confirm that the customer asked for it."
    )


def clearing_effect(facts: Facts, sub: Subscription) -> str:
    """What clearing an active subscription does to its namespace, by kind."""
    path = path_of(facts, sub.namespace_id)
    if sub.kind != "seats":
        return f"clearing removes its {units_of(sub)} from {path}"
    remaining = [s for s in facts.linked_namespace_subscriptions if s.name != sub.name]
    after = plan_name(namespace_plan(remaining, facts.today))
    return f"clearing puts {path} on {after} now, before its term ends on {sub.end_date or '?'}"


@check("requester_owns_namespace")
def requester_owns_namespace(facts: Facts, workflow: str):
    sub = facts.subscription
    if sub is None:
        return skipped("subscription_exists")
    if sub.namespace_id is None:
        return skipped("subscription_linked")
    ns: Namespace | None = facts.linked_namespace
    if ns is None:
        return Verdict.OVERRIDE, (
            f"Namespace {sub.namespace_id} was not found on GitLab.com, so ownership cannot be "
            "checked. Confirm with the customer another way."
        )
    problem = facts.requester_owner_problem(ns)
    if problem is None:
        return Verdict.PASS, f"The ticket requester is an Owner of {ns.full_path}."
    return Verdict.OVERRIDE, (
        f"Clearing {sub.name} changes what {ns.full_path} has at once, and {problem}. Confirm "
        "that an Owner of the namespace asks for this another way."
    )


# --- unlink_account -------------------------------------------------------------------
@check("customer_exists")
def customer_exists(facts: Facts, workflow: str):
    if facts.customer is not None:
        c = facts.customer
        return Verdict.PASS, f"Portal customer {c.id} ({c.name or c.email}, {c.email}) exists."
    if facts.inputs.customer_id is not None:
        return Verdict.BLOCK, f"Portal customer {facts.inputs.customer_id} was not found."
    if facts.inputs.subscription is not None:
        if facts.subscription is None:
            return Verdict.BLOCK, (
                f"Subscription {facts.inputs.subscription} was not found, so its portal "
                "customer is unknown. Check the name with the customer."
            )
        return Verdict.BLOCK, (
            f"The portal customer {facts.subscription.customer_id} of {facts.subscription.name} "
            "was not found."
        )
    return Verdict.SKIPPED, "Skipped: no customer or subscription was given."


@check("customer_has_link")
def customer_has_link(facts: Facts, workflow: str):
    customer = facts.customer
    if customer is None:
        return skipped("customer_exists")
    if customer.gitlab_user_id is None:
        return Verdict.INFO, f"Portal customer {customer.id} has no linked GitLab.com account: nothing to unlink."
    user = facts.linked_user
    who = f"@{user.username}" if user else f"user {customer.gitlab_user_id} (no longer exists)"
    return Verdict.PASS, f"Portal customer {customer.id} is linked to GitLab.com {who}."


@check("requester_is_customer")
def requester_is_customer(facts: Facts, workflow: str):
    customer = facts.customer
    if customer is None:
        return skipped("customer_exists")
    requester = facts.requester
    if facts.inputs.ticket_id is None:
        problem = "no ticket was given"
    elif requester is None:
        problem = f"ticket {facts.inputs.ticket_id} was not found in Zendesk"
    elif not requester.email or not requester.verified:
        problem = f"the requester's email ({requester.email or 'none'}) is not verified"
    else:
        known = {customer.email.lower()}
        if facts.linked_user is not None and facts.linked_user.email:
            known.add(facts.linked_user.email.lower())
        if requester.email.lower() in known:
            return Verdict.PASS, f"The requester {requester.email} is the portal customer."
        problem = f"the requester {requester.email} is neither the portal customer nor the linked account"
    why = REQUESTER_IS_CUSTOMER_WHY.get(workflow, REQUESTER_IS_CUSTOMER_WHY["unlink_account"])
    return Verdict.OVERRIDE, f"{why}, and {problem}. Confirm the customer's identity another way."


REQUESTER_IS_CUSTOMER_WHY = {
    "unlink_account": "Unlinking lets someone else link their own account to this portal account",
    "link_account": ("Linking gives a GitLab.com account control of this portal account's "
                     "subscriptions"),
}


@check("customer_subscriptions_linked")
def customer_subscriptions_linked(facts: Facts, workflow: str):
    if facts.customer is None:
        return skipped("customer_exists")
    linked = [s for s in facts.customer_subscriptions if s.namespace_id is not None]
    if not linked:
        return Verdict.PASS, "None of the customer's subscriptions is linked to a namespace."
    active = [s for s in linked if facts.is_active(s)]
    listed = "; ".join(
        f"{s.name} on {path_of(facts, s.namespace_id)} "
        f"({'active' if s in active else 'lapsed'}, ending {s.end_date or '?'})" for s in linked)
    after = (
        f"Linked subscriptions: {listed}. After the unlink they stop receiving changes, and a "
        "later change may downgrade the namespace to Free, until an Owner is linked again: "
        "right after the unlink, link the customer to the right Owner's GitLab.com account "
        f"with “{workflow_name('link_account')}”."
    )
    if active:
        return Verdict.OVERRIDE, f"{after} Confirm that the customer expects this."
    return Verdict.WARN, after


# --- link_account -----------------------------------------------------------------------
def _user_label(facts: Facts) -> str:
    user = facts.gitlab_user
    return f"@{user.username} (id {user.id})" if user else "the GitLab.com user"


@check("customer_link_free")
def customer_link_free(facts: Facts, workflow: str):
    customer = facts.customer
    if customer is None:
        return skipped("customer_exists")
    if customer.gitlab_user_id is None:
        return Verdict.PASS, f"Portal customer {customer.id} has no linked GitLab.com account."
    user = facts.gitlab_user
    if user is not None and customer.gitlab_user_id == user.id:
        return Verdict.INFO, (
            f"Portal customer {customer.id} is already linked to {_user_label(facts)}: nothing to do."
        )
    linked = facts.linked_user
    who = f"@{linked.username} (id {linked.id})" if linked else f"GitLab.com user {customer.gitlab_user_id}"
    return Verdict.BLOCK, (
        f"Portal customer {customer.id} is already linked to {who}. Confirm with the customer, "
        f"unlink that account first with “{workflow_name('unlink_account')}”, then plan again."
    )


@check("gitlab_user_exists")
def gitlab_user_exists(facts: Facts, workflow: str):
    ref, user = facts.inputs.gitlab_user, facts.gitlab_user
    if user is not None:
        found_by = "" if ref is not None else f" (found by the ticket requester's email {user.email})"
        return Verdict.PASS, f"GitLab.com user @{user.username} (id {user.id}) exists{found_by}."
    if ref is not None:
        what = f"user id {ref}" if isinstance(ref, int) else f"username {ref}"
        return Verdict.BLOCK, (
            f"No GitLab.com user has the {what}. Ask the customer for the username of the "
            "account that owns their group, then plan again with it."
        )
    problem = facts.requester_email_problem()
    if problem is None:
        count = len(facts.requester_users)
        email = facts.requester.email
        problem = (f"no GitLab.com user has the requester's email {email}" if count == 0
                   else f"{count} GitLab.com users have the requester's email {email}")
    return Verdict.BLOCK, (
        f"No GitLab.com user was named, and {problem}. Name the user: ask the customer for the "
        "username of the GitLab.com account that owns their group."
    )


@check("gitlab_user_not_admin")
def gitlab_user_not_admin(facts: Facts, workflow: str):
    user = facts.gitlab_user
    if user is None:
        return skipped("gitlab_user_exists")
    if user.is_admin is None:
        return Verdict.OVERRIDE, (
            f"Whether @{user.username} is a GitLab admin is unknown: the service's GitLab token "
            "lacks admin rights. Confirm with a GitLab admin that it is not an admin account "
            "(an admin account linked to a customer makes the portal fail with 502)."
        )
    if user.is_admin:
        return Verdict.BLOCK, (
            f"@{user.username} is a GitLab admin account: never link it to a customer (the "
            "portal would fetch every group an admin can see and fail with 502). Ask the "
            "customer for their own GitLab.com account."
        )
    return Verdict.PASS, f"@{user.username} is not a GitLab admin."


@check("gitlab_user_owns_namespace")
def gitlab_user_owns_namespace(facts: Facts, workflow: str):
    ref = facts.inputs.namespace
    if ref is None:
        return Verdict.SKIPPED, "Skipped: no namespace was given."
    user = facts.gitlab_user
    if user is None:
        return skipped("gitlab_user_exists")
    ns = facts.namespace
    if ns is None:
        return Verdict.BLOCK, (
            f"Namespace {ref} was not found on GitLab.com, so @{user.username}'s ownership "
            "cannot be checked. Ask the customer for the group's full path."
        )
    if not facts.is_owner(ns, user):
        return Verdict.BLOCK, (
            f"@{user.username} is not an Owner of {ns.full_path}. The customer must get "
            "themselves added to the group as an Owner first, then plan again."
        )
    return Verdict.PASS, f"@{user.username} is an Owner of {ns.full_path}."


@check("requester_is_gitlab_user")
def requester_is_gitlab_user(facts: Facts, workflow: str):
    user = facts.gitlab_user
    if user is None:
        return skipped("gitlab_user_exists")
    problem = facts.requester_email_problem()
    if problem is None:
        email = facts.requester.email
        if user.email and user.email.casefold() == email.casefold():
            return Verdict.PASS, f"The requester {email} is @{user.username}."
        problem = f"the requester {email} is not the email of @{user.username}"
    return Verdict.OVERRIDE, (
        f"Linking gives @{user.username} control of the customer's subscriptions, and "
        f"{problem}. Confirm another way that the customer owns this GitLab.com account."
    )
