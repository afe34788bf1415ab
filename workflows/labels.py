"""The words agents read for the domain's codes: one place, so every surface (sidebar, notes,
CLI, README) names a workflow, a check, a verdict and a decision the same way.

Ids stay the stable keys (provisioning-rules.md: "Tests, the sidebar and the audit trail
refer to checks by these ids"); a label is what is shown, with the id as secondary text.
A check's label says what holds when it passes, so "✓ label" and "✗ label" both read.
"""
from __future__ import annotations

import re

# One name per workflow, used everywhere an agent reads one.
WORKFLOW_NAMES = {
    "associate": "Associate subscription",
    "force_associate": "Force associate subscription",
    "clear_subscription": "Clear subscription",
    "unlink_account": "Unlink GitLab.com account",
    "link_account": "Link GitLab.com account",
    "diagnose": "Diagnose",
    "escalate": "Escalate to engineers",
}

CHECK_LABELS = {
    # the subscription
    "subscription_exists": "Subscription found in the portal",
    "subscription_active": "Subscription is active",
    "subscription_saas": "Subscription is for GitLab.com (SaaS)",
    "subscription_has_seats": "Subscription is a seats plan (not compute minutes or storage)",
    "subscription_linked": "Subscription is linked to a group",
    "subscription_lapsed": "Subscription has ended, so clearing takes nothing away",
    "subscription_not_linked_elsewhere": "Subscription is not linked to another group",
    "already_linked_here": "Subscription is not already on this group",
    "program_allows_self_serve": "Not an EDU, OSS or Startups subscription",
    "channel_read_only": "Customer manages it in the portal (not a reseller or marketplace)",
    # the group
    "namespace_exists": "Group found on GitLab.com",
    "namespace_top_level": "Group is a top-level group or a personal namespace",
    "namespace_not_taken": "No other subscription is on the group",
    "seats_cover_usage": "Seats bought cover the seats in use",
    # the customer and their linked account
    "customer_exists": "Customer found in the portal",
    "customer_linked": "Customer's portal account is linked to GitLab.com",
    "customer_has_link": "Customer's portal account has a link to remove",
    "customer_link_free": "Customer's portal account is not linked to another account",
    "customer_subscriptions_linked": "No active subscription relies on the link",
    "linked_user_not_admin": "Linked account is not a GitLab admin",
    "linked_user_is_owner": "Linked account is an Owner of the group",
    # the GitLab.com account to link
    "gitlab_user_exists": "GitLab.com account found",
    "gitlab_user_not_admin": "Account to link is not a GitLab admin",
    "gitlab_user_owns_namespace": "Account to link is an Owner of the group",
    # who is asking
    "requester_owns_namespace": "Requester is an Owner of the group",
    "requester_is_customer": "Requester is the portal customer",
    "requester_is_gitlab_user": "Requester's email is the account's email",
}

# Triage's categories (triage.md), as the note's headline names them.
CATEGORY_LABELS = {
    "portal_502": "the portal fails (502) listing the customer's groups",
    "namespace_taken": "the group is greyed out: it has a subscription already",
    "account_link": "the wrong GitLab.com account is linked",
    "compute_minutes": "compute minutes or storage",
    "associate_subscription": "a subscription to associate with a group",
    "other": "not a provisioning request",
}

VERDICT_LABELS = {
    "pass": "Passed",
    "info": "Note",
    "warn": "Warning",
    "override": "Needs override",
    "block": "Blocked",
    "skipped": "Not checked",
}

DECISION_LABELS = {
    "ready": "Ready to run",
    "needs_override": "Needs an override",
    "blocked": "Blocked",
    "noop": "Nothing to change",
}

CODE = re.compile(r"^[a-z][a-z_]{0,63}$")  # what a code may look like to be echoed


def _named(table: dict[str, str], code: str, unknown: str) -> str:
    """The label for `code`; an unknown odd value is never echoed (it may reach Markdown)."""
    if code in table:
        return table[code]
    return code.replace("_", " ") if CODE.match(code) else unknown


def workflow_name(workflow: str) -> str:
    return _named(WORKFLOW_NAMES, workflow, "unnamed workflow")


def check_label(check_id: str) -> str:
    return _named(CHECK_LABELS, check_id, "unnamed check")


def verdict_label(verdict: str) -> str:
    return _named(VERDICT_LABELS, verdict, "unknown verdict")


def decision_label(decision: str) -> str:
    return _named(DECISION_LABELS, decision, "unknown decision")


def category_label(category: str) -> str:
    return _named(CATEGORY_LABELS, category, "unknown category")
