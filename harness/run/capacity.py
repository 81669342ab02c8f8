"""What share of national traffic this machine can play: ``harness run --rate-scale auto``.

A load test on the machine that also runs the servers is only valid while the generator keeps
its schedule, and only says something about the design while the servers are not saturated by
the machine's own limits. Before a run, the machine is measured — a busy process spins for a
second and reads the system's CPU counters (the share of a core it got, and what other
processes used meanwhile) — and the scenario's busiest wall-clock second is costed with the
calibration: server CPU per arrival (demand × attempts per arrival, weighted by the profile's
mix at that second) plus the generator's CPU per arrival. The rate scale is the largest one, up
to the scenario's, at which

- servers and generator together use at most :data:`CPU_TARGET` of the free cores at the peak,
- and each generator process at most :data:`GENERATOR_TARGET` of a core (its self-check fails
  at 90 %, sampled each second, with Poisson seconds above the mean).

The fit never raises the rate above the scenario's; the report says what share it played.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import psutil

from harness.config import Scenario
from harness.config.calibration import Calibration
from harness.run.prediction import ASSUMED_DEMAND_MS  # an unmeasured interaction
from harness.spine import TrafficProfile, parse_scale
from harness.spine.calendar import to_epoch_s

PROBE_S = 1.0
CPU_TARGET = 0.6  # of the free cores, at the busiest second
GENERATOR_TARGET = 0.5  # of one core per generator process, at the busiest second
# CPU per arrival of the journey driver when the calibration did not measure it: the figure
# docs/benchmarks.md shows for this machine (`make bench`, *Journey driver*).
ASSUMED_GENERATOR_MS = 1.3
MIN_SCALE = 1e-4  # the least the fit plays (a hundredth of a per cent)


@dataclass(frozen=True)
class MachineProbe:
    """What a busy process got of the machine, and what others used meanwhile."""

    cores: int
    share: float  # of one core, that a spinning process got
    others_cores: float

    @property
    def free_cores(self) -> float:
        """Cores left for the run (at least a quarter of one)."""
        return max(0.25, self.cores - self.others_cores)


def busy_core_seconds() -> float:
    """Core-seconds the whole machine has spent busy (guest time is inside user time)."""
    t = psutil.cpu_times()
    return float(t.user + t.nice + t.system + t.irq + t.softirq + getattr(t, "steal", 0.0))


def tree_cpu_seconds() -> float:
    """CPU seconds of this process and its descendants (servers, generators), reaped ones too."""
    total = 0.0
    me = psutil.Process()
    for process in (me, *me.children(recursive=True)):
        try:
            t = process.cpu_times()
        except psutil.Error:
            continue
        total += t.user + t.system + t.children_user + t.children_system
    return total


class OthersMeter:
    """Cores that processes outside this run used while it ran (a busy machine, not ours)."""

    def __init__(self) -> None:
        self._wall = time.monotonic()
        self._busy, self._own = busy_core_seconds(), tree_cpu_seconds()

    def cores(self) -> float:
        """Other processes' mean use since the meter started, in cores."""
        elapsed = max(time.monotonic() - self._wall, 1e-9)
        own = tree_cpu_seconds() - self._own
        return max(0.0, (busy_core_seconds() - self._busy - own) / elapsed)


def probe_machine(seconds: float = PROBE_S) -> MachineProbe:
    """Spin for ``seconds``: the share of a core this process got and what others used."""
    wall, busy, cpu = time.monotonic(), busy_core_seconds(), time.process_time()
    while time.monotonic() - wall < seconds:
        pass
    elapsed = time.monotonic() - wall
    own = time.process_time() - cpu
    others = max(0.0, (busy_core_seconds() - busy - own) / elapsed)
    return MachineProbe(psutil.cpu_count() or 1, own / elapsed, others)


