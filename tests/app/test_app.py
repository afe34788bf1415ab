"""The app factory, health and JSON errors."""
from __future__ import annotations

import pytest

from helpdesk_app import create_app
from helpdesk_app.settings import Settings
from tests.app.test_settings import UPSTREAM_ENV


@pytest.fixture
def client(tmp_path):
    app = create_app(Settings.from_env({**UPSTREAM_ENV, "DATABASE_URL": f"sqlite:///{tmp_path}/h.db"}))
    return app.test_client()


def test_healthz_answers_200_without_calling_upstreams(client):
    import responses

    with responses.RequestsMock() as mocked:  # any upstream call would fail the test
        response = client.get("/healthz")
        assert len(mocked.calls) == 0
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "mode": "upstream"}


def test_unknown_route_is_a_json_404(client):
    response = client.get("/nope")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def test_wrong_method_is_a_json_405(client):
    response = client.post("/healthz")
    assert response.status_code == 405 and "error" in response.get_json()
