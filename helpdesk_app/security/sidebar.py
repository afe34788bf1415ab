"""Sidebar authentication: Zendesk's signed-URL JWT in, the service's own session token out.

1. Zendesk's token (verify_zendesk_app_jwt). With `"signed": true` on the app's location
   in its manifest (zendesk_app/manifest.json), Zendesk loads the app's first page with a POST whose form field `token` holds a
   JWT that Zendesk signs RS256 for the app installation; it is sent on that first request
   only. Sources:
   - https://developer.zendesk.com/documentation/apps/build-an-app/building-a-server-side-app/part-5-secure-the-app/
     (Zendesk signs RS256; decode with PyJWT + cryptography, the app's public key and the
     app installation id; its audience, ZENDESK_APP_AUD, combines the account's subdomain
     and the installation id)
   - https://developer.zendesk.com/documentation/apps/app-developer-guide/manifest/ (`signed`, `signedUrls`)
   - https://developer.zendesk.com/api-reference/ticketing/apps/apps/#get-app-public-key
     (`GET /api/v2/apps/{app_id}/public_key.pem`, anonymous: the app's public key in PEM)
   - https://developer.zendesk.com/documentation/apps/app-developer-guide/using-the-apps-framework/#jwt-claims
     (the claims list: exp, nbf, iat, iss, aud, sub, qsh, cnf, context {product, location};
     known here from an integration that cites it, the stored copy we read stops earlier)
   The exact strings of `iss`, `aud` and `sub` were not in the copies of those pages we
   could read; the forms below are the ones integrations running against Zendesk check:
     iss  "{subdomain}.zendesk.com" (also accepted: "https://{subdomain}.zendesk.com")
     aud  "https://{subdomain}.zendesk.com/api/v2/apps/installations/{installation_id}.json"
     sub  the agent. No copy we read shows its form; both plausible ones are accepted:
          "https://{subdomain}.zendesk.com/api/v2/users/{user_id}.json" or a bare id.
          Confirm against a real token before go-live.
   Each is matched whole, never by prefix or substring; anything else is refused.
   The token carries no ticket id (`context` names the product and location only); if a
   `context.ticket_id` ever appears it is returned, otherwise `ticket_id` is None and the
   page must get the ticket id from ZAF and have it authorised like any other input.

2. The service's session token (issue_session_token / verify_session_token). An HS256 JWT
   of at most 15 minutes, bound to the agent, subdomain and installation, kept in page
   memory (architecture.md, "Three lifecycles"). Three things keep other tokens out:
   its own header `typ`, its own `iss`/`aud`, and a key derived from SECRET_KEY for this
   purpose only, so nothing else the service signs with SECRET_KEY verifies as a session.

Everything here is pure: no Flask, no database, no clock but the `now` you pass.
Bad configuration (a non-RSA key, a malformed subdomain, a short secret, a naive `now`)
raises ValueError; a bad token raises SidebarAuthError. Neither message ever contains a
token, a key or a secret.
"""
from __future__ import annotations

import functools
import hashlib
import hmac
import math
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Mapping

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from jwt.exceptions import InvalidSubjectError

# --- Zendesk's signed-URL token ---------------------------------------------------------

ZENDESK_ALGORITHMS = ("RS256",)  # pinned: never taken from the token's own header
ZENDESK_REQUIRED_CLAIMS = ("exp", "iat", "iss", "aud", "sub")
MIN_RSA_BITS = 2048

# Zendesk subdomains: lower-case letters, digits, hyphens (the same rule as settings.py).
_SUBDOMAIN = re.compile(r"[a-z0-9][a-z0-9-]{0,62}", re.ASCII)
_DIGITS = re.compile(r"[1-9][0-9]{0,18}", re.ASCII)

# --- The service's own session token ------------------------------------------------------

SESSION_ALGORITHM = "HS256"
SESSION_TYP = "sidebar-session+jwt"
SESSION_ISSUER = "helpdesk-app"
SESSION_AUDIENCE = "helpdesk-app:sidebar-session"
SESSION_MAX_TTL_S = 900  # architecture.md: "a signed bearer token of at most 15 minutes"
SESSION_REQUIRED_CLAIMS = ("exp", "iat", "iss", "aud", "sub", "jti", "zd_sub", "zd_ins")
SESSION_CLOCK_SKEW_S = 30
MIN_SECRET_BYTES = 32  # RFC 7518 section 3.2: an HS256 key of at least 256 bits
_SESSION_KEY_LABEL = b"helpdesk-app/sidebar-session/v1"


