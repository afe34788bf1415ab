"""Fixtures: a started sandbox per test (over the suite's base world), and the service's
real clients pointed at it (tests/sandbox/sandbox_support.py)."""
from __future__ import annotations

import pytest

from tests.sandbox.sandbox_support import Clients, clients_for, start


@pytest.fixture
def sandbox(scenario):
    """`scenario` is the suite's base world (tests/conftest.py); a test edits it first."""
    started = start(scenario)
    yield started
    started.stop()


@pytest.fixture
def clients(sandbox) -> Clients:
    return clients_for(sandbox)
