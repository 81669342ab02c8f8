"""Interrupted runs: SIGINT and SIGTERM stop a command the same way; the exit code says which.

Ctrl-C sends SIGINT; CI cancellation, ``timeout`` and ``docker stop`` send SIGTERM, whose
default action ends the process at once, without a word and without ``results.json``. Under
:func:`catching_signals` (used by ``load``, ``run`` and ``simulate``) both raise
:class:`KeyboardInterrupt` in the main thread — the one exception every stage already treats as
"stop now, keep what was measured" — and the signal is remembered, so the command writes its
partial results and exits 128 + the signal's number, as shells report it: 130 for SIGINT, 143
for SIGTERM. An interruption that escapes the block becomes
:class:`~harness.errors.InterruptedRunError` with the same code.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType
from typing import Any

from harness.cli.output import ExitCode
from harness.errors import InterruptedRunError

SIGNALS = (signal.SIGINT, signal.SIGTERM)


@dataclass
class Interruption:
    """The first stop signal a command received (``None`` while it runs undisturbed)."""

    signum: int | None = None

    def handle(self, signum: int, _frame: FrameType | None) -> None:
        """Signal handler: remember the first signal and stop the main thread's work."""
        if self.signum is None:
            self.signum = signum
        main = _main_greenlet()
        if main is not None:
            # The load driver's gevent was running another greenlet (a request, the
            # dispatcher) when the signal landed: raised there, KeyboardInterrupt would end
            # that greenlet only and the command would play on. Raise it where the command
            # waits; the interrupted greenlet is abandoned with the run.
            main.throw(KeyboardInterrupt)
            return
        raise KeyboardInterrupt

    @property
    def received(self) -> bool:
        """Whether a stop signal came."""
        return self.signum is not None

    @property
    def exit_code(self) -> ExitCode:
        """130 after SIGINT (or a plain Ctrl-C), 143 after SIGTERM."""
        return exit_code(self.signum or signal.SIGINT)


def _main_greenlet() -> Any:
    """The main greenlet when another greenlet is running, else ``None``."""
    try:
        import greenlet  # type: ignore[import-untyped]
    except ImportError:  # no greenlets in this process
        return None
    current = greenlet.getcurrent()
    if current.parent is None:
        return None
    while current.parent is not None:
        current = current.parent
    return current


_ACTIVE: list[Interruption] = []  # the states of the catching_signals blocks now running


def raise_if_interrupted() -> None:
    """Raise :class:`KeyboardInterrupt` when a stop signal came but its raise was lost.

    The handler's exception is lost when the signal lands in code whose exceptions Python
    ignores — ``logging``'s fork hooks while a process pool forks its workers, a ``__del__`` —
    and the command would then play on to the end and exit 0. Commands call this where they
    can stop cleanly: between chunks of work.
    """
    if _ACTIVE and _ACTIVE[-1].received:
        raise KeyboardInterrupt


def exit_code(signum: int) -> ExitCode:
    """The exit code of a command stopped by ``signum``."""
    return ExitCode.TERMINATED if signum == signal.SIGTERM else ExitCode.INTERRUPTED


@contextmanager
def catching_signals() -> Iterator[Interruption]:
    """Turn SIGINT and SIGTERM into :class:`KeyboardInterrupt` while the block runs."""
    state = Interruption()
    if threading.current_thread() is not threading.main_thread():
        yield state  # only the main thread may set handlers (e.g. a CLI run from a test thread)
        return
    previous = {number: signal.signal(number, state.handle) for number in SIGNALS}
    _ACTIVE.append(state)
    try:
        yield state
    except KeyboardInterrupt:
        raise InterruptedRunError(state.signum or signal.SIGINT) from None
    finally:
        _ACTIVE.remove(state)
        for number, handler in previous.items():
            signal.signal(number, handler)
