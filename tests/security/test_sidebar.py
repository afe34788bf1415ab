"""Sidebar authentication: Zendesk's signed-URL JWT (RS256) and the service's session token."""
import base64
import dataclasses
import hashlib
import hmac
import json
from datetime import datetime, timedelta, timezone

import jwt
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from helpdesk_app.security import sidebar
from helpdesk_app.security.sidebar import (
    AppClaims,
    SidebarAuthError,
    issue_session_token,
    verify_session_token,
    verify_zendesk_app_jwt,
)

SUBDOMAIN = "acme"
INSTALLATION = 360001234567
USER = 9000
NOW = datetime(2024, 1, 1, 12, 0, tzinfo=timezone.utc)
NOW_TS = int(NOW.timestamp())
AUD = f"https://acme.zendesk.com/api/v2/apps/installations/{INSTALLATION}.json"
SECRET_KEY = "s" * 24 + "-session-key-for-tests"  # >= 32 bytes


def _pem(public_key) -> str:
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


@pytest.fixture(scope="module")
def zendesk_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def public_pem(zendesk_key):
    return _pem(zendesk_key.public_key())


def zendesk_claims(**overrides):
    """Claims shaped as Zendesk's signed-URL token; an override of None removes the claim."""
    claims = {
        "iss": "acme.zendesk.com",
        "aud": AUD,
        "sub": f"https://acme.zendesk.com/api/v2/users/{USER}.json",
        "iat": NOW_TS - 10,
        "exp": NOW_TS + 290,
        "qsh": "d9a8c2",
        "context": {"product": "support", "location": "ticket_sidebar"},
        "cnf": {"jku": "https://acme.zendesk.com/api/v2/apps/1/public_key.pem"},
    }
    claims.update(overrides)
    return {name: value for name, value in claims.items() if value is not None}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hand_made(header: dict, claims: dict, sign) -> str:
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    return f"{signing_input}.{b64url(sign(signing_input.encode()))}"


def rs256_signer(private_key):
    return lambda data: private_key.sign(data, padding.PKCS1v15(), hashes.SHA256())


def verify(token, public_pem, installation_id=INSTALLATION, **kwargs):
    return verify_zendesk_app_jwt(token, public_key_pem=public_pem, subdomain=SUBDOMAIN,
                                  installation_id=installation_id, now=kwargs.pop("now", NOW), **kwargs)


def refused(call, *args, **kwargs) -> SidebarAuthError:
    with pytest.raises(SidebarAuthError) as caught:
        call(*args, **kwargs)
    token = args[0] if args and isinstance(args[0], str) else kwargs.get("token", "")
    for text in (str(caught.value), caught.value.message):
        assert SECRET_KEY not in text
        assert "BEGIN PUBLIC KEY" not in text
        if token:
            assert token not in text
    return caught.value


# --- Zendesk's signed-URL token -------------------------------------------------------


