"""Small scenarios for the simulation tests: few organisations, short windows, seeded."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from harness.config.loading import set_dotted
from harness.config.scenario import Scenario
from harness.simulation import Prepared, prepared_for

BASE: dict[str, Any] = {
    "name": "sim-test",
    "description": "small simulation test scenario",
    "seed": 11,
    "organisations": {"count": 400},
    "topology": {
        "data_centres": ["dc-a", "dc-b"],
        "pools": {
            "pds": {"servers": 6, "service_time_ms": 12},
            "eps": {"servers": 4, "service_time_ms": 18},
        },
    },
    "simulation": {"start": "2014-09-01T00:00", "duration": "2d"},
}


def scenario_with(**changes: Any) -> Scenario:
    """``BASE`` with dotted-key changes, e.g. ``scenario_with(**{"seed": 3})``."""
    data = dict(BASE)
    for key, value in changes.items():
        data = set_dotted(data, key.replace("__", "."), value)
    return Scenario.model_validate(data)


@pytest.fixture
def make_prepared() -> Callable[..., Prepared]:
    """Build the prepared layout of ``BASE`` with changes (cached per process)."""

    def build(**changes: Any) -> Prepared:
        return prepared_for(scenario_with(**changes))

    return build
