"""Zendesk webhook signatures: https://developer.zendesk.com/documentation/webhooks/verifying/"""
import base64
import hashlib
import hmac
from datetime import datetime, timedelta, timezone

import pytest

from helpdesk_app.security.zendesk_webhook import SignatureError, sign_zendesk, verify_zendesk_signature

# A secret shaped like the ones Zendesk shows (its own example secret), used as text.
SECRET = "dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ=="
TIMESTAMP = "2024-01-01T00:00:00Z"
NOW = datetime(2024, 1, 1, tzinfo=timezone.utc)
BODY = b'{"type":"zen:event-type:ticket.created","id":"01HV3C9QZ8"}'
# Computed with another implementation, not this code:
#   printf '%s' "$TIMESTAMP$BODY" | openssl dgst -sha256 -hmac "$SECRET" -binary | base64
KNOWN_SIGNATURE = "1zl30oIKN2xP3Lfbbs8nPJ+QLLy1qX5rvwlwe9/qcWQ="


def independent_signature(key: bytes, message: bytes) -> str:
    return base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()


def refused(signature, timestamp=TIMESTAMP, body=BODY, now=NOW, secret=SECRET) -> SignatureError:
    with pytest.raises(SignatureError) as caught:
        verify_zendesk_signature(secret, signature, timestamp, body, now=now)
    error = caught.value
    # Nothing secret ever leaves in an error: not the secret, not the expected signature.
    expected = sign_zendesk(secret, timestamp or "", body)
    for text in (str(error), error.message, repr(error)):
        assert secret not in text
        assert expected not in text
    return error


def test_known_vector():
    assert independent_signature(SECRET.encode(), TIMESTAMP.encode() + BODY) == KNOWN_SIGNATURE
    assert sign_zendesk(SECRET, TIMESTAMP, BODY) == KNOWN_SIGNATURE


def test_good_signature_passes():
    assert verify_zendesk_signature(SECRET, KNOWN_SIGNATURE, TIMESTAMP, BODY, now=NOW) is None


def test_empty_body_passes():
    # Zendesk: "Not all requests from webhooks will have a body (GETs, DELETEs)".
    signature = independent_signature(SECRET.encode(), TIMESTAMP.encode())
    verify_zendesk_signature(SECRET, signature, TIMESTAMP, b"", now=NOW)


def test_wrong_secret_is_refused():
    signature = independent_signature(b"another-secret", TIMESTAMP.encode() + BODY)
    assert refused(signature).code == "bad_signature"


def test_secret_is_used_as_text_not_base64_decoded():
    signature = independent_signature(base64.b64decode(SECRET), TIMESTAMP.encode() + BODY)
    assert refused(signature).code == "bad_signature"


def test_body_before_timestamp_is_refused():
    # The order an old copy of Zendesk's page showed; only timestamp + body is accepted.
    signature = independent_signature(SECRET.encode(), BODY + TIMESTAMP.encode())
    assert refused(signature).code == "bad_signature"


@pytest.mark.parametrize("index", [0, len(BODY) // 2, len(BODY) - 1])
def test_body_altered_by_one_byte_is_refused(index):
    altered = bytearray(BODY)
    altered[index] ^= 0x01
    assert refused(KNOWN_SIGNATURE, body=bytes(altered)).code == "bad_signature"


def test_timestamp_altered_is_refused():
    assert refused(KNOWN_SIGNATURE, timestamp="2024-01-01T00:00:01Z").code == "bad_signature"


@pytest.mark.parametrize("signature", [
    "not base64 at all",
    KNOWN_SIGNATURE[:-1],            # truncated
    KNOWN_SIGNATURE.lower(),
    " " + KNOWN_SIGNATURE,
    "ü" * 44,                        # non-ASCII must be refused, not crash compare_digest
])
def test_garbled_signature_is_refused(signature):
    assert refused(signature).code == "bad_signature"


@pytest.mark.parametrize("signature", [None, ""])
def test_missing_signature_header(signature):
    error = refused(signature)
    assert error.code == "missing_signature"
    assert "X-Zendesk-Webhook-Signature" in error.message


@pytest.mark.parametrize("timestamp", [None, ""])
def test_missing_timestamp_header(timestamp):
    error = refused(KNOWN_SIGNATURE, timestamp=timestamp)
    assert error.code == "missing_signature"
    assert "X-Zendesk-Webhook-Signature-Timestamp" in error.message


@pytest.mark.parametrize("offset", [timedelta(seconds=301), timedelta(seconds=-301), timedelta(days=-1)])
def test_timestamp_more_than_five_minutes_off_is_refused(offset):
    # now - 301 s: the request was signed 301 s ago (a replay); now + 301 s: in the future.
    assert refused(KNOWN_SIGNATURE, now=NOW + offset).code == "stale_timestamp"


@pytest.mark.parametrize("offset", [timedelta(seconds=300), timedelta(seconds=-300), timedelta(0)])
def test_timestamp_within_five_minutes_passes(offset):
    verify_zendesk_signature(SECRET, KNOWN_SIGNATURE, TIMESTAMP, BODY, now=NOW + offset)


def test_offset_timestamp_is_compared_as_an_instant():
    timestamp = "2024-01-01T01:00:00+01:00"  # the same instant as NOW
    signature = sign_zendesk(SECRET, timestamp, BODY)
    verify_zendesk_signature(SECRET, signature, timestamp, BODY, now=NOW)


@pytest.mark.parametrize("timestamp", [
    "yesterday",
    "1704067200",                    # Unix seconds: not what Zendesk sends
    "2024-01-01T00:00:00",           # no zone
    "2024-01-01",                    # no time
    "2024-13-01T00:00:00Z",          # no such month
    "2024-01-01 00:00:00Z",          # not the ISO 8601 'T' form
    "２０２４-01-01T00:00:00Z",       # full-width digits
    " 2024-01-01T00:00:00Z",
])
def test_malformed_timestamp_is_refused(timestamp):
    # Correctly signed, so only the timestamp's form can be the reason.
    signature = sign_zendesk(SECRET, timestamp, BODY)
    assert refused(signature, timestamp=timestamp).code == "bad_timestamp"


def test_signature_is_checked_before_the_timestamp():
    assert refused(KNOWN_SIGNATURE, timestamp="yesterday").code == "bad_signature"


def test_an_unset_secret_never_passes():
    with pytest.raises(ValueError):
        verify_zendesk_signature("", KNOWN_SIGNATURE, TIMESTAMP, BODY, now=NOW)


def test_naive_now_is_a_programming_error():
    with pytest.raises(ValueError):
        verify_zendesk_signature(SECRET, KNOWN_SIGNATURE, TIMESTAMP, BODY, now=NOW.replace(tzinfo=None))
