"""Entry point of one generator process started by ``harness load --processes N``.

``python -m harness.load.worker PLAN WORKER WORKERS REPORT`` plays share WORKER of WORKERS of
the plan and writes its report (windows, counts, health) as JSON for the parent to merge. It
prepares first, touches ``ready-WORKER`` beside PLAN and starts when the parent has written the
start time to ``start.json`` there.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import harness.load.bootstrap  # noqa: F401  -- first: gevent must patch ssl before use
from harness.config import Scenario
from harness.load.interactions import supported
from harness.load.plan import RunOptions, build_plan
from harness.load.results import dump_report
from harness.load.runner import run_generator
from harness.load.session import CHILD_READY_TIMEOUT_S
from harness.load.target import probe_target

START_WAIT_S = CHILD_READY_TIMEOUT_S + 60  # the parent gives up on slow siblings before this


def main(argv: list[str]) -> int:
    """Run one generator; return its exit status."""
    plan_path, worker, workers, report_path, connections = argv
    data = json.loads(Path(plan_path).read_text(encoding="utf-8"))
    scenario = Scenario.model_validate(data["scenario"])
    raw = data["options"]
    options = RunOptions.from_json(raw)
    plan = build_plan(scenario, options, supported(probe_target(options.target)))
    plan.prepared()  # before reporting ready: preparing takes seconds for 20,000 organisations
    folder = Path(plan_path).parent
    (folder / f"ready-{worker}").touch()
    start = folder / "start.json"
    deadline = time.monotonic() + START_WAIT_S
    while not start.exists():  # the parent writes it (atomically) once every child is ready
        if time.monotonic() > deadline:
            sys.stderr.write(f"generator {worker}: no start time after {START_WAIT_S:.0f} s\n")
            return 1
        time.sleep(0.02)
    plan.options = replace(options, run_start_s=float(json.loads(start.read_text("utf-8"))))
    report = run_generator(
        plan, worker=int(worker), workers=int(workers), connections=int(connections)
    )
    dump_report(Path(report_path), report)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
