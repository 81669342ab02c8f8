"""The exception tree of the harness.

Domain code raises these; only ``harness.cli.output`` maps them to exit codes (and, later,
only ``harness.server.errors`` maps them to HTTP statuses)::

    HarnessError
    ├── ConfigurationError          bad settings or arguments (exit 2)
    │   └── ScenarioError           a scenario file with one or more located problems (exit 2)
    ├── InvalidRunError                  a run that cannot be trusted, e.g. a server died (exit 3)
    ├── InterruptedRunError              SIGINT or SIGTERM stopped the command (exit 130 or 143)
    └── IdentifierError             a malformed NHS number, ODS code or mailbox id
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class HarnessError(Exception):
    """Base class of every error the harness raises on purpose."""


class ConfigurationError(HarnessError):
    """Settings, arguments or a file the user gave cannot be used."""


class InvalidRunError(HarnessError):
    """A run went wrong in a way that makes its measurements untrustworthy (exit code 3)."""


class InterruptedRunError(HarnessError):
    """A stop signal ended a command before it could write its (partial) results."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        name = {2: "SIGINT", 15: "SIGTERM"}.get(signum, f"signal {signum}")
        super().__init__(f"interrupted by {name}")


class IdentifierError(HarnessError, ValueError):
    """An identifier (NHS number, ODS code, MESH mailbox id) is malformed."""


@dataclass(frozen=True, slots=True)
class ScenarioProblem:
    """One problem in a scenario file, located as precisely as the file allows.

    Attributes:
        location: dotted path into the scenario, e.g. ``topology.pools.pds.servers``.
        message: what is wrong, in words a user can act on.
        line: 1-based line in the file, when known.
        column: 1-based column in the file, when known.
    """

    location: str
    message: str
    line: int | None = None
    column: int | None = None

    def render(self, path: str) -> str:
        """Format as ``path:line:column: location: message`` (compiler style)."""
        where = path
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        loc = f"{self.location}: " if self.location else ""
        return f"{where}: {loc}{self.message}"


class ScenarioError(ConfigurationError):
    """A scenario file has problems; ``problems`` lists every one, not just the first."""

    def __init__(self, path: str, problems: Sequence[ScenarioProblem]) -> None:
        self.path = path
        self.problems = tuple(problems)
        count = len(self.problems)
        lines = "\n".join(p.render(path) for p in self.problems)
        super().__init__(f"{path}: {count} problem{'s' if count != 1 else ''}\n{lines}")
