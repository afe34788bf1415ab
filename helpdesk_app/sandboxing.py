"""The one seam between the service and the `sandbox` package (architecture.md, "Layout").

Nothing else in helpdesk_app/ imports the sandbox: a production process never loads it,
and the sandbox can change behind this call. The sandbox's own command (`make run`:
`sandbox.mode:sandboxed_app()`) builds the service around a running sandbox; from inside
the service only the CLI's `--scenario` starts one, here. The import is inside the
function so that importing this module loads no sandbox code.
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Protocol

from helpdesk_app.settings import ConfigError


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
