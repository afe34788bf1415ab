"""Settings of the provisioning rules that operators may tune."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rules:
    # "Substantially different" seats (provisioning-rules.md v2, seats_cover_usage): in use
    # and seats differ by more than max(`seats_override_min_difference`,
    # `seats_override_fraction` x seats). Judged against the seats bought, so a small
    # subscription still needs the customer's word for a handful of true-ups.
    seats_override_fraction: float = 0.1
    seats_override_min_difference: int = 5
    # The portal pushes plans to GitLab asynchronously: verification polls this long.
    verify_timeout_s: float = 120.0
    verify_first_delay_s: float = 1.0
    verify_max_delay_s: float = 15.0

    def seats_substantially_different(self, seats: int, in_use: int) -> bool:
        allowed = max(self.seats_override_min_difference, self.seats_override_fraction * seats)
        return abs(in_use - seats) > allowed
