"""Markers: `[lnr:<kind>:<key>]`, the visible token at the end of every note and issue, by
which the service recognises its own writing (architecture.md, "Notes and markers")."""
from __future__ import annotations

import hashlib
import hmac
import json
import re
from typing import Any, Mapping

MARKER_PREFIX = "lnr"
_MARKER_KIND = re.compile(r"^[a-z][a-z_-]*$")
# A marker must stay one visible token: no whitespace, and no `]` that would end it early.
_MARKER_KEY = re.compile(r"^[^\s\[\]]+$")
DIGEST_HEX = 12
MAC_HEX = 16  # 64 bits: nobody without the key writes a valid marker by guessing


def marker(kind: str, key: object) -> str:
    """`[lnr:<kind>:<key>]`, the token at the end of every note and issue."""
    text = str(key)
    if not _MARKER_KIND.match(kind) or not _MARKER_KEY.match(text):
        raise ValueError(f"not a marker kind/key: {kind!r}, {text!r}")
    return f"[{MARKER_PREFIX}:{kind}:{text}]"


def signed_marker(secret: bytes, kind: str, key: object) -> str:
    """`[lnr:<kind>:<key>:<mac>]`: the key with HMAC-SHA256(secret, kind:key) after it, so
    that text a customer writes can neither imitate a note nor suppress one (a marker of
    the service's is never shown to customers: notes are private)."""
    if not secret:
        raise ValueError("a marker needs its key")  # never an unkeyed marker
    text = str(key)
    mac = hmac.new(secret, f"{kind}:{text}".encode(), hashlib.sha256).hexdigest()[:MAC_HEX]
    return marker(kind, f"{text}:{mac}")


def marker_stamp(value: str | None) -> str:
    """A timestamp as a marker key part: GitLab writes both `2024-05-01T10:00:00Z` and
    `2024-05-01 10:00:00 UTC`; only letters and digits are kept."""
    return re.sub(r"[^0-9A-Za-z]", "", value or "") or "none"


def inputs_digest(inputs: Mapping[str, Any]) -> str:
    """12 hex of SHA-256 over the canonical JSON of a plan's inputs (the noop marker's key)."""
    canonical = json.dumps(inputs, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                           default=str)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()[:DIGEST_HEX]
