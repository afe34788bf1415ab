"""Property-based fuzzing of the service from docs/openapi.yaml (schemathesis).

Every operation gets generated requests, valid and invalid, with an admin's session (so the
policy lets them through to the deepest code) and, for the webhooks, a valid signature (or
token) over exactly the bytes sent; none may answer 5xx, and every answer must match the
documented schema. SQLite only: the backends' behaviour is the other tests' job.
"""
from __future__ import annotations

import io
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from helpdesk_app.security.zendesk_webhook import sign_zendesk
from helpdesk_app.storage.migrate import upgrade
from helpdesk_app.web import services_of
from tests.api.test_api_v1 import ADMIN, desk, make_app  # noqa: F401  (desk is a fixture)
from tests.app.test_settings import UPSTREAM_ENV
from tests.ops.test_readiness import upstreams_fine
from tests.sidebar_auth import session_header
from tests.webhooks.test_zendesk_intake import now_stamp

OPENAPI = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"


def test_the_openapi_document_is_valid_openapi_3_1():
    import yaml
    from openapi_spec_validator import validate

    document = yaml.safe_load(OPENAPI.read_text())
    assert document["openapi"].startswith("3.1")
    validate(document)


@pytest.fixture
def fuzz_app(tmp_path, world, desk):  # noqa: F811
    url = f"sqlite:///{tmp_path / 'fuzz.db'}"
    upgrade(url)
    upstreams_fine(desk.http)  # /readyz: every upstream accepts its token (else 503, by design)
    app = make_app(url, world)
    app.wsgi_app = SignedWebhooks(app.wsgi_app)
    yield app
    services_of(app).db.kw["bind"].dispose()


class SignedWebhooks:
    """WSGI middleware: signs each Zendesk webhook's body as it arrives, and gives GitLab's
    its token, so that generated bodies reach the parsers behind the signature checks."""

    def __init__(self, app) -> None:
        self.app = app

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO")
        if path == "/webhooks/zendesk":
            body = environ["wsgi.input"].read()
            stamp = now_stamp()
            environ["HTTP_X_ZENDESK_WEBHOOK_SIGNATURE"] = sign_zendesk(
                UPSTREAM_ENV["ZENDESK_WEBHOOK_SECRET"], stamp, body)
            environ["HTTP_X_ZENDESK_WEBHOOK_SIGNATURE_TIMESTAMP"] = stamp
            environ["wsgi.input"], environ["CONTENT_LENGTH"] = io.BytesIO(body), str(len(body))
        elif path == "/webhooks/gitlab":
            environ["HTTP_X_GITLAB_TOKEN"] = UPSTREAM_ENV["GITLAB_WEBHOOK_TOKEN"]
        return self.app(environ, start_response)


# Loading a file at import is fine here: it reads no environment and starts nothing.
SCHEMA = schemathesis.openapi.from_path(OPENAPI)
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]


# schemathesis' own pytest integration (`from_fixture`) reads a pytest internal that
# pytest 9 no longer has; each operation's Hypothesis strategy is driven directly instead.
@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda operation: operation.label)
def test_no_generated_request_gets_a_server_error(operation, fuzz_app):
    session = session_header(fuzz_app, ADMIN)

    @given(case=operation.as_strategy(generation_mode=GenerationMode.POSITIVE)
           | operation.as_strategy(generation_mode=GenerationMode.NEGATIVE))
    @settings(max_examples=40, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def fuzz(case):
        response = case.call_and_validate(app=fuzz_app, headers={**(case.headers or {}), **session},
                                          checks=[not_a_server_error, response_schema_conformance])
        statuses.add(response.status_code)

    statuses: set[int] = set()
    fuzz()
    if operation.path.startswith("/webhooks/"):  # the signature let bodies through to parsing
        assert statuses - {401}, statuses
