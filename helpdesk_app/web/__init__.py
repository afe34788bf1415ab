"""The HTTP edge: the sidebar page and its API, the webhooks, health. Views authenticate,
parse, hand over to the engine and answer; no rule lives here."""
from __future__ import annotations

from flask import Flask

from helpdesk_app.engine.services import Services

SERVICES = "helpdesk"  # the app extension create_app() puts the services under


def services_of(app: Flask) -> Services:
    return app.extensions[SERVICES]
