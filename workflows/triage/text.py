"""The ticket's text as triage reads it: subject, description and comments, normalised and
cut to `MAX_TEXT` characters, each read as mail (`mail.py`), and folded for the cue
patterns."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from .mail import Mail, forwarded_subject, read_mail

MAX_TEXT = 200_000  # characters read per ticket; the rest is cut


@dataclass(frozen=True)
class TicketText:
    subject: str
    description: str
    comments: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, data: Any) -> "TicketText":
        """Strict: a JSON object with string `subject`/`description` (missing: "") and a
        list of string `comments` (missing: none). Other keys are ignored."""
        if not isinstance(data, dict):
            raise ValueError(f"a ticket must be a JSON object, not {_json_type(data)}")
        subject, description = data.get("subject", ""), data.get("description", "")
        for name, value in (("subject", subject), ("description", description)):
            if not isinstance(value, str):
                raise ValueError(f"{name} must be a string, not {_json_type(value)}")
        comments = data.get("comments", [])
        if not isinstance(comments, list):
            raise ValueError(f"comments must be a list of strings, not {_json_type(comments)}")
        for index, comment in enumerate(comments):
            if not isinstance(comment, str):
                raise ValueError(f"comments[{index}] must be a string, not {_json_type(comment)}")
        return cls(subject=subject, description=description, comments=tuple(comments))


def _json_type(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
             int: "a number", float: "a number", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def _parts(text: TicketText) -> list[str]:
    """Subject, description, comments in order, cut to MAX_TEXT characters in all. NFKC
    turns full-width letters and digits (common in CJK mail) into their ASCII forms."""
    parts, budget = [], MAX_TEXT
    for part in (text.subject, text.description, *text.comments):
        if budget <= 0:
            break
        piece = part[:budget]
        budget -= len(piece)
        parts.append(unicodedata.normalize("NFKC", piece))
    return parts


def _readings(text: TicketText) -> list[Mail]:
    """Each part read as mail: the subject is the requester's own; a forward's subject makes
    the description's first header a forwarded mail."""
    parts = _parts(text)
    if not parts:
        return []
    forward = forwarded_subject(parts[0])
    readings = [Mail(whole=parts[0], own=parts[0])]
    for index, part in enumerate(parts[1:]):
        readings.append(read_mail(part, forwarded=forward and index == 0))
    return readings


_FOLD = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'", "\u00b4": "'", "\u201c": '"',
                       "\u201d": '"', "\u201e": '"', "\u00ab": '"', "\u00bb": '"',
                       "\u2010": "-", "\u2011": "-", "\u2013": "-", "\u2014": "-"})
_LATIN_ACCENT = re.compile(r"[\u0300-\u036f]")
_SPACE = re.compile(r"\s+")


def _fold(part: str) -> str:
    """Lower case, Latin accents dropped ("grisé" -> "grise"; kana keep their marks), one
    kind of quote and dash, whitespace collapsed, so one pattern covers the spellings."""
    text = _LATIN_ACCENT.sub("", unicodedata.normalize("NFKD", part.casefold()))
    return _SPACE.sub(" ", unicodedata.normalize("NFC", text).translate(_FOLD)).strip()


