"""Choosing the category: the evidence of each category's cues, the first category in
`CATEGORIES` order that applies, and a confidence lowered by every rival."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable, Mapping

from .categories import CATEGORIES
from .cues import (
    ACCOUNT_LINK,
    ADDON,
    ADDON_APPLIED,
    ASSOCIATE,
    LINK_SPECIFIC,
    LINKING_OR_LISTING,
    MENTIONS_GROUP,
    MOVE,
    MOVE_TO_ONE,
    NAMES_NAMESPACE,
    NAMES_SUBSCRIPTION,
    OTHER,
    PORTAL,
    PORTAL_CONTEXT,
    PORTAL_ERROR,
    SEATS_PURCHASE,
    TAKEN,
    Cue,
)
from .extract import Extracted, _extract
from .mail import Mail
from .text import TicketText, _fold, _readings

NO_CUE_CONFIDENCE = 0.3  # `other` because nothing matched at all



@dataclass
class _Evidence:
    score: float = 0.0
    applies: bool = False
    cues: list[str] = field(default_factory=list)


SNIPPET_WORDS = 2  # words kept at each end of a long match


def _snippet(text: str) -> str:
    """The words that made a cue, for people: a pattern that spans a window ("bought ...
    not applied") keeps the first and last words and drops the customer's words between
    them; on one line, never a marker's brackets, at most 60 characters."""
    words = re.sub(r"[\[\]<>\x00-\x1f\x7f]", " ", text).split()
    if len(words) > 2 * SNIPPET_WORDS:
        words = [*words[:SNIPPET_WORDS], "...", *words[-SNIPPET_WORDS:]]
    text = " ".join(words)
    return text if len(text) <= 60 else text[:57].rstrip() + "..."


def _blank(match: re.Match[str]) -> str:
    return " " * len(match.group(0))


def _first(cue: Cue, text: str) -> re.Match[str] | None:
    """The cue's first match that means it where it stands (`Cue.rejects`)."""
    if not cue.rejects:
        return cue.pattern.search(text)
    return next((m for m in cue.pattern.finditer(text)
                 if not any(reject(text, m.start(), m.end()) for reject in cue.rejects)), None)


def _hits(cues: Iterable[Cue], folded: str) -> dict[str, tuple[float, str]]:
    found = {}
    for cue in cues:
        text = cue.unless.sub(_blank, folded) if cue.unless else folded
        match = _first(cue, text)
        if match:
            found[cue.label] = (cue.weight, f'{cue.label}: "{_snippet(match.group(0))}"')
    return found


def _evidence(hits: Mapping[str, tuple[float, str]], applies: bool) -> _Evidence:
    score = sum(w for w, _ in hits.values())
    return _Evidence(score, applies and score > 0, [text for _, text in hits.values()])


def _portal_502(folded: str, other: _Evidence) -> _Evidence:
    # "whatever caused it" (triage.md), but only "while linking or listing groups": a 502 on a
    # git push or a pipeline, or on the portal's invoice download, is not this category.
    errors, context = _hits(PORTAL_ERROR, folded), _hits(PORTAL_CONTEXT, folded)
    linking = LINKING_OR_LISTING.label in context
    # The portal shows groups only to link a subscription, so a portal error on a ticket about
    # a group is a linking one - unless the ticket is one of other's examples (invoices,
    # sign-in...), which win "even when [they name] a group".
    portal_group = PORTAL.label in context and MENTIONS_GROUP.search(folded) and other.score == 0
    return _evidence({**errors, **context}, bool(errors and (linking or portal_group)))


def _namespace_taken(folded: str, namespaces: tuple[str, ...]) -> _Evidence:
    hits = _hits(TAKEN, folded)
    move = _hits([MOVE], folded)
    if move and len(namespaces) >= 2:  # a move needs both groups named (triage.md)
        hits.update(move)
    return _evidence(hits, bool(hits))


def _account_link(folded: str) -> _Evidence:
    # An account mentioned next to a former employee can be a 2FA or sign-in problem; only a
    # cue about the link itself makes it this category.
    hits = _hits(ACCOUNT_LINK, folded)
    specific = any(label in LINK_SPECIFIC for label in hits)
    evidence = _evidence(hits, specific)
    evidence.applies = evidence.applies and evidence.score >= 1.0
    return evidence


def _compute_minutes(folded: str) -> _Evidence:
    addon, applied = _hits(ADDON, folded), _hits(ADDON_APPLIED, folded)
    # "only when every purchase the ticket mentions is such an add-on" (triage.md)
    seats = _hits([SEATS_PURCHASE], folded)
    return _evidence({**addon, **applied}, bool(addon and applied and not seats))


def _associate(folded: str, subscriptions: tuple[str, ...], namespaces: tuple[str, ...],
               other: _Evidence) -> _Evidence:
    # A move with fewer than two groups named is a request to link it (namespace_taken takes
    # the moves that name both).
    hits = _hits((*ASSOCIATE, MOVE_TO_ONE), folded)
    evidence = _evidence(hits, True)
    if other.score > 0:
        # triage.md: a request matching one of other's examples is other even when it names
        # a subscription or a group; only explicit associate cues can outweigh it.
        evidence.applies = evidence.score > other.score
        return evidence
    if subscriptions:
        evidence.score += NAMES_SUBSCRIPTION
        evidence.cues.append(f"names a subscription: {subscriptions[0]}")
    if namespaces:
        evidence.score += NAMES_NAMESPACE
        evidence.cues.append(f"names a namespace: {namespaces[0]}")
    evidence.applies = evidence.score >= 0.5
    return evidence


def _evaluate(folded: str, found: Extracted) -> dict[str, _Evidence]:
    subscriptions, namespaces = found[0], found[1]
    other = _evidence(_hits(OTHER, folded), True)
    return {
        "portal_502": _portal_502(folded, other),
        "namespace_taken": _namespace_taken(folded, namespaces),
        "account_link": _account_link(folded),
        "compute_minutes": _compute_minutes(folded),
        "associate_subscription": _associate(folded, subscriptions, namespaces, other),
        "other": other,
    }


def _base_confidence(score: float) -> float:
    """One strong cue: 0.6; two: 0.95 (the cap - rules are never certain)."""
    return min(0.95, 0.25 + 0.35 * score)


def _rivals(winner: str, evidence: Mapping[str, _Evidence]) -> list[str]:
    """Categories that also had a case: each lowers the confidence. Associate cues come with
    every linking problem, so they only rival `other`."""
    later = CATEGORIES[CATEGORIES.index(winner) + 1:-2]
    rivals = [c for c in later if evidence[c].applies]
    if winner != "other" and evidence["other"].score > 0:
        rivals.append("other")
    if winner == "other" and evidence["associate_subscription"].score > 0:
        rivals.append("associate_subscription")
    return rivals


def _rival_notes(rivals: list[str], evidence: Mapping[str, _Evidence]) -> list[str]:
    notes = [f"also looks like {c}, which comes later in the order" for c in rivals
             if c not in ("other", "associate_subscription")]
    if "other" in rivals:
        notes.append("also has cues of other: " + "; ".join(evidence["other"].cues))
    if "associate_subscription" in rivals:
        notes.append("associate_subscription's cues are too weak or outweighed: "
                     + "; ".join(evidence["associate_subscription"].cues))
    return notes


def _decide(evidence: Mapping[str, _Evidence]) -> tuple[str, float, tuple[str, ...]]:
    winner = next(c for c in CATEGORIES if evidence[c].applies or c == "other")
    chosen, rivals = evidence[winner], _rivals(winner, evidence)
    notes = _rival_notes(rivals, evidence)
    if chosen.score == 0:
        return winner, NO_CUE_CONFIDENCE, ("no category's cues matched", *notes)
    confidence = max(0.0, _base_confidence(chosen.score) - 0.1 * len(rivals))
    return winner, round(confidence, 2), tuple(chosen.cues + notes)


def _classify(readings: list[Mail], found: Extracted) -> tuple[str, float, tuple[str, ...]]:
    # Only the requester's words are cues (their own and what they forward); cue windows
    # never cross two texts.
    folded = "\n".join(_fold(mail.words) for mail in readings)
    return _decide(_evaluate(folded, found))


def classify(text: TicketText) -> tuple[str, float, tuple[str, ...]]:
    """(category, confidence 0..1, cues): the first category of CATEGORIES that applies."""
    readings = _readings(text)
    return _classify(readings, _extract(readings))


