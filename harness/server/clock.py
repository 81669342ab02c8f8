"""The server's clock: wall time plus an offset that tests (and test-mode admins) can advance.

MESH expires unacknowledged messages after five days and deletes them after thirty; a test
cannot wait that long, so every component asks this clock for the time instead of ``time``.
The offset lives in the database's admin state, so every worker process agrees on it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass
class Clock:
    """Seconds since the epoch, shifted by :attr:`offset_s`."""

    offset_s: float = 0.0

    def now(self) -> float:
        """The current (possibly shifted) time in epoch seconds."""
        return time.time() + self.offset_s