class SidebarAuthError(Exception):
    """A sidebar token that must be refused; `code` is stable, `message` is safe to log."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True)
class AppClaims:
    """What a verified Zendesk signed-URL token says: who, where, and for which install."""

    user_id: int
    subdomain: str
    installation_id: int
    ticket_id: int | None
    product: str | None
    location: str | None
    issued_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class SessionClaims:
    """What a verified session token of ours says."""

    user_id: int
    subdomain: str
    installation_id: int
    token_id: str
    issued_at: datetime
    expires_at: datetime


def zendesk_issuers(subdomain: str) -> tuple[str, ...]:
    return (f"{subdomain}.zendesk.com", f"https://{subdomain}.zendesk.com")


def zendesk_audience(subdomain: str, installation_id: int) -> str:
    return f"https://{subdomain}.zendesk.com/api/v2/apps/installations/{installation_id}.json"


def zendesk_user_url(subdomain: str, user_id: int) -> str:
    return f"https://{subdomain}.zendesk.com/api/v2/users/{user_id}.json"


def verify_zendesk_app_jwt(
    token: str,
    *,
    public_key_pem: str,
    subdomain: str,
    installation_id: int | None,
    now: datetime | None = None,
    leeway_s: int = 30,
) -> AppClaims:
    """Verify the `token` form field of Zendesk's signed-URL POST and return its claims.

    `installation_id` None accepts any installation of this app on `subdomain` (the
    audience must still have the documented form) and reports which one it was.
    """
    _check_subdomain(subdomain)
    if installation_id is not None:
        _check_positive_int(installation_id, "installation_id")
    key = load_rsa_public_key(public_key_pem)
    now = _aware(now if now is not None else datetime.now(timezone.utc))
    if not token:
        raise SidebarAuthError("missing_token", "no signed-URL token was sent")

    payload = _decode(
        token,
        key,
        algorithms=list(ZENDESK_ALGORITHMS),
        required=ZENDESK_REQUIRED_CLAIMS,
        issuer=zendesk_issuers(subdomain),
        audience=zendesk_audience(subdomain, installation_id) if installation_id is not None else None,
    )
    issued_at, expires_at = _check_times(payload, now, leeway_s)
    installation = _installation_from_aud(payload["aud"], subdomain)
    if installation_id is not None and installation != installation_id:
        raise SidebarAuthError("wrong_audience", "the token is for another app installation")
    context = payload.get("context")
    if context is None:
        context = {}
    if not isinstance(context, Mapping):
        raise SidebarAuthError("malformed_token", "the context claim is not an object")
    return AppClaims(
        user_id=_user_from_sub(payload["sub"], subdomain),
        subdomain=subdomain,
        installation_id=installation,
        ticket_id=_optional_id(context.get("ticket_id")),
        product=_optional_str(context.get("product")),
        location=_optional_str(context.get("location")),
        issued_at=issued_at,
        expires_at=expires_at,
    )


def issue_session_token(
    secret_key: str,
    *,
    user_id: int,
    installation_id: int,
    subdomain: str,
    now: datetime,
    ttl_s: int = SESSION_MAX_TTL_S,
) -> str:
    """A session token for the sidebar page; `ttl_s` above 15 minutes is refused."""
    _check_positive_int(user_id, "user_id")
    _check_positive_int(installation_id, "installation_id")
    _check_subdomain(subdomain)
    if isinstance(ttl_s, bool) or not isinstance(ttl_s, int) or not 0 < ttl_s <= SESSION_MAX_TTL_S:
        raise ValueError(f"ttl_s must be between 1 and {SESSION_MAX_TTL_S} seconds")
    issued = int(_aware(now).timestamp())
    claims = {
        "iss": SESSION_ISSUER,
        "aud": SESSION_AUDIENCE,
        "sub": str(user_id),
        "zd_sub": subdomain,
        "zd_ins": installation_id,
        "iat": issued,
        "exp": issued + ttl_s,
        "jti": secrets.token_urlsafe(16),
    }
    return jwt.encode(claims, _session_key(secret_key), algorithm=SESSION_ALGORITHM,
                      headers={"typ": SESSION_TYP})


def verify_session_token(secret_key: str, token: str, *, now: datetime) -> SessionClaims:
    """Verify a session token of ours; anything else (a Zendesk token included) is refused."""
    key = _session_key(secret_key)
    now = _aware(now)
    if not token:
        raise SidebarAuthError("missing_token", "no session token was sent")
    payload = _decode(
        token,
        key,
        algorithms=[SESSION_ALGORITHM],
        required=SESSION_REQUIRED_CLAIMS,
        issuer=(SESSION_ISSUER,),
        audience=SESSION_AUDIENCE,
    )
    # Only after the signature: an unsigned header tells nothing worth acting on.
    if jwt.get_unverified_header(token).get("typ") != SESSION_TYP:
        raise SidebarAuthError("wrong_type", "the token is not a sidebar session token")
    issued_at, expires_at = _check_times(payload, now, SESSION_CLOCK_SKEW_S, expiry_leeway_s=0)
    if (expires_at - issued_at).total_seconds() > SESSION_MAX_TTL_S:
        raise SidebarAuthError("too_long_lived", "the token lives longer than a session may")
    subdomain = payload["zd_sub"]
    if not isinstance(subdomain, str) or not _SUBDOMAIN.fullmatch(subdomain):
        raise SidebarAuthError("malformed_token", "the token's subdomain is malformed")
    return SessionClaims(
        user_id=_claim_id(payload["sub"], "sub"),
        subdomain=subdomain,
        installation_id=_claim_id(payload["zd_ins"], "zd_ins"),
        token_id=str(payload["jti"]),
        issued_at=issued_at,
        expires_at=expires_at,
    )


# --- helpers ---------------------------------------------------------------------------

# PyJWT's exceptions, most specific first, mapped to our codes (one place, not N excepts).
_JWT_REFUSALS: tuple[tuple[type[Exception], str, str], ...] = (
    (jwt.InvalidAlgorithmError, "bad_algorithm", "the token is not signed with the expected algorithm"),
    (jwt.InvalidSignatureError, "bad_signature", "the token signature does not verify"),
    (jwt.MissingRequiredClaimError, "missing_claim", "the token lacks a required claim"),
    (jwt.InvalidIssuerError, "wrong_issuer", "the token was issued by someone else"),
    (jwt.InvalidAudienceError, "wrong_audience", "the token is meant for someone else"),
    (InvalidSubjectError,  # not re-exported by the jwt package
     "bad_subject", "the token's subject is malformed"),
    (jwt.DecodeError, "malformed_token", "the token cannot be decoded"),
    (jwt.InvalidTokenError, "invalid_token", "the token is not valid"),
)


def _decode(
    token: str,
    key: Any,
    *,
    algorithms: list[str],
    required: tuple[str, ...],
    issuer: tuple[str, ...],
    audience: str | None,
) -> dict[str, Any]:
    # PyJWT checks the signature, the pinned algorithm, presence, iss and (when given) aud
    # with an exact string comparison. Times are checked by _check_times against the `now`
    # passed in, because PyJWT reads the wall clock itself.
    options: Any = {  # jwt.types.Options, a TypedDict
        "require": list(required),
        "verify_exp": False,
        "verify_iat": False,
        "verify_nbf": False,
        "verify_aud": audience is not None,
        "strict_aud": True,
    }
    try:
        return jwt.decode(token, key, algorithms=algorithms, options=options,
                          issuer=issuer, audience=audience)
    except jwt.InvalidTokenError as exc:
        raise _refusal(exc) from exc


def _refusal(exc: Exception) -> SidebarAuthError:
    for kind, code, message in _JWT_REFUSALS:
        if isinstance(exc, kind):
            if isinstance(exc, jwt.MissingRequiredClaimError):
                message = f"the token lacks the {exc.claim!r} claim"
            return SidebarAuthError(code, message)
    return SidebarAuthError("invalid_token", "the token is not valid")  # pragma: no cover


def _check_times(
    payload: Mapping[str, Any], now: datetime, leeway_s: float, *, expiry_leeway_s: float | None = None
) -> tuple[datetime, datetime]:
    expiry_leeway_s = leeway_s if expiry_leeway_s is None else expiry_leeway_s
    now_ts = now.timestamp()
    exp = _numeric_date(payload, "exp")
    iat = _numeric_date(payload, "iat")
    if exp <= now_ts - expiry_leeway_s:
        raise SidebarAuthError("expired", "the token has expired")
    if iat > now_ts + leeway_s:
        raise SidebarAuthError("not_yet_valid", "the token was issued in the future")
    if "nbf" in payload and _numeric_date(payload, "nbf") > now_ts + leeway_s:
        raise SidebarAuthError("not_yet_valid", "the token is not valid yet")
    if exp < iat:
        raise SidebarAuthError("malformed_token", "the token expires before it was issued")
    return (datetime.fromtimestamp(iat, timezone.utc), datetime.fromtimestamp(exp, timezone.utc))


def _numeric_date(payload: Mapping[str, Any], name: str) -> float:
    value = payload[name]
    # bool is an int in Python; NaN and infinities parse from JSON and compare False.
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise SidebarAuthError("malformed_token", f"the {name} claim is not a number of seconds")
    return float(value)


def _installation_from_aud(aud: Any, subdomain: str) -> int:
    match = isinstance(aud, str) and re.fullmatch(
        rf"https://{re.escape(subdomain)}\.zendesk\.com/api/v2/apps/installations/([1-9][0-9]{{0,18}})\.json",
        aud,
        re.ASCII,
    )
    if not match:
        raise SidebarAuthError("wrong_audience", "the token is not for an app installation on this account")
    return int(match.group(1))


def _user_from_sub(sub: Any, subdomain: str) -> int:
    if isinstance(sub, str):
        if _DIGITS.fullmatch(sub):
            return int(sub)
        match = re.fullmatch(
            rf"https://{re.escape(subdomain)}\.zendesk\.com/api/v2/users/([1-9][0-9]{{0,18}})\.json",
            sub,
            re.ASCII,
        )
        if match:
            return int(match.group(1))
    raise SidebarAuthError("bad_subject", "the token does not name a user of this account")


def _claim_id(value: Any, name: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    if isinstance(value, str) and _DIGITS.fullmatch(value):
        return int(value)
    raise SidebarAuthError("malformed_token", f"the {name} claim is not an id")


def _optional_id(value: Any) -> int | None:
    if value is None:
        return None
    return _claim_id(value, "context.ticket_id")


def _optional_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


@functools.lru_cache(maxsize=8)
def load_rsa_public_key(public_key_pem: str) -> RSAPublicKey:
    # Parsing the PEM ourselves means the key can only ever be used as an RSA public key:
    # handing PyJWT a str would leave the HS256-with-the-PEM-as-secret confusion to its
    # own guard; here the algorithm list and the key type both shut it out.
    try:
        key = serialization.load_pem_public_key(public_key_pem.encode("ascii"))
    except (ValueError, TypeError, UnicodeEncodeError):
        raise ValueError("the Zendesk app public key is not a PEM public key") from None
    if not isinstance(key, RSAPublicKey):
        raise ValueError("the Zendesk app public key is not an RSA key")
    if key.key_size < MIN_RSA_BITS:
        raise ValueError(f"the Zendesk app public key is shorter than {MIN_RSA_BITS} bits")
    return key


def _session_key(secret_key: str) -> bytes:
    raw = (secret_key or "").encode("utf-8")
    if len(raw) < MIN_SECRET_BYTES:
        raise ValueError(f"the session secret key must be at least {MIN_SECRET_BYTES} bytes")
    # A purpose-bound key: a token signed with SECRET_KEY itself (or for any other purpose)
    # never verifies here, whatever claims it carries.
    return hmac.new(raw, _SESSION_KEY_LABEL, hashlib.sha256).digest()


def _check_subdomain(subdomain: str) -> None:
    if not isinstance(subdomain, str) or not _SUBDOMAIN.fullmatch(subdomain):
        raise ValueError("subdomain must be a Zendesk subdomain (lower-case letters, digits, hyphens)")


def _check_positive_int(value: Any, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive integer")


def _aware(now: datetime) -> datetime:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now
