"""Negation near a cue (issue 18): "NOT greyed out", "nicht ausgegraut", "no está
atenuado", "n'est pas grisé", "não está acinzentado", "グレーアウトしていません".

Run on folded text (`text._fold`: lower case, no Latin accents). A cue is negated when a
negating word stands among the few words before it in the same clause, or, in Japanese,
when a negating verb ending follows it. Clauses end at punctuation and at "but", "because"
and their kin, so "we cannot link it because the group is greyed out" still is one.
"""
from __future__ import annotations

import re

WINDOW_WORDS = 4  # words before a cue that may negate it
_BEFORE_CHARS = 60
# Spanish "no" negates a verb ("no está", "no aparece", "no lo puedo"), English "no" an error
# ("no 502", "no error"); Portuguese "no" is "in the" ("no grupo", "no portal"), so "no"
# counts only before such a word.
_NO_VERB = (r"(?:esta|estaba|es|era|fue|aparece|aparecia|sale|salia|se|lo|la|le|me|nos|puedo|podemos|"
            r"hay|ha|he|tiene|tenia|muestra|longer|more|error|errors|errores|\d+)")
_NEGATOR = re.compile(
    r"(?<![a-z0-9'])(?:not|never|nicht|nie|kein|keine|keinen|keiner|nunca|ni|pas|jamais|nao|nem|non|"
    r"no(?= " + _NO_VERB + r"(?![a-z0-9])))(?![a-z0-9'])|n't(?![a-z])|(?<![a-z])n'(?=[a-z])")
_CLAUSE_BREAK = re.compile(
    r"[.!?;:,()\[\]\n\"]|(?<![a-z])(?:but|aber|sondern|pero|sino|mais|mas|porque|because|weil|car|pois|"
    r"however|though|although|obwohl|aunque|embora|bien que)(?![a-z])")
# A Japanese verb ending that negates what stands before it: グレーアウトしていません,
# グレーアウトはしていない, グレーアウトされていない, グレーアウトではない.
_JA_NEGATION = re.compile(r"(?:は|も)?(?:し|され|さ)?(?:て|で)?(?:は|も)?(?:い|お)?(?:ない|ません|なく|なかった)")


def negated(text: str, start: int, end: int) -> bool:
    """Whether the cue at `text[start:end]` is negated where it stands."""
    before = text[max(0, start - _BEFORE_CHARS):start]
    breaks = list(_CLAUSE_BREAK.finditer(before))
    clause = before[breaks[-1].end():] if breaks else before
    words = " ".join(clause.split()[-WINDOW_WORDS:])
    # the cue's own first words follow, so that "no" can see the verb after it
    seen = words + " " + text[start:start + 20]
    if any(m.start() < len(words) for m in _NEGATOR.finditer(seen)):
        return True
    return bool(_JA_NEGATION.match(text, end))
