"""Score triage against a labelled corpus: `python -m tests.triage.score [--corpus DIR]`.

Each `*.json` in DIR (default: tests/triage/corpus) is one ticket:

    {"subject": "...", "description": "...", "comments": ["..."],
     "expected": {"category": "...", "subscriptions": [...], "namespaces": [...],
                  "emails": [...], "customer_ids": [...]},
     "why": "..."}

Prints a table for people - accuracy per expected category and overall, the misclassified
files with their cues, and micro precision and recall of each extracted field (a set
comparison per ticket) with the files that have field errors - and, as its last line, one
JSON object with the same figures. A corpus that is missing, empty or malformed is an
error: one line on stderr, exit code 2.

Values are compared the way the systems compare them: subscription names upper-cased,
namespaces and e-mails case-insensitively (GitLab paths and mail domains are), customer
ids as integers.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from workflows.triage import CATEGORIES, Findings, TicketText, triage

DEFAULT_CORPUS = Path(__file__).resolve().parent / "corpus"
FIELDS: dict[str, Callable[[Any], Any]] = {
    "subscriptions": lambda v: str(v).strip().upper(),
    "namespaces": lambda v: str(v).strip().strip("/").casefold(),
    "emails": lambda v: str(v).strip().casefold(),
    "customer_ids": int,
}


class CorpusError(Exception):
    """The corpus cannot be scored: exit code 2, one line on stderr."""


@dataclass(frozen=True)
class Case:
    file: str
    text: TicketText
    category: str
    fields: dict[str, set[Any]]


@dataclass
class FieldTally:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    errors: list[str] = field(default_factory=list)

    def precision(self) -> float | None:  # None: nothing was extracted at all
        return _ratio(self.tp, self.tp + self.fp)

    def recall(self) -> float | None:  # None: nothing was expected at all
        return _ratio(self.tp, self.tp + self.fn)


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 3) if whole else None


# -- loading -------------------------------------------------------------------------------


def _expected_values(file: str, expected: dict[str, Any], name: str) -> set[Any]:
    values = expected.get(name)
    if not isinstance(values, list):
        raise CorpusError(f"{file}: expected.{name} must be a list")
    try:
        return {FIELDS[name](v) for v in values}
    except (TypeError, ValueError):
        raise CorpusError(f"{file}: expected.{name} has a value of the wrong type") from None


def load_case(path: Path) -> Case:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        text = TicketText.from_dict(data)
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise CorpusError(f"{path.name}: {error}") from None
    expected = data.get("expected")
    if not isinstance(expected, dict) or not isinstance(expected.get("category"), str):
        raise CorpusError(f"{path.name}: expected.category is missing")
    fields = {name: _expected_values(path.name, expected, name) for name in FIELDS}
    return Case(path.name, text, expected["category"], fields)


def load_corpus(directory: Path) -> list[Case]:
    files = sorted(directory.glob("*.json")) if directory.is_dir() else []
    if not files:
        raise CorpusError(f"no *.json tickets in {directory}")
    return [load_case(path) for path in files]


# -- scoring -------------------------------------------------------------------------------


def _tally_fields(case: Case, findings: Findings, tallies: dict[str, FieldTally]) -> None:
    for name, normalise in FIELDS.items():
        got = {normalise(v) for v in getattr(findings, name)}
        want = case.fields[name]
        tally = tallies[name]
        tally.tp += len(got & want)
        tally.fp += len(got - want)
        tally.fn += len(want - got)
        if got != want:
            tally.errors.append(f"{case.file}: missing {sorted(want - got, key=str)}, "
                                f"extra {sorted(got - want, key=str)}")


def score(cases: list[Case]) -> dict[str, Any]:
    """The figures, plus the details the table lists (`misclassified`, `field_errors`)."""
    total, correct = Counter(), Counter()
    misclassified: list[dict[str, Any]] = []
    tallies = {name: FieldTally() for name in FIELDS}
    for case in cases:
        findings = triage(case.text)
        total[case.category] += 1
        if findings.category == case.category:
            correct[case.category] += 1
        else:
            misclassified.append({"file": case.file, "expected": case.category,
                                  "got": findings.category, "cues": list(findings.cues)})
        _tally_fields(case, findings, tallies)
    categories = [*CATEGORIES, *sorted(set(total) - set(CATEGORIES))]  # a typo'd label shows
    return {
        "tickets": len(cases),
        "category_accuracy": _ratio(sum(correct.values()), len(cases)),
        "per_category": {c: {"correct": correct[c], "total": total[c], "accuracy": _ratio(correct[c], total[c])}
                         for c in categories},
        "fields": {name: {"precision": t.precision(), "recall": t.recall()} for name, t in tallies.items()},
        "misclassified": misclassified,
        "field_errors": {name: t.errors for name, t in tallies.items()},
        "field_counts": {name: {"tp": t.tp, "fp": t.fp, "fn": t.fn} for name, t in tallies.items()},
    }


# -- output --------------------------------------------------------------------------------


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f}%"


def table(result: dict[str, Any], corpus: Path) -> list[str]:
    lines = [f"Triage score: {result['tickets']} tickets in {corpus}", "",
             "Category accuracy (correct/total, by expected category)"]
    for name, row in result["per_category"].items():
        lines.append(f"  {name:24} {row['correct']:>4}/{row['total']:<4} {_percent(row['accuracy'])}")
    correct = sum(r["correct"] for r in result["per_category"].values())
    lines += [f"  {'overall':24} {correct:>4}/{result['tickets']:<4} {_percent(result['category_accuracy'])}",
              "", f"Misclassified ({len(result['misclassified'])})"]
    for row in result["misclassified"]:
        lines.append(f"  {row['file']}: expected {row['expected']}, got {row['got']}; "
                     f"cues: {'; '.join(row['cues']) or 'none'}")
    lines += ["", "Extraction (micro precision / recall over the corpus)"]
    for name, figures in result["fields"].items():
        counts = result["field_counts"][name]
        lines.append(f"  {name:14} precision {_percent(figures['precision']):>6}  recall "
                     f"{_percent(figures['recall']):>6}  (tp {counts['tp']}, fp {counts['fp']}, fn {counts['fn']})")
    for name, errors in result["field_errors"].items():
        if errors:
            lines += ["", f"Files with {name} errors ({len(errors)})", *(f"  {e}" for e in errors)]
    return lines


def summary(result: dict[str, Any]) -> str:
    keys = ("tickets", "category_accuracy", "per_category", "fields")
    return json.dumps({k: result[k] for k in keys}, sort_keys=True)


def main(argv: list[str] | None = None, *, stdout=None, stderr=None) -> int:
    stdout, stderr = stdout or sys.stdout, stderr or sys.stderr
    options = argparse.ArgumentParser(prog="python -m tests.triage.score", description=__doc__.split("\n")[0])
    options.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="a directory of *.json tickets")
    args = options.parse_args(argv)
    try:
        result = score(load_corpus(args.corpus))
    except CorpusError as error:
        print(f"error: {error}", file=stderr)
        return 2
    print("\n".join([*table(result, args.corpus), "", summary(result)]), file=stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
