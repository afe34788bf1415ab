"""JSON from outside, parsed only when its nesting is bounded.

Python's `json` recurses once per level: a body of a few kilobytes nested ten thousand deep
raises RecursionError, which no handler expects (a 500). The depth is counted on the raw
bytes first, outside strings, so that nothing deeper than MAX_DEPTH is ever parsed.
"""
from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 64
_OPEN, _CLOSE, _QUOTE, _ESCAPE = b"[{", b"]}", ord('"'), ord("\\")


class TooDeep(ValueError):
    """Nested deeper than the bound."""


def depth_within(raw: bytes, limit: int = MAX_DEPTH) -> bool:
    """True when no array or object in `raw` sits more than `limit` levels deep."""
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return True  # no deeper than it has brackets (counted in C: most bodies stop here)
    depth, in_string, escaped = 0, False, False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == _ESCAPE:
                escaped = True
            elif byte == _QUOTE:
                in_string = False
        elif byte == _QUOTE:
            in_string = True
        elif byte in _OPEN:
            depth += 1
            if depth > limit:
                return False
        elif byte in _CLOSE:
            depth -= 1
    return True


def loads(raw: bytes | str, limit: int = MAX_DEPTH) -> Any:
    """`json.loads`, but TooDeep (a ValueError) beyond `limit` levels."""
    data = raw.encode() if isinstance(raw, str) else raw
    if not depth_within(data, limit):
        raise TooDeep(f"JSON nested deeper than {limit} levels")
    return json.loads(data)
