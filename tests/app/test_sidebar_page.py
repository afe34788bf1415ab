"""POST /sidebar (Zendesk's signed URL in, a session out), POST /api/v1/session, and the
`require_agent` / `authorize` guards, on the app built as in production.

Zendesk's token is signed with the test app key (tests/keys.py); Zendesk's API is faked at
the HTTP edge with `responses` (tests/sidebar_auth.py).
"""
from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

import jwt
import pytest
import responses
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import jsonify

from helpdesk_app import create_app
from helpdesk_app.security.sidebar import verify_session_token
from helpdesk_app.settings import Settings
from helpdesk_app.web.api.auth import authorize, current_agent, require_agent
from tests.app.test_settings import UPSTREAM_ENV
from tests.sidebar_auth import (
    FIRST_LEVEL,
    INSTALLATION_ID,
    LICENSE_AND_RENEWALS,
    mock_agent,
    mock_unknown_user,
    session_header,
    zendesk_app_jwt,
)

USER = 9000
SECRET_KEY = UPSTREAM_ENV["SECRET_KEY"]
CSP = ("default-src 'none'; script-src 'self' https://static.zdassets.com; style-src 'self'; "
       "img-src 'self' data:; connect-src 'self'; frame-ancestors https://acme.zendesk.com; "
       "base-uri 'none'; form-action 'none'")
SESSION_BLOCK = re.compile(
    r'<script type="application/json" id="lnr-session">(.*?)</script>', re.DOTALL)


def build_app(migrated_url, **env):
    app = create_app(Settings.from_env({**UPSTREAM_ENV, "DATABASE_URL": migrated_url, **env}))

    # A test-only route: how the API's views will use the guards.
    @require_agent
    def guarded(action):
        authorize(action)
        return jsonify(agent=current_agent().id, action=action)

    app.add_url_rule("/test-only/guarded/<action>", "test_only_guarded", guarded, methods=["POST"])
    return app


@pytest.fixture
def app(migrated_url):
    app = build_app(migrated_url)
    yield app
    app.extensions["helpdesk"].db.kw["bind"].dispose()


@pytest.fixture
def zendesk():
    """Zendesk's API; any request not registered fails the test."""
    with responses.RequestsMock() as mock:
        yield mock


@pytest.fixture
def client(app, zendesk):
    return app.test_client()


def open_sidebar(client, token):
    return client.post("/sidebar", data={"token": token})


def session_of(response) -> dict:
    (block,) = SESSION_BLOCK.findall(response.get_data(as_text=True))
    return json.loads(block)


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["error"]["code"] == code and body["error"]["message"]
    return body["error"]


# -- POST /sidebar ---------------------------------------------------------------------------


