"""The objectives a run is judged against: availability target, confidence, latency SLOs.

They come from the scenario's ``slo:`` section as the run stored it in ``results.json``
(``load.scenario.slo``), falling back to the catalogue: 99.97 % availability, 95 % one-sided
confidence, and each interaction's latency objective (0.5 s at the 95th percentile unless the
catalogue says otherwise). The stored scenario is read as plain data rather than re-validated,
so a results directory written by an older harness still renders.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.spine.catalogue import (
    AVAILABILITY_TARGET,
    CATALOGUE,
    DEFAULT_LATENCY_PERCENTILE,
    DEFAULT_LATENCY_SLO_S,
)

DEFAULT_CONFIDENCE = 0.95
TIME_SLICE_S = 60  # time-sliced availability counts good minutes


@dataclass(frozen=True)
class LatencyObjective:
    """``percentile`` of requests (0–1) must complete within ``threshold_s``."""

    threshold_s: float
    percentile: float

    @property
    def allowed_slow(self) -> float:
        """The fraction of requests allowed over the threshold."""
        return 1.0 - self.percentile


@dataclass(frozen=True)
class Objectives:
    """Targets of one run.

    Attributes:
        availability_target: fraction of valid requests that must be good.
        confidence: one-sided confidence of every verdict.
        latency: latency objective per interaction id.
        time_slice_s: slice length of time-sliced availability.
    """

    availability_target: float = AVAILABILITY_TARGET
    confidence: float = DEFAULT_CONFIDENCE
    latency: Mapping[str, LatencyObjective] = field(default_factory=dict)
    time_slice_s: int = TIME_SLICE_S

    @property
    def allowed_bad(self) -> float:
        """The allowed failure rate, ``1 - target``."""
        return 1.0 - self.availability_target

    def latency_of(self, interaction_id: str) -> LatencyObjective:
        """The latency objective of an interaction (the default for unknown ids)."""
        return self.latency.get(
            interaction_id, LatencyObjective(DEFAULT_LATENCY_SLO_S, DEFAULT_LATENCY_PERCENTILE)
        )


def objectives_from_scenario(scenario: Mapping[str, Any] | None) -> Objectives:
    """Objectives from a stored scenario (``model_dump``), catalogue defaults for the rest."""
    latency = {i.id: LatencyObjective(i.latency_slo_s, i.latency_percentile) for i in CATALOGUE}
    slo: Mapping[str, Any] = (scenario or {}).get("slo") or {}
    for interaction_id, override in (slo.get("latency") or {}).items():
        latency[str(interaction_id)] = LatencyObjective(
            float(override["threshold"]), float(override.get("percentile", 0.95))
        )
    return Objectives(
        availability_target=float(slo.get("availability_target", AVAILABILITY_TARGET)),
        confidence=float(slo.get("confidence", DEFAULT_CONFIDENCE)),
        latency=latency,
    )
