"""`/metrics` (helpdesk_app/metrics.py, web/metrics.py): the counts after a real run and a
real delivery, through the app with its upstreams at the HTTP edge; the token that guards
it; and the multiprocess mode, where two processes write and one scrape sums them."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from helpdesk_app.engine import runs
from helpdesk_app.web import services_of
from tests.durability.test_runs_durable import LINK_URL, desk, make_app, new_run, run_row  # noqa: F401
from tests.sidebar_auth import mock_agent
from tests.webhooks.test_triage_job import DESCRIPTION, SUBJECT, TICKET, deliver

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "metrics-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def scrape(app, headers=AUTH) -> dict[tuple[str, frozenset], float]:
    response = app.test_client().get("/metrics", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.content_type.startswith("text/plain; version=")
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(response.get_data(as_text=True))
            for s in family.samples}


def value(samples, name: str, **labels) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def delta(before, after, name: str, **labels) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


@pytest.fixture
def app(migrated_url, world, http, desk):  # noqa: F811
    return make_app(migrated_url, world, http, METRICS_TOKEN=TOKEN)


def test_a_run_counts_its_end_state_duration_upstream_answers_and_retries(migrated_url, world, http,
                                                                          desk):  # noqa: F811
    for _ in range(3):  # the portal is busy three times, then links (before the world's answers)
        http.put(LINK_URL, status=503, json={"error": {"code": "unavailable", "message": "busy"}})
    app = make_app(migrated_url, world, http, METRICS_TOKEN=TOKEN)
    services = services_of(app)
    before = scrape(app)
    run_id = new_run(services)
    assert value(scrape(app), "helpdesk_runs_in_state", state="queued") == 1  # from the database
    runs.perform_run(services, run_id)
    after = scrape(app)
    assert run_row(services, run_id).state == "succeeded"
    assert value(after, "helpdesk_runs_in_state", state="queued") == 0
    assert delta(before, after, "helpdesk_runs_finished_total", workflow="associate", state="succeeded") == 1
    assert delta(before, after, "helpdesk_run_duration_seconds_count", workflow="associate") == 1
    assert delta(before, after, "helpdesk_upstream_requests_total", upstream="portal", status="503") == 3
    assert delta(before, after, "helpdesk_upstream_requests_total", upstream="portal", status="200") >= 1
    assert delta(before, after, "helpdesk_upstream_retries_total", upstream="portal") == 3
    assert delta(before, after, "helpdesk_runs_finished_total", workflow="associate", state="failed") == 0


def test_a_delivery_counts_its_states_and_zendesk_answers(migrated_url, world, http, desk, zendesk):  # noqa: F811
    app = make_app(migrated_url, world, http, METRICS_TOKEN=TOKEN, ZENDESK_SERVICE_USER_ID="7777")
    zendesk.add_ticket(TICKET, SUBJECT, DESCRIPTION)
    before = scrape(app)
    assert deliver(app, "webhook_ticket_created", "ev-metrics-1") == 202
    after = scrape(app)
    assert delta(before, after, "helpdesk_deliveries_total", source="zendesk", state="received") == 1
    assert delta(before, after, "helpdesk_deliveries_total", source="zendesk", state="processed") == 1
    assert delta(before, after, "helpdesk_upstream_requests_total", upstream="zendesk", status="200") >= 3
    assert delta(before, after, "helpdesk_dead_letters_total", kind="zendesk_delivery") == 0


def test_a_plan_is_timed(app, http):
    from tests.sidebar_auth import session_header
    mock_agent(http, 9000)
    before = scrape(app)
    body = {"workflow": "associate", "ticket_id": 1,
            "inputs": {"subscription": "A-S00000001", "namespace": "acme"}}
    response = app.test_client().post("/api/v1/plans", json=body, headers=session_header(app, 9000))
    assert response.status_code == 200
    assert delta(before, scrape(app), "helpdesk_plan_duration_seconds_count", workflow="associate") == 1


def test_metrics_need_the_token_and_do_not_exist_without_one(migrated_url, world, http, desk):  # noqa: F811
    guarded = make_app(migrated_url, world, http, METRICS_TOKEN=TOKEN).test_client()
    for headers in ({}, {"Authorization": "Bearer wrong-token-0123456789"},
                    {"Authorization": f"Basic {TOKEN}"}, {"Authorization": f"Bearer {TOKEN}x"}):
        response = guarded.get("/metrics", headers=headers)
        assert response.status_code == 401 and response.headers["WWW-Authenticate"] == "Bearer"
        assert b"helpdesk_" not in response.data
    assert guarded.get("/metrics", headers={"Authorization": f"bearer {TOKEN}"}).status_code == 200
    unguarded = make_app(migrated_url, world, http).test_client()
    assert unguarded.get("/metrics", headers=AUTH).status_code == 404


WRITER = """
import sys
from helpdesk_app import metrics
n = int(sys.argv[1])
metrics.DELIVERIES.labels("zendesk", "dead").inc(n)
metrics.RUN_SECONDS.labels("associate").observe(0.3 * n)
"""


def test_the_scrape_sums_every_process_in_multiprocess_mode(tmp_path, migrated_url, world, http, desk):  # noqa: F811
    samples_dir = tmp_path / "prometheus"
    samples_dir.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(samples_dir), "PYTHONPATH": str(ROOT)}
    for n in ("3", "4"):  # two processes, as two gunicorn workers or an RQ worker would be
        subprocess.run([sys.executable, "-c", WRITER, n], env=env, check=True, cwd=ROOT)
    assert len(list(samples_dir.glob("counter_*.db"))) == 2  # one file per process
    app = make_app(migrated_url, world, http, METRICS_TOKEN=TOKEN,
                   PROMETHEUS_MULTIPROC_DIR=str(samples_dir))
    samples = scrape(app)
    assert value(samples, "helpdesk_deliveries_total", source="zendesk", state="dead") == 7
    assert value(samples, "helpdesk_run_duration_seconds_count", workflow="associate") == 2
    assert value(samples, "helpdesk_run_duration_seconds_sum", workflow="associate") == pytest.approx(2.1)


def test_a_multiprocess_directory_that_does_not_exist_stops_the_start(tmp_path):
    from helpdesk_app.settings import ConfigError, Settings
    from tests.app.test_settings import UPSTREAM_ENV

    with pytest.raises(ConfigError, match="PROMETHEUS_MULTIPROC_DIR"):
        Settings.from_env({**UPSTREAM_ENV, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "missing")})
    with pytest.raises(ConfigError, match="METRICS_TOKEN"):
        Settings.from_env({**UPSTREAM_ENV, "METRICS_TOKEN": "short"})