def test_a_signed_page_request_gets_the_page_and_a_session(client, zendesk):
    mock_agent(zendesk, USER, name="Ada Agent")
    before = datetime.now(timezone.utc).replace(microsecond=0)  # tokens count whole seconds

    response = open_sidebar(client, zendesk_app_jwt(USER))

    assert response.status_code == 200 and response.mimetype == "text/html"
    assert response.headers["Content-Security-Policy"] == CSP
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "Set-Cookie" not in response.headers
    session = session_of(response)
    assert session["agent"] == {"id": USER, "name": "Ada Agent", "role": "agent"}
    assert session["installation_id"] == INSTALLATION_ID
    claims = verify_session_token(SECRET_KEY, session["token"], now=datetime.now(timezone.utc))
    assert (claims.user_id, claims.installation_id, claims.subdomain) == (USER, INSTALLATION_ID, "acme")
    expires_at = datetime.strptime(session["expires_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    assert expires_at == claims.expires_at
    assert timedelta(minutes=14) < expires_at - before <= timedelta(minutes=15)
    # The agent was read from Zendesk, not from anything the browser sent (both at once).
    assert sorted(c.request.path_url.split("?")[0] for c in zendesk.calls) == [
        f"/api/v2/users/{USER}.json", f"/api/v2/users/{USER}/groups.json"]


def test_the_page_runs_no_inline_script(client, zendesk):
    mock_agent(zendesk, USER)
    page = open_sidebar(client, zendesk_app_jwt(USER)).get_data(as_text=True)

    scripts = re.findall(r"<script\b([^>]*)>", page)
    assert scripts == [  # Zendesk's ZAF SDK, the page's module, and data (never executed)
        ' src="https://static.zdassets.com/zendesk_app_framework_sdk/2.0/zaf_sdk.min.js" defer',
        ' type="module" src="/static/sidebar/sidebar.js"',
        ' type="application/json" id="lnr-session"',
    ]
    assert re.findall(r"<script\b[^>]*>(.*?)</script>", page, re.DOTALL)[:2] == ["", ""]
    assert not re.search(r"\son\w+\s*=", page)  # no inline event handlers either
    assert "javascript:" not in page


def test_an_admin_gets_a_session_too(client, zendesk):
    mock_agent(zendesk, USER, role="admin", groups=())

    response = open_sidebar(client, zendesk_app_jwt(USER))

    assert response.status_code == 200
    assert session_of(response)["agent"]["role"] == "admin"


def test_an_agent_name_cannot_break_out_of_the_data_block(client, zendesk):
    name = '</script><script>alert("x")</script><!-- & -->'
    mock_agent(zendesk, USER, name=name)

    response = open_sidebar(client, zendesk_app_jwt(USER))
    page = response.get_data(as_text=True)

    # The page's own three scripts (ZAF, its module, the data block), and not one more.
    assert page.count("</script>") == page.count("<script ") == 3
    assert "<script>" not in page and "<!--" not in page
    assert "\\u003c/script\\u003e" in page and "\\u0026" in page
    assert session_of(response)["agent"]["name"] == name  # JSON.parse gives it back intact


@pytest.mark.parametrize("token, code", [
    (None, "missing_token"),
    ("", "missing_token"),
    ("not-a-jwt", "malformed_token"),
])
def test_a_page_request_without_a_usable_token_is_401(client, token, code):
    data = {} if token is None else {"token": token}
    response = client.post("/sidebar", data=data)

    assert_error(response, 401, code)
    assert response.headers["Cache-Control"] == "no-store"


def test_a_token_signed_with_another_key_is_401(client):
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode(jwt.decode(zendesk_app_jwt(USER), options={"verify_signature": False}),
                       other, algorithm="RS256")

    assert_error(open_sidebar(client, token), 401, "bad_signature")


def test_an_expired_token_is_401(client):
    an_hour_ago = datetime.now(timezone.utc) - timedelta(hours=1)

    assert_error(open_sidebar(client, zendesk_app_jwt(USER, now=an_hour_ago)), 401, "expired")


@pytest.mark.parametrize("aud", [
    "https://other.zendesk.com/api/v2/apps/installations/360001234567.json",
    "https://acme.zendesk.com/api/v2/apps/installations/360001234567.json.evil",
    "https://acme.zendesk.com",
])
def test_a_token_for_another_audience_is_401(client, aud):
    assert_error(open_sidebar(client, zendesk_app_jwt(USER, aud=aud)), 401, "wrong_audience")


def test_a_token_for_another_installation_is_401_when_one_is_configured(migrated_url, zendesk):
    app = build_app(migrated_url, ZENDESK_APP_INSTALLATION_ID=str(INSTALLATION_ID))
    try:
        client = app.test_client()
        response = open_sidebar(client, zendesk_app_jwt(USER, installation_id=INSTALLATION_ID + 1))
        assert_error(response, 401, "wrong_audience")
        mock_agent(zendesk, USER)
        assert open_sidebar(client, zendesk_app_jwt(USER)).status_code == 200
    finally:
        app.extensions["helpdesk"].db.kw["bind"].dispose()


def test_a_token_from_another_issuer_is_401(client):
    assert_error(open_sidebar(client, zendesk_app_jwt(USER, iss="other.zendesk.com")), 401, "wrong_issuer")


def test_an_end_user_is_403(client, zendesk):
    mock_agent(zendesk, USER, role="end-user", groups=())

    response = open_sidebar(client, zendesk_app_jwt(USER))

    assert_error(response, 403, "not_an_agent")
    assert "lnr-session" not in response.get_data(as_text=True)


def test_a_user_zendesk_does_not_know_is_403(client, zendesk):
    mock_unknown_user(zendesk, USER)

    assert_error(open_sidebar(client, zendesk_app_jwt(USER)), 403, "not_an_agent")


def test_zendesk_failing_is_502_and_no_session(client, zendesk):
    zendesk.get(f"https://acme.zendesk.com/api/v2/users/{USER}.json", status=401,
                json={"error": "Couldn't authenticate you"})

    response = open_sidebar(client, zendesk_app_jwt(USER))

    assert_error(response, 502, "upstream_error")


def test_a_session_token_is_not_accepted_as_a_zendesk_token(client, app):
    session = session_header(app, USER)["Authorization"].removeprefix("Bearer ")

    assert open_sidebar(client, session).status_code == 401


def test_tokens_never_appear_in_logs(client, zendesk, caplog):
    caplog.set_level("DEBUG")
    mock_agent(zendesk, USER)
    app_token = zendesk_app_jwt(USER)

    session = session_of(open_sidebar(client, app_token))
    client.post("/api/v1/session", headers={"Authorization": f"Bearer {session['token']}"})

    assert app_token not in caplog.text and session["token"] not in caplog.text


# -- POST /api/v1/session --------------------------------------------------------------------


def test_renewal_without_authorization_is_401_with_a_bearer_challenge(client):
    response = client.post("/api/v1/session")

    assert_error(response, 401, "missing_token")
    assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "Token abc"])
