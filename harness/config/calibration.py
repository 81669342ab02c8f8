"""Calibration files: what the reference server costs, measured by ``harness calibrate``.

A scenario that says ``calibration: calibration/reference-server.yaml`` (a path relative to the
scenario file) has its predictions made with these measured figures in place of assumptions::

    source: reports/run-calibrate-20261130T160000Z
    method: proportional
    server_workers: 2
    worker_restart_s: 1.9
    interactions:
      mesh.send: {demand_ms: 3.2, service_ms: [1.9, 2.4, ..., 41.0], attempts_per_arrival: 1.0}

``demand_ms`` is the worker CPU time one request costs (from the server's CPU time regressed on
the throughput of every interaction); ``service_ms`` are quantiles (0 %, 5 %, … 100 %) of the
time from sending a request to its answer at the calibration's load; ``latency_ms`` the same
quantiles measured from the *intended* send time, as the load test reports latency — they add
the generator's own dispatch lag (~1.5 ms here), which a prediction of the measured p95 needs.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import yaml
from pydantic import Field, ValidationError, field_validator

from harness.config.fields import StrictModel
from harness.errors import ConfigurationError

QUANTILES = 21  # 0 %, 5 %, …, 100 %
DEFAULT_RESTART_S = 2.0  # assumption until measured: uvicorn's check interval plus app start


class InteractionCost(StrictModel):
    """What one interaction costs the server."""

    demand_ms: float = Field(ge=0.0, le=60_000.0)
    service_ms: list[float] = Field(min_length=2)
    latency_ms: list[float] | None = Field(None, min_length=2)
    """Quantiles from the intended send time (service time plus the generator's lag); files
    written before it existed fall back to ``service_ms``."""
    attempts_per_arrival: float = Field(1.0, ge=0.0, le=10.0)
    """Requests per scheduled arrival: below 1 when some arrivals find no work (nothing to
    release, dispense or claim), above 1 when the journey adds a request (a relationship claim
    before an SCR view)."""

    @field_validator("service_ms", "latency_ms")
    @classmethod
    def _ascending(cls, value: list[float] | None) -> list[float] | None:
        if value is not None and (any(b < a for a, b in itertools.pairwise(value)) or value[0] < 0):
            raise ValueError("must be non-negative quantiles in ascending order")
        return value

    @property
    def base_latency_ms(self) -> list[float]:
        """What a request takes at low load as the load test measures it."""
        return self.latency_ms if self.latency_ms is not None else self.service_ms


class Calibration(StrictModel):
    """A calibration file."""

    source: str = ""
    """The results directory it was measured from."""
    method: str = "assumed"
    """How demands were found: ``regression`` (per interaction), ``proportional`` or ``assumed``."""
    server_workers: int = Field(2, ge=1)
    """Worker processes per data centre in the calibration run."""
    worker_restart_s: float = Field(DEFAULT_RESTART_S, gt=0.0, le=600.0)
    """Time from a worker's death to its replacement serving."""
    cpu_idle_s_per_s: float = Field(0.0, ge=0.0)
    """Server CPU seconds per second with no traffic (background work)."""
    machine: str = ""
    """The machine it was measured on (``environment.machine.fingerprint`` of its run's
    results.json); empty: not recorded."""
    rate_per_s: tuple[float, float] | None = None
    """The least and the most requests per second of its clean seconds: the range in which
    its figures were measured."""
    generator_cpu_ms: float | None = Field(None, gt=0.0, le=1000.0)
    """The load generator's CPU per drawn arrival in the calibration run."""
    interactions: dict[str, InteractionCost] = Field(default_factory=dict)

    def caveats(self, *, machine: str, rate_per_s: float) -> list[str]:
        """Why predictions made with it at ``rate_per_s`` on ``machine`` may not hold."""
        out = []
        if self.machine and self.machine != machine:
            out.append(
                f"the calibration was measured on another machine ({self.machine}; this is "
                f"{machine}): run `harness calibrate` here for predictions that hold"
            )
        if self.rate_per_s is not None:
            low, high = self.rate_per_s
            if not low * 0.5 <= rate_per_s <= high * 1.5:
                out.append(
                    f"the run plays {rate_per_s:,.0f} requests/s on average, outside the "
                    f"calibration's measured range {low:,.0f}-{high:,.0f}/s: the prediction "
                    "extrapolates"
                )
        return out


def load_calibration(path: Path) -> Calibration:
    """Read and validate a calibration file (a located error otherwise)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigurationError(f"{path}: cannot read calibration: {exc}") from None
    try:
        return Calibration.model_validate(data or {})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigurationError(f"{path}: invalid calibration: {problems}") from None


def dump_calibration(calibration: Calibration, path: Path, *, header: str) -> None:
    """Write a calibration file with a comment header."""
    body = yaml.safe_dump(calibration.model_dump(mode="json"), sort_keys=False, width=100)
    comment = "".join(f"# {line}\n" for line in header.splitlines())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(comment + body, encoding="utf-8")
