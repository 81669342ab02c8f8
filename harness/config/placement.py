"""Where a scenario's scripted faults fall: on the load's wall clock, or in the simulated window.

A fault is written with one of two clocks. ``at`` is wall-clock time from the start of the
load, which only ``harness run`` has. ``at_time`` is an instant of *profile* time — "Monday
8 September 2014, 08:00" — which both commands can place:

* ``simulate`` puts it at ``at_time - simulation.start`` into every simulated window, when it
  falls inside ``[simulation.start, simulation.start + simulation.duration)``;
* ``run`` turns it into wall time, ``(at_time - traffic.start) / traffic.time_scale``, when it
  falls inside the load's window ``[traffic.start, traffic.start + traffic.duration)``.

A fault a command cannot place is not an error (a scenario may serve both commands), but it
is named: :func:`run_placement` and :func:`simulate_placement` return one line per fault they
ignore, and the CLI prints each as a warning.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from harness.spine.calendar import to_epoch_s

if TYPE_CHECKING:
    from harness.config.scenario import Fault, Scenario


@dataclass(frozen=True)
class Placed:
    """A fault placed on one command's clock.

    Attributes:
        index: its position in the scenario's ``faults``.
        fault: the fault as written.
        offset_s: its start, seconds from the start of the command's window (wall time for
            ``run``, profile time for ``simulate``).
        duration_s: how long it lasts on that clock (0 for ``kill-worker``).
    """

    index: int
    fault: Fault
    offset_s: float
    duration_s: float

    def describe(self) -> str:
        """The fault named as in messages: ``faults[1] (lose-data-centre at_time …)``."""
        return describe(self.index, self.fault)


@dataclass(frozen=True)
class Placement:
    """The faults a command applies and one line for each it ignores."""

    placed: tuple[Placed, ...] = ()
    ignored: tuple[str, ...] = field(default_factory=tuple)


def describe(index: int, fault: Fault) -> str:
    """``faults[2] (lose-data-centre at_time 2014-09-08T08:00)``: a fault named in a message."""
    when = f"at {fault.at:g}s" if fault.at is not None else f"at_time {_iso(fault.at_time)}"
    return f"faults[{index}] ({fault.kind_name()} {when})"


def _iso(moment: datetime | None) -> str:
    return moment.isoformat(timespec="minutes") if moment is not None else "?"


def profile_offset_s(moment: datetime, start: datetime) -> float:
    """Seconds of profile time from ``start`` to ``moment`` (naive times are London time)."""
    return to_epoch_s(moment.isoformat()) - to_epoch_s(start.isoformat())


def simulate_placement(scenario: Scenario) -> Placement:
    """The faults ``simulate`` applies: those with an ``at_time`` inside the simulated window."""
    sim = scenario.simulation
    placed: list[Placed] = []
    ignored: list[str] = []
    for index, fault in enumerate(scenario.faults):
        if fault.at_time is None:
            ignored.append(
                f"simulate ignores {describe(index, fault)}: at is wall time of a load; give "
                "at_time (profile time) to place it in the simulated window"
            )
            continue
        offset_s = profile_offset_s(fault.at_time, sim.start)
        if not 0.0 <= offset_s < sim.duration:
            ignored.append(
                f"simulate ignores {describe(index, fault)}: outside the simulated window "
                f"({_iso(sim.start)} + {sim.duration / 3600:g} h)"
            )
            continue
        placed.append(Placed(index, fault, offset_s, _duration_s(fault)))
    return Placement(tuple(placed), tuple(ignored))


def run_placement(scenario: Scenario) -> Placement:
    """The faults ``run`` applies, on the load's wall clock: ``at``, and ``at_time`` converted."""
    traffic = scenario.traffic
    placed: list[Placed] = []
    ignored: list[str] = []
    for index, fault in enumerate(scenario.faults):
        if fault.at is not None:
            placed.append(Placed(index, fault, fault.at, _duration_s(fault)))
            continue
        assert fault.at_time is not None  # one of the two, by validation
        profile_s = profile_offset_s(fault.at_time, traffic.start)
        if not 0.0 <= profile_s < traffic.duration:
            ignored.append(
                f"run ignores {describe(index, fault)}: outside the load's window "
                f"({_iso(traffic.start)} + {traffic.duration / 60:g} min of profile time)"
            )
            continue
        # Durations are wall time (the operator's clock) whichever clock placed the start.
        wall_s = profile_s / traffic.time_scale
        placed.append(Placed(index, fault, wall_s, _duration_s(fault)))
    return Placement(tuple(placed), tuple(ignored))


def wall_faults(scenario: Scenario) -> tuple[Scenario, tuple[str, ...]]:
    """``scenario`` with the faults ``run`` applies, each with ``at`` (wall time) set.

    Returns:
        The scenario to run and one line for each fault it leaves out.
    """
    placement = run_placement(scenario)
    faults = [
        p.fault.model_copy(update={"at": round(p.offset_s, 3), "at_time": None})
        for p in placement.placed
    ]
    return scenario.model_copy(update={"faults": faults}), placement.ignored


def without_faults(scenario: Scenario) -> Scenario:
    """``scenario`` with no scripted faults: the months ``run --months`` simulates."""
    return scenario.model_copy(update={"faults": []})


def _duration_s(fault: Fault) -> float:
    return float(getattr(fault, "duration", 0.0))
