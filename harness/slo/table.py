"""The window table: a load run's one-second windows as one DataFrame plus sparse histograms.

SLO maths groups the same records many ways — by service, interaction, organisation type,
second, minute — so the windows are read once into a :class:`WindowTable`: a pandas frame with
one row per window (counts by outcome, good/bad/excluded, drawn/sent/dropped/late) and, aligned
with its rows, the two latency histograms of each window in sparse form
(:class:`~harness.slo.histogram.SparseCounts`). Windows that share a key (several Locust
workers) are merged first, exactly.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from harness.slo.histogram import SparseCounts, merge
from harness.slo.outcomes import Outcome
from harness.slo.windows import Window, WindowKey, read_windows
from harness.spine.catalogue import CATALOGUE

COUNT_COLUMNS = ("drawn", "sent", "dropped", "late", "good", "bad", "excluded")
OUTCOME_COLUMN = {o: "outcome_" + o.value.replace("-", "_") for o in Outcome}
OUTCOME_COLUMNS = tuple(OUTCOME_COLUMN.values())
_SERVICE_OF = {i.id: str(i.service) for i in CATALOGUE}


def service_of(interaction_id: str) -> str:
    """The service of an interaction id (the part before the dot for unknown ids)."""
    return _SERVICE_OF.get(interaction_id, interaction_id.split(".", 1)[0])


@dataclass(frozen=True)
class WindowTable:
    """A run's windows: ``frame`` rows align with ``latency`` and ``service`` histograms.

    Attributes:
        frame: columns ``t``, ``interaction``, ``service``, ``org_type``, the counts of
            :data:`COUNT_COLUMNS` and one column per outcome (:data:`OUTCOME_COLUMN`).
        latency: per row, latency from the intended send time (µs).
        service: per row, service time from the actual send (µs).
    """

    frame: pd.DataFrame
    latency: tuple[SparseCounts, ...]
    service: tuple[SparseCounts, ...]

    @property
    def empty(self) -> bool:
        """No windows at all."""
        return len(self.frame) == 0

    @property
    def start_s(self) -> int:
        """First second with a window."""
        return int(self.frame["t"].min())

    @property
    def end_s(self) -> int:
        """One past the last second with a window."""
        return int(self.frame["t"].max()) + 1

    def histograms(self, rows: Sequence[int] | np.ndarray, *, view: str) -> SparseCounts:
        """Merged histogram of some rows; ``view`` is ``latency`` or ``service``."""
        source = self.latency if view == "latency" else self.service
        return merge(source[int(r)] for r in rows)

    def groups(self, by: str | list[str]) -> dict[object, np.ndarray]:
        """Row positions per group of ``frame`` (a key tuple when ``by`` is a list)."""
        grouped = self.frame.reset_index(drop=True).groupby(by, sort=True).indices
        return {key: np.asarray(rows) for key, rows in grouped.items()}


def tabulate(windows: Iterable[Window]) -> WindowTable:
    """Build the table from windows, merging windows with the same key.

    Each window's histograms are made sparse as soon as it is read: a full ``HdrHistogram``
    holds 21,504 counters, and a run has tens of thousands of windows.
    """
    counts: dict[WindowKey, dict[str, int]] = {}
    latency: dict[WindowKey, list[SparseCounts]] = {}
    service: dict[WindowKey, list[SparseCounts]] = {}
    for window in windows:
        key = window.key
        row = counts.setdefault(key, dict.fromkeys((*COUNT_COLUMNS, *OUTCOME_COLUMNS), 0))
        for name in ("drawn", "sent", "dropped", "late"):
            row[name] += int(getattr(window, name))
        row["good"] += window.good
        row["bad"] += window.bad
        row["excluded"] += window.excluded
        for name, n in window.outcomes.items():
            row[OUTCOME_COLUMN[Outcome(name)]] += n
        latency.setdefault(key, []).append(SparseCounts.of(window.latency))
        service.setdefault(key, []).append(SparseCounts.of(window.service))
    keys = sorted(counts)
    records = [
        {
            "t": key.t,
            "interaction": key.interaction,
            "service": service_of(key.interaction),
            "org_type": key.org_type,
            **counts[key],
        }
        for key in keys
    ]
    columns = ["t", "interaction", "service", "org_type", *COUNT_COLUMNS, *OUTCOME_COLUMNS]
    frame = pd.DataFrame(records, columns=columns)
    for name in ("t", *COUNT_COLUMNS, *OUTCOME_COLUMNS):
        frame[name] = frame[name].astype(np.int64)
    return WindowTable(
        frame,
        tuple(merge(latency[key]) for key in keys),
        tuple(merge(service[key]) for key in keys),
    )


def load_table(path: Path) -> WindowTable:
    """Read ``load/windows.jsonl`` into a table."""
    return tabulate(read_windows(path))
