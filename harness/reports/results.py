"""The results directory: one folder per run, ``results.json`` as the source of truth.

Every command that produces results writes ``reports/<name>-<UTC time>/`` (or ``--output``)
and prints its path. ``results.json`` records what ran and where: the command, the seed, the
versions of the harness and its main libraries, and a description of the machine, so that any
result can be traced and reproduced. Stages add their own sections (``profile``,
``simulation``, ``load``, ``slo``, ``comparison``).
"""

from __future__ import annotations

import json
import os
import platform
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from harness.errors import ConfigurationError

RESULTS_SCHEMA_VERSION = "1.0"
SCHEMA_FILE = Path(__file__).with_name("results.schema.json")  # the published JSON Schema
_LIBRARIES = ("numpy", "pandas", "simpy", "locust", "fastapi", "pydantic")


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def machine_fingerprint() -> str:
    """Host name, processor model and core count: a calibration holds on the machine it measured."""
    processor = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            names = [line.split(":", 1)[1].strip() for line in cpuinfo if "model name" in line]
        processor = names[0] if names else processor
    except OSError:
        pass
    return f"{platform.node()}, {processor}, {os.cpu_count()} cores"


def environment() -> dict[str, Any]:
    """Versions and machine facts to store beside every result."""
    return {
        "harness": _version("spine-harness"),
        "python": platform.python_version(),
        "libraries": {name: _version(name) for name in _LIBRARIES},
        "machine": {
            "system": platform.system(),
            "release": platform.release(),
            "processor": platform.machine(),
            "cpus": os.cpu_count(),
            "fingerprint": machine_fingerprint(),
        },
    }


def results_json_schema() -> dict[str, Any]:
    """The published JSON Schema of ``results.json`` (draft 2020-12)."""
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert isinstance(schema, dict)
    return schema


@dataclass(frozen=True)
class ResultsDir:
    """A results directory being written.

    Attributes:
        path: the directory.
        created: whether this command created it (an existing empty ``--output`` is kept).
    """

    path: Path
    created: bool = True

    def discard_if_empty(self) -> bool:
        """Remove what this command made when it holds no file at all; return whether it did.

        A command that fails before writing anything must not leave an empty folder behind.
        """
        if not self.path.is_dir() or any(p.is_file() for p in self.path.rglob("*")):
            return False
        for folder in sorted(self.path.rglob("*"), key=lambda p: -len(p.parts)):
            folder.rmdir()
        if self.created:
            self.path.rmdir()
        return True

    def write_json(self, sections: dict[str, Any], *, command: str, seed: int | None) -> Path:
        """Write ``results.json`` with the common header and ``sections``; return its path."""
        document = {
            "schema_version": RESULTS_SCHEMA_VERSION,
            "command": command,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "seed": seed,
            "environment": environment(),
            **sections,
        }
        target = self.path / "results.json"
        tmp = target.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(document, indent=2, sort_keys=False) + "\n", encoding="utf-8")
        # Write then rename, so a reader never sees half a file.
        tmp.replace(target)
        return target

    def figure_path(self, name: str) -> Path:
        """Path of ``figures/<name>``, creating the folder."""
        folder = self.path / "figures"
        folder.mkdir(parents=True, exist_ok=True)
        return folder / name


def create_results_dir(name: str, *, parent: Path, output: Path | None = None) -> ResultsDir:
    """Create ``output`` or ``parent/<name>-<UTC time>`` and check that it can be written.

    Raises:
        ConfigurationError: ``output`` is a file, is not empty or cannot be written, or
            ``parent`` (``HARNESS_REPORTS_DIR``) cannot hold a new directory — one line each,
            before any work is done.
    """
    if output is None:
        if parent.exists() and not parent.is_dir():
            raise ConfigurationError(
                f"reports directory {parent} (HARNESS_REPORTS_DIR) is a file, not a directory"
            )
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        output = parent / f"{name}-{stamp}"
        suffix = 1
        while output.exists():
            suffix += 1
            output = parent / f"{name}-{stamp}-{suffix}"
        where = f"reports directory {parent} (HARNESS_REPORTS_DIR)"
    else:
        where = f"--output {output}"
        if output.exists() and not output.is_dir():
            raise ConfigurationError(f"{where} is a file, not a directory")
        if output.exists() and any(output.iterdir()):
            raise ConfigurationError(f"{where} is not empty: give a new or empty directory")
    created = not output.exists()
    try:
        output.mkdir(parents=True, exist_ok=True)
        probe = output / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise ConfigurationError(f"{where} cannot be written: {exc.strerror or exc}") from None
    return ResultsDir(output, created=created)
