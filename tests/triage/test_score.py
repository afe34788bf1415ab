"""tests/triage/score.py on a small corpus made here (never the real one)."""
from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.triage import score

REPO = Path(__file__).resolve().parents[2]


def ticket(description, category, subject="", subscriptions=(), namespaces=(), emails=(), customer_ids=()):
    return {"subject": subject, "description": description, "comments": [],
            "expected": {"category": category, "subscriptions": list(subscriptions),
                         "namespaces": list(namespaces), "emails": list(emails),
                         "customer_ids": list(customer_ids)},
            "why": "made up for this test"}


@pytest.fixture
def corpus(tmp_path):
    tickets = {
        # right category, right fields (case differs only where the systems ignore case)
        "001_grayed.json": ticket("Our group 'Acme' is grayed out. jane@acme.com", "namespace_taken",
                                  namespaces=["acme"], emails=["Jane@Acme.com"]),
        # right category, one subscription missed (its label says two) and one extra namespace
        "002_associate.json": ticket("Please link a-s00000001 to gitlab.com/acme/dev, customer ID 77",
                                     "associate_subscription", subscriptions=["A-S00000001", "A-S00000002"],
                                     customer_ids=[77]),
        # wrong category
        "003_other.json": ticket("Hello there", "account_link"),
    }
    for name, data in tickets.items():
        (tmp_path / name).write_text(json.dumps(data), encoding="utf-8")
    (tmp_path / "README.md").write_text("not a ticket")
    return tmp_path


def run(*argv):
    out, err = io.StringIO(), io.StringIO()
    code = score.main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_the_table_and_the_last_line(corpus):
    code, out, err = run("--corpus", str(corpus))
    assert code == 0 and err == ""
    lines = out.rstrip("\n").split("\n")
    summary = json.loads(lines[-1])
    assert summary["tickets"] == 3 and summary["category_accuracy"] == 0.667
    assert summary["per_category"]["namespace_taken"] == {"correct": 1, "total": 1, "accuracy": 1.0}
    assert summary["per_category"]["account_link"] == {"correct": 0, "total": 1, "accuracy": 0.0}
    assert summary["per_category"]["portal_502"] == {"correct": 0, "total": 0, "accuracy": None}
    assert summary["fields"]["subscriptions"] == {"precision": 1.0, "recall": 0.5, "f1": 0.667}
    assert summary["fields"]["namespaces"] == {"precision": 0.5, "recall": 1.0, "f1": 0.667}
    assert summary["fields"]["emails"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0}
    assert summary["fields"]["customer_ids"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0}
    assert set(summary) == {"tickets", "category_accuracy", "per_category", "fields"}
    text = "\n".join(lines[:-1])
    assert "003_other.json: expected account_link, got other" in text
    assert "002_associate.json: missing ['A-S00000002'], extra []" in text
    assert "002_associate.json: missing [], extra ['acme/dev']" in text
    assert "001_grayed.json" not in text.split("Misclassified")[1]


def split_corpus(tmp_path):
    tickets = {"001_old.json": ticket("Hello there", "account_link"),
               "002_tune.json": {**ticket("Hi again", "portal_502"), "split": "tune"},
               "003_held.json": {**ticket("Our group 'acme' is grayed out", "account_link",
                                          namespaces=["acme"]), "split": "held_out"}}
    for name, data in tickets.items():
        (tmp_path / name).write_text(json.dumps(data), encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize("split, files", [("all", 3), ("old", 1), ("tune", 1), ("held_out", 1), ("new", 2)])
def test_a_split_scores_its_part_only(tmp_path, split, files):
    code, out, _ = run("--corpus", str(split_corpus(tmp_path)), "--split", split)
    assert code == 0 and json.loads(out.rstrip().split("\n")[-1])["tickets"] == files


def test_held_out_misreadings_are_counted_but_named_only_when_asked(tmp_path):
    corpus = str(split_corpus(tmp_path))
    code, out, _ = run("--corpus", corpus, "--split", "held_out")
    summary = json.loads(out.rstrip().split("\n")[-1])
    assert code == 0 and summary["category_accuracy"] == 0.0  # misread, and counted
    assert "003_held.json" not in out and "not listed" in out
    code, out, _ = run("--corpus", corpus, "--split", "all")
    assert "001_old.json" in out and "002_tune.json" in out and "003_held.json" not in out
    code, out, _ = run("--corpus", corpus, "--split", "held_out", "--show-held-out")
    assert "003_held.json: expected account_link, got namespace_taken" in out


def test_an_unknown_split_value_names_its_file(tmp_path):
    (tmp_path / "bad.json").write_text(json.dumps({**ticket("x", "other"), "split": "train"}))
    code, out, err = run("--corpus", str(tmp_path))
    assert code == 2 and "bad.json: split must be one of tune, held_out" in err


@pytest.mark.parametrize("make", [lambda d: d / "missing", lambda d: d])
def test_no_corpus_is_a_clear_error(tmp_path, make):
    code, out, err = run("--corpus", str(make(tmp_path)))
    assert code == 2 and out == "" and err.startswith("error: no *.json tickets in ")


@pytest.mark.parametrize("content, words", [
    ("{not json", "bad.json"),
    (json.dumps({"description": "x"}), "expected.category is missing"),
    (json.dumps({"description": "x", "expected": {"category": "other", "subscriptions": "A"}}),
     "expected.subscriptions must be a list"),
    (json.dumps({"description": 3, "expected": {"category": "other"}}), "description must be a string"),
])
def test_a_malformed_ticket_names_its_file(tmp_path, content, words):
    (tmp_path / "bad.json").write_text(content)
    code, out, err = run("--corpus", str(tmp_path))
    assert code == 2 and out == "" and words in err and err.count("\n") == 1


def test_runs_as_a_module(corpus):
    result = subprocess.run([sys.executable, "-m", "tests.triage.score", "--corpus", str(corpus)],
                            capture_output=True, text=True, cwd=REPO, timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().split("\n")[-1])["tickets"] == 3
