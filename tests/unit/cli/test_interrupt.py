"""SIGINT and SIGTERM become one interruption with the shell's exit code: 130 or 143."""

from __future__ import annotations

import io
import os
import signal

import pytest
from rich.console import Console

from harness.cli.interrupt import catching_signals
from harness.cli.output import ExitCode, report_error
from harness.errors import InterruptedRunError


@pytest.mark.parametrize(
    ("signum", "code"),
    [(signal.SIGINT, ExitCode.INTERRUPTED), (signal.SIGTERM, ExitCode.TERMINATED)],
)
def test_a_signal_is_caught_remembered_and_mapped(signum: int, code: ExitCode) -> None:
    previous = signal.getsignal(signal.SIGTERM)
    with pytest.raises(InterruptedRunError) as caught:
        _signalled(signum)
    assert caught.value.signum == signum
    assert report_error(caught.value, Console(file=io.StringIO())) == code
    assert signal.getsignal(signal.SIGTERM) == previous  # handlers restored


def _signalled(signum: int) -> None:
    with catching_signals() as stop:
        assert not stop.received
        os.kill(os.getpid(), signum)
        signal.pause()  # the handler raises before this returns


def test_a_block_that_handles_the_interrupt_itself_keeps_its_result() -> None:
    with catching_signals() as stop:
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            signal.pause()
        except KeyboardInterrupt:
            pass  # a stage that keeps what it measured, as the load generator does
    assert stop.exit_code == ExitCode.TERMINATED
    assert int(ExitCode.TERMINATED) == 143
