"""A time budget per test group, printed at the end of every run.

The suite must stay fast on a busy two-core machine while more suites are added, so each group
has a share of the time: ``make test`` (lint, typecheck and this) is to finish within 25
minutes there. A group's time is the sum of its tests' set-up, call and tear-down, which in a
serial run adds up to the run's wall time. A group over its budget is marked, not failed: on a
shared machine the figures are noisy, and the table is there to show where time goes.

Groups come from a test's path (``tests/unit/server/`` is *server*, ``tests/deploy/`` is
*integration*, ...); anything not named below is *unit*. Groups with no tests show 0.
"""

from __future__ import annotations

import time

import pytest

# Seconds of a run per group on a busy two-core machine; the sum leaves room for lint and
# typecheck (about 2 minutes) within 25 minutes.
BUDGET_S = {
    "unit": 150.0,
    "server": 240.0,
    "integration": 600.0,
    "conformance": 120.0,
    "security": 150.0,
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


def group_of(nodeid: str, keywords: object = ()) -> str:
    """The group of a test, from its node id (and its ``integration`` marker, elsewhere)."""
    for prefix, group in PATH_GROUPS:
        if nodeid.startswith(prefix):
            return group
    return "integration" if "integration" in keywords else "unit"  # type: ignore[operator]


class Budget:
    """Collects each test's time and outcome by group."""

    def __init__(self) -> None:
        self.seconds = dict.fromkeys(BUDGET_S, 0.0)
        self.outcomes: dict[str, dict[str, int]] = {
            g: {"passed": 0, "failed": 0, "skipped": 0} for g in BUDGET_S
        }
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

    @pytest.hookimpl(trylast=True)  # after the slowest tests, so the table ends the output
    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        write = terminalreporter.write_line
        terminalreporter.write_sep("=", "time budget per group")
        write(f"{'group':<12} {'tests':>6} {'failed':>6} {'skipped':>7} {'time':>8} {'budget':>8}")
        for group, budget in BUDGET_S.items():
            counts, seconds = self.outcomes[group], self.seconds[group]
            tests = sum(counts.values())
            over = "  over budget" if seconds > budget else ""
            write(
                f"{group:<12} {tests:>6} {counts['failed']:>6} {counts['skipped']:>7} "
                f"{_clock(seconds):>8} {_clock(budget):>8}{over}"
            )
        total, budget = sum(self.seconds.values()), sum(BUDGET_S.values())
        write(f"{'total':<12} {'':>6} {'':>6} {'':>7} {_clock(total):>8} {_clock(budget):>8}")
        write(f"wall time of the test run: {_clock(time.monotonic() - self.started)}")


def _clock(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}m{rest:02d}s"


def pytest_configure(config: pytest.Config) -> None:
    # Under pytest-xdist the controller sees every worker's reports: count there only.
    if not hasattr(config, "workerinput"):
        config.pluginmanager.register(Budget(), "harness-budget")
