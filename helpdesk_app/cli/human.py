"""What a command prints for a person at a terminal: the decision first, the checks that
decide it with their labels and messages, the change in words, then the rest in brief.

Piped, or with `--json`, a command prints its JSON document instead (commands.py); the
words are the sidebar's and the notes' (workflows.notes.summary), so every surface says
the same.
"""
from __future__ import annotations

import json
from typing import Any

from workflows import Outcome, Plan, Verdict
from workflows.labels import decision_label, verdict_label, workflow_name
from workflows.notes import failure, plan_summary, run_result
from workflows.notes.words import check_words

MARKS = {"block": "✗", "override": "!", "warn": "!", "info": "i", "pass": "✓", "skipped": "-"}
INDENT = "  "


def render(command: str, result: dict[str, Any]) -> str:
    if command == "plan":
        return _plan(result)
    if command == "run":
        return _run(result)
    return _fields(result)


def _check_block(plan: Plan, ids: list[str]) -> list[str]:
    lines = []
    for check in (plan.check(i) for i in ids):
        verdict = str(check.verdict)
        lines.append(f"{INDENT}{MARKS[verdict]} {verdict_label(verdict)}: {check_words(check.id)}")
        lines.append(f"{INDENT * 2}{check.message}")
    return lines


def _rest(plan: Plan, deciding: list[str]) -> list[str]:
    """The checks that decide nothing, in brief: how many passed, which were not checked."""
    others = [c for c in plan.checks if c.id not in deciding]
    passed = sum(1 for c in others if c.verdict is Verdict.PASS)
    skipped = [c.label for c in others if c.verdict is Verdict.SKIPPED]
    said = [f"{passed} {'other ' if deciding else ''}check{'s' if passed != 1 else ''} passed"] if passed else []
    if skipped:
        said.append(f"not checked: {', '.join(skipped)}")
    return [f"{'; '.join(said)}. (--json shows every check.)"] if said else []


def _changes(rows: list[dict[str, str]], heading: str) -> list[str]:
    if not rows:
        return []
    return [heading, *(f"{INDENT}{r['label']}: {r['before']} → {r['after']}" for r in rows)]


def _recommendations(plan: Plan) -> list[str]:
    lines = []
    for entry in plan.recommendations:
        pair = " → ".join(str(entry[k]) for k in ("subscription", "namespace") if entry.get(k) is not None)
        then = f" Next: {workflow_name(entry['recommended'])}." if entry.get("recommended") else ""
        decided = f"{decision_label(entry['decision'])}: " if entry.get("decision") else ""
        lines.append(f"{INDENT}{pair or 'The ticket'}: {decided}{entry.get('reason', '')}{then}")
    return ["What to do:", *lines] if lines else []


def _sections(*parts: list[str]) -> str:
    return "\n\n".join("\n".join(p) for p in parts if p)


def _plan(result: dict[str, Any]) -> str:
    plan = Plan.from_dict(result)
    words = plan_summary(plan)
    deciding = words["deciding"]
    return _sections(
        [words["title"], f"{words['decision_label']}: {words['next_step']}"],
        ["What decides:", *_check_block(plan, deciding)] if deciding else [],
        _changes(words["changes"], "The change (before → after):"),
        _recommendations(plan) if plan.workflow == "diagnose" else [],
        _rest(plan, deciding),
        [_footer(result)],
    )


def _run(result: dict[str, Any]) -> str:
    outcome = Outcome.from_dict(result)
    done, failed = run_result(outcome), failure(outcome)
    deciding = plan_summary(outcome.plan)["deciding"]
    return _sections(
        [done["headline"]] + ([f"Failure: {failed['kind']} ({_kind_words(failed['kind'])})."]
                              if failed else []),
        _changes(done["changes"], "What changed (before → after):"),
        ["What decides:", *_check_block(outcome.plan, deciding)] if deciding else [],
        _rest(outcome.plan, deciding),
        [_footer(result) + f"; idempotency key {result.get('idempotency_key')}"],
    )


def _kind_words(kind: str) -> str:
    return ("refused: trying again would not help" if kind == "business"
            else "the upstream kept failing: a later try may work")


def _footer(result: dict[str, Any]) -> str:
    records = result.get("audit") or []
    return f"Mode: {result.get('mode')}; audit records: {', '.join(str(r.get('id')) for r in records) or 'none'}"


def _fields(result: dict[str, Any]) -> str:
    """Any other command's document, one `name: value` line each."""
    lines = []
    for name, value in result.items():
        if isinstance(value, list) and all(isinstance(v, (str, int, float)) for v in value):
            shown = ", ".join(str(v) for v in value) or "none"
        elif isinstance(value, (dict, list)):
            shown = json.dumps(value, sort_keys=True)
        else:
            shown = "none" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
        lines.append(f"{name.replace('_', ' ')}: {shown}")
    return "\n".join(lines)
