"""Escalations: the GitLab issue and its comments (Markdown, with ticket and upstream text
fenced), and the Zendesk notes that link them or report them closed or reopened."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from ..labels import CODE, decision_label, event_label, verdict_label, workflow_name
from ..model import Outcome, Plan
from .words import _compose, check_words, fenced

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
    attempts: int | None = None  # the run's attempts, when the outcome is a run's
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
    return ESCALATION_TITLE.format(title=workflow_name(ctx.workflow), ticket_id=int(ctx.ticket_id),
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
    rows = "\n".join(f"| {c.label} (`{c.id}`) | {verdict_label(str(c.verdict))} |" for c in plan.checks)
    messages = "\n".join(f"{check_words(c.id)}: {c.message}" for c in plan.checks)
    return (f"### Checks (decision: {decision_label(str(plan.decision))})\n\n| check | verdict |"
            f"\n|---|---|\n{rows}\n\n{fenced(messages)}")


def _error_block(outcome: Outcome) -> str:
    error = outcome.error or {}
    lines = [f"outcome: {outcome.status}: {outcome.message}"]
    lines += [f"{name.replace('_', ' ')}: {error[name]}" for name in
              ("upstream", "status", "code", "request_id", "message", "transient") if name in error]
    if outcome.request_ids:
        lines.append("upstream request ids: " + ", ".join(outcome.request_ids))
    return "### What went wrong\n\n" + fenced("\n".join(lines))


def _event_words(kind: str) -> str:
    return f"{event_label(kind)} ({kind})" if CODE.match(kind.replace(".", "_")) else event_label(kind)


def _timeline_block(timeline: tuple[TimelineEntry, ...]) -> str:
    if not timeline:
        return ""
    lines = [f"{e.at}  {_event_words(e.kind)}  {json.dumps(dict(e.detail), sort_keys=True, default=str)}"
             if e.detail else f"{e.at}  {_event_words(e.kind)}" for e in timeline]
    return "### Timeline\n\n" + fenced("\n".join(lines))


def _summary_block(summary: str) -> str:
    return "### The agent's summary\n\n" + fenced(summary) if summary.strip() else ""


def _facts_lines(ctx: EscalationContext) -> str:
    run = f"\n- Run: {ctx.run_id}" if ctx.run_id is not None else ""
    name = f"{workflow_name(ctx.workflow)} (`{ctx.workflow}`)" if CODE.match(ctx.workflow) else "(not a workflow name)"
    return f"- Zendesk ticket: {ctx.ticket_link}\n- Workflow: {name}{run}"


def escalation_description(ctx: EscalationContext, *, mode: str, marker: str) -> str:
    """The issue: ticket link, workflow, request, checks, upstream error, timeline."""
    outcome = ctx.outcome
    intro = (f"A run of {workflow_name(ctx.workflow)} failed and needs an engineer with console access."
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
        f"Again on this ticket: {what} ({workflow_name(ctx.workflow)}).",
        _facts_lines(ctx),
        _summary_block(ctx.summary),
        _request_block(ctx),
        _error_block(ctx.outcome) if ctx.outcome else "",
        _timeline_block(ctx.timeline),
    ], marker)




def escalation_ticket_note(*, url: str, iid: int, workflow: str, repeated: bool,
                           manual: bool, failure: str = "", mode: str, marker: str) -> str:
    """The ticket's note linking the issue it was escalated to (or added to)."""
    if repeated:
        headline = ESCALATION_REPEATED_NOTE.format(title=workflow_name(workflow), url=url, iid=iid)
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
