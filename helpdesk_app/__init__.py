"""The service: HTTP edge, security, persistence, jobs, the CLI, and the upstream adapters."""
from __future__ import annotations

import io
import logging
import math

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from helpdesk_app import sandboxing
from helpdesk_app.engine.services import Services, build_services
from helpdesk_app.errors import ApiError
from helpdesk_app.security.headers import static_nosniff
from helpdesk_app.settings import ConfigError, Settings
from helpdesk_app.web import SERVICES
from workflows.errors import BadInput, UpstreamError

__all__ = ["ConfigError", "Settings", "create_app", "stop_sandbox"]
log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, services: Services | None = None) -> Flask:
    """Build the app. Settings come from the environment unless given (tests give them)."""
    settings = settings or Settings.from_env()
    _configure_logging(settings.log_level)
    app = Flask(__name__)
    if settings.mode == "sandbox" and not settings.sandboxed:
        settings = sandboxing.start(app, settings)
    app.config.update(SECRET_KEY=settings.secret_key.get_secret_value() if settings.secret_key else None,
                      MAX_CONTENT_LENGTH=settings.webhook_max_bytes,
                      # Only the sandbox's agent page uses Flask's session (its CSRF token).
                      SESSION_COOKIE_SAMESITE="Lax")
    try:
        services = services or build_services(settings)
    except BaseException:
        stop_sandbox(app)
        raise
    services.jobs.bind(services)
    app.extensions[SERVICES] = services

    from helpdesk_app.web.api import blueprint as api
    from helpdesk_app.web.health import blueprint as health
    from helpdesk_app.web.sidebar import blueprint as sidebar
    from helpdesk_app.web.webhooks.gitlab import blueprint as gitlab_webhook
    from helpdesk_app.web.webhooks.zendesk import blueprint as zendesk_webhook

    for blueprint in (health, zendesk_webhook, gitlab_webhook, sidebar, api):
        app.register_blueprint(blueprint)
    if sandboxing.EXTENSION in app.extensions:
        sandboxing.add_pages(app)  # the local agent page exists in sandbox mode only
    _register_error_handlers(app)
    app.before_request(_body_within_limit)
    app.after_request(static_nosniff)
    if settings.executor == "threads":
        # The embedded default: this process also sweeps (one sweeper per deployment is
        # chosen by a lease row, so several web processes on one machine share the work).
        from helpdesk_app.engine.sweeper import Sweeper

        app.extensions["helpdesk_sweeper"] = Sweeper(services.db, services.jobs, services.timing).start()
    log.info("app.created", extra={"mode": settings.mode, "executor": settings.executor})
    return app


def stop_sandbox(app: Flask) -> None:
    """Stop the sandbox create_app started, and the sweeper calling it; idempotent, and
    harmless for an app in upstream mode. Tests call it at teardown."""
    sweeper = app.extensions.pop("helpdesk_sweeper", None)
    if sweeper is not None:
        sweeper.stop()
    sandboxing.stop(app)


def _register_error_handlers(app: Flask) -> None:
    """Every error is JSON with a stable code; a 500 never says more than that."""

    @app.errorhandler(ApiError)
    def api_error(error: ApiError):
        return jsonify(error=error.to_dict()), error.status

    @app.errorhandler(UpstreamError)
    def upstream_failed(error: UpstreamError):
        # What an agent can act on, and the request id to quote; never a secret (errors.py).
        log.warning("upstream.failed", extra={"upstream": error.upstream, "status": error.status})
        body = {"code": "upstream_error", "message": error.message, "upstream": error.upstream,
                "request_id": error.request_id}
        if error.status == 429:  # rate limited: say when to try again; never sleep here
            response = jsonify(error={**body, "code": "upstream_rate_limited"})
            response.headers["Retry-After"] = str(math.ceil(error.retry_after or 1))
            return response, 503
        return jsonify(error=body), 502

    @app.errorhandler(BadInput)
    def bad_input(error: BadInput):
        return jsonify(error={"code": "bad_input", "message": str(error), "field": error.field}), 400

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        code = (error.name or "error").lower().replace(" ", "_")
        response = jsonify(error={"code": code, "message": error.description})
        # The error's own headers (`Allow` on a 405, `Retry-After`, ...), not its HTML type.
        for name, value in error.get_headers():
            if name.lower() != "content-type":
                response.headers.add(name, value)
        return response, error.code

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        log.exception("app.unhandled_error")
        return jsonify(error={"code": "internal_error", "message": "an unexpected error occurred"}), 500


def _body_within_limit() -> None:
    """413 for a body over MAX_CONTENT_LENGTH before any view runs, so that the answer
    does not depend on whether the view (or its authentication) reads the body. A chunked
    body has no Content-Length: it is read here (the server de-chunks it)."""
    limit = request.max_content_length
    if limit is None:
        return
    if request.content_length is not None:
        if request.content_length > limit:
            raise RequestEntityTooLarge()
    elif "chunked" in request.headers.get("Transfer-Encoding", "").lower():
        # Werkzeug's own limit on a stream without a length stops reading at the limit
        # and says nothing, so read one byte past it here; the view then reads the copy.
        data = request.environ["wsgi.input"].read(limit + 1)
        if len(data) > limit:
            raise RequestEntityTooLarge()
        request.environ["wsgi.input"] = io.BytesIO(data)


def _configure_logging(level: str) -> None:
    root = logging.getLogger()
    if not root.handlers:  # gunicorn or a test runner may have configured it already
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    else:
        root.setLevel(level)
