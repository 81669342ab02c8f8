"""One-second windows: the mergeable record of a load run (``load/windows.jsonl``).

A window holds, for one second, one interaction and one organisation type: counts of drawn,
sent, dropped and late arrivals, counts by :class:`~harness.slo.outcomes.Outcome` and by HTTP
status, and two HDR histograms in microseconds — latency from the *intended* send time (free of
coordinated omission) and service time (from the actual send). Windows with the same key from
several Locust workers merge exactly: counts add and histograms add.

One JSON object per line::

    {"t": 1409558400, "interaction": "pds.retrieve", "org_type": "gp-practice",
     "drawn": 12, "sent": 12, "dropped": 0, "late": 0,
     "outcomes": {"good": 11, "slow": 1}, "statuses": {"200": 12},
     "latency_hdr": "HISTFAAAA…", "service_hdr": "HISTFAAAA…"}
"""

from __future__ import annotations

import ctypes
import json
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from hdrh.histogram import HdrHistogram

from harness.slo.outcomes import Outcome

HDR_LOWEST_US = 1
HDR_HIGHEST_US = 600_000_000  # ten minutes, in microseconds
HDR_SIGNIFICANT_DIGITS = 3


def new_histogram() -> HdrHistogram:
    """An empty histogram of microseconds (1 µs to 10 min, 3 significant digits)."""
    return HdrHistogram(HDR_LOWEST_US, HDR_HIGHEST_US, HDR_SIGNIFICANT_DIGITS)


def clear_histogram(histogram: HdrHistogram) -> HdrHistogram:
    """Empty ``histogram`` for reuse, and return it.

    A new histogram allocates and zeroes ~170 KB (hundreds of microseconds, more than the
    requests of a busy window cost to record); ``HdrHistogram.reset`` zeroes its counts one by
    one in Python. This zeroes them at once.
    """
    ctypes.memset(histogram.counts, 0, ctypes.sizeof(histogram.counts))
    histogram.total_count = 0
    histogram.min_value = sys.maxsize
    histogram.max_value = 0
    histogram.start_time_stamp_msec = sys.maxsize
    histogram.end_time_stamp_msec = 0
    return histogram


_LABELS: dict[int | None, str] = {None: "none"}  # status -> its key in ``statuses``


def _label(status: int | None) -> str:
    label = _LABELS[status] = str(status)
    return label


class WindowKey(NamedTuple):
    """What a window is about: a second, an interaction, an organisation type."""

    t: int
    interaction: str
    org_type: str


@dataclass
class Window:
    """Counts and histograms of one :class:`WindowKey`."""

    key: WindowKey
    drawn: int = 0
    sent: int = 0
    dropped: int = 0
    late: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    statuses: dict[str, int] = field(default_factory=dict)
    latency: HdrHistogram = field(default_factory=new_histogram)
    service: HdrHistogram = field(default_factory=new_histogram)

    @property
    def good(self) -> int:
        """Attempts that count as good."""
        return self.outcomes.get(Outcome.GOOD, 0)

    @property
    def bad(self) -> int:
        """Attempts that count against availability."""
        return sum(n for name, n in self.outcomes.items() if Outcome(name).is_bad)

    @property
    def excluded(self) -> int:
        """Attempts that are not valid requests for availability."""
        return sum(n for name, n in self.outcomes.items() if Outcome(name).is_excluded)

    def record(
        self,
        outcome: Outcome,
        status: int | None,
        *,
        latency_us: int,
        service_us: int,
    ) -> None:
        """Count one completed attempt."""
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
        label = _LABELS.get(status) or _label(status)
        self.statuses[label] = self.statuses.get(label, 0) + 1
        self.latency.record_value(min(max(latency_us, HDR_LOWEST_US), HDR_HIGHEST_US))
        self.service.record_value(min(max(service_us, HDR_LOWEST_US), HDR_HIGHEST_US))

    def merge(self, other: Window) -> None:
        """Add another window with the same key into this one."""
        if other.key != self.key:
            raise ValueError(f"cannot merge {other.key} into {self.key}")
        self.drawn += other.drawn
        self.sent += other.sent
        self.dropped += other.dropped
        self.late += other.late
        for name, n in other.outcomes.items():
            self.outcomes[name] = self.outcomes.get(name, 0) + n
        for label, n in other.statuses.items():
            self.statuses[label] = self.statuses.get(label, 0) + n
        self.latency.add(other.latency)
        self.service.add(other.service)

    def to_json(self) -> dict[str, Any]:
        """The JSON object of one line of ``windows.jsonl``."""
        return {
            "t": self.key.t,
            "interaction": self.key.interaction,
            "org_type": self.key.org_type,
            "drawn": self.drawn,
            "sent": self.sent,
            "dropped": self.dropped,
            "late": self.late,
            "outcomes": dict(sorted(self.outcomes.items())),
            "statuses": dict(sorted(self.statuses.items())),
            "latency_hdr": self.latency.encode().decode("ascii"),
            "service_hdr": self.service.encode().decode("ascii"),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Window:
        """Rebuild a window from one line of ``windows.jsonl``."""
        return cls(
            key=WindowKey(int(data["t"]), str(data["interaction"]), str(data["org_type"])),
            drawn=int(data["drawn"]),
            sent=int(data["sent"]),
            dropped=int(data["dropped"]),
            late=int(data["late"]),
            outcomes={str(k): int(v) for k, v in data["outcomes"].items()},
            statuses={str(k): int(v) for k, v in data["statuses"].items()},
            latency=_decode(data["latency_hdr"]),
            service=_decode(data["service_hdr"]),
        )


def _decode(text: str) -> HdrHistogram:
    histogram = new_histogram()
    histogram.add(HdrHistogram.decode(text.encode("ascii")))
    return histogram


def merge_windows(windows: Iterable[Window]) -> dict[WindowKey, Window]:
    """Merge windows by key into new windows (the inputs are left unchanged)."""
    merged: dict[WindowKey, Window] = {}
    for window in windows:
        if window.key not in merged:
            merged[window.key] = Window(window.key)
        merged[window.key].merge(window)
    return merged


def write_windows(path: Path, windows: Iterable[Window]) -> int:
    """Write windows as JSON lines, sorted by key; return how many."""
    ordered = sorted(windows, key=lambda w: w.key)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".jsonl.tmp")
    with tmp.open("w", encoding="utf-8") as out:
        for window in ordered:
            out.write(json.dumps(window.to_json(), separators=(",", ":")) + "\n")
    tmp.replace(path)
    return len(ordered)


def read_windows(path: Path) -> Iterator[Window]:
    """Windows from a ``windows.jsonl`` file, in file order.

    A last line cut off mid-record (the writer was stopped) is left out; ``open_run`` reports
    such a run as partial.

    Raises:
        ValueError: naming the line that is not a window.
    """
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                window = Window.from_json(json.loads(line))
            except (KeyError, TypeError, ValueError) as exc:
                if not line.endswith("\n"):
                    return  # cut off mid-line by a stopped writer: a partial run (open_run)
                raise ValueError(f"{path}:{number}: not a window record ({exc})") from None
            yield window
