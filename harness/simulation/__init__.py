"""The availability model: what availability a topology gives, and how likely a bad month is.

The hybrid method of ``domain/simulation.md`` §1.5-1.6: SimPy models only the rare events —
component failures and repairs, failover, maintenance, releases, migrations, supplier and
organisation outages (:mod:`~harness.simulation.model`) — and records them on a timeline;
traffic from :mod:`harness.spine` flows through that timeline per minute and per cohort of
organisations that share fate, vectorised with numpy, with Erlang C and a fluid backlog for
the queues (:mod:`~harness.simulation.flows`). A month of 400 M messages costs a fraction of
a second, so thousands of months give the *distribution* of monthly availability::

    run = run_replications(scenario, replications=2000, seed=1, workers=2)
    summary = summarise(run)      # P5/median/worst, P(breach) with a Wilson interval…

Randomness comes only from injected generators: replication ``i`` uses child ``i`` of
``SeedSequence(seed)``, so a seed reproduces a run exactly on any executor.
"""

from __future__ import annotations

from pathlib import Path

from harness.simulation.flows import Prepared, prepare
from harness.simulation.layout import build_layout
from harness.simulation.month import MonthResult, simulate_month
from harness.simulation.runner import (
    Executor,
    SimulationRun,
    prepared_for,
    replication_rng,
    run_replications,
)
from harness.simulation.summary import months_frame, organisations_frame, summarise
from harness.simulation.validation import validate_windows


def write_tables(run: SimulationRun, folder: Path) -> tuple[Path, Path]:
    """Write ``months.csv`` and ``organisations.csv`` of a run into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    months = folder / "months.csv"
    organisations = folder / "organisations.csv"
    months_frame(run).to_csv(months, index=False)
    organisations_frame(run).to_csv(organisations, index=False)
    return months, organisations


__all__ = [
    "Executor",
    "MonthResult",
    "Prepared",
    "SimulationRun",
    "build_layout",
    "months_frame",
    "organisations_frame",
    "prepare",
    "prepared_for",
    "replication_rng",
    "run_replications",
    "simulate_month",
    "summarise",
    "validate_windows",
    "write_tables",
]
