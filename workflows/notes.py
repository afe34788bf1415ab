"""Every text the service writes: ticket notes, escalation issues and their comments.

One place for the bot's words (style.md, "Bot text in one place, with a marker"). Each
text ends with its visible marker, `[lnr:<kind>:<key>]` (architecture.md, "Notes and
markers"): HTML comments may not survive Zendesk's sanitising, and the marker is how a
later attempt recognises a note or issue that is already there.

Zendesk notes are plain text. GitLab issues and comments are Markdown, so whatever came
from a ticket or an upstream (summaries, error messages, check messages, names, timeline
details) goes inside a fenced code block (`fenced`): GitLab looks for quick actions such
as `/close` and for @mentions only outside code blocks
(https://docs.gitlab.com/user/project/quick_actions/).

Pure: the renderers take the domain's values and plain data, never a request, a row or a
client.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from .associate import ASSOCIATE, FORCE_ASSOCIATE
from .clear_subscription import CLEAR_SUBSCRIPTION
from .model import Check, Outcome, OutcomeStatus, Plan, Verdict
from .triage import RECOMMENDED, Findings
from .unlink_account import UNLINK_ACCOUNT

# -- markers -----------------------------------------------------------------------------

MARKER_PREFIX = "lnr"
_MARKER_KIND = re.compile(r"^[a-z][a-z_-]*$")
# A marker must stay one visible token: no whitespace, and no `]` that would end it early.
_MARKER_KEY = re.compile(r"^[^\s\[\]]+$")
DIGEST_HEX = 12


def marker(kind: str, key: object) -> str:
    """`[lnr:<kind>:<key>]`, the token at the end of every note and issue."""
    text = str(key)
    if not _MARKER_KIND.match(kind) or not _MARKER_KEY.match(text):
        raise ValueError(f"not a marker kind/key: {kind!r}, {text!r}")
    return f"[{MARKER_PREFIX}:{kind}:{text}]"


def marker_stamp(value: str | None) -> str:
    """A timestamp as a marker key part: GitLab writes both `2024-05-01T10:00:00Z` and
    `2024-05-01 10:00:00 UTC`; only letters and digits are kept."""
    return re.sub(r"[^0-9A-Za-z]", "", value or "") or "none"


def inputs_digest(inputs: Mapping[str, Any]) -> str:
    """12 hex of SHA-256 over the canonical JSON of a plan's inputs (the noop marker's key)."""
    canonical = json.dumps(inputs, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                           default=str)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()[:DIGEST_HEX]


# -- fixed words -------------------------------------------------------------------------

SANDBOX_LINE = ("SANDBOX MODE: this ran against the local sandbox; no real customer, "
                "portal, GitLab or Zendesk data was changed.")
TICKET_URL = "https://{subdomain}.zendesk.com/agent/tickets/{ticket_id}"
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
WORKFLOW_TITLES = {
    "associate": "Associate namespace",
    "force_associate": "Force associate namespace",
    "clear_subscription": "Clear subscription",
    "unlink_account": "Unlink GitLab.com account",
    "diagnose": "Diagnose",
    "escalate": "Manual escalation",
}
# The check whose `info` verdict made a plan `noop`, per workflow.
NOOP_CHECKS = {w.name: w.noop_check for w in
               (ASSOCIATE, FORCE_ASSOCIATE, CLEAR_SUBSCRIPTION, UNLINK_ACCOUNT)}
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
BACK_TO_FREE = "{namespace} is back on the Free plan."
NOT_FREE = ("{namespace} is on the {plan} plan: another seats subscription is still "
            "linked to it.")
LINK_REMOVED = ("The customer's GitLab.com link is removed: portal customer {customer} is no "
                "longer linked to {user}.")

ESCALATION_TITLE = "Console escalation: {title}, Zendesk ticket {ticket_id}{subject}"
ESCALATION_OPENED_NOTE = (
    "Escalated to the engineers with console access: {url} (GitLab issue #{iid}, "
    "confidential). This ticket gets a note when the issue is closed.")
ESCALATION_REPEATED_NOTE = (
    "The {title} run failed again; the failure was added to the open escalation {url} "
    "(GitLab issue #{iid}).")
ESCALATION_MANUAL_NOTE = ("Escalated by hand to the engineers with console access: {url} "
                          "(GitLab issue #{iid}).")
ESCALATION_CLOSED_NOTE = (
    "The console escalation {url} (GitLab issue #{iid}) was closed{by}. The ticket is open "
    "again: read the issue's last comments, check the result and answer the customer.")
ESCALATION_REOPENED_NOTE = (
    "The console escalation {url} (GitLab issue #{iid}) was reopened{by}: the engineers "
    "are working on it again.")
ESCALATION_REOPEN_REFUSED_NOTE = (
    "The console escalation {url} (GitLab issue #{iid}) was reopened{by}, but another "
    "escalation for this ticket and workflow is open meanwhile ({other}); the service keeps "
    "following that one, and this one stays closed here.")


_WORKFLOW_NAME = re.compile(r"^[a-z][a-z_]{0,63}$")


def title(workflow: str) -> str:
    """The workflow's name for people; an unknown odd value is never echoed into Markdown."""
    if workflow in WORKFLOW_TITLES:
        return WORKFLOW_TITLES[workflow]
    return workflow if _WORKFLOW_NAME.match(workflow) else "unnamed workflow"


