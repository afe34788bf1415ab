"""Sandbox mode: the service against the local sandbox, in this very process, only when
asked for (SANDBOX=1, as `make run` does without upstream settings; architecture.md,
"Configuration and modes" and "The sandbox").

`sandboxed_app()` is the command's app (gunicorn 'sandbox.mode:sandboxed_app()'):

1. the sandbox starts on loopback from SANDBOX_SCENARIO (default: the packaged demo), with
   secrets it generates itself and its webhooks aimed at SANDBOX_SERVICE_URL (this service);
2. the settings are rebuilt with the sandbox's settings merged in and `sandboxed` set (no
   environment variable can set it), on the `threads` executor: an RQ worker is another
   process and cannot reach a sandbox that lives in this one;
   Where the environment does not set them, the scenario's `service_settings` are used
   (the demo's: short retries, so its failing ticket fails in seconds, visibly);
3. the database is migrated; unless DATABASE_URL is given it is a fresh SQLite file,
   `instance/sandbox.db`, recreated at each start, because the world the sandbox serves is
   new at each start and rows mirroring an earlier world (open escalations of issues that
   no longer exist) would only mislead. A real deployment's database is never touched;
4. `create_app` builds the service on those settings, and the agent page and the sweeper
   are added;
5. unless SANDBOX_TRIAGE_AT_START=0, the scenario's tickets are triaged in the background
   (notes and tags, as their `ticket.created` would have brought), so the sidebar opens on
   each with its findings.

The sandbox is stopped at interpreter exit, or by `stop(app)` (tests). Sandbox mode is one
process: `make run` serves it with one gunicorn worker (threads) on 127.0.0.1.

    python -m sandbox.mode mode     # "sandbox" or "upstream", for the Makefile
"""
from __future__ import annotations

import atexit
import logging
import os
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from helpdesk_app.settings import NOT_FROM_ENV, UPSTREAM_SWITCHES, ConfigError, Settings
from sandbox import DEMO_SCENARIO, Sandbox, ScenarioError, load_scenario

if TYPE_CHECKING:  # the mode check (`make run`'s first step) builds no app: no Flask for it
    from flask import Flask

log = logging.getLogger(__name__)

EXTENSION = "sandbox"  # the app extension holding the RunningSandbox

SANDBOX_DATABASE = Path("instance") / "sandbox.db"
# The one app installation the agent page signs sidebar requests for (any positive id does:
# the sandbox's settings pin it, as a deployment pins its real installation).
INSTALLATION_ID = 1
TRIAGE_GRACE_S = 10.0  # stop() waits this long for the ticket being triaged


