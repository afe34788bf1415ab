"""Zendesk's rate limits as budgets shared across processes: Redis, PostgreSQL and SQLite.

The stores are exercised for real (other processes included); the adapter's pacing at the
HTTP edge with `responses`: a request the budget refuses never reaches Zendesk, a web
request answers 503 with Retry-After at once, and a run's post-back waits for room instead
of dropping its note.
"""
from __future__ import annotations

import time
from concurrent.futures import ProcessPoolExecutor

import pytest
import responses

from helpdesk_app.engine import runs
from helpdesk_app.storage.database import make_engine, make_session_factory
from helpdesk_app.storage.migrate import upgrade
from helpdesk_app.upstreams import zendesk_pacing
from helpdesk_app.upstreams.budgets import Budget, BudgetsUnavailable, DatabaseBudgets, RedisBudgets
from helpdesk_app.upstreams.retry import RetryPolicy
from helpdesk_app.upstreams.zendesk import ZendeskAdapter
from helpdesk_app.upstreams.zendesk_pacing import ZendeskPacing
from helpdesk_app.web import services_of
from tests.databases import _fresh_postgres_schema, _require_postgres
from tests.durability.test_runs_durable import AGENT, desk, make_app, new_run, run_row  # noqa: F401
from tests.redis_service import redis_url  # noqa: F401  (fixture)
from tests.sidebar_auth import session_header
from tests.upstream_fakes import ZENDESK_API, fixture
from workflows.errors import UpstreamError


def store(kind: str, url: str):
    if kind == "redis":
        return RedisBudgets(url)
    return DatabaseBudgets(make_session_factory(make_engine(url)))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres), "redis"])
def shared(request, tmp_path):
    """(kind, url) of each store: the database one on SQLite and PostgreSQL, and Redis."""
    if request.param == "redis":
        return "redis", request.getfixturevalue("redis_url")
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'budgets.db'}"
    else:
        _require_postgres()
        schema = _fresh_postgres_schema()
        url = next(schema)
        request.addfinalizer(lambda: next(schema, None))  # drops the schema
    upgrade(url)
    return "database", url


def _take_many(kind: str, url: str, budget: Budget, times: int) -> int:
    budgets = store(kind, url)
    return sum(budgets.take([budget]) == 0 for _ in range(times))


def test_a_budget_grants_its_limit_then_says_how_long_to_wait(shared):
    budgets = store(*shared)
    minute = Budget("zendesk:account", 3, 60.0)
    assert [budgets.take([minute]) for _ in range(3)] == [0, 0, 0]
    wait = budgets.take([minute])
    assert 0 < wait <= 60


def test_taking_several_budgets_is_all_or_nothing(shared):
    budgets = store(*shared)
    account, ticket = Budget("zendesk:account", 3, 60.0), Budget("zendesk:ticket:7", 1, 600.0)
    assert budgets.take([account, ticket]) == 0
    assert budgets.take([account, ticket]) > 0  # the ticket is full...
    # ...and the refused request spent nothing of the account's budget: two are left.
    assert [budgets.take([account]) == 0 for _ in range(3)] == [True, True, False]


def test_room_comes_back_when_the_window_slides(shared):
    budgets = store(*shared)
    short = Budget("zendesk:ticket:8", 1, 0.3)
    assert budgets.take([short]) == 0
    wait = budgets.take([short])
    assert 0 < wait <= 0.3
    time.sleep(wait + 0.05)
    assert budgets.take([short]) == 0


def test_processes_share_one_budget(shared):
    budget = Budget("zendesk:update_ticket", 25, 60.0)
    with ProcessPoolExecutor(max_workers=4) as pool:
        granted = list(pool.map(_take_many, *zip(*[(*shared, budget, 15)] * 4)))
    assert sum(granted) == 25  # 60 tries from four processes, the limit once


def test_a_refusal_is_remembered_until_its_room_comes_back(shared):
    """The store is asked once per refusal: the next asks answer from memory, for the key
    that was full only, until the window frees its oldest request."""
    budgets = store(*shared)
    full, other = Budget("zendesk:ticket:9", 1, 0.4), Budget("zendesk:ticket:10", 1, 0.4)
    assert budgets.take([full]) == 0
    first = budgets.take([full])
    asked = count_store_calls(budgets)
    assert 0 < budgets.take([full]) <= first and 0 < budgets.known_wait([full]) <= first
    assert asked == [] and budgets.known_wait([other]) == 0
    assert budgets.take([other]) == 0 and len(asked) == 1  # another key asks the store
    time.sleep(first + 0.05)
    assert budgets.known_wait([full]) == 0 and budgets.take([full]) == 0


