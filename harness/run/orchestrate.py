"""``harness run``: one scenario end to end — servers, fault timeline, load, prediction, report.

1. Start one reference-server group per data centre (``harness serve --supervise`` on its own
   port, one database shared by all, SQLite under the results directory by default).
2. Play the scenario's traffic with the open-model load driver; each organisation uses its own
   data centre first and fails over to the other. When the schedule starts, the fault timeline
   starts with it, and a sampler records the servers' CPU time every second.
3. Simulate the same window with the same timeline (``harness.simulation.window``), a few times,
   with the calibration's measured costs; put prediction and measurement side by side with the
   operational-law checks; optionally simulate months with random failures for the probability
   of breaching the target (the capacity planner's question).
4. Write ``results.json`` and render the reports.

A server group that dies outside the timeline stops the load and makes the run invalid; Ctrl-C
stops it too; either way what was measured up to then is written and marked partial.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.config import HarnessSettings, Scenario
from harness.config.calibration import Calibration, load_calibration
from harness.errors import ConfigurationError
from harness.gate import GateThresholds
from harness.load.plan import RunOptions
from harness.load.session import START_DELAY_S, LoadOutcome, run_load, write_results
from harness.reports import ResultsDir, create_results_dir
from harness.reports.results import machine_fingerprint
from harness.run.capacity import OthersMeter, RateFit
from harness.run.compare import compare, measured_by_service, measured_table, validation
from harness.run.prediction import predict, window_inputs
from harness.run.servers import ServerGroup, check_database, server_groups, sqlite_url
from harness.run.timeline import FaultTimeline, check_faults, cutoffs, fault_end_s
from harness.spine import build_directory
from harness.verdict import RunStatus, Verdict

# Other processes' mean use beyond which an invalid generator is said to be the machine's doing.
BUSY_OTHERS_CORES = GateThresholds().max_others_cores  # one definition of a busy machine


@dataclass(frozen=True)
class RunRequest:
    """What ``harness run`` was asked to do."""

    scenario: Scenario
    scenario_path: Path
    database_url: str | None = None
    server_workers: int = 2
    load_processes: int = 1
    output: Path | None = None
    months: int = 0  # simulated months for the breach probability (0: skip)
    duration_s: float | None = None  # override of the window (profile seconds)
    rate_fit: RateFit | None = None  # --rate-scale auto: what the machine was found to carry


@dataclass
class RunRecord:
    """What happened, for the CLI to print and map to an exit code."""

    results: ResultsDir
    status: RunStatus = RunStatus.COMPLETE
    reasons: list[str] = field(default_factory=list)
    verdict: Verdict = Verdict.INCONCLUSIVE


def resolve_calibration(scenario: Scenario, scenario_path: Path) -> tuple[Calibration, str]:
    """The scenario's calibration (path relative to its file) or the assumed one."""
    if scenario.calibration is None:
        return Calibration(), "assumed (no calibration file)"
    path = (scenario_path.parent / scenario.calibration).resolve()
    if not path.exists():
        raise ConfigurationError(f"{scenario_path}: calibration file {path} does not exist")
    return load_calibration(path), str(path)


