"""How much of the machine a timing test can count on, and the tests it was too busy for.

The load generator's self-check (99 % of arrivals on time, schedule lag p99 under 50 ms) is a
statement about the generator *and* the machine it shares: on two cores with other work
running, a rate that a quiet machine carries easily leaves the generator late. Tests that
assert on that check therefore measure the machine first and scale their rates to it:

- :func:`probe` spins one core-second and reads the system's CPU counters: the *share* of a
  core a busy process got, and how many cores other processes used meanwhile.
- :meth:`Machine.rate` scales a test's nominal rate by that share (a whole free core carries
  the nominal rate) and skips the test as "machine too busy" when the result would fall below
  the test's stated floor — the rate under which it no longer checks what it is for.
- :meth:`Machine.watch` counts what other processes used while the test ran. A run the
  generator judged late is a failure unless others took more than :data:`OTHERS_MAX_CORES`
  on average meanwhile; then it is a "machine too busy" skip with both figures.

Every such skip is listed at the end of the run and, when ``HARNESS_BUSY_SKIPS`` names a file,
appended there one per line: ``.ci/run`` fails when more than two tests skipped that way, so a
busy machine can excuse a couple of timing tests, never a whole suite.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest

from harness.gate import GateThresholds
from harness.run.capacity import busy_core_seconds, probe_machine, tree_cpu_seconds

BUSY = "machine too busy"  # every such skip reason starts with this
PROBE_S = 1.5  # length of the probe's spin
FULL_SHARE = 0.8  # a share of a core at which a test runs its nominal rate
# Other processes' average use beyond which a late generator is the machine's doing: more
# than one busy core of two (the CI check runs beside one CPU hog, and must pass there).
OTHERS_MAX_CORES = 1.25
# The generator's self-check reasons that a busy machine can cause; any other reason fails.
TIMING_REASONS = ("arrivals were handled on time", "schedule lag p99")


@dataclass
class Usage:
    """Other processes' CPU over an interval, in cores (filled in when the interval ends)."""

    cores: int
    others_cores: float = 0.0
    own_cores: float = 0.0
    seconds: float = 0.0


@contextmanager
def _measure() -> Iterator[Usage]:
    usage = Usage(psutil.cpu_count() or 1)
    wall, busy, own = time.monotonic(), busy_core_seconds(), tree_cpu_seconds()
    try:
        yield usage
    finally:
        usage.seconds = max(time.monotonic() - wall, 1e-9)
        own_used = tree_cpu_seconds() - own
        usage.own_cores = own_used / usage.seconds
        usage.others_cores = max(0.0, (busy_core_seconds() - busy - own_used) / usage.seconds)


@dataclass
class Machine:
    """The probe's figures, and the verdicts a timing test draws from them."""

    cores: int
    share: float  # of a core, that a busy process got during the probe
    others_cores: float  # cores other processes used during the probe
    skipped: list[str] = field(default_factory=list)

    def describe(self) -> str:
        return (
            f"a busy process got {self.share:.2f} of a core; other processes used "
            f"{self.others_cores:.2f} of {self.cores} cores"
        )

    def rate(self, nominal: float, *, floor: float, unit: str = "/s") -> float:
        """``nominal`` scaled to the probe's share of a core; a busy skip below ``floor``."""
        rate = nominal * min(1.0, self.share / FULL_SHARE)
        if rate < floor:
            pytest.skip(
                f"{BUSY}: {self.describe()}, so {nominal:g}{unit} scales to {rate:.3g}{unit}, "
                f"below this test's floor of {floor:g}{unit}"
            )
        return rate

    @contextmanager
    def watch(self) -> Iterator[Usage]:
        """Measure other processes' CPU while the block runs (for :meth:`excuse`)."""
        with _measure() as usage:
            yield usage

    def excuse(self, usage: Usage, reasons: list[str]) -> None:
        """Skip as machine-busy when the generator was late *and* others took the machine.

        Returns (and the caller's assertion then fails) when a reason is not about timing or
        other processes left the test enough of the machine.
        """
        if not reasons or not all(any(t in r for t in TIMING_REASONS) for r in reasons):
            return
        if usage.others_cores <= OTHERS_MAX_CORES:
            return
        pytest.skip(
            f"{BUSY}: other processes used {usage.others_cores:.2f} of {usage.cores} cores "
            f"during the run (floor for a verdict: {OTHERS_MAX_CORES:g}; the test's own "
            f"processes {usage.own_cores:.2f}), and the generator said: {'; '.join(reasons)}"
        )

    def excuse_moved(self, output: str) -> None:
        """Skip as machine-busy when ``harness gate`` was inconclusive because the machine, not
        the code, may have moved latency: its speed moved between the runs by more than the
        gate's floor (``max_machine_spread``), or other processes took more than
        ``max_others_cores`` during a run. Returns when the output says no such thing."""
        moved = re.search(
            r"the machine was \d+% (?:slower|faster) in the candidate run[^)]*\)"
            r"|other processes used [^(]*\(more than [^)]*\)",
            output,
        )
        if moved is None or "gate: inconclusive" not in output:
            return
        floors = GateThresholds()
        pytest.skip(
            f"{BUSY}: the gate could not judge latency because {moved.group(0)} (floors: "
            f"{floors.max_machine_spread:.0%} speed, {floors.max_others_cores:g} cores of others)"
        )


def probe(seconds: float = PROBE_S) -> Machine:
    """Spin for ``seconds`` and see how much of a core that got, and what others used."""
    measured = probe_machine(seconds)
    return Machine(measured.cores, min(measured.share, 1.0), measured.others_cores)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that measures the machine is a timing test: it runs alone (marker ``serial``)."""
    for item in items:
        if "machine" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.serial)


@pytest.fixture
def machine() -> Machine:
    """The machine as measured right before the test (see :func:`probe`)."""
    return probe()


class BusySkips:
    """Lists the machine-busy skips at the end of the run (and in ``HARNESS_BUSY_SKIPS``)."""

    def __init__(self, path: str | None) -> None:
        # Appended to, never emptied here: ``make unit`` runs two phases into one file.
        self.path = Path(path) if path else None
        self.skips: list[str] = []

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.skipped and isinstance(report.longrepr, tuple):
            reason = str(report.longrepr[2]).removeprefix("Skipped: ")
            if reason.startswith(BUSY):
                line = f"{report.nodeid}: {reason}"
                self.skips.append(line)
                if self.path is not None:
                    with self.path.open("a") as out:
                        out.write(line + "\n")

    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        terminalreporter.write_sep(
            "=", f"skipped because the machine was too busy: {len(self.skips)}"
        )
        for line in self.skips:
            terminalreporter.write_line(line)


def pytest_configure(config: pytest.Config) -> None:
    # Under pytest-xdist the controller sees every worker's reports: list them there only.
    if not hasattr(config, "workerinput"):
        config.pluginmanager.register(
            BusySkips(os.environ.get("HARNESS_BUSY_SKIPS")), "harness-busy"
        )
