"""A time budget per test group, printed at the end of every run.

The suite must stay fast on a busy two-core machine while more suites are added, so each group
has a share of the time: ``make test`` (lint, typecheck and this) is to finish within 25
minutes there. ``make unit`` runs the suite in two phases (see the Makefile): most tests on two
pytest-xdist workers, then the timing tests (marker ``serial``) alone. A group's *share* of the
wall time is its tests' set-up, call and tear-down time scaled by the phase's wall time over all
its tests' time, so the shares add up to the wall time whatever the number of workers. A group
over its budget is marked, not failed: on a shared machine the figures are noisy, and the table
is there to show where time goes.

With ``HARNESS_BUDGET_FILE`` set, each phase adds its figures to that JSON file and the table
covers every phase recorded there (the Makefile deletes it before the first).

Groups come from a test's path (``tests/unit/server/`` is *server*, ``tests/deploy/`` is
*integration*, ...); anything not named below is *unit*. Groups with no tests show 0.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

# Seconds of wall time per group on a busy two-core machine; the sum leaves room for lint,
# typecheck and the docs build (about 3 minutes) within 25 minutes.
BUDGET_S = {
    "unit": 120.0,
    "server": 210.0,
    "integration": 540.0,
    "conformance": 120.0,
    "security": 90.0,
    "simulation": 120.0,
}
# First match wins: path prefix (from the project root) -> group.
PATH_GROUPS = (
    ("tests/unit/server/", "server"),
    ("tests/unit/simulation/", "simulation"),
    ("tests/security/", "security"),
    ("tests/conformance/", "conformance"),
    ("tests/integration/", "integration"),
    ("tests/deploy/", "integration"),
)
OUTCOMES = ("passed", "failed", "skipped")


def group_of(nodeid: str, keywords: object = ()) -> str:
    """The group of a test, from its node id (and its ``integration`` marker, elsewhere)."""
    for prefix, group in PATH_GROUPS:
        if nodeid.startswith(prefix):
            return group
    return "integration" if "integration" in keywords else "unit"  # type: ignore[operator]


class Budget:
    """Collects each test's time and outcome by group."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.seconds = dict.fromkeys(BUDGET_S, 0.0)
        self.outcomes: dict[str, dict[str, int]] = {g: dict.fromkeys(OUTCOMES, 0) for g in BUDGET_S}
        self.started = time.monotonic()

    @pytest.hookimpl
    def pytest_sessionstart(self) -> None:
        self.started = time.monotonic()

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        group = group_of(report.nodeid, report.keywords)
        self.seconds[group] += report.duration
        counts = self.outcomes[group]
        # One outcome per test: the call's, or the set-up's when it failed or skipped, or a
        # tear-down error.
        if report.when == "call" or (report.when == "setup" and not report.passed):
            outcome = "skipped" if report.skipped else report.outcome
            counts["failed" if outcome == "failed" else outcome] += 1
        elif report.when == "teardown" and report.failed:
            counts["failed"] += 1

    def _phases(self) -> list[dict[str, Any]]:
        """The earlier phases recorded in the budget file, then this one (saved there)."""
        this = {
            "wall": time.monotonic() - self.started,
            "seconds": self.seconds,
            "outcomes": self.outcomes,
        }
        if self.path is None:
            return [this]
        earlier = json.loads(self.path.read_text()) if self.path.exists() else []
        phases = [*earlier, this]
        self.path.write_text(json.dumps(phases))
        return phases

    @pytest.hookimpl(trylast=True)  # after the slowest tests, so the table ends the output
    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        phases = self._phases()
        share = dict.fromkeys(BUDGET_S, 0.0)
        work = dict.fromkeys(BUDGET_S, 0.0)
        counts = {g: dict.fromkeys(OUTCOMES, 0) for g in BUDGET_S}
        for phase in phases:
            busy = sum(phase["seconds"].values()) or 1.0
            for group in BUDGET_S:
                seconds = phase["seconds"].get(group, 0.0)
                work[group] += seconds
                share[group] += seconds * phase["wall"] / busy
                for outcome in OUTCOMES:
                    counts[group][outcome] += phase["outcomes"].get(group, {}).get(outcome, 0)
        write = terminalreporter.write_line
        title = "time budget per group" + (f" ({len(phases)} phases)" if len(phases) > 1 else "")
        terminalreporter.write_sep("=", title)
        write(
            f"{'group':<12} {'tests':>6} {'failed':>6} {'skipped':>7} {'test time':>10} "
            f"{'wall':>8} {'budget':>8}"
        )
        for group, budget in BUDGET_S.items():
            tests = sum(counts[group].values())
            over = "  over budget" if share[group] > budget else ""
            write(
                f"{group:<12} {tests:>6} {counts[group]['failed']:>6} "
                f"{counts[group]['skipped']:>7} {_clock(work[group]):>10} "
                f"{_clock(share[group]):>8} {_clock(budget):>8}{over}"
            )
        wall, budget = sum(p["wall"] for p in phases), sum(BUDGET_S.values())
        write(
            f"{'total':<12} {'':>6} {'':>6} {'':>7} {_clock(sum(work.values())):>10} "
            f"{_clock(wall):>8} {_clock(budget):>8}"
        )
        write(f"wall time of the test run: {_clock(wall)}")


def _clock(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}m{rest:02d}s"


def pytest_configure(config: pytest.Config) -> None:
    # Under pytest-xdist the controller sees every worker's reports: count there only.
    if not hasattr(config, "workerinput"):
        path = os.environ.get("HARNESS_BUDGET_FILE")
        config.pluginmanager.register(Budget(Path(path) if path else None), "harness-budget")
