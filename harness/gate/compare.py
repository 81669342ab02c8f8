"""The regression gate: is the candidate run worse than the baseline?

For each interaction with enough traffic, and for all interactions together, the gate cuts each
run into *blocks* of whole seconds — one second when the interaction has at least
``min_block_requests`` requests a second, longer blocks for quieter interactions — and takes,
per block, the median (p50) and the 99th percentile (p99) of latency from the intended send
time, from the block's merged HDR histogram. Comparing block p99s as well as block medians is
what catches a regression of the tail alone (a slow path hit by 2 % of requests moves every
block's p99 and hardly any median). Each statistic is tested with the window-level
Mann–Whitney of :mod:`harness.gate.statistics`; availability with a two-proportion test.

A comparison is a **regression** only when all of these hold:

- Holm-adjusted p-value < ``alpha`` (default 0.01);
- probability of superiority ≥ ``min_superiority`` (default 0.6);
- Hodges–Lehmann shift ≥ ``min_relative_shift`` of the baseline (default 5 %) — so a real but
  negligible difference, made significant by a long run, never alarms;

and for availability: adjusted p < ``alpha`` and a failure rate higher by at least
``min_failure_rate_increase`` (default 0.01 percentage points). Interactions with fewer than
``min_blocks`` blocks in either run are reported and not judged.

Some checks *matter*: p50 and p99 of all interactions together, availability, and p50 and p99
of every interaction with at least ``required_share`` (5 %) of either run's traffic. When one of
them could not be judged the gate cannot say "no regression"; each such comparison carries the
run length (at the same rate) that would have judged it.

The machine itself can change between two runs: a shared host slows a virtual machine down,
and the same code answers 10-20 % slower minutes later. Each load run records what its
generators' CPU cost per attempt — the same arrivals cost the same on the same machine. When
the two runs' figures are further apart than ``max_machine_spread``, each latency comparison is
also judged with the machine's change divided out (:data:`TAIL_POWER` for the tail); where the
two answers differ the comparison is not judged and the gate is inconclusive — never a pass
a faster machine made, never a regression a slower one made. A run that started its own server
also records what other processes used meanwhile; when they took more than
``max_others_cores`` during either run, no latency comparison is judged.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from harness.gate.statistics import holm, proportion_test, shift_test
from harness.gate.summary import RunSummary
from harness.slo.histogram import merge, percentiles_us
from harness.slo.table import WindowTable

BLOCK_SIZES_S = (1, 2, 5, 10, 15, 30, 60)
ALL = "all interactions"
STATISTICS = {"p50": 50.0, "p99": 99.0}


@dataclass(frozen=True)
class GateThresholds:
    """When a difference counts as a regression (see the module docstring)."""

    alpha: float = 0.01
    min_superiority: float = 0.6
    min_relative_shift: float = 0.05
    min_failure_rate_increase: float = 0.0001
    min_block_requests: int = 100
    min_blocks: int = 8
    serial_correction: bool = True
    required_share: float = 0.05
    max_machine_spread: float = 0.05
    max_others_cores: float = 1.0


@dataclass
class Comparison:
    """One statistic of one scope, compared."""

    scope: str
    statistic: str
    judged: bool
    reason: str = ""
    block_s: int = 0
    baseline: float | None = None
    candidate: float | None = None
    p_value: float | None = None
    p_adjusted: float | None = None
    superiority: float | None = None
    shift: float | None = None
    relative_shift: float | None = None
    rho: float | None = None
    method: str = ""
    regression: bool = False
    details: dict[str, Any] = field(default_factory=dict)
    required: bool = False  # a check that matters: unjudged, the gate is inconclusive
    needed_s: int | None = None  # run length that would judge it at this rate (unjudged only)
    machine: bool = False  # not judged: the machine (its speed, or others' load) may explain it

    def set_aside(self, reason: str) -> None:
        """Leave unjudged because the machine, not the code, may have moved latency."""
        self.judged, self.regression, self.machine, self.reason = False, False, True, reason


def _per_second(table: WindowTable, interaction: str | None) -> tuple[np.ndarray, list[Any]]:
    frame = table.frame
    if interaction is None:
        mask = np.ones(len(frame), dtype=bool)
    else:
        mask = frame["interaction"].to_numpy() == interaction
    positions = np.flatnonzero(mask)
    seconds = frame["t"].to_numpy()[positions]
    return seconds, [table.latency[int(p)] for p in positions]


def _blocks(table: WindowTable, interaction: str | None, block_s: int) -> list[Any]:
    seconds, histograms = _per_second(table, interaction)
    if len(seconds) == 0:
        return []
    start = int(table.frame["t"].min())
    index = (seconds - start) // block_s
    return [merge(histograms[i] for i in np.flatnonzero(index == b)) for b in np.unique(index)]


def _rate(table: WindowTable, interaction: str | None) -> float:
    frame = table.frame
    if frame.empty:
        return 0.0
    seconds = int(frame["t"].max() - frame["t"].min() + 1)
    _, histograms = _per_second(table, interaction)
    return float(sum(h.total for h in histograms)) / seconds


def _block_size(rate_per_s: float, thresholds: GateThresholds) -> int | None:
    for size in BLOCK_SIZES_S:
        if rate_per_s * size >= thresholds.min_block_requests:
            return size
    return None


def _share(table: WindowTable, interaction: str) -> float:
    total = _rate(table, None)
    return _rate(table, interaction) / total if total > 0 else 0.0


def _needed_s(rate_per_s: float, thresholds: GateThresholds) -> int | None:
    """Run length whose blocks of ``min_block_requests`` number ``min_blocks`` at this rate."""
    if rate_per_s <= 0:
        return None
    block_s = math.ceil(thresholds.min_block_requests / rate_per_s)
    if block_s > BLOCK_SIZES_S[-1]:
        return None  # blocks this long are not formed: the rate, not the length, is too low
    block_s = next(size for size in BLOCK_SIZES_S if size >= block_s)
    return thresholds.min_blocks * block_s


def _latency_comparisons(
    baseline: RunSummary, candidate: RunSummary, thresholds: GateThresholds
) -> list[Comparison]:
    interactions = sorted(
        set(baseline.table.frame["interaction"]) & set(candidate.table.frame["interaction"])
    )
    out = []
    for interaction in [None, *interactions]:
        scope = interaction or ALL
        required = interaction is None or thresholds.required_share <= max(
            _share(baseline.table, interaction), _share(candidate.table, interaction)
        )
        rate = min(_rate(baseline.table, interaction), _rate(candidate.table, interaction))
        block_s = _block_size(rate, thresholds)
        needed = _needed_s(rate, thresholds)
        if block_s is None:
            out += [
                Comparison(
                    scope,
                    s,
                    False,
                    f"{rate:.1f} req/s: too few for a block",
                    required=required,
                    needed_s=needed,
                )
                for s in STATISTICS
            ]
            continue
        sides = []
        for summary in (baseline, candidate):
            blocks = _blocks(summary.table, interaction, block_s)
            keep = [b for b in blocks if b.total >= thresholds.min_block_requests // 2]
            sides.append(keep)
        n = min(len(sides[0]), len(sides[1]))
        for statistic, q in STATISTICS.items():
            if n < thresholds.min_blocks:
                reason = f"{n} blocks of {block_s} s, fewer than {thresholds.min_blocks}"
                out.append(
                    Comparison(
                        scope, statistic, False, reason, block_s, required=required, needed_s=needed
                    )
                )
                continue
            a = np.array([percentiles_us(b, [q])[0] for b in sides[0]])
            b = np.array([percentiles_us(b, [q])[0] for b in sides[1]])
            test = shift_test(a, b, serial_correction=thresholds.serial_correction)
            out.append(
                Comparison(
                    scope,
                    statistic,
                    True,
                    block_s=block_s,
                    baseline=float(np.median(a)) / 1000.0,
                    candidate=float(np.median(b)) / 1000.0,
                    p_value=test.p_value,
                    superiority=test.superiority,
                    shift=test.shift / 1000.0,
                    relative_shift=test.relative_shift,
                    rho=test.rho,
                    method="mann-whitney-u (window level)",
                    details={"blocks": [test.n_baseline, test.n_candidate]},
                    required=required,
                )
            )
    return out


def _availability_comparison(baseline: RunSummary, candidate: RunSummary) -> Comparison:
    fa, fb = baseline.table.frame, candidate.table.frame
    bad_a, valid_a = int(fa["bad"].sum()), int(fa["good"].sum() + fa["bad"].sum())
    bad_b, valid_b = int(fb["bad"].sum()), int(fb["good"].sum() + fb["bad"].sum())
    if valid_a == 0 or valid_b == 0:
        return Comparison("availability", "failure rate", False, "no valid requests", required=True)
    test = proportion_test(bad_a, valid_a, bad_b, valid_b)
    return Comparison(
        "availability",
        "failure rate",
        True,
        baseline=test.baseline_rate,
        candidate=test.candidate_rate,
        p_value=test.p_value,
        shift=test.difference,
        method=test.method,
        details={"baseline": [bad_a, valid_a], "candidate": [bad_b, valid_b]},
        required=True,
    )


def machine_warning(baseline: RunSummary, candidate: RunSummary) -> str | None:
    """A warning when the two runs came from different machines, else ``None``."""
    keys = ("system", "release", "processor", "cpus")
    a = {k: baseline.machine.get(k) for k in keys}
    b = {k: candidate.machine.get(k) for k in keys}
    if a == b:
        return None

    def show(m: dict[str, Any]) -> str:
        return f"{m['system']} {m['release']} {m['processor']}, {m['cpus']} CPUs"

    return (
        f"baseline and candidate ran on different machines (baseline: {show(a)}; candidate: "
        f"{show(b)}): latency differences may be the machine's. Re-run the baseline revision "
        "on this runner and compare with that."
    )


@dataclass(frozen=True)
class MachineSpeed:
    """The generators' CPU milliseconds per attempt in each run (the machine's witness)."""

    baseline_ms: float
    candidate_ms: float

    @property
    def ratio(self) -> float:
        """Candidate / baseline: above 1, the candidate's machine was slower."""
        return self.candidate_ms / self.baseline_ms

    @property
    def spread(self) -> float:
        """How far apart the two are: the dearer / the cheaper - 1."""
        return max(self.ratio, 1 / self.ratio) - 1

    def describe(self) -> str:
        """The figures, for a warning or a reason."""
        slower = "slower" if self.ratio > 1 else "faster"
        return (
            f"the machine was {self.spread:.0%} {slower} in the candidate run (the load "
            f"generator's CPU per attempt {self.baseline_ms:.3f} -> {self.candidate_ms:.3f} ms "
            "for the same arrivals)"
        )


