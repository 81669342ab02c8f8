"""The fault timeline: a scenario's ``faults`` applied at their times while the load runs.

Each fault is applied the way an operator or an accident would apply it to the embedded
deployment:

========================  ==================================================================
``kill-worker``           SIGKILL one worker of the first data centre; uvicorn's supervisor
                          starts a new one (the timeline records how long that took)
``pause-worker``          SIGSTOP one worker, SIGCONT after ``duration`` (uvicorn's health
                          check replaces a worker paused for longer than its timeout)
``latency``, ``errors``,  through the server's admin API (``/admin/faults``,
``stall-storage``,        ``/admin/maintenance``); the fault lives in the database, so every
``maintenance``           worker of every data centre applies it
``supplier-outage``       on the client side: the supplier's organisations cannot reach the
                          Spine (their arrivals are recorded as ``cut-off``, their work kept)
``lose-data-centre``      SIGKILL every process of that data centre's group; restart it on the
                          same port after ``duration``; clients fail over to the other site
========================  ==================================================================

A watcher runs beside it: a server group that exits while the timeline does not expect it to is
a failure of the run (exit code 3), recorded with the time it was noticed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import psutil
import requests

from harness.config.scenario import (
    Fault,
    InjectErrors,
    InjectLatency,
    KillWorker,
    LoseDataCentre,
    Maintenance,
    PauseWorker,
    StallStorage,
    SupplierOutage,
)
from harness.errors import ConfigurationError
from harness.run.servers import ServerGroup

WATCH_EVERY_S = 0.5
RESTART_WATCH_S = 30.0  # how long to wait for the supervisor to replace a killed worker
STARTED_CPU_PER_TICK_S = 0.033  # a starting worker burns a core; a started one idles


@dataclass
class AppliedFault:
    """What the timeline did for one fault, for the report."""

    kind: str
    at_s: float  # planned offset from the start of the load
    applied_s: float | None = None  # actual offset when applied
    ended_s: float | None = None  # actual offset when it ended (or was undone)
    detail: str = ""
    error: str | None = None
    restored_after_s: float | None = None  # kill-worker: until the supervisor's replacement


@dataclass
class ServerDeath:
    """A server group that exited outside the fault timeline."""

    group: str
    noticed_s: float
    log_tail: str


def fault_end_s(fault: Fault) -> float:
    """Planned end of a fault as an offset from the start of the load."""
    return fault.wall_s + float(getattr(fault, "duration", 0.0))


def check_faults(faults: Sequence[Fault], groups: Sequence[str], suppliers: set[str]) -> None:
    """Refuse a timeline that names a data centre or supplier this run does not have."""
    for index, fault in enumerate(faults):
        if isinstance(fault, LoseDataCentre):
            if fault.data_centre not in groups:
                raise ConfigurationError(
                    f"faults[{index}]: no data centre {fault.data_centre!r} in this run "
                    f"(it has {', '.join(groups)})"
                )
            if len(groups) < 2:
                raise ConfigurationError(
                    f"faults[{index}]: losing a data centre needs two (topology.data_centres)"
                )
        if isinstance(fault, SupplierOutage) and fault.supplier not in suppliers:
            raise ConfigurationError(
                f"faults[{index}]: no organisation uses supplier {fault.supplier!r} "
                f"(suppliers: {', '.join(sorted(suppliers))})"
            )


def cutoffs(faults: Sequence[Fault]) -> tuple[tuple[str, float, float], ...]:
    """Supplier outages as (supplier, from, until) in seconds from the start of the load."""
    outages = [f for f in faults if isinstance(f, SupplierOutage)]
    return tuple((f.supplier, f.wall_s, fault_end_s(f)) for f in outages)


@dataclass
class FaultTimeline:
    """Applies the faults at their offsets from ``run_start_s`` in a background thread."""

    faults: Sequence[Fault]
    groups: Sequence[ServerGroup]
    admin_token: str
    applied: list[AppliedFault] = field(default_factory=list)
    deaths: list[ServerDeath] = field(default_factory=list)
    on_death: Callable[[ServerDeath], None] | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _start_s: float = 0.0

    def start(self, run_start_s: float) -> None:
        """Start applying faults (each in its own thread) and watching the servers."""
        self._start_s = run_start_s
        for fault in sorted(self.faults, key=lambda f: f.wall_s):
            record = AppliedFault(kind=fault.kind, at_s=fault.wall_s)
            self.applied.append(record)
            self._spawn(self._apply, fault, record)
        self._spawn(self._watch)

    def stop(self) -> None:
        """Stop the timeline; paused workers are resumed and lost sites restarted."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=70)

    def to_json(self) -> list[dict[str, Any]]:
        """The applied faults, for ``results.json``."""
        return [asdict(a) for a in self.applied]

    # ------------------------------------------------------------------ internals
    def _spawn(self, target: Callable[..., None], *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _now_s(self) -> float:
        return time.time() - self._start_s

    def _sleep_until(self, offset_s: float) -> bool:
        """Sleep until ``offset_s``; False when the timeline was stopped first."""
        return not self._stop.wait(max(0.0, offset_s - self._now_s()))

    def _apply(self, fault: Fault, record: AppliedFault) -> None:
        if not self._sleep_until(fault.wall_s):
            record.error = "not applied: the run ended first"
            return
        record.applied_s = round(self._now_s(), 3)
        try:
            self._do(fault, record)
        except (OSError, requests.RequestException, RuntimeError) as exc:
            record.error = f"{type(exc).__name__}: {exc}"
        if record.ended_s is None:
            record.ended_s = round(self._now_s(), 3)

    def _do(self, fault: Fault, record: AppliedFault) -> None:
        first = self.groups[0]
        if isinstance(fault, KillWorker):
            before = set(first.worker_pids())
            pid = first.signal_worker(fault.worker, signal.SIGKILL)
            record.detail = f"SIGKILL worker pid {pid} of {first.name}"
            record.restored_after_s = self._await_replacement(first, before)
        elif isinstance(fault, PauseWorker):
            pid = first.signal_worker(fault.worker, signal.SIGSTOP)
            record.detail = f"SIGSTOP worker pid {pid} of {first.name} for {fault.duration:g} s"
            self._sleep_until(fault.wall_s + fault.duration)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        elif isinstance(fault, InjectLatency | InjectErrors | StallStorage | Maintenance):
            record.detail = self._admin_fault(fault)
            self._sleep_until(fault_end_s(fault))
        elif isinstance(fault, SupplierOutage):
            record.detail = f"supplier {fault.supplier} cut off for {fault.duration:g} s"
            self._sleep_until(fault_end_s(fault))
        elif isinstance(fault, LoseDataCentre):
            group = next(g for g in self.groups if g.name == fault.data_centre)
            group.kill()
            record.detail = f"SIGKILL every process of {group.name} for {fault.duration:g} s"
            self._sleep_until(fault_end_s(fault))
            group.restart()
            record.ended_s = round(self._now_s(), 3)

    def _admin_fault(self, fault: InjectLatency | InjectErrors | StallStorage | Maintenance) -> str:
        """Post the fault to the admin API of a live group; its description."""
        body: dict[str, Any] = {"duration_s": fault.duration}
        path = "/admin/faults"
        if isinstance(fault, InjectLatency):
            latency = {"latency_ms": fault.latency_ms}
            body |= {"kind": "latency", "service": str(fault.service), **latency}
        elif isinstance(fault, InjectErrors):
            body |= {"kind": "errors", "service": str(fault.service), "fraction": fault.fraction}
        elif isinstance(fault, StallStorage):
            body |= {"kind": "stall-storage"}
        else:
            path = "/admin/maintenance"
            body |= {"service": str(fault.service)}
        group = next((g for g in self.groups if g.alive() and not g.expected_down), None)
        if group is None:
            raise RuntimeError("no live server group to take the fault")
        response = requests.post(
            f"{group.url}{path}",
            json=body,
            headers={"Authorization": f"Bearer {self.admin_token}"},
            timeout=10,
        )
        if response.status_code != 201:
            raise RuntimeError(f"{path} answered {response.status_code}: {response.text[:200]}")
        fault_id = response.json().get("id", "?")
        what = ", ".join(f"{k} {v}" for k, v in body.items() if k != "kind")
        return f"{body.get('kind', 'maintenance')}: {what} (admin fault {fault_id})"

    def _await_replacement(self, group: ServerGroup, before: set[int]) -> float | None:
        """Seconds until a new worker (a PID not in ``before``) has started (None: not seen).

        Workers share one listening socket, so a health request cannot be aimed at the new one.
        Its start-up (imports, building the directory) is CPU-bound; it counts as started once
        it uses less than a third of a core over 100 ms.
        """
        killed_at = time.monotonic()
        deadline = killed_at + RESTART_WATCH_S
        last: float | None = None
        while time.monotonic() < deadline and not self._stop.is_set():
            new = set(group.worker_pids()) - before
            if new:
                with contextlib.suppress(psutil.Error):
                    times = psutil.Process(min(new)).cpu_times()
                    used = times.user + times.system
                    if last is not None and used - last < STARTED_CPU_PER_TICK_S:
                        return round(time.monotonic() - killed_at, 3)
                    last = used
            time.sleep(0.1)
        return None

    def _watch(self) -> None:
        while not self._stop.wait(WATCH_EVERY_S):
            for group in self.groups:
                if group.expected_down or group.alive():
                    continue
                if any(d.group == group.name for d in self.deaths):
                    continue
                death = ServerDeath(group.name, round(self._now_s(), 3), group.log_tail())
                self.deaths.append(death)
                if self.on_death is not None:
                    self.on_death(death)
