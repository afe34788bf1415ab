"""Issue 19, item 4: the database store takes an account-wide budget's requests in blocks.

One write records several requests, which the process then spends without writing; the
guarantees stay those of one write a request: no window of a budget ever sends more than
its limit, across processes, and bulk work leaves the reserved share to priority work. On
SQLite and on PostgreSQL (tests/databases.py). Most tests drive the budgets' clock by hand;
the one across processes runs on the real clock and checks the windows of what was granted.
"""
from __future__ import annotations

import multiprocessing
import random
import time
from concurrent.futures import ProcessPoolExecutor

from sqlalchemy import func, select

from helpdesk_app.storage.database import make_engine, make_session_factory
from helpdesk_app.storage.models import RateSlot
from helpdesk_app.upstreams import zendesk_pacing
from helpdesk_app.upstreams.budgets import Budget, DatabaseBudgets
from helpdesk_app.upstreams.zendesk_pacing import ZendeskPacing
from tests.durability.test_fair_budgets import spent
from tests.durability.test_zendesk_budgets import count_store_calls


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def slots(sessions, bucket: str) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(RateSlot).where(RateSlot.bucket == bucket))


def test_one_write_records_a_block_that_the_process_spends(sessions):
    budgets = DatabaseBudgets(sessions, clock=Clock(), hold_s=30.0)
    asked = count_store_calls(budgets)
    account = Budget("zendesk:account", 100, 60.0, block=8)
    assert [budgets.take([account]) for _ in range(20)] == [0.0] * 20
    # Blocks of 4, then 8 and 8 (each spent before it expired, so the next one doubles).
    assert len(asked) == 3
    assert slots(sessions, "zendesk:account") == 20


def test_a_budget_without_blocks_writes_once_a_request(sessions):
    budgets = DatabaseBudgets(sessions, clock=Clock())
    asked = count_store_calls(budgets)
    ticket = Budget("zendesk:ticket:1", 30, 600.0)
    assert [budgets.take([ticket]) for _ in range(5)] == [0.0] * 5
    assert len(asked) == 5


def test_another_process_counts_a_block_as_taken_until_it_is_given_back(sessions):
    clock = Clock()
    first, second, third = (DatabaseBudgets(sessions, clock=clock) for _ in range(3))
    budget = Budget("zendesk:account", 6, 60.0, block=8)
    assert first.take([budget]) == 0  # records a block of 4, spends one
    granted = [second.take([budget]) == 0 for _ in range(3)]
    assert granted == [True, True, False]  # 4 + 2: the window is full
    clock.now += 2.0  # the first block expired: its three unspent requests go back...
    assert first.take([budget]) == 0  # ...and its next block is smaller: 2
    assert slots(sessions, "zendesk:account") == 5  # 1 spent + 2 spent + the new block
    assert [third.take([budget]) == 0 for _ in range(2)] == [True, False]


def test_an_expired_block_gives_back_in_the_next_transaction_of_any_budgets(sessions):
    clock = Clock()
    budgets = DatabaseBudgets(sessions, clock=clock)
    account = Budget("zendesk:account", 100, 60.0, block=8)
    bulk = Budget("zendesk:account:bulk", 75, 60.0, block=8)
    assert budgets.take([account]) == 0  # priority work's block: 4, one spent
    clock.now += 2.0
    assert budgets.take([account, bulk]) == 0  # bulk work's block, another set of budgets
    # The first block's three unspent rows went back in the same transaction.
    assert slots(sessions, "zendesk:account") == 1 + 4


def test_a_block_is_all_or_nothing_with_the_ticket_budget(sessions):
    budgets = DatabaseBudgets(sessions, clock=Clock())
    account = Budget("zendesk:account", 100, 60.0, block=8)
    ticket = Budget("zendesk:ticket:7", 1, 600.0)
    assert budgets.take([account, ticket]) == 0
    assert budgets.take([account, ticket]) > 0  # the ticket is full: nothing spent
    assert [budgets.take([account]) == 0 for _ in range(3)] == [True] * 3
    assert slots(sessions, "zendesk:ticket:7") == 1
    assert slots(sessions, "zendesk:account") == 4  # one block: four taken, four spent


def test_bulk_blocks_leave_the_reserved_share_to_another_process(sessions):
    clock = Clock()
    bulk = ZendeskPacing(DatabaseBudgets(sessions, clock=clock), requests_per_min=20, reserved_share=0.25)
    sidebar = ZendeskPacing(DatabaseBudgets(sessions, clock=clock), requests_per_min=20, reserved_share=0.25)
    assert spent(bulk, 30) == 15  # a triage storm in one process: its share, no more
    with zendesk_pacing.priority():
        assert spent(sidebar, 10) == 5  # the quarter held back, in another process
        assert spent(bulk, 1) == 0  # and none is left for priority work in the first


def test_a_forked_process_does_not_spend_its_parents_block(sessions):
    budgets = DatabaseBudgets(sessions, clock=Clock(), hold_s=30.0)
    budget = Budget("zendesk:account", 100, 60.0, block=8)
    assert budgets.take([budget]) == 0
    asked = count_store_calls(budgets)
    budgets._blocks._pid = -1  # as in a child forked from this process
    assert budgets.take([budget]) == 0
    assert len(asked) == 1  # the child asked the store for a block of its own
    assert slots(sessions, "zendesk:account") == 8


# --- across processes, on the real clock -------------------------------------------------

WINDOW_S, LIMIT, HOLD_S = 0.5, 8, 0.15


def _take_for(url: str, seconds: float, seed: int) -> list[tuple[float, float]]:
    """Takes at a steady pace for `seconds`; (before, after) of each granted one."""
    engine = make_engine(url)
    budgets = DatabaseBudgets(make_session_factory(engine), hold_s=HOLD_S)
    budget = Budget("zendesk:account", LIMIT, WINDOW_S, block=4)
    pace = random.Random(seed)
    granted, end = [], time.time() + seconds
    while time.time() < end:
        before = time.time()
        if budgets.take([budget]) == 0:
            granted.append((before, time.time()))
        time.sleep(pace.uniform(0.02, 0.05))  # so that blocks are spent over their hold
    engine.dispose()
    return granted


def test_no_window_sends_more_than_the_limit_across_processes(migrated_url):
    spawn = multiprocessing.get_context("spawn")  # SQLite's state is not fork-safe
    with ProcessPoolExecutor(max_workers=3, mp_context=spawn) as pool:
        runs = list(pool.map(_take_for, [migrated_url] * 3, [3.0] * 3, range(3)))
    granted = sorted(g for run in runs for g in run)
    assert len(granted) > 2 * LIMIT  # several windows went by, each spent
    # A grant is sent somewhere between its `before` and `after`: the ones surely inside a
    # window starting at any grant's `before` must be within the limit.
    for start, _ in granted:
        inside = [g for g in granted if g[0] >= start and g[1] <= start + WINDOW_S]
        assert len(inside) <= LIMIT, (start, inside)
