"""After a run: the result goes back to the ticket; a failure opens or feeds an escalation.

STUB: the interface the runs build on; implemented by the escalation work.
"""
from __future__ import annotations

from typing import Any

from workflows import Outcome

from .db import Escalation, Run


def report_run(services: Any, run: Run, outcome: Outcome) -> Escalation | None:
    """Post the run's result to its ticket (provisioning-rules.md, "After a run")."""
    raise NotImplementedError


def escalate(services: Any, *, ticket_id: int, workflow: str, summary: str,
             agent: dict[str, Any], run: Run | None = None,
             outcome: Outcome | None = None) -> Escalation:
    """Open (or comment on) the ticket's escalation issue for `workflow`; note it on the ticket."""
    raise NotImplementedError
