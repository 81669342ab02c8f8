"""The load's status line: one live line in a terminal, plain lines in a log.

``load`` and ``run`` report every 5 s of the window (elapsed/total, arrivals drawn and sent, in
flight, bad so far, schedule lag). A person at a terminal wants one line that changes in place;
a CI log wants a line per report, each readable on its own. :class:`StatusLine` gives the
first when the console is a terminal and the second otherwise. Other output printed through the
same console while the live line is shown appears above it.

The live line is redrawn only when a report arrives (``auto_refresh=False``): no refresh thread,
which matters in a process that Locust has monkey-patched with gevent.
"""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.live import Live
from rich.text import Text


class StatusLine:
    """A status line for ``console``; use as a context manager and call :meth:`update`."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._live: Live | None = None
        self.last = ""

    @property
    def live(self) -> bool:
        """Whether the line is drawn in place (a terminal) rather than printed line by line."""
        return self.console.is_terminal

    def __enter__(self) -> StatusLine:
        if self.live:
            self._live = Live(Text(""), console=self.console, auto_refresh=False, transient=False)
            self._live.start()
        return self

    def update(self, line: str) -> None:
        """Show ``line``: redraw the live line, or print it as a plain line."""
        self.last = line
        if self._live is not None:
            self._live.update(Text(line), refresh=True)
        else:
            self.console.print(line, markup=False, soft_wrap=True)

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._live is not None:
            self._live.stop()  # the last status stays on screen, as a finished line
            self._live = None
