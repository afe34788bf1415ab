"""The service: HTTP edge, security, persistence, jobs, the CLI, and the upstream adapters.

`create_app` and the sweeper's start and stop live in `helpdesk_app/app.py` and are named
here, loaded on first use: `python -m helpdesk_app` imports this package first, and a
command that needs no web app (`plan`, `triage`) must not pay for Flask and everything
the app is built from.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from helpdesk_app.app import create_app, start_sweeper, stop_sweeper
    from helpdesk_app.settings import ConfigError, Settings

__all__ = ["ConfigError", "Settings", "create_app", "start_sweeper", "stop_sweeper"]
_HOME = {"create_app": "helpdesk_app.app", "start_sweeper": "helpdesk_app.app",
         "stop_sweeper": "helpdesk_app.app", "ConfigError": "helpdesk_app.settings",
         "Settings": "helpdesk_app.settings"}


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module 'helpdesk_app' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOME[name]), name)
