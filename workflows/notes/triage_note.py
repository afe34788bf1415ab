"""The triage note: what triage found on a new ticket, the diagnosis, and what to do next
(triage.md, "The note")."""
from __future__ import annotations

from typing import Any, Mapping

from ..model import Plan, Verdict
from ..triage import RECOMMENDED, Findings
from .words import _check_lines, _compose, title

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
