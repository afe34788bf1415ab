"""The engine's words that the API and the CLI share, with no database behind them: so that
a command that stores nothing (`plan --scenario`) loads no SQLAlchemy to name them."""
from __future__ import annotations

import re

from workflows import OutcomeStatus

# The state a run is left in by its outcome's status.
RUN_STATE = {
    OutcomeStatus.SUCCEEDED: "succeeded",
    OutcomeStatus.FAILED: "failed",
    OutcomeStatus.SUPERSEDED: "superseded",
    OutcomeStatus.REFUSED: "failed",  # nothing changed, and nothing for an engineer to fix
}
# The grammar of a run's Idempotency-Key and the longest override reason: printable, and
# short enough that "<key>:apply" fits the portal's 255 characters.
IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_.:-]{8,200}$")
MAX_REASON = 2000
# What an operator may send back (failures.requeue).
REQUEUE_KINDS = ("run", "delivery")
