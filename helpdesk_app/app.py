"""The app factory: `create_app()` (what wsgi.py serves), and the sweeper of the jobs a process hosts."""
from __future__ import annotations

import io
import logging
import math

from flask import Flask, g, jsonify, request
from flask.sessions import SecureCookieSessionInterface
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from helpdesk_app import logs, metrics
from helpdesk_app.engine import readiness
from helpdesk_app.engine.services import Services, build_services
from helpdesk_app.errors import ApiError
from helpdesk_app.security.headers import static_nosniff
from helpdesk_app.settings import ConfigError, Settings
from helpdesk_app.storage.migrate import newest_revision
from helpdesk_app.web import SERVICES
from workflows.errors import BadInput, UpstreamError

__all__ = ["ConfigError", "Settings", "create_app", "start_sweeper", "stop_sweeper"]
log = logging.getLogger(__name__)

SWEEPER = "helpdesk_sweeper"
SANDBOX_COMMAND = ("SANDBOX=1 asks for the local sandbox, which its own command starts: make run "
                   "(gunicorn 'sandbox.mode:sandboxed_app()'), not wsgi:app")


def create_app(settings: Settings | None = None, services: Services | None = None) -> Flask:
    """Build the app and nothing more: no servers, threads or migrations (the release step
    migrates; the process that hosts jobs starts the sweeper, `start_sweeper`). Settings
    come from the environment unless given (tests give them)."""
    settings = settings or Settings.from_env()
    if settings.mode == "sandbox" and not settings.sandboxed:
        raise ConfigError(SANDBOX_COMMAND)
    logs.configure(settings.log_level)
    app = Flask(__name__)
    app.config.update(SECRET_KEY=settings.secret_key.get_secret_value() if settings.secret_key else None,
                      MAX_CONTENT_LENGTH=settings.webhook_max_bytes,
                      # Only the sandbox's agent page uses Flask's session (its CSRF token).
                      SESSION_COOKIE_SAMESITE="Lax")
    app.session_interface = SessionOnlyWhereUsed()
    services = services or build_services(settings)
    services.jobs.bind(services)
    app.extensions[SERVICES] = services

    from helpdesk_app.web.api import blueprint as api
    from helpdesk_app.web.health import READINESS
    from helpdesk_app.web.health import blueprint as health
    from helpdesk_app.web.metrics import BACKLOG, REGISTRY, backlog_registry
    from helpdesk_app.web.metrics import blueprint as metrics_page
    from helpdesk_app.web.operators import blueprint as operators
    from helpdesk_app.web.sidebar import blueprint as sidebar
    from helpdesk_app.web.webhooks.gitlab import blueprint as gitlab_webhook
    from helpdesk_app.web.webhooks.zendesk import blueprint as zendesk_webhook

    for blueprint in (health, metrics_page, zendesk_webhook, gitlab_webhook, sidebar, operators, api):
        app.register_blueprint(blueprint)
    app.extensions[REGISTRY] = metrics.scrape_registry(settings.prometheus_multiproc_dir)
    app.extensions[BACKLOG] = backlog_registry(services.db)
    app.extensions[READINESS] = readiness.for_settings(settings, services.db, newest_revision)
    _register_error_handlers(app)
    _trace_requests(app)
    app.before_request(_body_within_limit)
    app.after_request(static_nosniff)
    log.info("app.created", extra={"mode": settings.mode, "executor": settings.executor})
    return app


class SessionOnlyWhereUsed(SecureCookieSessionInterface):
    """Flask's signed-cookie session, opened only under the paths that use it (listed in
    `app.config["SESSION_PATHS"]`: the sandbox's agent page). Every other request, webhooks
    above all, gets Flask's null session instead of a serializer built and a cookie looked
    for. By path, because Flask opens the session before it matches the URL to a view."""

    def open_session(self, app: Flask, request):
        if request.path.startswith(tuple(app.config.get("SESSION_PATHS", ()))):
            return super().open_session(app, request)
        return None  # Flask then uses make_null_session: reading works, writing raises


def start_sweeper(app: Flask) -> None:
    """The process that hosts the app's jobs (a web process on the threads executor; RQ
    workers start their own) also sweeps. One sweeper per deployment is chosen by a lease
    row, so several such processes share the work."""
    from helpdesk_app.engine.sweeper import Sweeper

    if SWEEPER not in app.extensions:
        services = app.extensions[SERVICES]
        app.extensions[SWEEPER] = Sweeper(services.db, services.jobs, services.timing).start()


def stop_sweeper(app: Flask) -> None:
    """Idempotent: a worker's exit and a test's teardown may both call it."""
    sweeper = app.extensions.pop(SWEEPER, None)
    if sweeper is not None:
        sweeper.stop()


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


def _trace_requests(app: Flask) -> None:
    """Every request works under a request id (helpdesk_app.logs), answered back."""

    @app.before_request
    def _bind_request_id() -> None:
        g.request_id_token = logs.bind(logs.accepted(request.headers.get(logs.HEADER)))

    @app.after_request
    def _answer_request_id(response):
        response.headers[logs.HEADER] = logs.current() or ""
        return response

    @app.teardown_request
    def _unbind_request_id(_error) -> None:
        token = g.pop("request_id_token", None)
        if token is not None:
            logs.unbind(token)


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

