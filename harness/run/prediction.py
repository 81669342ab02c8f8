"""The prediction side of ``harness run``: the load plan and a calibration turned into model inputs.

The load plan knows, for every stream (interaction × organisation type), the expected arrivals
in every wall-clock second; the directory knows which data centre and supplier each
organisation uses; the calibration knows what each interaction costs the server. Together they
are the :class:`~harness.simulation.window.WindowInputs` of the same window with the same fault
timeline, simulated a few times with different seeds.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from harness.config import Scenario
from harness.config.calibration import Calibration, InteractionCost
from harness.load.plan import LoadPlan
from harness.simulation.window import (
    InteractionModel,
    WindowInputs,
    WindowPrediction,
    predict_window,
)
from harness.slo.histogram import percentiles_us, sparse_from_values
from harness.spine import CATALOGUE, OrgType

# Without a calibration: a demand of a few milliseconds and a lognormal service time around
# it — an assumption, flagged as such in the report, until `harness calibrate` measures them.
ASSUMED_DEMAND_MS = 3.0
ASSUMED_MEDIAN_MS = 6.0
ASSUMED_SIGMA = 0.6
REPLICATIONS = 5


def _assumed_cost() -> InteractionCost:
    q = np.linspace(0.001, 0.999, 21)
    from scipy.stats import lognorm

    values = lognorm.ppf(q, s=ASSUMED_SIGMA, scale=ASSUMED_MEDIAN_MS)
    return InteractionCost(demand_ms=ASSUMED_DEMAND_MS, service_ms=[float(v) for v in values])


def window_inputs(
    plan: LoadPlan,
    calibration: Calibration,
    *,
    sites: list[str],
    workers: int,
    load_processes: int = 1,
) -> tuple[WindowInputs, list[str]]:
    """Model inputs for the plan's window; also the interactions that used assumed costs.

    Each of the ``load_processes`` generators has its own cap of ``max_concurrency``.
    """
    scenario = plan.scenario
    per_stream = plan.expected_per_wall_second()
    exercised = sorted({s.interaction.id for s in plan.streams if s.kind is not None})
    column = {name: i for i, name in enumerate(exercised)}
    rates = np.zeros((per_stream.shape[0], len(exercised)))
    by_type = np.zeros((len(exercised), len(OrgType)))
    types = list(OrgType)
    for index, stream in enumerate(plan.streams):
        if stream.kind is None:
            continue
        ix = column[stream.interaction.id]
        rates[:, ix] += per_stream[:, index]
        by_type[ix, types.index(stream.org_type)] += per_stream[:, index].sum()
    catalogue = {i.id: i for i in CATALOGUE}
    models, assumed = [], []
    for name in exercised:
        cost = calibration.interactions.get(name)
        if cost is None:
            cost = _assumed_cost()
            assumed.append(name)
        interaction = catalogue[name]
        models.append(
            InteractionModel(
                id=name,
                service=str(interaction.service),
                latency_slo_s=_slo_s(scenario, name, interaction.latency_slo_s),
                demand_s=cost.demand_ms / 1000.0,
                base_latency_s=tuple(v / 1000.0 for v in cost.base_latency_ms),
                attempts_per_arrival=cost.attempts_per_arrival,
            )
        )
    directory = plan.directory
    site_counts = Counter(o.data_centre for o in directory)
    site_share = [float(site_counts.get(site, 0)) for site in sites]
    if len(sites) == 1 or sum(site_share) == 0:
        site_share = [1.0] + [0.0] * (len(sites) - 1)
    type_share = by_type / np.maximum(by_type.sum(axis=1, keepdims=True), 1e-12)
    supplier_share: dict[str, np.ndarray] = {}
    for supplier in sorted({o.supplier for o in directory}):
        of_type = np.array(
            [
                sum(1 for o in directory.of_type(t) if o.supplier == supplier)
                / max(1, len(directory.of_type(t)))
                for t in types
            ]
        )
        supplier_share[supplier] = type_share @ of_type
    inputs = WindowInputs(
        rates=rates,
        interactions=models,
        sites=sites,
        site_share=site_share,
        workers=workers,
        request_timeout_s=scenario.load.request_timeout,
        worker_restart_s=calibration.worker_restart_s,
        faults=scenario.faults,
        supplier_share=supplier_share,
        mailboxes=sum(1 for o in directory if o.mesh_mailbox),
        keepalive_per_worker=_keepalive(rates, models, sites, workers),
        max_concurrency=scenario.load.max_concurrency * load_processes,
    )
    return inputs, assumed


def _keepalive(
    rates: np.ndarray, models: list[InteractionModel], sites: list[str], workers: int
) -> int:
    """Client connections in use per worker: about twice the mean concurrency, at least one.

    The driver's connection pool reuses idle connections, so at the modest rates of one machine
    only a few stay open to each worker; a frozen worker catches the requests sent on those.
    """
    latency = np.array([float(np.median(m.base_latency_s)) for m in models])
    concurrency = float((rates.mean(axis=0) * latency).sum()) / max(1, len(sites) * workers)
    return max(1, int(np.ceil(2.0 * concurrency)))


def _slo_s(scenario: Scenario, interaction: str, default: float) -> float:
    override = scenario.slo.latency.get(interaction)
    return override.threshold if override is not None else default


def predict(inputs: WindowInputs, seed: int, replications: int = REPLICATIONS) -> dict[str, Any]:
    """Simulate the window ``replications`` times; the ``prediction`` section of results.json."""
    runs = [predict_window(inputs, seed * 1_000 + r) for r in range(replications)]
    services = sorted({m.service for m in inputs.interactions})
    by_service: dict[str, Any] = {}
    for service in [*services, "all"]:
        columns = [i for i, m in enumerate(inputs.interactions) if service in ("all", m.service)]
        by_service[service] = _summary(runs, columns)
    busy = float(np.mean([r.busy_s for r in runs]))
    return {
        "replications": replications,
        "seed": seed,
        "by_service": by_service,
        "worker_busy_s": busy,
        "duration_s": runs[0].duration_s if runs else 0.0,
    }


def _summary(runs: list[WindowPrediction], columns: list[int]) -> dict[str, Any]:
    good = np.array([r.good[columns].sum() for r in runs], dtype=np.float64)
    bad = np.array([r.bad[columns].sum() for r in runs], dtype=np.float64)
    excluded = np.array([r.excluded[columns].sum() for r in runs], dtype=np.float64)
    availability = good / np.maximum(good + bad, 1.0)
    p95 = []
    for run in runs:
        values = [v for c in columns for v in run.latencies_s[c]]
        counts = sparse_from_values(np.asarray(values) * 1e6) if values else None
        p95.append(percentiles_us(counts, [95.0])[0] / 1000.0 if counts else 0.0)
    return {
        "attempts": float((good + bad + excluded).mean()),
        "good": float(good.mean()),
        "bad": float(bad.mean()),
        "bad_range": [float(bad.min()), float(bad.max())],
        "excluded": float(excluded.mean()),
        "availability": float(availability.mean()),
        "availability_range": [float(availability.min()), float(availability.max())],
        "p95_ms": float(np.mean(p95)),
        "p95_ms_range": [float(min(p95)), float(max(p95))],
    }