def test_valid_zendesk_token_passes(zendesk_key, public_pem):
    token = jwt.encode(zendesk_claims(), zendesk_key, algorithm="RS256")
    claims = verify(token, public_pem)
    assert claims == AppClaims(
        user_id=USER, subdomain=SUBDOMAIN, installation_id=INSTALLATION, ticket_id=None,
        product="support", location="ticket_sidebar",
        issued_at=NOW - timedelta(seconds=10), expires_at=NOW + timedelta(seconds=290),
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        claims.user_id = 1  # type: ignore[misc]


def test_ticket_id_is_returned_when_the_claims_carry_it(zendesk_key, public_pem):
    context = {"product": "support", "location": "ticket_sidebar", "ticket_id": 4321}
    token = jwt.encode(zendesk_claims(context=context), zendesk_key, algorithm="RS256")
    assert verify(token, public_pem).ticket_id == 4321


def test_any_installation_on_the_account_when_none_is_configured(zendesk_key, public_pem):
    token = jwt.encode(zendesk_claims(), zendesk_key, algorithm="RS256")
    assert verify(token, public_pem, installation_id=None).installation_id == INSTALLATION


@pytest.mark.parametrize("iss", ["acme.zendesk.com", "https://acme.zendesk.com"])
def test_issuer_forms_accepted(zendesk_key, public_pem, iss):
    token = jwt.encode(zendesk_claims(iss=iss), zendesk_key, algorithm="RS256")
    assert verify(token, public_pem).subdomain == SUBDOMAIN


def test_bare_user_id_subject_accepted(zendesk_key, public_pem):
    token = jwt.encode(zendesk_claims(sub=str(USER)), zendesk_key, algorithm="RS256")
    assert verify(token, public_pem).user_id == USER


def test_expired_token_is_refused(zendesk_key, public_pem):
    token = jwt.encode(zendesk_claims(exp=NOW_TS - 31), zendesk_key, algorithm="RS256")
    assert refused(verify, token, public_pem).code == "expired"


def test_expiry_within_leeway_passes(zendesk_key, public_pem):
    token = jwt.encode(zendesk_claims(iat=NOW_TS - 300, exp=NOW_TS - 29), zendesk_key, algorithm="RS256")
    verify(token, public_pem)


def test_iat_in_the_future_beyond_leeway_is_refused(zendesk_key, public_pem):
    token = jwt.encode(zendesk_claims(iat=NOW_TS + 31, exp=NOW_TS + 331), zendesk_key, algorithm="RS256")
    assert refused(verify, token, public_pem).code == "not_yet_valid"


def test_iat_in_the_future_within_leeway_passes(zendesk_key, public_pem):
    token = jwt.encode(zendesk_claims(iat=NOW_TS + 29, exp=NOW_TS + 329), zendesk_key, algorithm="RS256")
    verify(token, public_pem)


def test_nbf_in_the_future_is_refused(zendesk_key, public_pem):
    token = jwt.encode(zendesk_claims(nbf=NOW_TS + 120), zendesk_key, algorithm="RS256")
    assert refused(verify, token, public_pem).code == "not_yet_valid"


@pytest.mark.parametrize("claim, value", [
    ("exp", float("nan")), ("exp", True), ("exp", "soon"), ("iat", float("inf")),
])
def test_non_numeric_times_are_refused(zendesk_key, public_pem, claim, value):
    token = jwt.encode(zendesk_claims(**{claim: value}), zendesk_key, algorithm="RS256")
    assert refused(verify, token, public_pem).code == "malformed_token"


@pytest.mark.parametrize("iss", [
    "evil.zendesk.com", "acme.zendesk.com.evil.test", "https://acme.zendesk.com/", "ACME.zendesk.com",
    "acme", 42, ["acme.zendesk.com"],
])
def test_wrong_issuer_is_refused(zendesk_key, public_pem, iss):
    # Hand-made: PyJWT will not even encode a non-string iss.
    token = hand_made({"alg": "RS256", "typ": "JWT"}, zendesk_claims(iss=iss), rs256_signer(zendesk_key))
    assert refused(verify, token, public_pem).code == "wrong_issuer"


def test_token_for_another_installation_is_refused(zendesk_key, public_pem):
    aud = "https://acme.zendesk.com/api/v2/apps/installations/1.json"
    token = jwt.encode(zendesk_claims(aud=aud), zendesk_key, algorithm="RS256")
    assert refused(verify, token, public_pem).code == "wrong_audience"


@pytest.mark.parametrize("installation_id", [INSTALLATION, None])
@pytest.mark.parametrize("aud", [
    f"https://evil.zendesk.com/api/v2/apps/installations/{INSTALLATION}.json",
    f"http://acme.zendesk.com/api/v2/apps/installations/{INSTALLATION}.json",
    f"https://acme.zendesk.com/api/v2/apps/installations/{INSTALLATION}.json?x=1",
    f"https://acme.zendesk.com.evil.test/api/v2/apps/installations/{INSTALLATION}.json",
    "https://acme.zendesk.com/api/v2/apps/installations/0.json",
    "https://acme.zendesk.com",
    [AUD, "https://other.test"],
    [AUD],
])
def test_wrong_audience_is_refused(zendesk_key, public_pem, aud, installation_id):
    token = jwt.encode(zendesk_claims(aud=aud), zendesk_key, algorithm="RS256")
    assert refused(verify, token, public_pem, installation_id=installation_id).code == "wrong_audience"


def test_hand_made_tokens_are_well_formed(zendesk_key, public_pem):
    # The hand-made tokens below fail for the reason each test names, not for their making.
    token = hand_made({"alg": "RS256", "typ": "JWT"}, zendesk_claims(), rs256_signer(zendesk_key))
    assert verify(token, public_pem).user_id == USER


@pytest.mark.parametrize("sub", [
    "https://evil.zendesk.com/api/v2/users/9000.json", "agent@vendor.test", "-1", "0", "9000.5",
])
def test_subject_that_is_not_a_user_of_this_account_is_refused(zendesk_key, public_pem, sub):
    token = jwt.encode(zendesk_claims(sub=sub), zendesk_key, algorithm="RS256")
    assert refused(verify, token, public_pem).code == "bad_subject"


@pytest.mark.parametrize("claim", ["exp", "iat", "iss", "aud", "sub"])
def test_missing_required_claim_is_refused(zendesk_key, public_pem, claim):
    token = jwt.encode(zendesk_claims(**{claim: None}), zendesk_key, algorithm="RS256")
    error = refused(verify, token, public_pem)
    assert error.code == "missing_claim"
    assert repr(claim) in error.message


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
def test_alg_none_is_refused(public_pem, alg):
    token = hand_made({"alg": alg, "typ": "JWT"}, zendesk_claims(), lambda _: b"")
    assert refused(verify, token, public_pem).code == "bad_algorithm"
    assert refused(verify, token.rstrip("."), public_pem).code in {"bad_algorithm", "malformed_token"}


@pytest.mark.parametrize("installation_id", [INSTALLATION, None])
def test_hs256_signed_with_the_public_key_is_refused(public_pem, installation_id):
    # The classic confusion: an attacker who knows the (public) PEM signs HS256 with it,
    # hoping the verifier feeds the same PEM to HMAC.
    token = hand_made({"alg": "HS256", "typ": "JWT"}, zendesk_claims(),
                      lambda data: hmac.new(public_pem.encode(), data, hashlib.sha256).digest())
    signing_input, _, signature = token.rpartition(".")
    forged = hmac.new(public_pem.encode(), signing_input.encode(), hashlib.sha256).digest()
    assert b64url(forged) == signature  # the forgery is well made
    assert refused(verify, token, public_pem, installation_id=installation_id).code == "bad_algorithm"


def test_other_rsa_algorithms_are_refused(zendesk_key, public_pem):
    token = jwt.encode(zendesk_claims(), zendesk_key, algorithm="RS512")
    assert refused(verify, token, public_pem).code == "bad_algorithm"


def test_token_signed_by_another_key_is_refused(public_pem):
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode(zendesk_claims(), other, algorithm="RS256")
    assert refused(verify, token, public_pem).code == "bad_signature"


def test_tampered_payload_is_refused(zendesk_key, public_pem):
    header, _, signature = jwt.encode(zendesk_claims(), zendesk_key, algorithm="RS256").split(".")
    payload = b64url(json.dumps(zendesk_claims(sub="https://acme.zendesk.com/api/v2/users/1.json")).encode())
    assert refused(verify, f"{header}.{payload}.{signature}", public_pem).code == "bad_signature"


@pytest.mark.parametrize("token, code", [("", "missing_token"), ("abc", "malformed_token"),
                                         ("a.b.c", "malformed_token")])
def test_garbage_is_refused(public_pem, token, code):
    assert refused(verify, token, public_pem).code == code


def test_session_token_is_not_a_zendesk_token(public_pem):
    token = issue_session_token(SECRET_KEY, user_id=USER, installation_id=INSTALLATION,
                                subdomain=SUBDOMAIN, now=NOW)
    assert refused(verify, token, public_pem).code == "bad_algorithm"


def test_non_rsa_or_short_public_keys_are_configuration_errors(zendesk_key):
    token = jwt.encode(zendesk_claims(), zendesk_key, algorithm="RS256")
    short = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()
    for pem in (_pem(ec.generate_private_key(ec.SECP256R1()).public_key()), _pem(short), "not a pem", ""):
        with pytest.raises(ValueError):
            verify(token, pem)


@pytest.mark.parametrize("subdomain", ["", "Acme", "acme.evil", "acme/x", "-acme"])
def test_malformed_subdomain_is_a_configuration_error(zendesk_key, public_pem, subdomain):
    token = jwt.encode(zendesk_claims(), zendesk_key, algorithm="RS256")
    with pytest.raises(ValueError):
        verify_zendesk_app_jwt(token, public_key_pem=public_pem, subdomain=subdomain,
                               installation_id=INSTALLATION, now=NOW)


# --- The service's session token --------------------------------------------------------


def issue(**overrides):
    arguments = dict(user_id=USER, installation_id=INSTALLATION, subdomain=SUBDOMAIN, now=NOW)
    arguments.update(overrides)
    return issue_session_token(SECRET_KEY, **arguments)


def session_claims(**overrides):
    claims = {"iss": sidebar.SESSION_ISSUER, "aud": sidebar.SESSION_AUDIENCE, "sub": str(USER),
              "zd_sub": SUBDOMAIN, "zd_ins": INSTALLATION, "iat": NOW_TS, "exp": NOW_TS + 900,
              "jti": "t1"}
    claims.update(overrides)
    return claims


def test_session_round_trip():
    claims = verify_session_token(SECRET_KEY, issue(), now=NOW + timedelta(seconds=60))
    assert (claims.user_id, claims.subdomain, claims.installation_id) == (USER, SUBDOMAIN, INSTALLATION)
    assert claims.issued_at == NOW
    assert claims.expires_at == NOW + timedelta(seconds=900)
    assert claims.token_id
    assert jwt.get_unverified_header(issue())["typ"] == sidebar.SESSION_TYP


def test_each_session_token_is_distinct():
    assert issue() != issue()


def test_session_expires():
    token = issue()
    verify_session_token(SECRET_KEY, token, now=NOW + timedelta(seconds=899))
    assert refused(verify_session_token, SECRET_KEY, token, now=NOW + timedelta(seconds=900)).code == "expired"


def test_session_from_the_future_is_refused():
    token = issue(now=NOW + timedelta(minutes=5))
    assert refused(verify_session_token, SECRET_KEY, token, now=NOW).code == "not_yet_valid"


def test_tampered_session_is_refused():
    header, payload, signature = issue().split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = "1"
    forged = f"{header}.{b64url(json.dumps(claims).encode())}.{signature}"
    assert refused(verify_session_token, SECRET_KEY, forged, now=NOW).code == "bad_signature"


def test_session_with_the_wrong_key_is_refused():
    token = issue()
    error = refused(verify_session_token, "another-secret-key-of-at-least-32-bytes", token, now=NOW)
    assert error.code == "bad_signature"


def test_zendesk_token_is_not_a_session(zendesk_key):
    token = jwt.encode(zendesk_claims(), zendesk_key, algorithm="RS256")
    assert refused(verify_session_token, SECRET_KEY, token, now=NOW).code == "bad_algorithm"


def test_zendesk_shaped_hs256_token_is_not_a_session():
    # Even signed with the session key itself, Zendesk's claims are not a session's.
    token = jwt.encode(zendesk_claims(), sidebar._session_key(SECRET_KEY), algorithm="HS256")
    assert refused(verify_session_token, SECRET_KEY, token, now=NOW).code == "missing_claim"


def test_token_signed_with_the_raw_secret_key_is_not_a_session():
    # Another HS256 token of ours (signed with SECRET_KEY itself) cannot pass, even with
    # a session's exact claims and header: the session key is derived for this purpose.
    token = jwt.encode(session_claims(), SECRET_KEY, algorithm="HS256", headers={"typ": sidebar.SESSION_TYP})
    assert refused(verify_session_token, SECRET_KEY, token, now=NOW).code == "bad_signature"


@pytest.mark.parametrize("overrides, headers, code", [
    ({"aud": "helpdesk-app:something-else"}, {"typ": sidebar.SESSION_TYP}, "wrong_audience"),
    ({"iss": "acme.zendesk.com"}, {"typ": sidebar.SESSION_TYP}, "wrong_issuer"),
    ({}, {"typ": "JWT"}, "wrong_type"),
    ({}, {}, "wrong_type"),
    ({"exp": NOW_TS + 3600}, {"typ": sidebar.SESSION_TYP}, "too_long_lived"),
    ({"zd_ins": None}, {"typ": sidebar.SESSION_TYP}, "missing_claim"),
    ({"zd_sub": "Evil/x"}, {"typ": sidebar.SESSION_TYP}, "malformed_token"),
])
def test_each_session_binding_is_checked(overrides, headers, code):
    claims = {k: v for k, v in session_claims(**overrides).items() if v is not None}
    token = jwt.encode(claims, sidebar._session_key(SECRET_KEY), algorithm="HS256", headers=headers)
    assert refused(verify_session_token, SECRET_KEY, token, now=NOW).code == code


def test_session_ttl_is_capped_at_fifteen_minutes():
    for ttl_s in (901, 3600, 0, -1):
        with pytest.raises(ValueError):
            issue(ttl_s=ttl_s)
    token = issue(ttl_s=60)
    claims = verify_session_token(SECRET_KEY, token, now=NOW)
    assert claims.expires_at - claims.issued_at == timedelta(seconds=60)
    default = verify_session_token(SECRET_KEY, issue(), now=NOW)
    assert (default.expires_at - default.issued_at).total_seconds() <= 900


def test_short_or_missing_secret_key_is_a_configuration_error():
    for key in ("", "short", "x" * 31):
        with pytest.raises(ValueError):
            issue_session_token(key, user_id=USER, installation_id=INSTALLATION, subdomain=SUBDOMAIN, now=NOW)
        with pytest.raises(ValueError):
            verify_session_token(key, issue(), now=NOW)


@pytest.mark.parametrize("overrides", [{"user_id": 0}, {"user_id": True}, {"installation_id": None},
                                       {"subdomain": "Acme"}, {"now": NOW.replace(tzinfo=None)}])
def test_session_issue_arguments_are_checked(overrides):
    with pytest.raises(ValueError):
        issue(**overrides)


@pytest.mark.parametrize("token, code", [("", "missing_token"), ("abc", "malformed_token")])
def test_session_garbage_is_refused(token, code):
    assert refused(verify_session_token, SECRET_KEY, token, now=NOW).code == code