class CpuSampler:
    """Server CPU seconds used in every wall-clock second of the run (utilisation law)."""

    def __init__(self, groups: list[ServerGroup], timeline: FaultTimeline) -> None:
        self.groups = groups
        self.timeline = timeline
        self.samples: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, run_start_s: float) -> None:
        """Sample once a second from now on."""
        self._thread = threading.Thread(target=self._run, args=(run_start_s,), daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop sampling."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _snapshot(self) -> tuple[float, frozenset[int]]:
        pids = frozenset(p.pid for g in self.groups for p in g.processes())
        return sum(g.cpu_seconds() for g in self.groups), pids

    def _run(self, run_start_s: float) -> None:
        faults = self.timeline.faults
        last_cpu, last_pids = self._snapshot()
        while not self._stop.wait(1.0):
            cpu, pids = self._snapshot()
            offset = time.time() - run_start_s
            # A second is clean when no fault was active and no process came or went: only then
            # does the CPU delta describe the load (a dead worker takes its CPU time with it).
            faulty = any(f.wall_s - 1.0 <= offset <= fault_end_s(f) + 5.0 for f in faults)
            self.samples.append(
                {
                    "t": round(offset, 3),
                    "cpu_s": round(max(0.0, cpu - last_cpu), 6),
                    "processes": len(pids),
                    "clean": pids == last_pids and not faulty and offset > 0,
                }
            )
            last_cpu, last_pids = cpu, pids


def execute(
    request: RunRequest, say: Any = print, status: Callable[[str], None] | None = None
) -> RunRecord:
    """Run the scenario end to end and write its results directory.

    Args:
        request: what to run.
        say: prints one line of news (servers up, schedule started, stages).
        status: shows the load's status every 5 s (default: ``say``); the CLI draws it as
            one live line in a terminal.
    """
    scenario = request.scenario
    settings = HarnessSettings()
    calibration, calibration_source = resolve_calibration(scenario, request.scenario_path)
    sites = list(scenario.topology.data_centres)
    directory = build_directory(scenario.organisations.count, scenario.seed)
    check_faults(scenario.faults, sites, {o.supplier for o in directory})
    if request.database_url is not None:
        check_database(request.database_url)
    results = create_results_dir(
        f"run-{scenario.name}", parent=settings.reports_dir, output=request.output
    )
    record = RunRecord(results)
    database_url = request.database_url or sqlite_url(results.path / "server" / "server.db")
    token = secrets.token_urlsafe(24)
    stop = threading.Event()
    outcome: LoadOutcome | None = None
    sections: dict[str, Any] = {"scenario": scenario.model_dump(mode="json")}
    say(f"results: {results.path}")
    with server_groups(
        sites,
        workers=request.server_workers,
        database_url=database_url,
        organisations=scenario.organisations.count,
        seed=scenario.seed,
        folder=results.path / "server",
        env={"HARNESS_ADMIN_TOKEN": token},
    ) as groups:
        say(f"servers: {', '.join(f'{g.name} {g.url}' for g in groups)}")
        timeline = FaultTimeline(scenario.faults, groups, token, on_death=lambda _death: stop.set())
        sampler = CpuSampler(groups, timeline)
        options = RunOptions(
            target=groups[0].url,
            run_start_s=time.time() + START_DELAY_S,
            duration_s=request.duration_s,
            endpoints={g.name: g.url for g in groups} if len(groups) > 1 else {},
            cutoffs=cutoffs(scenario.faults),
        )

        def started(final: RunOptions) -> None:
            timeline.start(final.run_start_s)
            sampler.start(final.run_start_s)
            say(f"load: schedule starts at {time.strftime('%H:%M:%S')}")

        others = OthersMeter()
        try:
            outcome = run_load(
                scenario,
                options,
                processes=request.load_processes,
                on_start=started,
                should_stop=stop.is_set,
                progress=lambda progress: (status or say)(progress.line()),
            )
        except KeyboardInterrupt:
            record.status = RunStatus.INTERRUPTED
        finally:
            timeline.stop()
            sampler.stop()
        sections["faults"] = timeline.to_json()
        sections["server"] = {
            "groups": [{"name": g.name, "url": g.url, "workers": g.workers} for g in groups],
            "database": database_url.split("://")[0],
            "deaths": [d.__dict__ for d in timeline.deaths],
        }
    _write_cpu(results.path / "server" / "cpu.jsonl", sampler.samples)
    if timeline.deaths:
        record.status = RunStatus.SERVER_DIED
        record.reasons = [
            f"server group {d.group} died at {d.noticed_s:.1f} s outside the fault timeline"
            for d in timeline.deaths
        ]
    elif outcome is not None and any(r.stopped_early for r in outcome.reports):
        record.status = RunStatus.INTERRUPTED
    partial = record.status is not RunStatus.COMPLETE
    if outcome is not None:
        sections["load"] = write_results(outcome, results.path, partial=partial)
        outcome.section = sections["load"]
        busy = others.cores()
        sections["load"]["generator"]["others_cores"] = round(busy, 3)
        _judge_generator(record, outcome, busy)
    stopped = record.status is RunStatus.INTERRUPTED  # stop means stop: no prediction, no months
    if outcome is not None and not stopped:
        say("prediction: simulating the same window with the same fault timeline")
        sections.update(
            _prediction(
                outcome, calibration, calibration_source, sites, request, sampler, results.path
            )
        )
        for caveat in sections["prediction"].get("caveats", []):
            say(f"prediction: {caveat}")
    if request.months > 0 and not stopped:
        say(f"breach probability: simulating {request.months} months with random failures")
        sections["simulation"] = _months(scenario, request.months)
    sections["run"] = {
        "status": record.status,
        "reasons": record.reasons,
        "partial": partial,
        "traffic_share": _traffic_share(scenario, request.rate_fit),
    }
    results.write_json(sections, command="run", seed=scenario.seed)
    if outcome is not None:
        from harness.reports.render import write_report

        record.verdict = write_report(results.path).verdict
    return record


def _prediction(
    outcome: LoadOutcome,
    calibration: Calibration,
    calibration_source: str,
    sites: list[str],
    request: RunRequest,
    sampler: CpuSampler,
    folder: Path,
) -> dict[str, Any]:
    """The ``prediction``, ``comparison`` and ``validation`` sections."""
    inputs, assumed = window_inputs(
        outcome.plan,
        calibration,
        sites=sites,
        workers=request.server_workers,
        load_processes=request.load_processes,
    )
    prediction = predict(inputs, outcome.plan.scenario.seed)
    prediction["calibration"] = calibration_source
    prediction["assumed_costs"] = assumed
    sections: dict[str, Any] = {"prediction": prediction}
    table = measured_table(folder)
    if table is None:
        return sections
    measured = measured_by_service(table)
    wall_s = max(1.0, float(table.end_s - table.start_s))
    frame = table.frame
    attempts = frame.groupby("interaction")[["good", "bad", "excluded"]].sum().sum(axis=1)
    throughput = {str(k): float(v) / wall_s for k, v in attempts.items()}
    prediction["caveats"] = calibration.caveats(
        machine=machine_fingerprint(), rate_per_s=sum(throughput.values())
    )
    sections["comparison"] = compare(prediction["by_service"], measured)
    sections["validation"] = validation(
        measured=measured,
        generator=(outcome.section or {}).get("generator", {}),
        wall_s=wall_s,
        server_cpu=sampler.samples,
        calibration=calibration,
        throughput_by_interaction=throughput,
    )
    return sections


def _judge_generator(record: RunRecord, outcome: LoadOutcome, others_cores: float) -> None:
    """An invalid generator makes a complete run invalid; say when others took the machine."""
    if outcome.health.valid or record.status is not RunStatus.COMPLETE:
        return
    record.status = RunStatus.INVALID
    record.reasons = list(outcome.health.reasons)
    if others_cores > BUSY_OTHERS_CORES:
        record.reasons.append(
            f"other processes used {others_cores:.2f} of {os.cpu_count()} cores during the "
            "load: the machine was busy, not the run's own limits; run again when it is quieter"
        )


def _traffic_share(scenario: Scenario, fit: RateFit | None) -> dict[str, Any]:
    """The share of national traffic played, and the machine fit that chose it (if any)."""
    share: dict[str, Any] = {"rate_scale": scenario.traffic.rate_scale}
    if fit is not None:
        share |= {"fit": fit.to_json(), "line": fit.line()}
    return share


def _months(scenario: Scenario, months: int) -> dict[str, Any]:
    """Months with random failures and their design verdict, reported beside the measured one."""
    from harness.config.placement import without_faults
    from harness.simulation.runner import run_replications
    from harness.simulation.summary import summarise
    from harness.slo.prediction import judge_prediction

    run = run_replications(without_faults(scenario), months, scenario.seed)
    summary = summarise(run)
    summary["judgement"] = judge_prediction(summary, scenario.simulation.max_breach_probability)
    summary["verdict"] = summary["judgement"]["verdict"]
    summary["note"] = "random failures only: the scenario's scripted faults are not in these months"
    return summary


def _write_cpu(path: Path, samples: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        for sample in samples:
            out.write(json.dumps(sample) + "\n")