def ticket_url(subdomain: str | None, ticket_id: int, *, agent_page: str | None = None) -> str:
    """The ticket in Zendesk's agent interface; in sandbox mode `agent_page` is the local
    agent page's address, since the sandbox's Zendesk has no interface of its own."""
    if agent_page:
        return f"{agent_page.rstrip('/')}/tickets/{int(ticket_id)}"
    if not subdomain:
        return f"Zendesk ticket {ticket_id}"
    return TICKET_URL.format(subdomain=subdomain, ticket_id=int(ticket_id))


def billing_url(namespace: Mapping[str, Any]) -> str:
    if namespace.get("kind") == "user":
        return PERSONAL_BILLING_URL
    return BILLING_URL.format(full_path=namespace["full_path"])


# -- Markdown safety ---------------------------------------------------------------------


def fenced(text: str, info: str = "text") -> str:
    """`text` in a fenced code block that nothing inside it can close.

    CommonMark closes a backtick fence only with a fence at least as long
    (https://spec.commonmark.org/0.31.2/#fenced-code-blocks), so the fence is one
    backtick longer than the longest run of backticks in the text.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{text}\n{fence}"


def _compose(mode: str, parts: Iterable[str], marker_token: str) -> str:
    """Sandbox line first when in sandbox mode, blank lines between parts, marker last."""
    head = [SANDBOX_LINE] if mode == "sandbox" else []
    body = [p for p in (*head, *parts) if p]
    return "\n\n".join([*body, marker_token])


def _check_line(check: Check) -> str:
    return f"- [{check.verdict}] {check.id}: {check.message}"


def _check_lines(checks: Iterable[Check]) -> str:
    return "\n".join(_check_line(c) for c in checks)


# -- after a run: success, noop, superseded ---------------------------------------------


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
    user = facts.get("linked_user")
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
        change = outcome.plan.change
        label = _namespace_label(change.namespace_id if change else None, facts)
        plan = after.get("namespace_plan")
        return [BACK_TO_FREE.format(namespace=label) if plan == "free"
                else NOT_FREE.format(namespace=label, plan=plan)]
    if outcome.workflow == "unlink_account":
        customer = facts.get("customer") or {}
        label = f"{customer.get('id')} ({customer.get('email')})" if customer else "?"
        return [LINK_REMOVED.format(customer=label, user=_user_label(
            outcome.before.get("gitlab_user_id"), facts))]
    return []


def _warnings(plan: Plan) -> str:
    if not plan.warnings:
        return ""
    return "Warnings:\n" + _check_lines(plan.warnings)


def draft_reply(outcome: Outcome) -> str:
    namespace = outcome.plan.facts.get("namespace")
    if outcome.workflow not in REPLY_WORKFLOWS or not isinstance(namespace, dict):
        return ""
    reply = CUSTOMER_REPLY.format(billing_url=billing_url(namespace))
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


# -- escalations (GitLab Markdown) -------------------------------------------------------

# Inputs shown outside a code block (the title) only when they are plain identifiers.
_PLAIN = re.compile(r"^[A-Za-z0-9_.\-/]{1,100}$")


@dataclass(frozen=True)
class TimelineEntry:
    at: str
    kind: str
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EscalationContext:
    """What an engineer needs to act: where, what was asked, by whom, and what went wrong."""

    ticket_id: int
    workflow: str
    ticket_link: str
    agent: Mapping[str, Any] = field(default_factory=dict)
    inputs: Mapping[str, Any] = field(default_factory=dict)
    summary: str = ""
    override_reason: str | None = None
    run_id: int | None = None
    outcome: Outcome | None = None
    timeline: tuple[TimelineEntry, ...] = ()


def _first(inputs: Mapping[str, Any], plural: str, single: str) -> Any:
    many = inputs.get(plural)
    return many[0] if isinstance(many, list) and many else inputs.get(single)


def _subject(inputs: Mapping[str, Any]) -> str:
    sub = _first(inputs, "subscriptions", "subscription")
    ns = _first(inputs, "namespaces", "namespace")
    customer = inputs.get("customer_id", inputs.get("customer"))
    parts = [str(v) for v in (sub, ns) if v is not None and _PLAIN.match(str(v))]
    if not parts and customer is not None and _PLAIN.match(str(customer)):
        parts = [f"customer {customer}"]
    return f" ({' -> '.join(parts)})" if parts else ""


def escalation_title(ctx: EscalationContext) -> str:
    return ESCALATION_TITLE.format(title=title(ctx.workflow), ticket_id=int(ctx.ticket_id),
                                   subject=_subject(ctx.inputs))


def _agent_line(agent: Mapping[str, Any]) -> str:
    name, email, agent_id = agent.get("name"), agent.get("email"), agent.get("id")
    parts = [str(p) for p in (name, f"<{email}>" if email else None) if p]
    if agent_id is not None:
        parts.append(f"(Zendesk user {agent_id})")
    return " ".join(parts) or "unknown"


def _request_block(ctx: EscalationContext) -> str:
    lines = [f"agent: {_agent_line(ctx.agent)}",
             "inputs: " + json.dumps(dict(ctx.inputs), sort_keys=True, default=str)]
    if ctx.override_reason:
        lines.append(f"override reason: {ctx.override_reason}")
    return "### Request\n\n" + fenced("\n".join(lines))


def _checks_block(plan: Plan) -> str:
    rows = "\n".join(f"| `{c.id}` | {c.verdict} |" for c in plan.checks)
    messages = "\n".join(f"{c.id}: {c.message}" for c in plan.checks)
    return (f"### Checks (decision: {plan.decision})\n\n| check | verdict |\n|---|---|\n{rows}"
            f"\n\n{fenced(messages)}")


def _error_block(outcome: Outcome) -> str:
    error = outcome.error or {}
    lines = [f"outcome: {outcome.status}: {outcome.message}"]
    lines += [f"{name.replace('_', ' ')}: {error[name]}" for name in
              ("upstream", "status", "code", "request_id", "message", "transient") if name in error]
    if outcome.request_ids:
        lines.append("upstream request ids: " + ", ".join(outcome.request_ids))
    return "### What went wrong\n\n" + fenced("\n".join(lines))


def _timeline_block(timeline: tuple[TimelineEntry, ...]) -> str:
    if not timeline:
        return ""
    lines = [f"{e.at}  {e.kind}  {json.dumps(dict(e.detail), sort_keys=True, default=str)}"
             if e.detail else f"{e.at}  {e.kind}" for e in timeline]
    return "### Timeline\n\n" + fenced("\n".join(lines))


def _summary_block(summary: str) -> str:
    return "### The agent's summary\n\n" + fenced(summary) if summary.strip() else ""


def _facts_lines(ctx: EscalationContext) -> str:
    run = f"\n- Run: {ctx.run_id}" if ctx.run_id is not None else ""
    name = ctx.workflow if _WORKFLOW_NAME.match(ctx.workflow) else "(not a workflow name)"
    return f"- Zendesk ticket: {ctx.ticket_link}\n- Workflow: `{name}`{run}"


def escalation_description(ctx: EscalationContext, *, mode: str, marker: str) -> str:
    """The issue: ticket link, workflow, request, checks, upstream error, timeline."""
    outcome = ctx.outcome
    intro = (f"A run of {title(ctx.workflow)} failed and needs an engineer with console access."
             if outcome else "An agent escalated this ticket to the engineers with console access.")
    return _compose(mode, [
        intro,
        _facts_lines(ctx),
        _summary_block(ctx.summary),
        _request_block(ctx),
        _checks_block(outcome.plan) if outcome else "",
        _error_block(outcome) if outcome else "",
        _timeline_block(ctx.timeline),
    ], marker)


def escalation_comment(ctx: EscalationContext, *, mode: str, marker: str) -> str:
    """A further failure (or manual escalation) for a ticket whose escalation is open."""
    what = f"run {ctx.run_id} failed" if ctx.run_id is not None else "an agent escalated again"
    return _compose(mode, [
        f"Again on this ticket: {what} ({title(ctx.workflow)}).",
        _facts_lines(ctx),
        _summary_block(ctx.summary),
        _request_block(ctx),
        _error_block(ctx.outcome) if ctx.outcome else "",
        _timeline_block(ctx.timeline),
    ], marker)


# -- escalations (Zendesk notes) ---------------------------------------------------------


def escalation_ticket_note(*, url: str, iid: int, workflow: str, repeated: bool,
                           manual: bool, failure: str = "", mode: str, marker: str) -> str:
    """The ticket's note linking the issue it was escalated to (or added to)."""
    if repeated:
        headline = ESCALATION_REPEATED_NOTE.format(title=title(workflow), url=url, iid=iid)
    elif manual:
        headline = ESCALATION_MANUAL_NOTE.format(url=url, iid=iid)
    else:
        headline = ESCALATION_OPENED_NOTE.format(url=url, iid=iid)
    return _compose(mode, [headline, f"What failed: {failure}" if failure else ""], marker)


