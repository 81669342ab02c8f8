"""Service-level maths on measured and simulated records.

The load driver writes one :class:`~harness.slo.windows.Window` per second per interaction and
organisation type; SLO maths, reports, the gate and calibration read those windows and never
Locust or SimPy objects. :mod:`harness.slo.outcomes` holds the rules for what counts as a good,
bad or excluded request, so every stage classifies the same way.
"""

from __future__ import annotations

from harness.slo.outcomes import Outcome, classify
from harness.slo.windows import Window, WindowKey, new_histogram, read_windows, write_windows

__all__ = [
    "Outcome",
    "Window",
    "WindowKey",
    "classify",
    "new_histogram",
    "read_windows",
    "write_windows",
]