@dataclass
class RunningSandbox:
    """What the app keeps of its sandbox: the servers, the scenario they loaded, and where
    people (the agent page) and the sandbox's webhooks reach this service."""

    sandbox: Sandbox
    scenario: dict[str, Any]
    service_url: str
    _stopped: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)
    triage: threading.Thread | None = None  # the start's triage of the scenario's tickets

    @property
    def stopped(self) -> bool:
        return self._stopped

    @property
    def demo_cases(self) -> list[dict[str, Any]]:
        cases = self.scenario.get("demo_cases")
        return cases if isinstance(cases, list) else []

    def stop(self) -> None:
        """Idempotent: both atexit and a test's teardown may call it."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        if self.triage is not None:  # it notices `stopped` between tickets
            self.triage.join(TRIAGE_GRACE_S)
        self.sandbox.stop()
        log.info("sandbox.stopped")


def start(settings: Settings) -> tuple[Settings, RunningSandbox]:
    """Start the sandbox for `settings` (sandbox mode); the settings that point at it."""
    source = settings.sandbox_scenario or DEMO_SCENARIO
    scenario = _scenario(source)  # checked here, to name the setting; the sandbox reads it again
    base = service_url(settings)
    sandbox = Sandbox.start(source, zendesk_webhook=f"{base}/webhooks/zendesk",
                            gitlab_webhook=f"{base}/webhooks/gitlab")
    try:
        database_url = _database(settings)
        sandboxed = settings.in_sandbox(sandbox.env(), job_executor="threads",
                                        database_url=database_url,
                                        zendesk_app_installation_id=INSTALLATION_ID,
                                        **scenario_settings(settings, scenario))
    except BaseException:
        sandbox.stop()
        raise
    running = RunningSandbox(sandbox, scenario, base)
    atexit.register(running.stop)
    log.info("sandbox.started", extra={"portal_url": sandbox.portal_url,
                                       "gitlab_url": sandbox.gitlab_url,
                                       "zendesk_url": sandbox.zendesk_url})
    return sandboxed, running


def running_sandbox(app: Flask) -> RunningSandbox | None:
    return app.extensions.get(EXTENSION)


def sandboxed_app(environ: dict[str, str] | None = None) -> Flask:
    """What `make run` serves with SANDBOX=1: the sandbox, started here in this process,
    the service built around it, its local agent page, and the sweeper of the jobs this
    process hosts. `stop(app)` undoes it all."""
    from helpdesk_app import create_app, logs, start_sweeper
    from sandbox.agent_page import blueprint as agent_page

    settings = Settings.from_env(environ)
    logs.configure(settings.log_level)  # before the sandbox says where it listens
    if settings.mode != "sandbox":
        raise ConfigError("the sandbox serves only with SANDBOX=1 and no upstream setting")
    sandboxed, running = start(settings)
    try:
        app = create_app(sandboxed)
    except BaseException:
        running.stop()
        raise
    app.extensions[EXTENSION] = running
    app.register_blueprint(agent_page)
    start_sweeper(app)
    if sandboxed.sandbox_triage_at_start:
        running.triage = threading.Thread(target=triage_scenario_tickets, args=(app, running),
                                          name="sandbox-triage", daemon=True)
        running.triage.start()
    return app


def scenario_settings(settings: Settings, scenario: dict[str, Any]) -> dict[str, Any]:
    """The scenario's `service_settings` that the environment did not set, by field name."""
    chosen = {}
    for name, value in scenario.get("service_settings", {}).items():
        field_name = name.lower()
        if field_name not in Settings.model_fields or field_name in NOT_FROM_ENV:
            raise ConfigError(f"SANDBOX_SCENARIO: service_settings.{name}: is not a setting")
        if field_name not in settings.model_fields_set:
            chosen[field_name] = value
    return chosen


def triage_scenario_tickets(app: Flask, running: RunningSandbox) -> None:
    """Triage every ticket of the scenario, one after the other, as the service triages a
    new ticket (engine/triage_job.py); a failure is logged and the next one is triaged."""
    from helpdesk_app.engine.triage_job import triage_ticket

    services = app.extensions["helpdesk"]
    for ticket in running.scenario["zendesk"]["tickets"]:
        if running.stopped:
            return
        try:
            triage_ticket(services, ticket["id"])
        except Exception:  # noqa: BLE001 - the demo goes on; the sidebar reads it on demand
            log.exception("sandbox.triage_failed", extra={"ticket_id": ticket["id"]})
    log.info("sandbox.triaged", extra={"tickets": len(running.scenario["zendesk"]["tickets"])})


def stop(app: Flask) -> None:
    """Stop the app's sweeper and sandbox; idempotent (atexit and a test's teardown)."""
    from helpdesk_app import stop_sweeper

    stop_sweeper(app)
    running = running_sandbox(app)
    if running is not None:
        running.stop()


def service_url(settings: Settings) -> str:
    return str(settings.sandbox_service_url).rstrip("/")


def _scenario(source: str) -> dict[str, Any]:
    try:
        return load_scenario(source)
    except (ScenarioError, OSError) as error:
        raise ConfigError(f"SANDBOX_SCENARIO: {error}") from None


def _database(settings: Settings) -> str:
    from helpdesk_app.storage.migrate import upgrade

    if "database_url" in settings.model_fields_set:
        url = settings.database_url
    else:
        for suffix in ("", "-wal", "-shm"):  # SQLite's WAL files belong to the old database
            Path(f"{SANDBOX_DATABASE}{suffix}").unlink(missing_ok=True)
        url = f"sqlite:///{SANDBOX_DATABASE}"
    upgrade(url)
    return url


def mode_of_environment(environ: dict[str, str] | None = None) -> str:
    """The mode the environment asks for, by the rule Settings.mode applies."""
    env = os.environ if environ is None else environ
    return "upstream" if any(env.get(n, "").strip() for n in UPSTREAM_SWITCHES) else "sandbox"


def main(argv: list[str]) -> int:
    if argv != ["mode"]:
        print("usage: python -m sandbox.mode mode", file=sys.stderr)
        return 2
    print(mode_of_environment())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
