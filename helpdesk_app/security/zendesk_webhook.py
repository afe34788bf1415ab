"""Zendesk webhook signatures: the first step of `POST /webhooks/zendesk`, before any parsing.

Zendesk signs every webhook request with the webhook's signing secret and sends two headers
(https://developer.zendesk.com/documentation/webhooks/verifying/ and
https://developer.zendesk.com/documentation/webhooks/anatomy-of-a-webhook-request/):

    X-Zendesk-Webhook-Signature            base64(HMAC-SHA256(secret, timestamp + body))
    X-Zendesk-Webhook-Signature-Timestamp  e.g. 2021-03-25T05:09:27Z (ISO 8601, UTC)

The HMAC key is the secret's UTF-8 bytes exactly as Zendesk shows it. Zendesk's secrets look
like base64 ("dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ==" in its own example), but its
example feeds the string itself to `createHmac`, so it is never base64-decoded here.

The message is the timestamp header's text followed by the raw request body, byte for byte,
with no separator: verify `request.get_data()`, never re-serialised JSON. A body may be
empty (Zendesk notes that GET and DELETE webhooks have none).

Note: an older copy of the Zendesk page (under /documentation/event-connectors/webhooks/)
wrote the formula as base64(HMACSHA256((BODY)(TIMESTAMP))) and its sample vector only
verifies with body first. The current page, and the integrations that run against Zendesk,
sign timestamp + body; that is what this module does, and nothing else is accepted.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
from datetime import datetime

SIGNATURE_HEADER = "X-Zendesk-Webhook-Signature"
TIMESTAMP_HEADER = "X-Zendesk-Webhook-Signature-Timestamp"
DEFAULT_TOLERANCE_S = 300

# The shape Zendesk sends (2021-03-25T05:09:27Z); an explicit offset and fractional seconds
# are tolerated, a naive time, a date alone or a Unix number are not. re.ASCII: \d must not
# match other scripts' digits.
_ISO_TIMESTAMP = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:Z|[+-]\d{2}:\d{2})", re.ASCII
)


class SignatureError(Exception):
    """A webhook request that must be refused; `code` is stable, `message` is safe to log.

    Neither ever contains the secret, the expected signature or the body.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def sign_zendesk(secret: str, timestamp: str, body: bytes) -> str:
    """The value Zendesk puts in `X-Zendesk-Webhook-Signature` (for tests and the sandbox)."""
    digest = hmac.new(secret.encode("utf-8"), timestamp.encode("utf-8") + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def verify_zendesk_signature(
    secret: str,
    signature: str | None,
    timestamp: str | None,
    body: bytes,
    *,
    now: datetime,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
) -> None:
    """Return quietly for an authentic, fresh request; raise `SignatureError` otherwise.

    Order: headers present, then the signature (so an unsigned request learns nothing about
    our clock), then the timestamp's form and its distance from `now` in either direction.
    An empty `secret` or a naive `now` is a programming error (ValueError), never a pass.
    """
    if not secret:
        raise ValueError("the Zendesk webhook signing secret is not configured")
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if not signature:
        raise SignatureError("missing_signature", f"the {SIGNATURE_HEADER} header is missing")
    if not timestamp:
        raise SignatureError("missing_signature", f"the {TIMESTAMP_HEADER} header is missing")

    expected = sign_zendesk(secret, timestamp, body)
    # Compare bytes, not str: compare_digest refuses non-ASCII str, and a header can hold any.
    if not hmac.compare_digest(expected.encode("ascii"), signature.encode("utf-8", "replace")):
        raise SignatureError("bad_signature", "the webhook signature does not match")

    signed_at = _parse_timestamp(timestamp)
    skew = abs((now - signed_at).total_seconds())
    if skew > tolerance_s:
        raise SignatureError(
            "stale_timestamp",
            f"the signature timestamp is {int(skew)} s away from now (at most {tolerance_s} s allowed)",
        )


def _parse_timestamp(timestamp: str) -> datetime:
    if not _ISO_TIMESTAMP.fullmatch(timestamp):
        raise SignatureError("bad_timestamp", "the signature timestamp is not an ISO 8601 UTC time")
    try:
        return datetime.fromisoformat(timestamp)
    except ValueError:  # well-shaped but impossible, e.g. month 13
        raise SignatureError("bad_timestamp", "the signature timestamp is not a valid time") from None