def test_renewal_with_another_scheme_is_401(client, header):
    response = client.post("/api/v1/session", headers={"Authorization": header})

    assert_error(response, 401, "missing_token")
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_renewal_with_a_valid_session_gives_a_new_token(client, zendesk, app):
    mock_agent(zendesk, USER)
    old = session_header(app, USER)

    response = client.post("/api/v1/session", headers=old)

    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"token", "expires_at"}
    assert body["token"] != old["Authorization"].removeprefix("Bearer ")
    claims = verify_session_token(SECRET_KEY, body["token"], now=datetime.now(timezone.utc))
    assert (claims.user_id, claims.installation_id) == (USER, INSTALLATION_ID)
    assert body["expires_at"] == claims.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert response.headers["Cache-Control"] == "no-store"


def test_renewal_rereads_the_agent_through_the_cache(client, zendesk, app):
    mock_agent(zendesk, USER)
    headers = session_header(app, USER)

    assert client.post("/api/v1/session", headers=headers).status_code == 200
    assert client.post("/api/v1/session", headers=headers).status_code == 200
    assert len(zendesk.calls) == 2  # one user read, one groups read: the second hit the cache


def test_renewal_for_an_agent_demoted_to_end_user_is_403(client, zendesk, app):
    mock_agent(zendesk, USER, role="end-user", groups=())

    assert_error(client.post("/api/v1/session", headers=session_header(app, USER)), 403, "not_an_agent")


def test_renewal_with_a_session_for_another_subdomain_is_401(client, app):
    headers = session_header(app, USER, subdomain="other")

    response = client.post("/api/v1/session", headers=headers)

    assert_error(response, 401, "wrong_account")
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_renewal_with_an_expired_session_is_401(client, app):
    headers = session_header(app, USER, now=datetime.now(timezone.utc) - timedelta(minutes=16))

    assert_error(client.post("/api/v1/session", headers=headers), 401, "expired")


def test_renewal_with_a_session_signed_by_another_key_is_401(client, app):
    from helpdesk_app.security.sidebar import issue_session_token

    token = issue_session_token("another-secret-key-that-is-32-bytes-long", user_id=USER,
                                installation_id=INSTALLATION_ID, subdomain="acme",
                                now=datetime.now(timezone.utc))

    response = client.post("/api/v1/session", headers={"Authorization": f"Bearer {token}"})

    assert_error(response, 401, "bad_signature")


def test_renewal_refuses_a_zendesk_token(client):
    response = client.post("/api/v1/session",
                           headers={"Authorization": f"Bearer {zendesk_app_jwt(USER)}"})

    assert response.status_code == 401


def test_renewal_for_another_installation_is_401_when_one_is_configured(migrated_url):
    app = build_app(migrated_url, ZENDESK_APP_INSTALLATION_ID=str(INSTALLATION_ID))
    try:
        headers = session_header(app, USER, installation_id=INSTALLATION_ID + 1)
        with responses.RequestsMock():  # refused before any Zendesk call
            response = app.test_client().post("/api/v1/session", headers=headers)
        assert_error(response, 401, "wrong_installation")
    finally:
        app.extensions["helpdesk"].db.kw["bind"].dispose()


# -- authorize -------------------------------------------------------------------------------


def test_an_agent_outside_lnr_may_associate(client, zendesk, app):
    mock_agent(zendesk, USER, groups=(FIRST_LEVEL,))

    response = client.post("/test-only/guarded/associate", headers=session_header(app, USER))

    assert response.status_code == 200
    assert response.get_json() == {"agent": USER, "action": "associate"}


def test_an_agent_outside_lnr_may_not_force_associate(client, zendesk, app):
    mock_agent(zendesk, USER, groups=(FIRST_LEVEL,))

    response = client.post("/test-only/guarded/force_associate", headers=session_header(app, USER))

    error = assert_error(response, 403, "forbidden")
    assert error == {
        "code": "forbidden",
        "message": "Force associate subscription needs membership of the Zendesk group 'License and Renewals'",
        "action": "force_associate",
    }
    assert "WWW-Authenticate" not in response.headers


def test_an_lnr_member_may_force_associate(client, zendesk, app):
    mock_agent(zendesk, USER, groups=(FIRST_LEVEL, LICENSE_AND_RENEWALS))

    response = client.post("/test-only/guarded/force_associate", headers=session_header(app, USER))

    assert response.status_code == 200


def test_audit_is_refused_to_an_agent_and_allowed_to_an_admin(client, zendesk, app):
    mock_agent(zendesk, USER)
    mock_agent(zendesk, USER + 1, role="admin", groups=())

    refused = client.post("/test-only/guarded/audit", headers=session_header(app, USER))
    allowed = client.post("/test-only/guarded/audit", headers=session_header(app, USER + 1))

    assert assert_error(refused, 403, "forbidden")["action"] == "audit"
    assert allowed.status_code == 200


def test_the_guard_refuses_before_the_view_runs(client):
    response = client.post("/test-only/guarded/associate")

    assert_error(response, 401, "missing_token")
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_a_user_zendesk_does_not_know_is_403_on_the_api(client, zendesk, app):
    mock_unknown_user(zendesk, USER)

    response = client.post("/test-only/guarded/associate", headers=session_header(app, USER))

    assert_error(response, 403, "not_an_agent")

