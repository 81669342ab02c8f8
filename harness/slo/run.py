"""A results directory read back: is it usable, and is the run it records valid?

Reports and the gate start from a results directory (``../shared/ARCHITECTURE.md``) and must
tell two kinds of trouble apart:

- **unusable input** — the directory or its ``results.json`` is missing, unreadable, of a
  schema version this harness does not read, or records no stage at all. Nothing can be said;
  :class:`ResultsError` is raised (a usage error, exit 2).
- **an invalid run** — the directory is fine but the measurement cannot be trusted: the run was
  interrupted (``load.partial``), its windows are missing, or the generator fell behind
  (``load.generator.valid`` false). The run is opened and its problems listed, so a report can
  still be written and marked invalid: a partial run is never a pass (exit 3).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import ConfigurationError

READABLE_SCHEMA_VERSIONS = ("1.0",)
WINDOWS = Path("load") / "windows.jsonl"
ORGANISATIONS = Path("load") / "organisations.csv"
JOURNEYS = Path("load") / "journeys.csv"


class ResultsError(ConfigurationError):
    """A results directory that cannot be used at all."""


@dataclass(frozen=True)
class MeasuredRun:
    """What a results directory holds.

    Attributes:
        path: the directory.
        document: ``results.json`` as read.
        problems: why the run is invalid (empty when valid).
    """

    path: Path
    document: dict[str, Any]
    problems: tuple[str, ...] = field(default=())

    @property
    def load(self) -> dict[str, Any] | None:
        """The ``load`` section, if the run drove load."""
        section = self.document.get("load")
        return section if isinstance(section, dict) else None

    @property
    def simulation(self) -> dict[str, Any] | None:
        """The ``simulation`` section, if the run simulated."""
        section = self.document.get("simulation")
        return section if isinstance(section, dict) else None

    @property
    def valid(self) -> bool:
        """The run can be judged."""
        return not self.problems

    @property
    def partial(self) -> bool:
        """The run was interrupted, or its windows are missing or cut off mid-line."""
        if self.simulation is not None and self.simulation.get("partial"):
            return True
        load = self.load
        return load is not None and (
            bool(load.get("partial"))
            or not self.windows_path.exists()
            or truncated(self.windows_path)
        )

    @property
    def scenario(self) -> dict[str, Any] | None:
        """The scenario the run stored (load section first, then top level)."""
        for holder in (self.load or {}, self.document):
            scenario = holder.get("scenario")
            if isinstance(scenario, dict):
                return scenario
        return None

    @property
    def machine(self) -> dict[str, Any]:
        """The machine description of ``environment.machine``."""
        environment = self.document.get("environment") or {}
        machine = environment.get("machine") if isinstance(environment, dict) else None
        return machine if isinstance(machine, dict) else {}

    @property
    def windows_path(self) -> Path:
        """``load/windows.jsonl``."""
        return self.path / WINDOWS

    @property
    def organisations_path(self) -> Path:
        """``load/organisations.csv``."""
        return self.path / ORGANISATIONS

    @property
    def journeys_path(self) -> Path:
        """``load/journeys.csv``."""
        return self.path / JOURNEYS


def read_document(path: Path) -> dict[str, Any]:
    """``results.json`` of a directory, checked for a readable schema version.

    Raises:
        ResultsError: the directory or file is missing or unreadable, or of another version.
    """
    if not path.exists():
        raise ResultsError(f"{path}: no such results directory")
    if not path.is_dir():
        raise ResultsError(f"{path}: not a directory (give the results directory itself)")
    target = path / "results.json"
    if not target.exists():
        raise ResultsError(f"{path}: no results.json — not a results directory")
    try:
        document = json.loads(target.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ResultsError(f"{target}: unreadable ({exc})") from None
    if not isinstance(document, dict):
        raise ResultsError(f"{target}: not a JSON object")
    version = document.get("schema_version")
    if version not in READABLE_SCHEMA_VERSIONS:
        readable = ", ".join(READABLE_SCHEMA_VERSIONS)
        raise ResultsError(
            f"{target}: schema version {version!r}, but this harness reads {readable}; "
            "use the harness version that wrote it"
        )
    return document


def open_run(path: Path) -> MeasuredRun:
    """Open a results directory and list why its run is invalid, if it is.

    Raises:
        ResultsError: the directory is unusable (see module docstring).
    """
    document = read_document(path)
    if not isinstance(document.get("load"), dict) and not isinstance(
        document.get("simulation"), dict
    ):
        raise ResultsError(
            f"{path / 'results.json'}: no load or simulation section — nothing to report "
            f"(written by {document.get('command')!r})"
        )
    return MeasuredRun(path, document, tuple(_problems(path, document)))


def truncated(path: Path) -> bool:
    """Whether a JSON-lines file ends mid-line (its writer was stopped while writing)."""
    try:
        with path.open("rb") as data:
            if data.seek(0, 2) == 0:
                return False
            data.seek(-1, 2)
            return data.read(1) != b"\n"
    except OSError:
        return False


def _problems(path: Path, document: dict[str, Any]) -> list[str]:
    load = document.get("load")
    if not isinstance(load, dict):
        return []
    problems = []
    if load.get("partial"):
        problems.append("partial run: the load was interrupted before the end")
    if not (path / WINDOWS).exists():
        problems.append(f"partial run: {WINDOWS} is missing")
    elif truncated(path / WINDOWS):
        problems.append(f"partial run: the last line of {WINDOWS} is cut off")
    generator = load.get("generator")
    if isinstance(generator, dict) and generator.get("valid") is False:
        reasons = generator.get("reasons") or ["no reason given"]
        problems.extend(f"generator: {reason}" for reason in reasons)
    return problems