@dataclass(frozen=True)
class RateFit:
    """The rate scale a machine carries, and why."""

    requested: float  # the scenario's rate scale
    rate_scale: float  # the one to play
    peak_per_s: float  # arrivals in the busiest wall-clock second at ``rate_scale``
    mean_per_s: float  # mean arrivals per wall-clock second at ``rate_scale``
    server_ms: float  # server CPU per arrival
    generator_ms: float  # generator CPU per arrival
    generator_measured: bool  # False: the assumed figure
    cores: int
    free_cores: float
    limited_by: str  # "scenario", "cpu" or "generator"

    def line(self) -> str:
        """One line for the terminal and the report."""
        why = {
            "scenario": "the scenario's own rate (the machine carries it)",
            "cpu": f"{CPU_TARGET:.0%} of the {self.free_cores:.2f} free cores at the peak",
            "generator": f"{GENERATOR_TARGET:.0%} of a core per generator process at the peak",
        }[self.limited_by]
        assumed = "" if self.generator_measured else " (assumed)"
        return (
            f"playing {self.rate_scale:.2%} of national traffic (rate_scale "
            f"{self.rate_scale:.4g}, scenario {self.requested:.4g}): peak {self.peak_per_s:,.0f} "
            f"arrivals/s, mean {self.mean_per_s:,.0f}/s; limited by {why}; costs per arrival: "
            f"server {self.server_ms:.2f} ms, generator {self.generator_ms:.2f} ms{assumed}"
        )

    def to_json(self) -> dict[str, Any]:
        """The ``traffic_share`` section of results.json."""
        return asdict(self)


def window_rates(scenario: Scenario, duration_s: float | None = None) -> tuple[Any, list[str]]:
    """Arrivals per wall-clock second of every stream at rate scale 1: [second, stream]."""
    traffic = scenario.traffic
    profile = TrafficProfile(
        scale=parse_scale(traffic.scale), winter_pressure=traffic.winter_pressure
    )
    start = to_epoch_s(traffic.start.isoformat())
    length = duration_s or traffic.duration
    seconds = int(np.ceil(length / traffic.time_scale))
    # Each wall second covers time_scale profile seconds: its rate is the profile's × time_scale.
    t = start + (np.arange(seconds) + 0.5) * traffic.time_scale
    rates = profile.rates(t) * traffic.time_scale
    return rates, [s.interaction.id for s in profile.streams]


def fit_rate_scale(
    scenario: Scenario,
    calibration: Calibration,
    machine: MachineProbe,
    *,
    duration_s: float | None = None,
    load_processes: int = 1,
) -> RateFit:
    """The largest rate scale, up to the scenario's, that ``machine`` carries validly."""
    rates, interactions = window_rates(scenario, duration_s)
    demand = np.array([_server_ms(calibration, name) for name in interactions], dtype=np.float64)
    total = rates.sum(axis=1)
    peak_second = int(np.argmax(total))
    peak = float(total[peak_second])
    server_ms = float(rates[peak_second] @ demand / max(peak, 1e-12))
    measured = calibration.generator_cpu_ms is not None
    generator_ms = calibration.generator_cpu_ms if measured else ASSUMED_GENERATOR_MS
    assert generator_ms is not None
    requested = scenario.traffic.rate_scale
    limits = {
        "scenario": requested,
        "cpu": CPU_TARGET * machine.free_cores / (peak * (server_ms + generator_ms) / 1000.0),
        "generator": GENERATOR_TARGET * load_processes / (peak * generator_ms / 1000.0),
    }
    limited_by = min(limits, key=lambda k: limits[k])
    scale = requested if limited_by == "scenario" else _round_down(limits[limited_by])
    return RateFit(
        requested=requested,
        rate_scale=scale,
        peak_per_s=peak * scale,
        mean_per_s=float(total.mean()) * scale,
        server_ms=server_ms,
        generator_ms=generator_ms,
        generator_measured=measured,
        cores=machine.cores,
        free_cores=machine.free_cores,
        limited_by=limited_by,
    )


def _server_ms(calibration: Calibration, interaction: str) -> float:
    cost = calibration.interactions.get(interaction)
    if cost is None:
        return ASSUMED_DEMAND_MS
    return cost.demand_ms * cost.attempts_per_arrival


def _round_down(scale: float) -> float:
    """Three significant figures, never above ``scale`` (and at least :data:`MIN_SCALE`)."""
    if scale <= MIN_SCALE:
        return MIN_SCALE
    step = 10.0 ** (np.floor(np.log10(scale)) - 2)
    return float(np.floor(scale / step) * step)
