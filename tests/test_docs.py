"""The documentation's links resolve inside the repository, and the README stays short.

Every relative link in README.md, docs/*.md, sandbox/README.md and zendesk_app/README.md,
Markdown `[text](target)` and HTML `<img src="...">`, must name a file or folder that
exists, read from the linking file's own folder; the `#anchor` is not checked, and
http(s) and mailto links are left alone. Links inside fenced code blocks are not links.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README_MAX_LINES = 250

MARKDOWN_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
IMG_SRC = re.compile(r"<img\b[^>]*\bsrc\s*=\s*[\"']([^\"']+)[\"']", re.IGNORECASE)
FENCE = re.compile(r"^\s*(```|~~~)")
EXTERNAL = ("http://", "https://", "mailto:")


def documents() -> list[Path]:
    found = [ROOT / "README.md", ROOT / "sandbox" / "README.md", ROOT / "zendesk_app" / "README.md"]
    return found + sorted((ROOT / "docs").rglob("*.md"))


def links(text: str) -> list[tuple[int, str]]:
    """(line number, target) of every link outside fenced code blocks."""
    found, fenced = [], False
    for number, line in enumerate(text.splitlines(), start=1):
        if FENCE.match(line):
            fenced = not fenced
            continue
        if fenced:
            continue
        for pattern in (MARKDOWN_LINK, IMG_SRC):
            found += [(number, match.group(1)) for match in pattern.finditer(line)]
    return found


def broken_links(document: Path, root: Path = ROOT) -> list[str]:
    broken = []
    for number, target in links(document.read_text(encoding="utf-8")):
        if target.lower().startswith(EXTERNAL):
            continue
        path = target.split("#", 1)[0].split("?", 1)[0]
        if not path:
            continue  # an anchor in the same page
        resolved = (document.parent / path).resolve()
        if not resolved.exists() or root not in (resolved, *resolved.parents):
            broken.append(f"{document.relative_to(root)}:{number}: {target}")
    return broken


@pytest.mark.parametrize("document", documents(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(document):
    assert document.exists()
    assert broken_links(document) == []


def test_the_readme_is_short():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) < README_MAX_LINES


@pytest.mark.parametrize("text, broken", [
    ("See [the rules](../shared/design/triage.md).\n", "../shared/design/triage.md"),
    ("[outside](../../etc/passwd)\n", "../../etc/passwd"),
    ("See [gone](no-such-page.md#section).\n", "no-such-page.md#section"),
    ('<img src="missing.png" alt="x">\n', "missing.png"),
    ("[here](README.md) and [there](nowhere/)\n", "nowhere/"),
])
def test_the_checker_finds_a_broken_link(tmp_path, text, broken):
    (tmp_path / "README.md").write_text("# A page\n")
    page = tmp_path / "page.md"
    page.write_text(text)
    assert broken_links(page, tmp_path) == [f"page.md:1: {broken}"]


def test_the_checker_passes_good_links_and_skips_code_and_external_ones(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("# A\n")
    (tmp_path / "pic.png").write_bytes(b"")
    page = tmp_path / "README.md"
    page.write_text(
        "[a](docs/a.md#part) [b](#local) [c](https://example.com/x) [d](mailto:x@y.z)\n"
        '<img src="pic.png" width="3"> ![pic](pic.png)\n'
        "```\n[not a link](missing.md)\n```\n"
    )
    assert broken_links(page, tmp_path) == []
