"""The admins' page of failures (web/operators.py): opened with Zendesk's signed URL like
the sidebar, for admins only, static markup with the session in a data block."""
from __future__ import annotations

import pytest

from tests.app.test_sidebar_page import CSP, app, build_app, client, session_of, zendesk  # noqa: F401
from tests.sidebar_auth import mock_agent, zendesk_app_jwt

ADMIN, AGENT = 9002, 9000


def open_page(client, user):  # noqa: F811
    return client.post("/operators", data={"token": zendesk_app_jwt(user)})


def test_an_admin_gets_the_page_and_a_session(client, zendesk):  # noqa: F811
    mock_agent(zendesk, ADMIN, role="admin", groups=())
    response = open_page(client, ADMIN)
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert response.headers["Content-Security-Policy"] == CSP
    assert response.headers["Cache-Control"] == "no-store"
    html = response.get_data(as_text=True)
    assert '<script type="module" src="/static/operators/operators.js">' in html
    for section in ("lnr-failed-runs", "lnr-dead-deliveries", "lnr-overdue-escalations"):
        assert f'id="{section}"' in html
    assert session_of(response)["agent"]["role"] == "admin"
    script = client.get("/static/operators/operators.js")
    assert script.status_code == 200 and b"/api/v1/failures" in script.data


def test_an_agent_who_is_not_an_admin_is_refused(client, zendesk):  # noqa: F811
    mock_agent(zendesk, AGENT)
    response = open_page(client, AGENT)
    assert response.status_code == 403 and "token" not in response.get_data(as_text=True)
    assert response.get_json()["error"]["action"] == "failures"


@pytest.mark.parametrize("token", ["", "not-a-jwt"])
def test_no_signed_token_no_page(client, token):  # noqa: F811
    assert client.post("/operators", data={"token": token}).status_code == 401
