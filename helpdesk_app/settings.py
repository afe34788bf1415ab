"""Typed settings, read from the environment once, by `create_app()` (never at import).

A missing or malformed value stops start-up with a message that names the variable and
says what is expected, never the value itself (it may be a secret).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
from typing import Any, Mapping

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, SecretStr, ValidationError, field_validator

from workflows import Rules

# When any of these is set the service talks to real upstreams, and then every upstream
# setting below is required: a production deploy that forgets one must not start.
UPSTREAM_SWITCHES = ("PORTAL_API_URL", "GITLAB_URL", "ZENDESK_SUBDOMAIN")
REQUIRED_UPSTREAM = (
    "PORTAL_API_URL", "PORTAL_API_TOKEN", "GITLAB_URL", "GITLAB_TOKEN",
    "GITLAB_ESCALATION_PROJECT", "ZENDESK_SUBDOMAIN", "ZENDESK_EMAIL", "ZENDESK_API_TOKEN",
    "ZENDESK_WEBHOOK_SECRET", "GITLAB_WEBHOOK_TOKEN", "SECRET_KEY", "ZENDESK_APP_PUBLIC_KEY",
    "AUDIT_KEY",
)
# Fields no environment variable may set: only the sandbox's start-up does (sandbox_mode.py).
NOT_FROM_ENV = ("sandboxed",)
# Where the sandbox's local agent page is served (sandbox mode only).
AGENT_PAGE_PATH = "/sandbox"
SUBDOMAIN = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
PROJECT = re.compile(r"^(\d+|[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+)$")

# What an agent can ask the service to do: the workflows, and `escalate` (an agent opening a
# console escalation by hand). The policy maps some of them to the Zendesk groups allowed to.
POLICY_ACTIONS = ("diagnose", "associate", "force_associate", "clear_subscription",
                  "unlink_account", "link_account", "escalate")
LICENSE_AND_RENEWALS = "License and Renewals"
# Default (architecture.md, issue 3): any agent may diagnose, associate and escalate; the
# three workflows that can take a paid plan away need the License and Renewals group, and
# so does link_account (issue 15): whoever may cut a customer's link may make one.
DEFAULT_POLICY = {name: (LICENSE_AND_RENEWALS,)
                  for name in ("force_associate", "clear_subscription", "unlink_account",
                               "link_account")}
# Seed 001: "Use the `Associate namespace` transactions issue type in ZD". A dropdown is set
# by its option's tag value, which each account chooses; this is the usual one.
DEFAULT_TRANSACTION_TYPES = {"associate": "associate_namespace",
                             "force_associate": "associate_namespace"}


class ConfigError(RuntimeError):
    """The environment cannot start the service; the message names every bad variable."""


class Settings(BaseModel):
    """One field per environment variable (the field name upper-cased)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    database_url: str = "sqlite:///instance/helpdesk.db"
    redis_url: str | None = None
    # Where jobs run (helpdesk_app/engine/jobs.py): default `rq` with REDIS_URL, else `threads`.
    job_executor: str | None = Field(None, pattern=r"^(threads|rq|inline)$")
    job_threads: int = Field(4, ge=1, le=64)
    job_lease_s: float = Field(60.0, ge=1, le=3600)
    sweep_every_s: float = Field(5.0, gt=0, le=600)
    # Attempts of a run whose upstream failures are transient, before it fails and escalates.
    run_max_attempts: int = Field(5, ge=1, le=50)
    run_retry_base_s: float = Field(2.0, gt=0, le=600)
    run_retry_cap_s: float = Field(300.0, gt=0, le=86400)
    # Attempts of a webhook delivery's job before it is `dead` (a dead letter: nothing
    # retries it until an operator requeues it).
    delivery_max_attempts: int = Field(8, ge=1, le=100)
    # An open escalation older than this is listed by GET /api/v1/failures.
    escalation_overdue_s: float = Field(3 * 86400.0, gt=0)

    # Operating it (docs/operating.md). `/metrics` answers 404 unless a token is
    # set; Prometheus sends it as `Authorization: Bearer <token>`.
    metrics_token: SecretStr | None = None
    # prometheus_client's multiprocess mode: the directory every gunicorn worker and RQ
    # worker of one machine writes its samples to (prometheus_client reads the same
    # variable itself, at import); `/metrics` then sums them. Unset: one process.
    prometheus_multiproc_dir: str | None = None
    # `/readyz`: each check's time limit, and how long a result is reused so that a storm
    # of probes cannot hammer the database or, with the longer one, the upstreams.
    readyz_timeout_s: float = Field(2.0, gt=0, le=30)
    readyz_cache_s: float = Field(5.0, ge=0, le=300)
    readyz_upstream_cache_s: float = Field(60.0, ge=0, le=3600)
    # Attempts to post a run's result to its ticket before the run is `report_failed`.
    postback_max_attempts: int = Field(10, ge=1, le=100)

    portal_api_url: HttpUrl | None = None
    portal_api_token: SecretStr | None = None
    gitlab_url: HttpUrl | None = None
    gitlab_token: SecretStr | None = None
    gitlab_escalation_project: str | None = None
    gitlab_escalation_token: SecretStr | None = None
    escalation_label: str = "Console Escalation - customers"
    zendesk_subdomain: str | None = None
    # zenpy calls `{scheme}://{subdomain}.{domain}`: only a local stand-in (the sandbox)
    # changes these two.
    zendesk_domain: str = Field("zendesk.com", pattern=r"^[A-Za-z0-9.-]+(:\d{1,5})?$")
    zendesk_scheme: str = Field("https", pattern=r"^https?$")
    zendesk_email: str | None = None
    zendesk_api_token: SecretStr | None = None
    zendesk_webhook_secret: SecretStr | None = None
    zendesk_service_user_id: int | None = Field(None, gt=0)
    webhook_max_bytes: int = Field(1024 * 1024, ge=1024, le=32 * 1024 * 1024)
    gitlab_webhook_token: SecretStr | None = None
    secret_key: SecretStr | None = None
    # The key of the markers' MAC (workflows/notes/markers.py); derived from SECRET_KEY
    # when unset. Changing it makes earlier notes unrecognised (they would be posted again).
    marker_key: SecretStr | None = None
    # The audit chain's MAC key (storage/audit_chain.py), of its own: whoever holds the
    # database alone cannot rewrite the chain. Required in upstream mode.
    audit_key: SecretStr | None = None

    # The ticket-sidebar app (signed URLs): Zendesk's public key for the app, PEM (newlines
    # may be written as `\n`), and optionally the one installation to accept.
    zendesk_app_public_key: str | None = None
    zendesk_app_installation_id: int | None = Field(None, gt=0)
    session_ttl_s: int = Field(900, ge=60, le=900)
    # An agent's role and groups are re-read from Zendesk when older than this.
    agent_cache_s: float = Field(60.0, ge=0, le=60)
    # JSON: {"workflow": ["group name or id", ...]}, laid over DEFAULT_POLICY: a workflow it
    # does not name keeps its default (so naming one cannot open the others to everyone);
    # an unknown name stops start-up. Admins may run everything.
    workflow_policy: dict[str, tuple[str, ...]] = Field(
        default_factory=lambda: dict[str, tuple[str, ...]](DEFAULT_POLICY))
    # The ticket's transaction-type dropdown: its field id and the option per workflow.
    zendesk_transaction_type_field_id: int | None = Field(None, gt=0)
    zendesk_transaction_types: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_TRANSACTION_TYPES))

    # Zendesk's documented limits, shared by every process of the deployment
    # (https://developer.zendesk.com/api-reference/introduction/rate-limits/): the account's
    # requests a minute (plan table: 200 Team, 400 Growth and Professional, 700 Enterprise,
    # 2500 Enterprise Plus or the High Volume add-on; default the lowest), and Update Ticket's
    # endpoint limits, 100 a minute per account and 30 per 10 minutes per user per ticket.
    # Set them lower when other integrations share the account.
    zendesk_requests_per_min: int = Field(200, ge=1, le=100_000)
    zendesk_ticket_updates_per_min: int = Field(100, ge=1, le=100_000)
    zendesk_updates_per_ticket: int = Field(30, ge=1, le=10_000)
    zendesk_updates_per_ticket_window_s: float = Field(600.0, gt=0, le=86400)
    # The share of the account's requests a minute held back for post-backs and sidebar
    # loads: triage and plans never spend it (upstreams/zendesk_pacing.py).
    zendesk_reserved_share: float = Field(0.25, ge=0, lt=1)
    # Plans and runs one agent may ask for a minute (429 with Retry-After beyond).
    agent_requests_per_min: int = Field(30, ge=1, le=10_000)

    # Below this confidence a triage note says the category is uncertain and recommends
    # nothing (triage.md).
    triage_min_confidence: float = Field(0.5, ge=0, le=1)

    upstream_timeout_s: float = Field(10.0, gt=0, le=120)
    upstream_max_attempts: int = Field(4, ge=1, le=10)
    upstream_backoff_base_s: float = Field(0.5, gt=0, le=60)
    upstream_backoff_cap_s: float = Field(8.0, gt=0, le=300)
    # provisioning-rules.md v2: |in use - seats| > max(MIN_DIFFERENCE, FRACTION x seats).
    seats_override_fraction: float = Field(0.1, ge=0, le=1)
    seats_override_min_difference: int = Field(5, ge=0)
    verify_timeout_s: float = Field(120.0, gt=0, le=3600)
    log_level: str = Field("INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR)$")

    # Sandbox mode, only when asked for (SANDBOX=1, as `make run` does without upstream
    # settings): the scenario the sandbox serves (default the packaged demo) and where its
    # webhooks reach this service. A start with neither stops, naming what is missing.
    sandbox: bool = False
    sandbox_scenario: str | None = None
    sandbox_service_url: HttpUrl = HttpUrl("http://127.0.0.1:8000")
    # Triage the scenario's tickets once the service is up (with notes and tags, as their
    # ticket.created would have), so the sidebar opens on each with its findings.
    sandbox_triage_at_start: bool = True
    # True once the upstream settings point at a started sandbox (`in_sandbox`). Never read
    # from the environment: the sandbox's settings look like upstream ones, and only this
    # says they are not, so setting it by hand would mark real upstreams as a sandbox.
    sandboxed: bool = False

    @field_validator("zendesk_subdomain")
    @classmethod
    def _subdomain(cls, value: str | None) -> str | None:
        if value is not None and not SUBDOMAIN.match(value):
            raise ValueError("must be the Zendesk subdomain alone, e.g. 'acme' for acme.zendesk.com")
        return value

    @field_validator("secret_key", "audit_key")
    @classmethod
    def _secret_key(cls, value: SecretStr | None) -> SecretStr | None:
        # Session tokens are HMAC-signed with a key derived from it: short keys are guessable.
        if value is not None and len(value.get_secret_value().encode()) < 32:
            raise ValueError("must be at least 32 bytes (e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`)")
        return value

    @field_validator("metrics_token")
    @classmethod
    def _metrics_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value().encode()) < 16:
            raise ValueError("must be at least 16 bytes (it guards /metrics from the public)")
        return value

    @field_validator("prometheus_multiproc_dir")
    @classmethod
    def _multiproc_dir(cls, value: str | None) -> str | None:
        # prometheus_client fails at the first sample otherwise; fail at start instead.
        if value is not None and not os.path.isdir(value):
            raise ValueError("must be an existing directory (emptied before the processes start)")
        return value

    @field_validator("zendesk_app_public_key")
    @classmethod
    def _app_public_key(cls, value: str | None) -> str | None:
        if value is None:
            return None
        pem = value.replace("\\n", "\n").strip() + "\n"
        from helpdesk_app.security.sidebar import load_rsa_public_key

        load_rsa_public_key(pem)  # ValueError says what is wrong, never the key
        return pem

    @field_validator("workflow_policy", "zendesk_transaction_types", mode="before")
    @classmethod
    def _json_object(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                raise ValueError("must be a JSON object") from None
        if not isinstance(value, dict):
            raise ValueError("must be a JSON object")
        unknown = sorted(set(value) - set(POLICY_ACTIONS))
        if unknown:
            raise ValueError(f"unknown workflow {unknown[0]!r}; one of {', '.join(POLICY_ACTIONS)}")
        return value

    @field_validator("workflow_policy")
    @classmethod
    def _policy_groups(cls, value: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        if any(not groups or any(not g.strip() for g in groups) for groups in value.values()):
            raise ValueError("each workflow needs a non-empty list of group names or ids")
        return {**DEFAULT_POLICY, **value}

    @field_validator("gitlab_escalation_project")
    @classmethod
    def _project(cls, value: str | None) -> str | None:
        if value is not None and not PROJECT.match(value):
            raise ValueError("must be a project id or a full path like 'group/project'")
        return value

    @property
    def executor(self) -> str:
        return self.job_executor or ("rq" if self.redis_url else "threads")

    @property
    def mode(self) -> str:
        return "sandbox" if self.sandboxed or self.sandbox else "upstream"

    @property
    def agent_page_url(self) -> str | None:
        """The local agent page's address in sandbox mode (ticket links of notes), else None."""
        if not self.sandboxed:
            return None
        return str(self.sandbox_service_url).rstrip("/") + AGENT_PAGE_PATH

    def _given(self, env_name: str) -> bool:
        value = getattr(self, env_name.lower())
        return value is not None and str(value) != ""

    def marker_secret(self) -> bytes:
        """MARKER_KEY, else a key derived from SECRET_KEY (never SECRET_KEY itself, which
        signs sessions); empty when neither is set, and then no marker is made."""
        if self.marker_key is not None:
            return self.marker_key.get_secret_value().encode()
        if self.secret_key is None:
            return b""
        return hmac.new(self.secret_key.get_secret_value().encode(), b"lnr marker key",
                        hashlib.sha256).digest()

    def rules(self) -> Rules:
        return Rules(
            seats_override_fraction=self.seats_override_fraction,
            seats_override_min_difference=self.seats_override_min_difference,
            verify_timeout_s=self.verify_timeout_s,
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        """Build and check the settings; raise ConfigError naming what is wrong."""
        env = dict(os.environ if environ is None else environ)
        tampered = [n for n in env if n.lower() in NOT_FROM_ENV and n.isupper()]
        if tampered:
            raise ConfigError(f"{tampered[0]} cannot be set from the environment; sandbox mode "
                              "is asked for with SANDBOX=1")
        if env.get("SEATS_OVERRIDE_RATIO", "").strip():
            # Ignoring it would quietly judge seats by a rule the operator did not choose.
            raise ConfigError("SEATS_OVERRIDE_RATIO is gone (provisioning rules v2): set "
                              "SEATS_OVERRIDE_FRACTION (default 0.1) instead")
        values: dict[str, Any] = {
            name.lower(): value
            for name, value in env.items()
            if name.lower() in cls.model_fields and name.isupper() and value.strip() != ""
        }
        return cls._checked(values)

    def in_sandbox(self, sandbox_env: Mapping[str, str], **overrides: Any) -> "Settings":
        """These settings pointed at a started sandbox: its settings (by environment name:
        URLs, generated secrets) over the given ones, then `overrides`, and `sandboxed`."""
        values = self.model_dump(exclude_unset=True)
        values.update({name.lower(): value for name, value in sandbox_env.items()
                       if name.lower() in type(self).model_fields})
        return self._checked({**values, **overrides, "sandboxed": True})

    @classmethod
    def _checked(cls, values: dict[str, Any]) -> "Settings":
        try:
            settings = cls(**values)
        except ValidationError as error:
            raise ConfigError(_describe(error)) from None
        settings.require_complete()
        return settings

    def require_complete(self) -> None:
        missing = [n for n in REQUIRED_UPSTREAM if not self._given(n)]
        switches = [n for n in UPSTREAM_SWITCHES if self._given(n)]
        if self.sandbox and not self.sandboxed:
            if switches:  # a production environment must never quietly serve fake data
                raise ConfigError("SANDBOX=1 and upstream settings (" + ", ".join(switches)
                                  + ") are both set: unset one")
            return  # the sandbox supplies every upstream setting at start (sandbox/mode.py)
        if missing and not switches and not self.sandboxed:
            raise ConfigError("no upstream is configured: set " + ", ".join(missing)
                              + " (or SANDBOX=1 for the local sandbox, as make run does)")
        if missing:
            raise ConfigError("missing settings for upstream mode: " + ", ".join(missing))


def _describe(error: ValidationError) -> str:
    # Never include `input`: the value may be a secret.
    problems = [f"{'.'.join(str(p) for p in e['loc']).upper()}: {e['msg']}" for e in error.errors()]
    return "malformed settings: " + "; ".join(problems)
