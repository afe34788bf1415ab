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

from .escalations import (
                          EscalationContext,
                          TimelineEntry,
                          escalation_closed_note,
                          escalation_comment,
                          escalation_description,
                          escalation_reopened_note,
                          escalation_ticket_note,
                          escalation_title,
)
from .markers import DIGEST_HEX, MARKER_PREFIX, inputs_digest, marker, marker_stamp, signed_marker
from .runs import billing_url, changes, draft_reply, noop_note, success_note, superseded_note, true_ups_line
from .summary import failure, outcome_changes, plan_changes, plan_summary, plan_title, run_result
from .triage_note import triage_note
from .words import SANDBOX_LINE, escalation_url, fenced, neutralised, ticket_url

__all__ = [
    "DIGEST_HEX", "MARKER_PREFIX", "SANDBOX_LINE", "EscalationContext",
    "TimelineEntry", "billing_url", "changes", "draft_reply", "escalation_closed_note",
    "escalation_comment", "escalation_description", "escalation_url", "failure", "escalation_reopened_note",
    "escalation_ticket_note", "escalation_title", "fenced", "inputs_digest", "marker",
    "neutralised", "signed_marker",
    "marker_stamp", "noop_note", "outcome_changes", "plan_changes", "plan_summary",
    "plan_title", "run_result", "success_note", "superseded_note", "ticket_url",
    "triage_note", "true_ups_line",
]