def count_store_calls(budgets) -> list[object]:
    """Wraps the store's round trip (the Redis script, or a database session)."""
    asked: list[object] = []
    name = "_script" if isinstance(budgets, RedisBudgets) else "_db"
    real = getattr(budgets, name)

    def counted(*args, **kwargs):
        asked.append(args)
        return real(*args, **kwargs)

    setattr(budgets, name, counted)
    return asked


def test_an_unreachable_store_says_so():
    with pytest.raises(BudgetsUnavailable):
        RedisBudgets("redis://127.0.0.1:1/0").take([Budget("zendesk:account", 1, 60.0)])


# --- the adapter: a refused request never reaches Zendesk --------------------------------


def adapter(budgets, **limits) -> tuple[ZendeskAdapter, list[float]]:
    slept: list[float] = []
    pacing = ZendeskPacing(budgets, **limits)
    retry = RetryPolicy(sleep=slept.append, wait_on_rate_limit=True)
    return ZendeskAdapter("acme", "bot@vendor.test", "token", retry=retry, pacing=pacing), slept


def test_update_ticket_keeps_to_the_per_ticket_budget(migrated_url):
    zendesk, slept = adapter(store("database", migrated_url), updates_per_ticket=2)
    with responses.RequestsMock() as http:
        http.put(f"{ZENDESK_API}/tickets/1.json", json=fixture("zendesk", "update_ticket"))
        http.put(f"{ZENDESK_API}/tickets/2.json", json=fixture("zendesk", "update_ticket"))
        zendesk.set_status(1, "pending")
        zendesk.set_status(1, "pending")
        with pytest.raises(UpstreamError) as refused:
            zendesk.set_status(1, "pending")
        zendesk.set_status(2, "pending")  # another ticket has its own budget
        sent = [c.request.url for c in http.calls]
    assert sent == [f"{ZENDESK_API}/tickets/1.json"] * 2 + [f"{ZENDESK_API}/tickets/2.json"]
    error = refused.value
    assert (error.status, error.code, error.transient) == (429, "budget_spent", True)
    # Ten minutes is longer than a job may sleep: the caller reschedules instead.
    assert 500 < error.retry_after <= 600 and slept == []


def test_the_account_budget_counts_every_request(migrated_url):
    zendesk, _ = adapter(store("database", migrated_url), requests_per_min=2)
    # Priority work may spend the whole minute (bulk work leaves a share: test_fair_budgets).
    with responses.RequestsMock() as http, zendesk_pacing.priority():
        http.put(f"{ZENDESK_API}/tickets/1/tags.json", json=fixture("zendesk", "add_tags"))
        zendesk.add_tags(1, ["a"])
        zendesk.add_tags(1, ["b"])
        with pytest.raises(UpstreamError):
            zendesk.add_tags(1, ["c"])
        assert len(http.calls) == 2


# --- the service: web requests never wait, post-backs are delayed, never dropped ----------


def test_a_web_request_answers_503_at_once_when_the_budget_is_spent(migrated_url, world, http, desk):
    app = make_app(migrated_url, world, http, ZENDESK_REQUESTS_PER_MIN="1")
    headers = session_header(app, AGENT.id)
    services_of(app).budgets.take([Budget("zendesk:account", 1, 60.0)])  # someone else's
    before = len(http.calls)
    answer = app.test_client().get("/api/v1/tickets/1", headers=headers)
    assert answer.status_code == 503
    assert answer.get_json()["error"]["code"] == "upstream_rate_limited"
    assert 1 <= int(answer.headers["Retry-After"]) <= 60
    assert len(http.calls) == before  # nothing went to Zendesk


def test_a_post_back_over_the_ticket_budget_waits_for_room(migrated_url, world, http, desk, zendesk):
    # The window outlasts the run between the agent's update and the result's, however
    # slow the machine (CI once took over 0.5 s there); then the test waits it out.
    window_s = 4.0
    app = make_app(migrated_url, world, http, ZENDESK_UPDATES_PER_TICKET="1",
                   ZENDESK_UPDATES_PER_TICKET_WINDOW_S=str(window_s))
    services = services_of(app)
    run_id = new_run(services)
    services.zendesk.set_status(1, "open")  # an agent's update spent the ticket's one
    runs.perform_run(services, run_id)  # the result's update (note, tags, status) is refused
    row = run_row(services, run_id)
    assert row.state == "succeeded" and row.reported_at is None
    retry = [e for e in row.events if e.kind == "post_back_retry"]
    assert retry and retry[0].detail["code"] == "budget_spent"
    time.sleep(window_s + 0.1)
    runs.perform_run(services, run_id)
    row = run_row(services, run_id)
    assert row.reported_at is not None
    assert len(zendesk.notes(1)) == 1  # delayed, posted once, never dropped
    updates = [c for c in http.calls
               if c.request.method == "PUT" and c.request.url == f"{ZENDESK_API}/tickets/1.json"]
    assert len(updates) == 2  # the agent's, then the result's: no refused request was sent
