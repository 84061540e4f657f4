"""Images/s of two things timed side by side in alternating rounds: the shared result type."""

from __future__ import annotations

import statistics
from dataclasses import dataclass


@dataclass(frozen=True)
class Comparison:
    """Images/s of `ours` and `peer` in each timed round of one mode."""

    mode: str
    ours_rounds: tuple[float, ...]
    peer_rounds: tuple[float, ...]

    @property
    def ours(self) -> float:
        return statistics.median(self.ours_rounds)

    @property
    def peer(self) -> float:
        return statistics.median(self.peer_rounds)

    @property
    def round_ratios(self) -> tuple[float, ...]:
        """ours / peer of each round (the two were timed back to back)."""
        return tuple(o / p for o, p in zip(self.ours_rounds, self.peer_rounds, strict=True))

    @property
    def ratio(self) -> float:
        """Median of the per-round ratios: above 1.0, ours is faster."""
        return statistics.median(self.round_ratios)
