"""The triage note: what triage found on a new ticket, the decision and the next step, in a
few lines (triage.md, "The note"; issue 20, item 9). Every check of the diagnosis, with its
message, is in the sidebar; the note names only those that did not pass. The customer's
text it shows is each cue's own words (`workflows.triage.classify._snippet`).
"""
from __future__ import annotations

from typing import Any, Mapping

from ..labels import category_label, check_label, decision_label, workflow_name
from ..model import Plan, Verdict
from ..triage import RECOMMENDED, Findings
from .words import _compose

TRIAGE_HEADLINE = "Triage: {label} ({category}, confidence {confidence:.2f})."
TRIAGE_UNCERTAIN = ("Next step: none recommended - the category is uncertain (confidence "
                    "{confidence:.2f} is below {threshold:.2f}). Read the ticket and pick a workflow "
                    "in the sidebar.")
TRIAGE_NO_WORKFLOW = {
    # Seed 003: compute minutes and storage are never linked like a plan with seats.
    "compute_minutes": ("nothing to run: an L&R expert reviews the purchases first, so that "
                        "existing compute minutes are not overwritten."),
    "other": "nothing to run: this is not a provisioning request.",
}
TRIAGE_FOUND = (("subscriptions", "subscriptions"), ("namespaces", "namespaces"),
                ("emails", "emails"), ("portal customer ids", "customer_ids"))


# -- words for people, in one place ---------------------------------------------------------
# workflows/labels.py (another change) gives checks and workflows their agent-facing names;
# at merge these two functions read it instead.


def check_name(check_id: str) -> str:
    """The check's label, its id after it as secondary text."""
    return f"{check_label(check_id)} ({check_id})"


# -- the note ---------------------------------------------------------------------------------


def _why(findings: Findings) -> str:
    return "Why: " + "; ".join(findings.cues) + "." if findings.cues else ""


def _found(findings: Findings) -> str:
    named = [f"{label} {', '.join(str(v) for v in getattr(findings, name))}"
             for label, name in TRIAGE_FOUND if getattr(findings, name)]
    return "Found: " + ("; ".join(named) if named else "no subscription, namespace, email or customer id") + "."


def _pair_label(entry: Mapping[str, Any]) -> str:
    """`A-S00000001 -> acme`, or whichever side the diagnosis had."""
    parts = [str(entry[k]) for k in ("subscription", "namespace") if entry.get(k) is not None]
    return " -> ".join(parts) or "the ticket"


def _flagged(plan: Plan) -> str:
    """`decision` and the checks that did not pass (a skipped check is no finding)."""
    ids = [check_name(c.id) for c in plan.checks if c.verdict not in (Verdict.PASS, Verdict.SKIPPED)]
    return decision_label(plan.decision).lower() + (f": {'; '.join(ids)}" if ids else "")


def _decision(diagnosis: Plan) -> str:
    """The diagnosis's decision and, per pair, the checks that stopped or flagged it (and
    what a forced association would still flag)."""
    lines = [f"Diagnosis (read only, nothing was changed; every check is in the sidebar): "
             f"{_flagged(diagnosis)}."]
    for entry in diagnosis.recommendations:
        if isinstance(entry.get("plan"), dict):
            line = (f"- {_pair_label(entry)}: {workflow_name('associate')}: "
                    f"{_flagged(Plan.from_dict(entry['plan']))}")
            if isinstance(entry.get("force_plan"), dict):
                force = Plan.from_dict(entry["force_plan"])
                line += f"; {workflow_name('force_associate')}: {_flagged(force)}"
            lines.append(line + ".")
    return "\n".join(lines)


def _steps(diagnosis: Plan) -> list[str]:
    """One line per recommendation of `diagnose`: the pair, the next step, and why."""
    lines = []
    for entry in diagnosis.recommendations:
        workflow = entry.get("recommended")
        step = workflow_name(workflow) if workflow else "no workflow"
        lines.append(f"- {_pair_label(entry)}: {step}. {entry.get('reason', '')}".rstrip())
    return lines


def _next_step(findings: Findings, diagnosis: Plan | None) -> str:
    """The diagnosis's next steps when it names a workflow; else the category's usual one,
    with the diagnosis's reasons (e.g. what to ask the customer for) below it."""
    steps = _steps(diagnosis) if diagnosis else []
    if diagnosis and any(e.get("recommended") for e in diagnosis.recommendations):
        return "Next step (from the diagnosis):\n" + "\n".join(steps)
    workflow = RECOMMENDED.get(findings.category)
    if workflow:
        usual = workflow_name(workflow) + ", after reviewing its plan in the sidebar."
    else:
        usual = TRIAGE_NO_WORKFLOW.get(findings.category, "nothing to run.")
    return f"Next step: {usual}" + ("\n" + "\n".join(steps) if steps else "")


def triage_note(findings: Findings, diagnosis: Plan | None, *, min_confidence: float,
                mode: str, marker: str) -> str:
    """What triage found on a new ticket, the decision and the next step (triage.md, "The
    note"). Below `min_confidence` the note recommends nothing; the diagnosis's decision is
    a fact and is shown either way."""
    certain = round(findings.confidence, 2) >= min_confidence
    step = (_next_step(findings, diagnosis) if certain else
            TRIAGE_UNCERTAIN.format(confidence=findings.confidence, threshold=min_confidence))
    summary = "\n".join(p for p in (
        TRIAGE_HEADLINE.format(label=category_label(findings.category), category=findings.category,
                               confidence=findings.confidence),
        _why(findings), _found(findings)) if p)
    return _compose(mode, [summary, _decision(diagnosis) if diagnosis else "", step], marker)
