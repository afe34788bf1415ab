import copy

import pytest
import responses

from tests.world import TODAY, World
from workflows.clock import SystemClock

# The base world: associating A-S00000001 with `acme` is ready. Tests change one thing.
BASE = {
    "portal": {
        "customers": [
            {"id": 1, "email": "owner@acme.test", "name": "Ada Owner", "company": "Acme", "gitlab_user_id": 100},
            {"id": 2, "email": "bob@beta.test", "name": "Bob", "company": "Beta", "gitlab_user_id": 200},
        ],
        "subscriptions": [
            {"name": "A-S00000001", "customer_id": 1, "plan_code": "premium", "seats": 20,
             "start_date": "2026-01-01", "end_date": "2027-01-01"},
            {"name": "A-S00000002", "customer_id": 2, "plan_code": "ultimate", "seats": 5,
             "start_date": "2025-01-01", "end_date": "2026-01-01", "status": "expired", "namespace_id": 700},
            {"name": "A-S00000003", "customer_id": 1, "kind": "compute_minutes", "units": 10000,
             "start_date": "2026-02-01", "end_date": "2027-02-01"},
        ],
    },
    "gitlab": {
        "users": [
            {"id": 100, "username": "ada", "email": "owner@acme.test"},
            {"id": 200, "username": "bob", "email": "bob@beta.test"},
            {"id": 300, "username": "root", "email": "admin@vendor.test", "is_admin": True},
        ],
        "namespaces": [
            {"id": 500, "full_path": "acme", "billable_members_count": 18},
            {"id": 501, "full_path": "acme/platform", "parent_id": 500, "billable_members_count": 4},
            {"id": 600, "full_path": "acme-old", "billable_members_count": 3, "plan": "premium"},
            {"id": 700, "full_path": "beta", "billable_members_count": 5},
            {"id": 800, "full_path": "ada", "kind": "user", "billable_members_count": 1},
        ],
        "members": [
            {"namespace_id": 500, "user_id": 100, "access_level": 50},
            {"namespace_id": 600, "user_id": 100, "access_level": 50},
            {"namespace_id": 700, "user_id": 200, "access_level": 50},
        ],
    },
    "zendesk": {
        "groups": [{"id": 1, "name": "License and Renewals"}],
        "users": [
            {"id": 9000, "email": "agent@vendor.test", "name": "Agent", "role": "agent", "group_ids": [1]},
            {"id": 9100, "email": "owner@acme.test", "name": "Ada Owner"},
            {"id": 9200, "email": "stranger@else.test", "name": "Stranger"},
            {"id": 9300, "email": "owner@acme.test", "name": "Ada (unverified)", "verified": False},
        ],
        "tickets": [
            {"id": 1, "subject": "Subscription not showing", "requester_id": 9100},
            {"id": 2, "subject": "Please clear", "requester_id": 9200},
            {"id": 3, "subject": "Unverified", "requester_id": 9300},
        ],
    },
}


@pytest.fixture(autouse=True)
def pinned_today(monkeypatch):
    """The service's own clock says TODAY in every test, so that no test, in-process app
    tests included, depends on the real date (the in-memory worlds pin theirs; a test may
    pin another day)."""
    monkeypatch.setattr(SystemClock, "today", lambda self: TODAY)


@pytest.fixture
def scenario():
    return copy.deepcopy(BASE)


@pytest.fixture
def world(scenario):
    return World(scenario)


@pytest.fixture
def http():
    """The HTTP edge: a request no fake or mock answers fails the test."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def zendesk(http):
    """Zendesk's tickets at the HTTP edge (tests/upstream_fakes.py)."""
    from tests.upstream_fakes import FakeZendesk

    return FakeZendesk().install(http)


# Database fixtures (each backend, migrated for real) for every test directory.
from tests.databases import database_url, engine, migrated_url, sessions  # noqa: E402,F401
from tests.redis_service import redis_url  # noqa: E402,F401


def pytest_collection_modifyitems(items) -> None:
    """A test that takes the real Redis (`redis_url`) carries the `redis` marker, as the
    PostgreSQL ones carry `postgres`, so `-m "not redis"` leaves out every test that may stop
    or flush the shared server, not only the ones marked by hand."""
    for item in items:
        if "redis_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.redis)
