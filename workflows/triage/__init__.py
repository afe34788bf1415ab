"""Triage: what a new ticket is about and what it names. Pure, rule-based, no I/O.

`triage.md` is the spec: one category, chosen in `CATEGORIES` order (the first that
applies wins), a confidence, the cues that chose it, and the subscriptions, namespaces,
e-mails and portal customer ids the ticket names (subject, then description, then the
comments, in order). The classifier reads named, weighted cue patterns; it was written
from the spec, not fitted to the labelled corpus (triage.md, "The corpus"): where a corpus
ticket showed a misreading, the fix is a general rule the spec supports, tested here with
examples of our own, never a pattern for one ticket's wording.

Every pattern is linear on long input: no unbounded quantifier follows another that can
match the same characters, windows are bounded (`.{0,60}`), and matches that could start
anywhere in a run are anchored to the run's start by a look-behind. A ticket is read up to
`MAX_TEXT` characters, so a 1 MB description costs what 200 000 characters cost.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from .categories import CATEGORIES, MIN_CONFIDENCE, RECOMMENDED
from .classify import _classify, classify
from .extract import Extracted, _extract, extract
from .text import MAX_TEXT, TicketText, _readings

__all__ = ["CATEGORIES", "MAX_TEXT", "MIN_CONFIDENCE", "RECOMMENDED", "Extracted", "Findings",
           "TicketText", "classify", "extract", "triage"]

DIGEST_HEX = 12



@dataclass(frozen=True)
class Findings:
    category: str
    confidence: float
    subscriptions: tuple[str, ...]
    namespaces: tuple[str, ...]
    emails: tuple[str, ...]
    customer_ids: tuple[int, ...]
    cues: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "confidence": round(self.confidence, 2),
            "subscriptions": list(self.subscriptions),
            "namespaces": list(self.namespaces),
            "emails": list(self.emails),
            "customer_ids": list(self.customer_ids),
            "cues": list(self.cues),
        }

    def digest(self) -> str:
        """12 hex of SHA-256 over the canonical JSON of `to_dict()`: the stored hash that
        decides whether a new note is posted (triage.md, "The note")."""
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"),
                               ensure_ascii=True)
        return hashlib.sha256(canonical.encode("ascii")).hexdigest()[:DIGEST_HEX]


def triage(text: TicketText) -> Findings:
    readings = _readings(text)
    found = _extract(readings)
    category, confidence, cues = _classify(readings, found)
    subscriptions, namespaces, emails, customer_ids = found
    return Findings(category=category, confidence=confidence, subscriptions=subscriptions,
                    namespaces=namespaces, emails=emails, customer_ids=customer_ids, cues=cues)
