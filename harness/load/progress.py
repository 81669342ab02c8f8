"""A status line every few seconds of a load run, so a user can see it is working.

A two-minute run that prints nothing until it ends looks hung. While the schedule plays, the
generator reports what it has done every :data:`PROGRESS_EVERY_S` seconds: how far through the
window it is, the arrival rate drawn from the schedule and sent in the last interval (a gap
between them is the generator falling behind), requests in flight, bad responses so far and the
schedule lag's 99th percentile. The CLI prints each as one plain line.
"""

from __future__ import annotations

from dataclasses import dataclass

PROGRESS_EVERY_S = 5.0  # seconds between status lines


@dataclass(frozen=True)
class LoadProgress:
    """One status report of a running generator."""

    elapsed_s: float
    total_s: float
    drawn_per_s: float
    sent_per_s: float
    in_flight: int
    bad: int
    lag_p99_ms: float

    def line(self) -> str:
        """The status as one line of text."""
        elapsed = min(max(self.elapsed_s, 0.0), self.total_s)
        return (
            f"load: {elapsed:.0f}/{self.total_s:.0f} s, drawn {self.drawn_per_s:.1f}/s, "
            f"sent {self.sent_per_s:.1f}/s, in flight {self.in_flight}, bad {self.bad}, "
            f"lag p99 {self.lag_p99_ms:.1f} ms"
        )
