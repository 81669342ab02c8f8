"""What the gate compares: a run's windows merged over organisation types, and baselines.

The gate only needs, per second and interaction, the counts and the latency histograms, so a
run is reduced to a :class:`RunSummary` whose windows are merged over organisation types. A
**baseline** is such a summary stored under ``baselines/NAME/``: ``baseline.json`` (where it
came from, the machine, the generator's health) and ``windows.jsonl`` in the usual window format
with ``org_type`` ``all`` — small enough to commit (a 20-second run of seven interactions is a
few hundred lines), no raw data. ``--baseline`` takes a name under the baselines folder or a
directory: a saved baseline, or any results directory.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.slo.histogram import to_histogram
from harness.slo.run import ResultsError, open_run
from harness.slo.table import (
    COUNT_COLUMNS,
    OUTCOME_COLUMN,
    OUTCOME_COLUMNS,
    WindowTable,
    load_table,
)
from harness.slo.windows import Window, WindowKey

BASELINE_FILE = "baseline.json"
BASELINE_KIND = "harness-baseline"
ALL_TYPES = "all"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


@dataclass(frozen=True)
class RunSummary:
    """One side of a comparison.

    Attributes:
        source: the directory it was read from.
        table: windows merged over organisation types.
        machine: the machine description of the run.
        problems: why the run is invalid (empty when valid).
        info: provenance: command, created_at, scenario name, seed, generator.
    """

    source: Path
    table: WindowTable
    machine: dict[str, Any]
    problems: tuple[str, ...] = ()
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        """The run can be compared."""
        return not self.problems


def merge_org_types(table: WindowTable) -> WindowTable:
    """The table with windows of the same second and interaction merged over org types."""
    if table.empty:
        return table
    frame = table.frame.reset_index(drop=True)
    numeric = [*COUNT_COLUMNS, *OUTCOME_COLUMNS]
    grouped = frame.groupby(["t", "interaction"], sort=True)
    merged = grouped[numeric].sum().reset_index()
    merged.insert(2, "service", grouped["service"].first().to_numpy())
    merged.insert(3, "org_type", ALL_TYPES)
    indices = grouped.indices
    keys = list(zip(merged["t"], merged["interaction"], strict=True))
    latency = tuple(table.histograms(np.asarray(indices[key]), view="latency") for key in keys)
    service = tuple(table.histograms(np.asarray(indices[key]), view="service") for key in keys)
    return WindowTable(merged[list(frame.columns)], latency, service)


def _info(document: dict[str, Any]) -> dict[str, Any]:
    load = document.get("load") or {}
    scenario = load.get("scenario") or document.get("scenario") or {}
    return {
        "command": document.get("command"),
        "created_at": document.get("created_at"),
        "seed": document.get("seed"),
        "scenario": scenario.get("name") if isinstance(scenario, dict) else None,
        "generator": load.get("generator"),
        "environment": document.get("environment"),
    }


def read_summary(path: Path) -> RunSummary:
    """A saved baseline or a results directory, reduced for the gate.

    Raises:
        ResultsError: the directory cannot be used.
    """
    if (path / BASELINE_FILE).exists():
        return _read_baseline(path)
    run = open_run(path)
    if run.load is None:
        raise ResultsError(f"{path}: no load section — the gate compares load runs")
    problems = run.problems
    if run.windows_path.exists():
        try:
            table = merge_org_types(load_table(run.windows_path))
        except (ValueError, OSError) as exc:
            raise ResultsError(str(exc)) from None
    else:
        table = WindowTable(pd.DataFrame(columns=["t", "interaction"]), (), ())
    if table.empty and not problems:
        problems = ("no windows: the run recorded no requests",)
    return RunSummary(path, table, run.machine, tuple(problems), _info(run.document))


def _read_baseline(path: Path) -> RunSummary:
    target = path / BASELINE_FILE
    try:
        meta = json.loads(target.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ResultsError(f"{target}: unreadable ({exc})") from None
    if meta.get("kind") != BASELINE_KIND or meta.get("schema_version") != "1.0":
        raise ResultsError(f"{target}: not a version 1.0 harness baseline")
    windows = path / "windows.jsonl"
    if not windows.exists():
        raise ResultsError(f"{path}: baseline without windows.jsonl")
    try:
        table = load_table(windows)
    except (ValueError, OSError) as exc:
        raise ResultsError(str(exc)) from None
    return RunSummary(
        path, table, dict(meta.get("machine") or {}), (), dict(meta.get("info") or {})
    )


def resolve_baseline(spec: str, baselines_dir: Path) -> Path:
    """The directory of ``--baseline``: an existing directory, or a name under the folder.

    Raises:
        ResultsError: neither exists.
    """
    as_path = Path(spec)
    if as_path.is_dir():
        return as_path
    named = baselines_dir / spec
    if _NAME.match(spec) and named.is_dir():
        return named
    known = (
        sorted(p.name for p in baselines_dir.iterdir() if p.is_dir())
        if baselines_dir.is_dir()
        else []
    )
    raise ResultsError(
        f"no baseline {spec!r}: not a directory, and not a name under {baselines_dir} "
        f"(known: {', '.join(known) or 'none'})"
    )


def save_baseline(summary: RunSummary, name: str, baselines_dir: Path) -> Path:
    """Store a valid run's merged windows and machine description as ``baselines_dir/name``.

    Raises:
        ResultsError: the name is not a plain file name, or the run is invalid.
    """
    if not _NAME.match(name):
        raise ResultsError(f"baseline name {name!r}: use letters, digits, '.', '_' and '-'")
    if not summary.valid:
        raise ResultsError(
            f"{summary.source}: an invalid run cannot be a baseline ({'; '.join(summary.problems)})"
        )
    folder = baselines_dir / name
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / "windows.jsonl.tmp"
    frame = summary.table.frame
    with tmp.open("w", encoding="utf-8") as out:
        # One window at a time: a full HdrHistogram is 172 KB, a run has thousands of windows.
        counts = frame[["t", "drawn", "sent", "dropped", "late"]].to_numpy(dtype=np.int64)
        interactions = frame["interaction"].astype(str).tolist()
        for position, (t, drawn, sent, dropped, late) in enumerate(counts):
            window = Window(
                WindowKey(int(t), interactions[position], ALL_TYPES),
                drawn=int(drawn),
                sent=int(sent),
                dropped=int(dropped),
                late=int(late),
                outcomes=_outcomes(frame, position),
                latency=to_histogram(summary.table.latency[position]),
                service=to_histogram(summary.table.service[position]),
            )
            out.write(json.dumps(window.to_json(), separators=(",", ":")) + "\n")
    tmp.replace(folder / "windows.jsonl")
    meta = {
        "schema_version": "1.0",
        "kind": BASELINE_KIND,
        "name": name,
        "saved_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "source": str(summary.source),
        "machine": summary.machine,
        "info": summary.info,
        "windows": len(frame),
        "requests": int(sum(c.total for c in summary.table.latency)),
    }
    (folder / BASELINE_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return folder


def _outcomes(frame: pd.DataFrame, position: int) -> dict[str, int]:
    row = frame.iloc[position]
    return {
        str(outcome): int(row[column])
        for outcome, column in OUTCOME_COLUMN.items()
        if int(row[column]) > 0
    }
