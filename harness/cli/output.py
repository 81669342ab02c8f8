"""Console output and exit codes: the only module that knows what the codes mean.

Exit codes are the same for every command (``../shared/ARCHITECTURE.md``): 0 pass; 1 SLO
breached or regression found; 2 usage or configuration error; 3 run invalid; 4 inconclusive;
130 interrupted by SIGINT (Ctrl-C), 143 by SIGTERM — with the partial results written. When
several apply, interrupted wins, then invalid, then the verdict.
"""

from __future__ import annotations

from enum import IntEnum

from rich.console import Console

from harness.errors import HarnessError, InterruptedRunError, InvalidRunError, ScenarioError
from harness.verdict import RunStatus, Verdict


class ExitCode(IntEnum):
    """Process exit codes shared by every command."""

    PASS = 0
    FAIL = 1
    USAGE = 2
    INVALID_RUN = 3
    INCONCLUSIVE = 4
    INTERRUPTED = 130  # SIGINT: 128 + 2
    TERMINATED = 143  # SIGTERM: 128 + 15

    @classmethod
    def of(cls, verdict: Verdict, status: RunStatus = RunStatus.COMPLETE) -> ExitCode:
        """The code of a run that ended in ``status`` with ``verdict``.

        Interrupted wins, then invalid (the run's status), then the verdict. A signal's own
        code (130 or 143) is the caller's to return: only it knows which signal arrived.
        """
        if status is RunStatus.INTERRUPTED:
            return cls.INTERRUPTED
        if status in (RunStatus.SERVER_DIED, RunStatus.INVALID):
            return cls.INVALID_RUN
        return _VERDICT_EXIT[verdict]


_VERDICT_EXIT = {
    Verdict.PASS: ExitCode.PASS,
    Verdict.FAIL: ExitCode.FAIL,  # an SLO breached, or the gate found a regression
    Verdict.INCONCLUSIVE: ExitCode.INCONCLUSIVE,
    Verdict.INVALID: ExitCode.INVALID_RUN,
}


def make_console(*, stderr: bool = False) -> Console:
    """A Rich console; no colour codes when the output is not a terminal."""
    # Errors are soft-wrapped so each stays on one line for grep and CI logs.
    return Console(stderr=stderr, highlight=False, soft_wrap=stderr)


def print_results(console: Console, folder: object) -> None:
    """The ``results: PATH`` line, never wrapped, so the path can be copied whole."""
    console.print(f"results: {folder}", markup=False, soft_wrap=True)


def report_error(error: HarnessError, console: Console) -> ExitCode:
    """Print a domain error for a person and return the exit code it maps to."""
    if isinstance(error, ScenarioError):
        count = len(error.problems)
        console.print(f"[bold red]error:[/] {error.path}: {count} problem{'s' * (count != 1)}")
        for problem in error.problems:
            console.print("  " + problem.render(error.path), markup=False)
        return ExitCode.USAGE
    if isinstance(error, InterruptedRunError):
        console.print(str(error), markup=False)
        return ExitCode.TERMINATED if error.signum == 15 else ExitCode.INTERRUPTED  # SIGTERM
    console.print(f"[bold red]error:[/] {error}", markup=True)
    return ExitCode.INVALID_RUN if isinstance(error, InvalidRunError) else ExitCode.USAGE
