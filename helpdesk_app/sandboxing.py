"""The one seam between the service and the `sandbox` package (architecture.md, "Layout").

Nothing else in helpdesk_app/ imports the sandbox: a production process never loads it
unless sandbox mode asks for it, and the sandbox can change behind these few calls. Each
import is inside its function so that importing this module loads no sandbox code.
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Protocol

from flask import Flask

from helpdesk_app.settings import ConfigError, Settings

# Where the app keeps its running sandbox: the same name as sandbox.mode.EXTENSION (a test
# holds them equal), kept here so that upstream mode never loads the sandbox to look.
EXTENSION = "sandbox"


def start(app: Flask, settings: Settings) -> Settings:
    """Sandbox mode: start the local sandbox for `app`; the settings that point at it."""
    from sandbox import mode

    settings, running = mode.start(settings)
    app.extensions[EXTENSION] = running
    return settings


def add_pages(app: Flask) -> None:
    """The local agent page, for an app whose sandbox `start` started."""
    from sandbox.agent_page import blueprint

    app.register_blueprint(blueprint)


def stop(app: Flask) -> None:
    """Stop the sandbox `start` started; idempotent, and nothing to do in upstream mode."""
    running = app.extensions.get(EXTENSION)
    if running is not None:
        running.stop()


class Ephemeral(Protocol):
    def env(self) -> Mapping[str, str]: ...
    def stop(self) -> None: ...


def ephemeral(scenario: Path) -> Ephemeral:
    """A sandbox serving `scenario` until it is stopped (the CLI's --scenario); its `env()`
    is the settings, by environment name, that point at it."""
    from sandbox import Sandbox, ScenarioError

    try:
        return Sandbox.start(scenario)
    except ScenarioError as error:
        raise ConfigError(str(error)) from None
