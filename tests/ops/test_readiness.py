"""`/readyz` (engine/readiness.py): 200 when usable, 503 naming each thing that is wrong.

The database cases use real SQLite and PostgreSQL (a database behind the newest migration,
a server that is not there); the upstreams answer through `responses`; Redis unreachable
is a closed local port (the shared server is never touched)."""
from __future__ import annotations

import socket

import pytest

from helpdesk_app.storage.migrate import newest_revision, upgrade
from tests.api.test_api_v1 import make_app

GITLAB_USER = "https://gitlab.example.test/api/v4/user"
PORTAL_PROBE = "https://portal.example.test/api/v1/customers"
ZENDESK_ME = "https://acme.zendesk.com/api/v2/users/me.json"


def upstreams_fine(http, *, gitlab=None, portal=None, zendesk=None) -> None:
    """Every upstream accepts its token, except those given as (status, body)."""
    gitlab_status, gitlab_body = gitlab or (200, {"id": 1, "username": "bot", "is_admin": True})
    portal_status, portal_body = portal or (200, {"customers": []})
    zendesk_status, zendesk_body = zendesk or (200, {"user": {"id": 7, "role": "admin"}})
    http.get(GITLAB_USER, status=gitlab_status, json=gitlab_body)
    http.get(PORTAL_PROBE, status=portal_status, json=portal_body)
    http.get(ZENDESK_ME, status=zendesk_status, json=zendesk_body)


def ready(app):
    response = app.test_client().get("/readyz")
    return response.status_code, response.get_json()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # closed again when the block ends


def test_a_usable_service_is_ready(migrated_url, world, http):
    upstreams_fine(http)
    status, body = ready(make_app(migrated_url, world))
    assert status == 200 and body["status"] == "ready"
    assert body["checks"] == {"database": "ok", "gitlab": "ok", "portal": "ok", "zendesk": "ok"}


def test_a_database_behind_the_newest_migration_is_named(database_url, world, http):
    upgrade(database_url, "0003")
    upstreams_fine(http)
    status, body = ready(make_app(database_url, world))
    assert status == 503 and body["failing"] == ["database"]
    assert f"migration 0003, the newest is {newest_revision()}" in body["checks"]["database"]


def test_an_unmigrated_database_is_named(database_url, world, http):
    upstreams_fine(http)
    status, body = ready(make_app(database_url, world))
    assert status == 503 and "migration none" in body["checks"]["database"]


def test_an_unreachable_database_is_named_and_liveness_stays_up(world, http):
    upstreams_fine(http)
    app = make_app(f"postgresql+psycopg://postgres@127.0.0.1:{closed_port()}/test", world)
    status, body = ready(app)
    assert status == 503 and body["checks"]["database"].startswith("database unreachable")
    assert app.test_client().get("/healthz").status_code == 200


@pytest.mark.parametrize("gitlab_user", [
    {"id": 1, "username": "bot", "is_admin": False},
    {"id": 1, "username": "bot"},  # a non-admin's view has no is_admin at all
])
def test_a_gitlab_token_that_is_not_an_admins_is_named(migrated_url, world, http, gitlab_user):
    upstreams_fine(http, gitlab=(200, gitlab_user))
    status, body = ready(make_app(migrated_url, world))
    assert status == 503 and body["failing"] == ["gitlab"]
    assert "not an admin" in body["checks"]["gitlab"]


@pytest.mark.parametrize("upstream, setting", [
    ("gitlab", "GITLAB_TOKEN"), ("portal", "PORTAL_API_TOKEN"), ("zendesk", "ZENDESK_API_TOKEN")])
def test_a_refused_token_is_named(migrated_url, world, http, upstream, setting):
    upstreams_fine(http, **{upstream: (401, {"error": "Couldn't authenticate you"})})
    status, body = ready(make_app(migrated_url, world))
    assert status == 503 and body["failing"] == [upstream]
    assert f"refused {setting} (401)" in body["checks"][upstream]


def test_an_unreachable_upstream_is_named(migrated_url, world, http):
    http.get(GITLAB_USER, json={"id": 1, "is_admin": True})
    http.get(ZENDESK_ME, json={"user": {"id": 7}})  # the portal answers nothing at all
    status, body = ready(make_app(migrated_url, world))
    assert status == 503 and body["failing"] == ["portal"]
    assert body["checks"]["portal"].startswith("the portal unreachable")


def test_an_unreachable_redis_is_named(migrated_url, world, http):
    upstreams_fine(http)
    app = make_app(migrated_url, world, REDIS_URL=f"redis://127.0.0.1:{closed_port()}/15")
    status, body = ready(app)
    assert status == 503 and body["failing"] == ["redis"]
    assert body["checks"]["redis"].startswith("redis unreachable")


def test_results_are_reused_so_probes_cannot_hammer_the_upstreams(migrated_url, world, http):
    upstreams_fine(http)
    app = make_app(migrated_url, world)
    for _ in range(5):
        assert ready(app)[0] == 200
    assert [c.request.url.split("?")[0] for c in http.calls].count(ZENDESK_ME) == 1
    fresh = make_app(migrated_url, world, READYZ_UPSTREAM_CACHE_S="0")
    for _ in range(3):
        ready(fresh)
    assert [c.request.url.split("?")[0] for c in http.calls].count(ZENDESK_ME) == 1 + 3
