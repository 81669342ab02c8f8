"""Exit codes from the states: interrupted wins, then an invalid run, then the verdict."""

from __future__ import annotations

import pytest

from harness.cli.output import ExitCode
from harness.verdict import RunStatus, Verdict


@pytest.mark.parametrize(
    ("verdict", "code"),
    [
        (Verdict.PASS, ExitCode.PASS),
        (Verdict.FAIL, ExitCode.FAIL),
        (Verdict.INCONCLUSIVE, ExitCode.INCONCLUSIVE),
        (Verdict.INVALID, ExitCode.INVALID_RUN),
    ],
)
def test_a_complete_run_exits_by_its_verdict(verdict: Verdict, code: ExitCode) -> None:
    assert ExitCode.of(verdict) is code
    assert ExitCode.of(verdict, RunStatus.COMPLETE) is code


@pytest.mark.parametrize("verdict", list(Verdict))
def test_how_the_run_ended_wins_over_the_verdict(verdict: Verdict) -> None:
    assert ExitCode.of(verdict, RunStatus.INTERRUPTED) is ExitCode.INTERRUPTED
    assert ExitCode.of(verdict, RunStatus.SERVER_DIED) is ExitCode.INVALID_RUN
    assert ExitCode.of(verdict, RunStatus.INVALID) is ExitCode.INVALID_RUN
