"""What a generator measured: windows, per-organisation counts, journeys and its own health.

Every drawn arrival is accounted for — sent, or dropped (it waited for a free slot of the
concurrency cap until the request timeout, or the run stopped while it waited); a sent arrival
may find no work (a MESH download with nothing to download) — and every HTTP attempt, first
tries, retries and logins alike, lands in the one-second :class:`~harness.slo.windows.Window`
of its intended send time with its outcome. Completed windows are drained and shipped (to a
Locust master, or to the results directory), so memory stays flat on long runs.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from hdrh.histogram import HdrHistogram

from harness.slo import Outcome, Window, WindowKey, new_histogram
from harness.slo.windows import clear_histogram

SPARE_HISTOGRAMS = 512  # emptied histograms kept for new windows (~170 KB each)


@dataclass
class Accounting:
    """Totals that must close: drawn = sent + dropped (``no_work`` is part of ``sent``).

    ``late`` counts arrivals the dispatcher handled after the lateness threshold (its own lag);
    ``queued`` those that waited for a free slot because the server held the cap busy.
    """

    drawn: int = 0
    sent: int = 0
    dropped: int = 0
    no_work: int = 0
    late: int = 0
    queued: int = 0
    attempts: int = 0
    retries: int = 0
    derived: int = 0  # requests no arrival drew: logins, backlog flushes

    def merge(self, other: Accounting) -> None:
        """Add another generator's totals."""
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def closes(self) -> bool:
        """Whether every drawn arrival is accounted for."""
        return self.drawn == self.sent + self.dropped


@dataclass
class Recorder:
    """Measurements of one generator process."""

    windows: dict[WindowKey, Window] = field(default_factory=dict)
    organisations: dict[tuple[str, str], list[int]] = field(
        default_factory=lambda: defaultdict(lambda: [0, 0, 0])
    )
    journeys: dict[tuple[str, str], list[int]] = field(
        default_factory=lambda: defaultdict(lambda: [0, 0, 0])
    )
    totals: Accounting = field(default_factory=Accounting)
    lag: HdrHistogram = field(default_factory=new_histogram)
    sealed: list[dict[str, Any]] = field(default_factory=list)
    """Finished windows in their compact JSON form (see :meth:`seal`)."""
    _spare: list[HdrHistogram] = field(default_factory=list, repr=False)
    """Emptied histograms of sealed windows, for new windows (allocating one costs more than
    a busy window's requests cost to record)."""

    def _window(self, second: int, interaction: str, org_type: str) -> Window:
        key = WindowKey(second, interaction, org_type)
        window = self.windows.get(key)
        if window is None:
            spare = self._spare
            window = self.windows[key] = Window(
                key,
                latency=spare.pop() if spare else new_histogram(),
                service=spare.pop() if spare else new_histogram(),
            )
        return window

    def drawn(
        self, second: int, interaction: str, org_type: str, *, lag_us: int, late: bool
    ) -> None:
        """An arrival came due and the dispatcher handled it ``lag_us`` after its time
        (``late`` beyond the lateness threshold)."""
        window = self._window(second, interaction, org_type)
        window.drawn += 1
        self.totals.drawn += 1
        self.lag.record_value(max(1, min(lag_us, 600_000_000)))
        if late:
            window.late += 1
            self.totals.late += 1

    def queued(self) -> None:
        """An arrival found the concurrency cap full and waits for a free slot."""
        self.totals.queued += 1

    def sent(self, second: int, interaction: str, org_type: str) -> None:
        """An arrival left."""
        self._window(second, interaction, org_type).sent += 1
        self.totals.sent += 1

    def dropped(self, second: int, interaction: str, org_type: str) -> None:
        """An arrival never left: it waited for a slot until the request timeout, or the run
        stopped while it waited."""
        self._window(second, interaction, org_type).dropped += 1
        self.totals.dropped += 1

    def no_work(self) -> None:
        """An arrival found nothing to do (e.g. a download with an empty inbox everywhere)."""
        self.totals.no_work += 1

    def attempt(
        self,
        second: int,
        interaction: str,
        org_type: str,
        ods_code: str,
        *,
        outcome: Outcome,
        status: int | None,
        latency_us: int,
        service_us: int,
        retry: bool = False,
        derived: bool = False,
    ) -> None:
        """One HTTP attempt finished (first try, retry or derived request)."""
        self._window(second, interaction, org_type).record(
            outcome, status, latency_us=latency_us, service_us=service_us
        )
        self.totals.attempts += 1
        self.totals.retries += int(retry)
        self.totals.derived += int(derived)
        counts = self.organisations[(ods_code, org_type)]
        counts[0 if outcome is Outcome.GOOD else 1 if outcome.is_bad else 2] += 1

    def journey(self, name: str, org_type: str, *, succeeded: bool) -> None:
        """An organisation's task finished, after its retries, one way or the other."""
        counts = self.journeys[(name, org_type)]
        counts[0] += 1
        counts[1 if succeeded else 2] += 1

    def seal(self, before_second: int | None = None) -> int:
        """Encode the windows older than ``before_second`` (all when ``None``) compactly.

        An open window holds two full HDR histograms (~170 KB each); its encoded form is a few
        hundred bytes, so sealing every few seconds keeps a long run's memory flat. An attempt
        that finishes after its window was sealed opens a new window with the same key; the
        two merge exactly when the results are written.
        """
        done = [k for k in self.windows if before_second is None or k.t < before_second]
        for key in done:
            window = self.windows.pop(key)
            self.sealed.append(window.to_json())
            if before_second is not None and len(self._spare) < SPARE_HISTOGRAMS:
                self._spare.append(clear_histogram(window.latency))
                self._spare.append(clear_histogram(window.service))
        return len(done)

    def drain(self) -> list[dict[str, Any]]:
        """Seal everything and hand over all windows in compact form."""
        self.seal()
        sealed, self.sealed = self.sealed, []
        return sealed
