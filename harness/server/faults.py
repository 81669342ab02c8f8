"""Fault injection: added latency, errors at a rate, outages, maintenance, storage stalls.

Load tests and chaos scenarios set faults at runtime through the admin API. A fault lives in the
database's admin state so that every worker process sees it: each worker's :class:`FaultBoard`
reloads the set every ``fault_refresh_s`` (a quarter of a second by default) and the platform
middleware consults it on every request. Faults end by themselves at ``until``.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from enum import StrEnum
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import insert, select, update

from harness.server.clock import Clock
from harness.server.store import Store
from harness.server.store.schema import admin_state
from harness.spine import Service

FAULTS_KEY = "faults"
CLOCK_KEY = "clock"


class FaultKind(StrEnum):
    """What a fault does."""

    LATENCY = "latency"
    ERRORS = "errors"
    OUTAGE = "outage"
    MAINTENANCE = "maintenance"
    STALL_STORAGE = "stall-storage"


class FaultSpec(BaseModel):
    """A fault as the admin API accepts it."""

    model_config = ConfigDict(extra="forbid")

    kind: FaultKind
    service: Service | None = Field(None, description="one service, or every service when absent")
    duration_s: float = Field(gt=0, le=7 * 86_400, strict=True)
    latency_ms: float = Field(
        0.0, strict=True, ge=0, le=600_000, description="latency: fixed, mean or median"
    )
    distribution: Literal["fixed", "exponential", "lognormal"] = "fixed"
    sigma: float = Field(0.5, strict=True, gt=0, le=5, description="lognormal spread")
    fraction: float = Field(
        1.0, strict=True, gt=0, le=1, description="errors: share of requests failed"
    )
    status: Literal[500, 502, 503, 504] = 500


class Fault(FaultSpec):
    """An active fault."""

    id: str
    until: float


class FaultBoard:
    """This worker's view of the active faults and the shared clock offset."""

    def __init__(self, *, store: Store, clock: Clock, rng: np.random.Generator) -> None:
        self.store = store
        self._clock = clock
        self.clock: Callable[[], float] = clock.now
        self.rng = rng
        self.faults: list[Fault] = []
        self.clock_offset_s = 0.0
        self._version = -1

    def active(self, kind: FaultKind, service: Service | None) -> Fault | None:
        """The first active fault of ``kind`` that applies to ``service``."""
        now = self.clock()
        for fault in self.faults:
            if fault.kind is kind and fault.until > now and fault.service in (None, service):
                return fault
        return None

    def stall_until(self) -> float:
        """End of the longest active storage stall (0 when none)."""
        now = self.clock()
        ends = [f.until for f in self.faults if f.kind is FaultKind.STALL_STORAGE and f.until > now]
        return max(ends, default=0.0)

    def latency_s(self, fault: Fault) -> float:
        """A delay drawn from the fault's distribution, in seconds."""
        mean_s = fault.latency_ms / 1000.0
        if fault.distribution == "exponential":
            return float(self.rng.exponential(mean_s))
        if fault.distribution == "lognormal":
            return float(mean_s * np.exp(self.rng.normal(0.0, fault.sigma)))
        return mean_s

    def fails(self, fault: Fault) -> bool:
        """Whether this request is one of the failed fraction."""
        return bool(self.rng.random() < fault.fraction)

    # ------------------------------------------------------------------ shared state
    async def refresh(self) -> None:
        """Reload faults and the clock offset if another worker changed them."""
        async with self.store.connect(gated=False) as conn:
            rows = (await conn.execute(select(admin_state))).mappings().all()
        state = {r["key"]: r for r in rows}
        version = sum(int(r["version"]) for r in rows)
        if version == self._version:
            return
        self._version = version
        faults = json.loads(state[FAULTS_KEY]["value"]) if FAULTS_KEY in state else []
        self.faults = [Fault.model_validate(f) for f in faults]
        self.clock_offset_s = (
            float(json.loads(state[CLOCK_KEY]["value"])["offset_s"]) if CLOCK_KEY in state else 0.0
        )
        self._clock.offset_s = self.clock_offset_s

    async def _write(self, key: str, value: Any) -> None:
        async with self.store.begin(gated=False) as conn:
            current = (
                await conn.execute(select(admin_state.c.version).where(admin_state.c.key == key))
            ).scalar()
            if current is None:
                await conn.execute(
                    insert(admin_state).values(key=key, value=json.dumps(value), version=1)
                )
            else:
                await conn.execute(
                    update(admin_state)
                    .where(admin_state.c.key == key)
                    .values(value=json.dumps(value), version=int(current) + 1)
                )
        await self.refresh()

    async def add(self, spec: FaultSpec) -> Fault:
        """Start a fault now, for ``spec.duration_s``."""
        await self.refresh()
        fault = Fault(
            **spec.model_dump(), id=uuid.uuid4().hex[:12], until=self.clock() + spec.duration_s
        )
        now = self.clock()
        keep = [f for f in self.faults if f.until > now]
        await self._write(FAULTS_KEY, [f.model_dump(mode="json") for f in [*keep, fault]])
        return fault

    async def clear(self, fault_id: str | None = None) -> int:
        """End one fault (or all); return how many ended."""
        await self.refresh()
        keep = [f for f in self.faults if fault_id is not None and f.id != fault_id]
        ended = len(self.faults) - len(keep)
        await self._write(FAULTS_KEY, [f.model_dump(mode="json") for f in keep])
        return ended

    async def set_clock(self, epoch_s: float) -> float:
        """Set the shared clock to ``epoch_s`` now (test mode); return the new offset."""
        await self.refresh()
        offset = float(epoch_s - time.time())
        await self._write(CLOCK_KEY, {"offset_s": offset})
        return offset

    async def advance_clock(self, seconds: float) -> float:
        """Move the shared clock forward (test mode); return the new offset."""
        await self.refresh()
        offset = self.clock_offset_s + seconds
        await self._write(CLOCK_KEY, {"offset_s": offset})
        return offset
