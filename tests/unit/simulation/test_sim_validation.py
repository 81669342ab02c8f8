"""The hybrid model against the exact message-level kernel, on the same arrival counts."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from harness.simulation import Prepared
from harness.simulation.validation import (
    OUTAGE_START_MIN,
    TOLERANCE,
    WINDOW_MIN,
    cases,
    compare_case,
)

SEEDS = (1, 2, 3)


def _peak_window(prepared: Prepared) -> np.ndarray:
    origin = prepared.origin[:, 0, 0]  # PDS at the first site
    first = int(np.argmax(origin)) - int(OUTAGE_START_MIN)
    return np.asarray(origin[first : first + WINDOW_MIN])


@pytest.mark.parametrize(
    ("servers", "case_name"),
    [(6, "node-loss-at-peak"), (8, "data-centre-loss-at-peak")],
)
def test_hybrid_agrees_with_the_exact_kernel_at_peak(
    make_prepared: Callable[..., Prepared], servers: int, case_name: str
) -> None:
    pool = {"servers": servers, "redundancy": 1, "service_time_ms": 12}
    prepared = make_prepared(topology__pools__pds=pool)
    layout = prepared.layout
    case = next(c for c in cases(servers) if c.name == case_name)
    hybrid, exact = 0.0, 0.0
    for seed in SEEDS:
        row = compare_case(
            case,
            _peak_window(prepared),
            servers,
            float(layout.service_time_s[0]),
            layout.traffic.slow_budget_s[0],
            layout.traffic.slow_weight[0],
            layout.scenario.simulation.timeout,
            layout.scenario.simulation.bad_minute_threshold,
            np.random.default_rng(seed),
        )
        hybrid += row["hybrid"]["slow"] + row["hybrid"]["failed"]
        exact += row["exact"]["slow"] + row["exact"]["failed"]
    assert exact > 10_000, "the case must stress the pool for the comparison to mean anything"
    assert hybrid == pytest.approx(exact, rel=TOLERANCE)