def _generator_figure(summary: RunSummary, key: str) -> float | None:
    """A number the run's load generator recorded (``None`` when it did not)."""
    generator = summary.info.get("generator") or {}
    figure = generator.get(key) if isinstance(generator, dict) else None
    return float(figure) if isinstance(figure, int | float) else None


def machine_speed(baseline: RunSummary, candidate: RunSummary) -> MachineSpeed | None:
    """Both runs' generator CPU per attempt; ``None`` when a run did not record it."""
    figures = [_generator_figure(s, "cpu_ms_per_attempt") for s in (baseline, candidate)]
    if figures[0] is None or figures[1] is None or min(figures[0], figures[1]) <= 0:
        return None
    return MachineSpeed(figures[0], figures[1])


TAIL_POWER = {"p50": 1, "p99": 2}
"""How a slower machine shows in each statistic: a p50 moves with the work's cost; the tail is
queueing too, and a server at half load whose work costs ``k`` times as much waits about
``k**2`` times as long (M/M/1: ``k (1 - rho) / (1 - k rho)`` at ``rho = 0.5``)."""


def discount_machine(
    comparisons: list[Comparison], speed: MachineSpeed, thresholds: GateThresholds
) -> None:
    """Leave unjudged the latency comparisons the machine's own change could decide.

    With the machine's change divided out, a regression that stays one still fails, and a
    pass that stays clear of ``min_relative_shift`` still passes; a comparison that the
    division would turn over — a regression as big as the machine's slow-down, or a
    regression that a faster machine could hide — is not judged.
    """
    if speed.spread <= thresholds.max_machine_spread:
        return
    for c in comparisons:
        if c.scope == "availability" or not c.judged:
            continue
        machine = speed.ratio ** TAIL_POWER.get(c.statistic, 1)
        adjusted = (1 + (c.relative_shift or 0.0)) / machine - 1
        if c.regression == (adjusted >= thresholds.min_relative_shift):
            continue
        c.set_aside(
            f"shift {c.relative_shift:+.1%}, {adjusted:+.1%} with the machine's change divided "
            f"out ({speed.describe()}): this run pair cannot tell them apart"
        )


