"""Cohorts cut off while the Spine is up: supplier outages, migration waves, reconnection.

When a clinical-system supplier's gateway fails, or a migration wave's cut-over goes wrong,
only the organisations of some cohorts are cut off: their requests fail (blamed on the supplier
or the migration) while everyone else is served. When they reconnect, their clinical systems
send what they held — a thundering herd that queues like any other traffic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from harness.config.availability import Cause
from harness.simulation.composition import CAUSES
from harness.simulation.layout import SERVICES
from harness.simulation.model import Infrastructure
from harness.simulation.timeline import MINUTE_S

if TYPE_CHECKING:
    from harness.simulation.flows import Prepared, Shares

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
FAILED, SLOW = 0, 1  # outcome axis


def reconnect_flush(prepared: Prepared, infra: Infrastructure) -> FloatArray | None:
    """Extra arrivals when cut-off cohorts reconnect and send what they held.

    Returns:
        ``(minutes, sites, services, 2)`` extra messages a minute, by cause (supplier,
        migration); None when nothing was cut off or the flush is switched off.
    """
    layout = prepared.layout
    spec = layout.scenario.simulation.reconnect_flush
    ch = infra.channels
    groups = ((ch.supplier, 0, layout.cohorts.supplier), (ch.wave_block, 1, layout.cohorts.wave))
    channel, start, end, value = infra.timeline.intervals()
    if spec.fraction == 0 or len(channel) == 0:
        return None
    out: FloatArray | None = None
    cohorts = layout.cohorts
    span = max(int(np.ceil(spec.duration / MINUTE_S)), 1)
    for group, axis, key in groups:
        size = int(np.prod(group.shape))
        for k in np.flatnonzero((channel >= group.base) & (channel < group.base + size)):
            who = key == channel[k] - group.base
            if not who.any() or value[k] <= 0:
                continue
            a, b = int(start[k] // MINUTE_S), int(np.ceil(end[k] / MINUTE_S))
            if b >= prepared.minutes:
                continue  # reconnects after the window
            weights = np.zeros_like(prepared.type_site)
            np.add.at(weights, (cohorts.org_type[who], cohorts.site[who]), cohorts.share[who])
            held = np.einsum(
                "tv,ts->sv",
                prepared.cum_type_service[b] - prepared.cum_type_service[a],
                weights,
            ) * (spec.fraction * min(value[k], 1.0))
            if out is None:
                out = np.zeros((prepared.minutes, layout.n_sites, len(SERVICES), 2))
            stop = min(b + span, prepared.minutes)
            out[b:stop, :, :, axis] += held / span
    return out


@dataclass(frozen=True)
class BlockTerms:
    """The cut-off cohorts' minutes, compacted to the rows and cohorts actually cut off."""

    hit: IntArray  # touched-row positions with a cut-off
    cohorts: IntArray  # cohorts cut off at some point
    lam: FloatArray  # (rows, cohorts, services) expected messages
    cut: FloatArray  # (rows, cohorts) share cut off
    split: FloatArray  # (rows, cohorts, 2) share of the cut by cause (supplier, migration)
    fail_home: FloatArray  # (rows, cohorts, services) share failing anyway at home
    slow_home: FloatArray  # (rows, cohorts, services, causes) slow share at home


def block_terms(prepared: Prepared, shares: Shares) -> BlockTerms:
    """Per cut-off minute and cohort: traffic, cut-off shares, fail and slow shares at home."""
    assert shares.block is not None
    layout = prepared.layout
    hit = np.flatnonzero(shares.block.any(axis=(1, 2)))
    who = np.flatnonzero(shares.block[hit].any(axis=(0, 2)))
    block = shares.block[np.ix_(hit, who)]
    types, sites = layout.cohorts.org_type[who], layout.cohorts.site[who]
    lam = (
        layout.traffic.per_type[shares.rows[hit]][:, types]
        * layout.cohorts.share[who][None, :, None]
    )
    cut = 1.0 - (1.0 - block[..., 0]) * (1.0 - block[..., 1])
    split = np.divide(
        block, block.sum(axis=-1, keepdims=True), out=np.zeros_like(block), where=block > 0
    )
    fail_home = shares.fail[hit].sum(axis=-1)[:, sites]
    slow_home = shares.slow[hit][:, sites]
    return BlockTerms(hit, who, lam, cut, split, fail_home, slow_home)


def add_blocks(prepared: Prepared, shares: Shares, out: FloatArray) -> None:
    """Requests of cut-off cohorts fail (supplier or migration) instead of succeeding."""
    b = block_terms(prepared, shares)
    lost = b.lam * b.cut[..., None] * (1.0 - b.fail_home)  # (r, cohorts, services)
    for k, cause in enumerate((Cause.SUPPLIER, Cause.MIGRATION)):
        out[b.cohorts, :, FAILED, CAUSES.index(cause)] += np.einsum(
            "rgv,rg->gv", lost, b.split[..., k]
        )
    active = np.flatnonzero(b.slow_home.any(axis=(0, 1, 2)))
    if len(active):
        removed = np.einsum("rgv,rg,rgvc->gvc", b.lam, b.cut, b.slow_home[..., active])
        slow_axis = np.array([SLOW], dtype=np.int64)
        index = np.ix_(b.cohorts, np.arange(out.shape[1]), slow_axis, active)
        out[index] -= removed[:, :, None, :]
