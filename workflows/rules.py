"""Settings of the provisioning rules that operators may tune."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rules:
    # "Substantially different" seats (provisioning-rules.md, seats_cover_usage): the larger
    # is more than `seats_override_ratio` times the smaller AND they differ by more than
    # `seats_override_min_difference` seats.
    seats_override_ratio: float = 1.5
    seats_override_min_difference: int = 5
    # The portal pushes plans to GitLab asynchronously: verification polls this long.
    verify_timeout_s: float = 120.0
    verify_first_delay_s: float = 1.0
    verify_max_delay_s: float = 15.0

    def seats_substantially_different(self, seats: int, in_use: int) -> bool:
        larger, smaller = max(seats, in_use), min(seats, in_use)
        return (
            larger > self.seats_override_ratio * smaller
            and larger - smaller > self.seats_override_min_difference
        )
