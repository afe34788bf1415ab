"""Score triage against a labelled corpus:
`python -m tests.triage.score [--corpus DIR] [--split SPLIT] [--show-held-out]`.

Each `*.json` in DIR (default: tests/triage/corpus) is one ticket:

    {"subject": "...", "description": "...", "comments": ["..."],
     "expected": {"category": "...", "subscriptions": [...], "namespaces": [...],
                  "emails": [...], "customer_ids": [...]},
     "why": "...", "split": "tune" | "held_out"}

`split` says which part of the corpus a ticket belongs to: `tune` (the rules may be
changed while looking at its misreadings), `held_out` (never tuned on), or, without the
key, `old` (tickets 001-101, written before splits were recorded per ticket). `--split`
scores one part (`new` is tune and held_out together; default: all). So that nobody tunes
on the held-out part by accident, a score that includes it names no held-out file among
its misreadings unless `--show-held-out` is given.

Prints a table for people - accuracy per expected category and overall, the misclassified
files with their cues, and micro precision, recall and F1 of each extracted field (a set
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


SPLITS = ("old", "tune", "held_out")
SPLIT_CHOICES = {"all": set(SPLITS), "new": {"tune", "held_out"},
                 **{name: {name} for name in SPLITS}}


class CorpusError(Exception):
    """The corpus cannot be scored: exit code 2, one line on stderr."""


@dataclass(frozen=True)
class Case:
    file: str
    text: TicketText
    category: str
    fields: dict[str, set[Any]]
    split: str = "old"


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

    def f1(self) -> float | None:
        return _ratio(2 * self.tp, 2 * self.tp + self.fp + self.fn)


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
    split = data.get("split", "old")
    if "split" in data and split not in SPLITS[1:]:
        raise CorpusError(f"{path.name}: split must be one of {', '.join(SPLITS[1:])}")
    return Case(path.name, text, expected["category"], fields, split)


def load_corpus(directory: Path, split: str = "all") -> list[Case]:
    files = sorted(directory.glob("*.json")) if directory.is_dir() else []
    if not files:
        raise CorpusError(f"no *.json tickets in {directory}")
    cases = [load_case(path) for path in files]
    chosen = [case for case in cases if case.split in SPLIT_CHOICES[split]]
    if not chosen:
        raise CorpusError(f"no {split} tickets in {directory}")
    return chosen


# -- scoring -------------------------------------------------------------------------------


def _tally_fields(case: Case, findings: Findings, tallies: dict[str, FieldTally],
                  hidden: bool) -> None:
    for name, normalise in FIELDS.items():
        got = {normalise(v) for v in getattr(findings, name)}
        want = case.fields[name]
        tally = tallies[name]
        tally.tp += len(got & want)
        tally.fp += len(got - want)
        tally.fn += len(want - got)
        if got != want and not hidden:
            tally.errors.append(f"{case.file}: missing {sorted(want - got, key=str)}, "
                                f"extra {sorted(got - want, key=str)}")


def score(cases: list[Case], *, show_held_out: bool = True) -> dict[str, Any]:
    """The figures, plus the details the table lists (`misclassified`, `field_errors`);
    held-out files are left out of those details unless `show_held_out`."""
    total, correct = Counter(), Counter()
    misclassified: list[dict[str, Any]] = []
    tallies = {name: FieldTally() for name in FIELDS}
    for case in cases:
        findings = triage(case.text)
        hidden = case.split == "held_out" and not show_held_out
        total[case.category] += 1
        if findings.category == case.category:
            correct[case.category] += 1
        elif not hidden:
            misclassified.append({"file": case.file, "expected": case.category,
                                  "got": findings.category, "cues": list(findings.cues)})
        _tally_fields(case, findings, tallies, hidden)
    categories = [*CATEGORIES, *sorted(set(total) - set(CATEGORIES))]  # a typo'd label shows
    return {
        "tickets": len(cases),
        "category_accuracy": _ratio(sum(correct.values()), len(cases)),
        "per_category": {c: {"correct": correct[c], "total": total[c], "accuracy": _ratio(correct[c], total[c])}
                         for c in categories},
        "fields": {name: {"precision": t.precision(), "recall": t.recall(), "f1": t.f1()}
                   for name, t in tallies.items()},
        "hidden_held_out": sum(1 for c in cases if c.split == "held_out") if not show_held_out else 0,
        "misclassified": misclassified,
        "field_errors": {name: t.errors for name, t in tallies.items()},
        "field_counts": {name: {"tp": t.tp, "fp": t.fp, "fn": t.fn} for name, t in tallies.items()},
    }


# -- output --------------------------------------------------------------------------------


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f}%"


def table(result: dict[str, Any], corpus: Path, split: str) -> list[str]:
    lines = [f"Triage score: {result['tickets']} tickets ({split}) in {corpus}", "",
             "Category accuracy (correct/total, by expected category)"]
    for name, row in result["per_category"].items():
        lines.append(f"  {name:24} {row['correct']:>4}/{row['total']:<4} {_percent(row['accuracy'])}")
    correct = sum(r["correct"] for r in result["per_category"].values())
    lines += [f"  {'overall':24} {correct:>4}/{result['tickets']:<4} {_percent(result['category_accuracy'])}",
              "", f"Misclassified ({len(result['misclassified'])})"]
    if result["hidden_held_out"]:
        lines.append(f"  (the misreadings of {result['hidden_held_out']} held-out tickets are not "
                     "listed: --show-held-out lists them, once tuning is over)")
    for row in result["misclassified"]:
        lines.append(f"  {row['file']}: expected {row['expected']}, got {row['got']}; "
                     f"cues: {'; '.join(row['cues']) or 'none'}")
    lines += ["", "Extraction (micro precision / recall over the corpus)"]
    for name, figures in result["fields"].items():
        counts = result["field_counts"][name]
        lines.append(f"  {name:14} precision {_percent(figures['precision']):>6}  recall "
                     f"{_percent(figures['recall']):>6}  F1 {_percent(figures['f1']):>6}  "
                     f"(tp {counts['tp']}, fp {counts['fp']}, fn {counts['fn']})")
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
    options.add_argument("--split", choices=list(SPLIT_CHOICES), default="all",
                         help="score one part of the corpus (default: all)")
    options.add_argument("--show-held-out", action="store_true",
                         help="list the held-out tickets' misreadings too (never while tuning)")
    args = options.parse_args(argv)
    try:
        result = score(load_corpus(args.corpus, args.split), show_held_out=args.show_held_out)
    except CorpusError as error:
        print(f"error: {error}", file=stderr)
        return 2
    print("\n".join([*table(result, args.corpus, args.split), "", summary(result)]), file=stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
