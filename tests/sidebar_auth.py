"""Test helpers for the sidebar's authentication: Zendesk's agent lookups and sessions.

Not a test module. Any test of a sidebar endpoint can use them:

    from tests.sidebar_auth import mock_agent, session_header

    def test_something(app):  # an app built from UPSTREAM_ENV (ZENDESK_SUBDOMAIN "acme")
        with responses.RequestsMock() as zendesk:
            mock_agent(zendesk, 9000)                      # an agent in License and Renewals
            response = app.test_client().get("/api/v1/...", headers=session_header(app, 9000))

An agent is read with exactly two Zendesk calls (ZendeskAdapter.user), both mocked here:
  GET https://acme.zendesk.com/api/v2/users/{id}.json
      https://developer.zendesk.com/api-reference/ticketing/users/users/#show-user
  GET https://acme.zendesk.com/api/v2/users/{id}/groups.json
      https://developer.zendesk.com/api-reference/ticketing/groups/groups/#list-groups
The bodies are the fixtures tests/fixtures/zendesk/show_user__*.json and list_user_groups.json
(Zendesk's documented shapes) with the test's values over them. The app caches an agent for
AGENT_CACHE_S (60 s by default), so within one app each agent is read once.
"""
from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta, timezone
from functools import cache
from pathlib import Path
from typing import Any, Iterable

import jwt

from helpdesk_app.security.sidebar import issue_session_token, zendesk_audience
from helpdesk_app.web import services_of
from tests.keys import zendesk_app_private_key

SUBDOMAIN = "acme"
ZENDESK_URL = f"https://{SUBDOMAIN}.zendesk.com"
INSTALLATION_ID = 360001234567
LICENSE_AND_RENEWALS = ("License and Renewals", 361)
FIRST_LEVEL = ("First Level Support", 3432)
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "zendesk"

# Zendesk's role_type per role (show-user reference: 0 custom agent role, 4 admin; null for
# end users). Only `role` matters to the service; role_type keeps the payload consistent.
_ROLE_TYPES = {"admin": 4, "agent": 0, "end-user": None}


@cache
def _fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def zendesk_user_payloads(
    user_id: int,
    role: str = "agent",
    groups: Iterable[tuple[str, int]] = (LICENSE_AND_RENEWALS,),
    *,
    name: str | None = None,
    email: str | None = None,
    ticket_restriction: str | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(Show User body, List Groups body) for one Zendesk user, exactly as Zendesk sends them.

    `groups` is (name, id) pairs; an end user normally has none (pass `groups=()`).
    `ticket_restriction` is None (every ticket) unless given: Zendesk's example agent in
    the fixture is restricted to "assigned" tickets, which most tests do not want.
    """
    template = "show_user__end_user" if role == "end-user" else "show_user__agent"
    user = copy.deepcopy(_fixture(template)["user"])
    user.update(
        id=user_id,
        name=name if name is not None else f"Agent {user_id}",
        email=email if email is not None else f"agent{user_id}@vendor.test",
        role=role,
        role_type=_ROLE_TYPES.get(role),
        url=f"{ZENDESK_URL}/api/v2/users/{user_id}.json",
        ticket_restriction=ticket_restriction if role != "end-user" else "requested",
    )
    template_group = _fixture("list_user_groups")["groups"][0]
    listed = [dict(template_group, id=group_id, name=group_name, default=False,
                   url=f"{ZENDESK_URL}/api/v2/groups/{group_id}.json")
              for group_name, group_id in groups]
    return {"user": user}, _one_cursor_page(user_id, listed)


def _one_cursor_page(user_id: int, groups: list[dict[str, Any]]) -> dict[str, Any]:
    # zenpy asks for cursor pagination (page[size]=100), so Zendesk answers with `meta` and
    # `links`: https://developer.zendesk.com/api-reference/introduction/pagination/
    body = copy.deepcopy(_fixture("list_user_groups"))
    body["groups"] = groups
    if not groups:  # nothing to point at: Zendesk gives no cursors
        body["meta"].update(after_cursor=None, before_cursor=None)
        body["links"].update(next=None, prev=None)
    else:
        mine = f"{ZENDESK_URL}/api/v2/users/{user_id}/groups.json"
        for name, link in body["links"].items():
            body["links"][name] = mine + link[link.index("?"):]
    return body


def mock_agent(
    responses_mock,
    user_id: int,
    role: str = "agent",
    groups: Iterable[tuple[str, int]] = (LICENSE_AND_RENEWALS,),
    **user_fields: Any,
) -> None:
    """Register both Zendesk endpoints of `user_id` on `responses_mock` (a RequestsMock).

    `user_fields` are `name` / `email` / `ticket_restriction` overrides, passed to
    `zendesk_user_payloads`.
    """
    user, groups_body = zendesk_user_payloads(user_id, role, groups, **user_fields)
    responses_mock.get(f"{ZENDESK_URL}/api/v2/users/{user_id}.json", json=user)
    responses_mock.get(f"{ZENDESK_URL}/api/v2/users/{user_id}/groups.json", json=groups_body)


def mock_unknown_user(responses_mock, user_id: int) -> None:
    """Zendesk's 404 for a user that does not exist (Show User, and List Groups, which
    the directory asks at the same time)."""
    for path in (f"users/{user_id}.json", f"users/{user_id}/groups.json"):
        responses_mock.get(f"{ZENDESK_URL}/api/v2/{path}", status=404,
                           json=_fixture("error__record_not_found"))


def session_header(
    app,
    user_id: int,
    installation_id: int = INSTALLATION_ID,
    *,
    subdomain: str | None = None,
    now: datetime | None = None,
    ttl_s: int | None = None,
) -> dict[str, str]:
    """{"Authorization": "Bearer <session token>"} as POST /sidebar would have issued it.

    Signed with the app's SECRET_KEY, for the app's ZENDESK_SUBDOMAIN unless `subdomain`
    says otherwise; `now` (aware) and `ttl_s` make expired or odd sessions.
    """
    settings = services_of(app).settings
    token = issue_session_token(
        settings.secret_key.get_secret_value(),
        user_id=user_id,
        installation_id=installation_id,
        subdomain=subdomain or settings.zendesk_subdomain,
        now=now or datetime.now(timezone.utc),
        ttl_s=ttl_s or settings.session_ttl_s,
    )
    return {"Authorization": f"Bearer {token}"}


def zendesk_app_jwt(user_id: int, installation_id: int = INSTALLATION_ID, *,
                    now: datetime | None = None, **claims: Any) -> str:
    """Zendesk's signed-URL token (the `token` form field of POST /sidebar), RS256 with the
    test app key (tests/keys.py). Claims as security/sidebar.py documents them; `claims`
    overrides any of them, and a value of None removes that claim."""
    now = now or datetime.now(timezone.utc)
    payload: dict[str, Any] = {
        "iss": f"{SUBDOMAIN}.zendesk.com",
        "aud": zendesk_audience(SUBDOMAIN, installation_id),
        "sub": str(user_id),
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=5)).timestamp()),
        "context": {"product": "support", "location": "ticket_sidebar"},
    }
    payload.update(claims)
    payload = {key: value for key, value in payload.items() if value is not None}
    return jwt.encode(payload, zendesk_app_private_key(), algorithm="RS256")
