"""The service's one clock: monotonic seconds to wait by, and today's date (UTC) to judge by.

Verification waits on it (`__call__`, `sleep`); the checks judge subscription dates against
`today()` (provisioning-rules.md, "Today"). It travels with the ports, so whoever builds
the ports decides what time it is: the service passes `SystemClock`, tests pass a clock
pinned to a date, and no rule reads the wall clock on its own.
"""
from __future__ import annotations

import time
from datetime import date, datetime, timezone
from typing import Protocol


class Clock(Protocol):
    def __call__(self) -> float:
        """Monotonic seconds (for deadlines, never for dates)."""
        ...

    def sleep(self, seconds: float) -> None: ...

    def today(self) -> date:
        """Today in UTC."""
        ...


class SystemClock:
    def __call__(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def today(self) -> date:
        return datetime.now(timezone.utc).date()