def _by(username: str | None) -> str:
    return f" by @{username}" if username else ""


def escalation_closed_note(*, url: str, iid: int, by: str | None, mode: str, marker: str) -> str:
    return _compose(mode, [ESCALATION_CLOSED_NOTE.format(url=url, iid=iid, by=_by(by))], marker)


def escalation_reopened_note(*, url: str, iid: int, by: str | None, other_url: str | None,
                             mode: str, marker: str) -> str:
    """Reopened; or reopened in GitLab while another escalation is open here (`other_url`)."""
    if other_url:
        text = ESCALATION_REOPEN_REFUSED_NOTE.format(url=url, iid=iid, by=_by(by), other=other_url)
    else:
        text = ESCALATION_REOPENED_NOTE.format(url=url, iid=iid, by=_by(by))
    return _compose(mode, [text], marker)


# -- triage (Zendesk note) ---------------------------------------------------------------

TRIAGE_HEADLINE = "Triage: {category} (confidence {confidence:.2f})."
TRIAGE_UNCERTAIN = ("The category is uncertain: confidence {confidence:.2f} is below "
                    "{threshold:.2f}, so nothing is recommended. Read the ticket and pick a "
                    "workflow in the sidebar.")
TRIAGE_NO_WORKFLOW = {
    # Seed 003: compute minutes and storage are never linked like a plan with seats.
    "compute_minutes": ("nothing to run: an L&R expert reviews the purchases first, so that "
                        "existing compute minutes are not overwritten."),
    "other": "nothing to run: this is not a provisioning request.",
}
TRIAGE_FOUND = (("Subscriptions", "subscriptions"), ("Namespaces", "namespaces"),
                ("Emails", "emails"), ("Portal customer ids", "customer_ids"))


