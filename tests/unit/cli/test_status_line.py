"""The load's status line: drawn in place in a terminal, one plain line per report in a log."""

from __future__ import annotations

import io

from rich.console import Console

from harness.cli.status import StatusLine

REDRAW = "\r\x1b[2K"  # how Rich's live display goes back over its one line to redraw it


def _console(*, terminal: bool) -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=terminal, width=120, color_system=None), out


def test_in_a_terminal_the_status_is_one_line_redrawn_in_place() -> None:
    console, out = _console(terminal=True)
    with StatusLine(console) as line:
        assert line.live
        line.update("load: 5/120 s, 1,000 drawn")
        console.print("a fault applied", markup=False)  # other news shows above the line
        line.update("load: 10/120 s, 2,000 drawn")
    text = out.getvalue()
    assert REDRAW in text  # redrawn, not appended:
    assert text.count("\n") == 2  # one ends the news line, one the finished status line
    assert "load: 10/120 s" in text.rsplit(REDRAW, 1)[-1]  # the last status stays on screen
    assert "a fault applied" in text
    assert text.index("a fault applied") < text.rindex("load: 10/120 s")


def test_in_a_log_each_status_is_a_plain_line() -> None:
    console, out = _console(terminal=False)
    with StatusLine(console) as line:
        assert not line.live
        line.update("load: 5/120 s, 1,000 drawn")
        line.update("load: 10/120 s, 2,000 drawn")
    assert out.getvalue() == "load: 5/120 s, 1,000 drawn\nload: 10/120 s, 2,000 drawn\n"