def others_cores(summary: RunSummary) -> float | None:
    """Cores other processes used during the run (``None``: not measured)."""
    return _generator_figure(summary, "others_cores")


def busy_warning(
    baseline: RunSummary, candidate: RunSummary, thresholds: GateThresholds
) -> str | None:
    """Which run ran on a machine that other processes kept busy, if either did."""
    busy = [
        f"{figure:.2f} cores during the {side} run"
        for side, summary in (("baseline", baseline), ("candidate", candidate))
        if (figure := others_cores(summary)) is not None and figure > thresholds.max_others_cores
    ]
    if not busy:
        return None
    return (
        f"other processes used {' and '.join(busy)} (more than {thresholds.max_others_cores:g}): "
        "a busy machine moves latency either way, so latency is not judged"
    )


def discount_busy(comparisons: list[Comparison], warning: str) -> None:
    """Leave every latency comparison unjudged: a busy run's latency is the machine's."""
    for c in comparisons:
        if c.scope != "availability" and c.judged:
            c.set_aside(warning)


def compare(
    baseline: RunSummary, candidate: RunSummary, thresholds: GateThresholds
) -> list[Comparison]:
    """Every comparison, with Holm-adjusted p-values and regression flags set."""
    comparisons = [
        *_latency_comparisons(baseline, candidate, thresholds),
        _availability_comparison(baseline, candidate),
    ]
    judged = [c for c in comparisons if c.judged and c.p_value is not None]
    for comparison, adjusted in zip(
        judged, holm([c.p_value for c in judged if c.p_value is not None]), strict=True
    ):
        comparison.p_adjusted = adjusted
        significant = adjusted < thresholds.alpha
        if comparison.scope == "availability":
            big = (comparison.shift or 0.0) >= thresholds.min_failure_rate_increase
            comparison.regression = significant and big
        else:
            comparison.regression = (
                significant
                and (comparison.superiority or 0.0) >= thresholds.min_superiority
                and (comparison.relative_shift or 0.0) >= thresholds.min_relative_shift
            )
    return comparisons


def thresholds_json(thresholds: GateThresholds) -> dict[str, Any]:
    """The thresholds as plain data."""
    return asdict(thresholds)