def _triage_found(findings: Findings) -> str:
    lines = [f"- {label}: {', '.join(str(v) for v in getattr(findings, name)) or 'none'}"
             for label, name in TRIAGE_FOUND]
    return "Found in the ticket:\n" + "\n".join(lines)


def _triage_why(findings: Findings) -> str:
    return "Why:\n" + "\n".join(f"- {cue}" for cue in findings.cues) if findings.cues else ""


def _pair_label(entry: Mapping[str, Any]) -> str:
    """`A-S00000001 -> acme`, or whichever side the diagnosis had."""
    parts = [str(entry[k]) for k in ("subscription", "namespace") if entry.get(k) is not None]
    return " -> ".join(parts) or "the ticket"


def _workflow_label(workflow: str) -> str:
    return f"{title(workflow)} ({workflow})"


def _diagnosis_steps(diagnosis: Plan) -> list[str]:
    """One line per recommendation of `diagnose`: the pair, the next step, and why."""
    lines = []
    for entry in diagnosis.recommendations:
        workflow = entry.get("recommended")
        step = _workflow_label(workflow) if workflow else "no workflow"
        lines.append(f"- {_pair_label(entry)}: {step}. {entry.get('reason', '')}".rstrip())
    return lines


def _triage_recommendation(findings: Findings, diagnosis: Plan | None) -> str:
    """The diagnosis's next steps when it names a workflow; else the category's usual one,
    with the diagnosis's reasons (e.g. what to ask the customer for) below it."""
    steps = _diagnosis_steps(diagnosis) if diagnosis else []
    if diagnosis and any(e.get("recommended") for e in diagnosis.recommendations):
        return "Recommended (from the diagnosis):\n" + "\n".join(steps)
    workflow = RECOMMENDED.get(findings.category)
    if workflow:
        usual = _workflow_label(workflow) + ", after reviewing its plan in the sidebar."
    else:
        usual = TRIAGE_NO_WORKFLOW.get(findings.category, "nothing to run.")
    head = f"Recommended for {findings.category}: {usual}"
    return head + ("\nThe diagnosis says:\n" + "\n".join(steps) if steps else "")


