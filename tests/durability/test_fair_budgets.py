"""Issue 16, item 4: budgets no one can starve.

One agent's plans and runs are limited per minute (429, Retry-After), and a share of the
account's Zendesk budget is held back for post-backs and sidebar loads, which bulk work
(triage, plans) never spends. Counted in the shared store (upstreams/budgets.py) on
SQLite and PostgreSQL.
"""
from __future__ import annotations

import pytest

from helpdesk_app.upstreams import zendesk_pacing
from helpdesk_app.upstreams.budgets import DatabaseBudgets
from helpdesk_app.upstreams.zendesk_pacing import ZendeskPacing
from helpdesk_app.web import services_of
from tests.api.test_api_v1 import ASSOCIATE, LNR_AGENT, OTHER_AGENT, as_agent, desk, make_app  # noqa: F401
from workflows.errors import UpstreamError


def spent(pacing: ZendeskPacing, n: int) -> int:
    """How many of `n` reads the pacing lets out."""
    allowed = 0
    for _ in range(n):
        try:
            pacing.spend("GET", "/api/v2/tickets/1.json")
            allowed += 1
        except UpstreamError as refused:
            assert refused.status == 429 and refused.retry_after > 0
    return allowed


def test_bulk_work_leaves_the_reserved_share_to_post_backs_and_sidebar_loads(sessions):
    pacing = ZendeskPacing(DatabaseBudgets(sessions), requests_per_min=20, reserved_share=0.25)
    assert spent(pacing, 30) == 15  # a triage storm: three quarters of the minute, no more
    with zendesk_pacing.priority():
        assert spent(pacing, 10) == 5  # the quarter held back is there for the sidebar
    assert spent(pacing, 1) == 0


@pytest.fixture
def limited_app(migrated_url, world):
    app = make_app(migrated_url, world, AGENT_REQUESTS_PER_MIN="2")
    yield app
    services_of(app).db.kw["bind"].dispose()


def test_one_agent_is_limited_and_the_next_is_not(limited_app, desk):
    client = limited_app.test_client()
    for _ in range(2):
        assert client.post("/api/v1/plans", json=ASSOCIATE, headers=as_agent(limited_app)).status_code == 200
    refused = client.post("/api/v1/plans", json=ASSOCIATE, headers=as_agent(limited_app))
    assert refused.status_code == 429 and refused.get_json()["error"]["code"] == "agent_rate_limited"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    other = client.post("/api/v1/plans", json=ASSOCIATE, headers=as_agent(limited_app, OTHER_AGENT))
    assert other.status_code == 200
