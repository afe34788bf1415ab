"""The categories triage chooses from, in the order it decides (triage.md), and the workflow
each usually leads to."""
from __future__ import annotations

CATEGORIES = ("portal_502", "namespace_taken", "account_link", "compute_minutes",
              "associate_subscription", "other")  # the decision order (triage.md)

# The workflow a category usually leads to; `diagnose`'s own recommendation wins when there
# is one (workflows.notes.triage_note).
RECOMMENDED: dict[str, str | None] = {
    # Seed 001: support links the subscription for a customer who cannot (provisioning email).
    "associate_subscription": "associate",
    # Seed 003: a grayed-out namespace already has a subscription; after checking the seats,
    # force associate. Its plan shows the guards (seats, other subscriptions) for review,
    # and keeps compute-minute subscriptions linked, where clear_subscription would drop the
    # group to Free at once (provisioning-rules.md, namespace_not_taken).
    "namespace_taken": "force_associate",
    # Seed 000/003: the service never links accounts; unlinking the wrong, former or admin
    # account lets the right Owner link theirs ("Change the linked account").
    "account_link": "unlink_account",
    # Seed 003: "If it is for compute minutes, STOP" - an L&R expert reviews the purchases
    # so existing minutes are not overwritten. That is a person, not a workflow: `escalate`
    # is the console-engineers' queue, for failed runs.
    "compute_minutes": None,
    # The customer cannot list groups, so the agent links it for them (seed 001). The
    # associate plan's linked_user_not_admin check catches the usual cause (an admin account
    # linked, seed 001/003), and diagnose then recommends unlink_account instead.
    "portal_502": "associate",
    # Not a provisioning request: nothing to run.
    "other": None,
}

MIN_CONFIDENCE = 0.5  # triage.md: below this setting the category is "uncertain"