def _diagnosis_checks(diagnosis: Plan) -> str:
    """Every check `diagnose` ran: the portal side's own, or each pair's associate plan
    (and, where it recommends force_associate, what the forced plan would still flag)."""
    blocks = [f"Diagnosis (read only, nothing was changed), decision: {diagnosis.decision}."]
    if diagnosis.checks:
        blocks.append(_check_lines(diagnosis.checks))
    elif not any(isinstance(e.get("plan"), dict) for e in diagnosis.recommendations):
        blocks[0] += " No check ran."
    for entry in diagnosis.recommendations:
        if isinstance(entry.get("plan"), dict):
            pair = Plan.from_dict(entry["plan"])
            blocks.append(f"{_pair_label(entry)} (associate: {pair.decision}):\n"
                          + _check_lines(pair.checks))
        if isinstance(entry.get("force_plan"), dict):
            forced = Plan.from_dict(entry["force_plan"])
            flagged = [c for c in forced.checks if c.verdict not in (Verdict.PASS, Verdict.SKIPPED)]
            blocks.append(f"{_pair_label(entry)} (force associate: {forced.decision})"
                          + (":\n" + _check_lines(flagged) if flagged else "."))
    return "\n\n".join(blocks)


def triage_note(findings: Findings, diagnosis: Plan | None, *, min_confidence: float,
                mode: str, marker: str) -> str:
    """What triage found on a new ticket, and what to do next (triage.md, "The note").
    Below `min_confidence` the note recommends nothing; the diagnosis's checks are facts
    and are shown either way."""
    certain = round(findings.confidence, 2) >= min_confidence
    recommendation = (_triage_recommendation(findings, diagnosis) if certain else
                      TRIAGE_UNCERTAIN.format(confidence=findings.confidence,
                                              threshold=min_confidence))
    return _compose(mode, [
        TRIAGE_HEADLINE.format(category=findings.category, confidence=findings.confidence),
        _triage_why(findings),
        _triage_found(findings),
        recommendation,
        _diagnosis_checks(diagnosis) if diagnosis else "",
    ], marker)
