"""Settings are read once, typed, and a bad environment stops start-up naming the variable."""
from __future__ import annotations

import pytest

from helpdesk_app import create_app
from helpdesk_app.settings import ConfigError, Settings
from tests.keys import zendesk_app_public_pem

UPSTREAM_ENV = {
    "PORTAL_API_URL": "https://portal.example.test",
    "PORTAL_API_TOKEN": "portal-secret-1",
    "GITLAB_URL": "https://gitlab.example.test",
    "GITLAB_TOKEN": "gitlab-secret-2",
    "GITLAB_ESCALATION_PROJECT": "support/escalations",
    "ZENDESK_SUBDOMAIN": "acme",
    "ZENDESK_EMAIL": "bot@acme.test",
    "ZENDESK_API_TOKEN": "zendesk-secret-3",
    "ZENDESK_WEBHOOK_SECRET": "webhook-secret-4",
    "GITLAB_WEBHOOK_TOKEN": "gitlab-hook-secret-5",
    "SECRET_KEY": "secret-key-6-is-at-least-32-bytes-long",
    "AUDIT_KEY": "audit-secret-7-is-at-least-32-bytes-long",
    # The service's own Zendesk user: the author of its notes (tests/upstream_fakes.py).
    "ZENDESK_SERVICE_USER_ID": "7000",
    # Jobs run inside the request, so a test sees their effects when the response comes;
    # tests/durability/ exercises the thread and RQ executors.
    "JOB_EXECUTOR": "inline",
    # As a deploy would write it in one line of an env file.
    "ZENDESK_APP_PUBLIC_KEY": zendesk_app_public_pem().replace("\n", "\\n"),
}
SECRETS = [v for k, v in UPSTREAM_ENV.items() if "secret" in v]


def test_complete_environment_gives_typed_settings():
    settings = Settings.from_env({**UPSTREAM_ENV, "SEATS_OVERRIDE_FRACTION": "0.2", "VERIFY_TIMEOUT_S": "30"})
    assert settings.mode == "upstream"
    assert settings.escalation_label == "Console Escalation - customers"
    assert settings.rules().seats_override_fraction == 0.2 and settings.rules().verify_timeout_s == 30
    assert "portal-secret-1" not in repr(settings)


def test_seats_rules_default_to_v2_and_the_old_ratio_is_refused():
    rules = Settings.from_env(UPSTREAM_ENV).rules()
    assert (rules.seats_override_fraction, rules.seats_override_min_difference) == (0.1, 5)
    with pytest.raises(ConfigError, match="SEATS_OVERRIDE_FRACTION"):
        Settings.from_env({**UPSTREAM_ENV, "SEATS_OVERRIDE_RATIO": "1.5"})


@pytest.mark.parametrize("missing", ["PORTAL_API_TOKEN", "ZENDESK_WEBHOOK_SECRET", "SECRET_KEY",
                                     "GITLAB_ESCALATION_PROJECT"])
def test_a_missing_upstream_setting_is_named(missing):
    env = {k: v for k, v in UPSTREAM_ENV.items() if k != missing}
    with pytest.raises(ConfigError, match=missing):
        Settings.from_env(env)


def test_an_empty_value_counts_as_missing():
    with pytest.raises(ConfigError, match="GITLAB_TOKEN"):
        Settings.from_env({**UPSTREAM_ENV, "GITLAB_TOKEN": "  "})


@pytest.mark.parametrize("name, value", [
    ("PORTAL_API_URL", "not a url"),
    ("ZENDESK_SUBDOMAIN", "my-team.zendesk.com"),
    ("GITLAB_ESCALATION_PROJECT", "no spaces allowed"),
    ("UPSTREAM_TIMEOUT_S", "-1"),
    ("SEATS_OVERRIDE_FRACTION", "lots"),
    ("SECRET_KEY", "too-short-secret"),
])
def test_a_malformed_setting_is_named_without_its_value(name, value):
    with pytest.raises(ConfigError) as error:
        Settings.from_env({**UPSTREAM_ENV, name: value})
    assert name in str(error.value) and value not in str(error.value)


def test_errors_never_echo_a_secret():
    env = {**UPSTREAM_ENV, "UPSTREAM_MAX_ATTEMPTS": "many"}
    env.pop("PORTAL_API_TOKEN")
    with pytest.raises(ConfigError) as error:
        Settings.from_env(env)
    assert not any(secret in str(error.value) for secret in SECRETS)


def test_sandbox_mode_only_when_asked_for():
    # The sandbox supplies the upstream settings at start (tests/app/test_sandbox_mode.py).
    assert Settings.from_env({"SANDBOX": "1"}).mode == "sandbox"
    with pytest.raises(ConfigError, match="no upstream is configured"):
        Settings.from_env({})


def test_create_app_reads_the_process_environment_once(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/h.db")
    for name, value in UPSTREAM_ENV.items():
        monkeypatch.setenv(name, value)
    app = create_app()
    monkeypatch.setenv("PORTAL_API_URL", "https://changed.example.test")
    assert str(app.extensions["helpdesk"].settings.portal_api_url).startswith("https://portal.example.test")


def test_importing_the_app_reads_no_environment(monkeypatch):
    import importlib
    import os

    import helpdesk_app

    reads = []
    original = os.environ.__class__.__getitem__
    monkeypatch.setattr(os.environ.__class__, "__getitem__", lambda self, k: reads.append(k) or original(self, k))
    importlib.reload(helpdesk_app)
    assert [k for k in reads if k in UPSTREAM_ENV] == []


def test_a_workflow_policy_is_laid_over_the_defaults():
    # Issue 16, item 1: naming one workflow must not open the others to every agent.
    from helpdesk_app.access.agents import Agent
    from helpdesk_app.access.policy import Policy

    policy_json = '{"force_associate": ["License and Renewals", "Escalations"]}'
    settings = Settings.from_env({**UPSTREAM_ENV, "WORKFLOW_POLICY": policy_json})
    assert settings.workflow_policy["force_associate"] == ("License and Renewals", "Escalations")
    assert settings.workflow_policy["unlink_account"] == ("License and Renewals",)
    assert settings.workflow_policy["clear_subscription"] == ("License and Renewals",)
    finn = Agent(id=1, name="Finn", email=None, role="agent", group_names=frozenset({"First Level Support"}))
    assert Policy(settings.workflow_policy).refusal(finn, "unlink_account") is not None


@pytest.mark.parametrize("policy_json, named", [
    ('{"unlink_acount": ["License and Renewals"]}', "unlink_acount"),
    ('{"associate": ["L&R"], "Diagnose": ["L&R"]}', "Diagnose"),
])
def test_an_unknown_name_in_the_workflow_policy_stops_start_up(policy_json, named):
    with pytest.raises(ConfigError) as refused:
        Settings.from_env({**UPSTREAM_ENV, "WORKFLOW_POLICY": policy_json})
    assert "WORKFLOW_POLICY" in str(refused.value) and named in str(refused.value)
