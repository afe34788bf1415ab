"""Sandbox mode, only when asked for (SANDBOX=1): its command starts the sandbox in-process,
points the settings at it, says so everywhere, and stops it when asked; a start that asks
for neither sandbox nor upstreams stops, naming what is missing."""
from __future__ import annotations

import socket
from urllib.parse import urlsplit

import pytest

from helpdesk_app import create_app
from helpdesk_app.settings import ConfigError, Settings
from sandbox import mode
from sandbox.mode import mode_of_environment
from tests.app.sandbox_app import sandbox_app, sandbox_of
from tests.app.test_settings import UPSTREAM_ENV
from workflows import notes


def listening(url: str) -> bool:
    parts = urlsplit(url)
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex((parts.hostname, parts.port)) == 0


def test_sandbox_1_starts_the_sandbox(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the default database is instance/sandbox.db, relative
    app = mode.sandboxed_app({"SANDBOX": "1"})
    try:
        sandbox = sandbox_of(app)
        settings = app.extensions["helpdesk"].settings
        assert app.test_client().get("/healthz").get_json() == {"status": "ok", "mode": "sandbox"}
        assert settings.mode == "sandbox" and settings.sandboxed
        assert str(settings.portal_api_url).rstrip("/") == sandbox.portal_url
        assert settings.executor == "threads"
        assert (tmp_path / "instance" / "sandbox.db").is_file()
        assert listening(sandbox.portal_url)
    finally:
        mode.stop(app)
    assert not listening(sandbox.portal_url)
    mode.stop(app)  # idempotent: atexit calls it again


def test_the_default_sandbox_database_is_new_at_each_start(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "instance").mkdir()
    (tmp_path / "instance" / "sandbox.db").write_bytes(b"rows of an earlier sandbox world")
    mode.stop(mode.sandboxed_app({"SANDBOX": "1"}))
    assert (tmp_path / "instance" / "sandbox.db").read_bytes().startswith(b"SQLite format 3")


def test_the_sandbox_generates_its_own_secrets(tmp_path):
    with sandbox_app(tmp_path) as first, sandbox_app(tmp_path / "2") as second:
        keys = [app.extensions["helpdesk"].settings.secret_key.get_secret_value()
                for app in (first, second)]
        assert keys[0] != keys[1] and all(len(k) >= 32 for k in keys)


def test_sandbox_1_is_sandbox_mode_and_complete_enough():
    settings = Settings.from_env({"SANDBOX": "1"})
    assert settings.mode == "sandbox" and not settings.sandboxed
    assert str(settings.sandbox_service_url) == "http://127.0.0.1:8000/"


def test_a_start_with_neither_upstreams_nor_sandbox_stops_naming_what_is_missing():
    with pytest.raises(ConfigError) as refused:
        Settings.from_env({})
    message = str(refused.value)
    assert message.startswith("no upstream is configured: set PORTAL_API_URL")
    assert "ZENDESK_WEBHOOK_SECRET" in message and "SANDBOX=1" in message and "\n" not in message


def test_sandbox_1_beside_upstream_settings_is_refused():
    with pytest.raises(ConfigError, match="SANDBOX=1 and upstream settings"):
        Settings.from_env({**UPSTREAM_ENV, "SANDBOX": "1"})


def test_create_app_never_starts_a_sandbox(tmp_path):
    # `flask --app helpdesk_app routes` and the Procfile's wsgi:app build the app only.
    with pytest.raises(ConfigError, match="sandbox.mode:sandboxed_app"):
        create_app(Settings.from_env({"SANDBOX": "1", "DATABASE_URL": f"sqlite:///{tmp_path}/h.db"}))
    assert not (tmp_path / "h.db").exists()


def test_create_app_starts_no_thread_and_migrates_nothing(tmp_path):
    import threading

    before = set(threading.enumerate())
    app = create_app(Settings.from_env({**UPSTREAM_ENV, "JOB_EXECUTOR": "threads",
                                        "DATABASE_URL": f"sqlite:///{tmp_path}/h.db"}))
    assert set(threading.enumerate()) == before and "helpdesk_sweeper" not in app.extensions
    assert not (tmp_path / "h.db").exists() or (tmp_path / "h.db").stat().st_size == 0


@pytest.mark.parametrize("name", ["SANDBOXED"])
@pytest.mark.parametrize("base", [{"SANDBOX": "1"}, UPSTREAM_ENV], ids=["sandbox", "upstream"])
def test_sandboxed_cannot_be_set_from_the_environment(name, base):
    # Marking real upstreams as a sandbox would hide the mode; refused, and named.
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({**base, name: "true"})


def test_the_sandbox_settings_keep_sandbox_mode_although_they_name_upstreams(tmp_path):
    with sandbox_app(tmp_path, REDIS_URL="redis://127.0.0.1:6379/0", JOB_EXECUTOR="rq",
                     JOB_THREADS="2") as app:
        settings = app.extensions["helpdesk"].settings
        assert settings.zendesk_subdomain == "127" and settings.mode == "sandbox"
        # An RQ worker, another process, could not reach the in-process sandbox.
        assert settings.executor == "threads"
        assert settings.job_threads == 2  # what was given is kept


def test_the_same_values_from_the_environment_are_upstream_mode(tmp_path):
    with sandbox_app(tmp_path) as app:
        env = sandbox_of(app).env()
    assert Settings.from_env(env).mode == "upstream"


def test_a_bad_scenario_is_named(tmp_path):
    with pytest.raises(ConfigError, match="SANDBOX_SCENARIO"):
        mode.sandboxed_app({"SANDBOX": "1", "SANDBOX_SCENARIO": str(tmp_path / "missing.json"),
                            "DATABASE_URL": f"sqlite:///{tmp_path}/h.db"})


def test_upstream_mode_starts_no_sandbox(tmp_path):
    app = create_app(Settings.from_env({**UPSTREAM_ENV, "DATABASE_URL": f"sqlite:///{tmp_path}/h.db"}))
    assert "sandbox" not in app.extensions
    assert app.extensions["helpdesk"].settings.agent_page_url is None
    mode.stop(app)  # harmless without one


def test_ticket_links_in_sandbox_mode_point_at_the_agent_page(tmp_path):
    with sandbox_app(tmp_path, SANDBOX_SERVICE_URL="http://127.0.0.1:8123") as app:
        base = app.extensions["helpdesk"].settings.agent_page_url
    assert base == "http://127.0.0.1:8123/sandbox"
    assert notes.ticket_url("127", 105, agent_page=base) == "http://127.0.0.1:8123/sandbox/tickets/105"
    # Upstream mode is unchanged.
    assert notes.ticket_url("acme", 105) == "https://acme.zendesk.com/agent/tickets/105"
    assert notes.ticket_url(None, 105) == "Zendesk ticket 105"


def test_the_sidebar_may_be_framed_by_the_agent_page_in_sandbox_mode(tmp_path):
    with sandbox_app(tmp_path) as app:
        response = app.test_client().post("/sidebar", data={"token": "not-a-jwt"})
    assert response.status_code == 401
    directives = dict(d.strip().split(" ", 1) for d in response.headers["Content-Security-Policy"].split(";"))
    assert directives["frame-ancestors"] == "'self'"


@pytest.mark.parametrize("env, expected", [
    ({}, "sandbox"),
    ({"PORTAL_API_URL": "  "}, "sandbox"),
    ({"GITLAB_URL": "https://gitlab.example.test"}, "upstream"),
    ({"ZENDESK_SUBDOMAIN": "acme"}, "upstream"),
])
def test_the_makefile_asks_for_the_sandbox_only_without_upstream_settings(env, expected):
    # `make run` exports SANDBOX=1 when this says sandbox; the settings then agree.
    assert mode_of_environment(env) == expected
    if expected == "sandbox":
        assert Settings.from_env({**env, "SANDBOX": "1"}).mode == "sandbox"
    else:
        with pytest.raises(ConfigError, match="missing settings for upstream mode"):
            Settings.from_env(env)
