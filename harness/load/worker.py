"""Entry point of one generator process started by ``harness load --processes N``.

``python -m harness.load.worker PLAN WORKER WORKERS REPORT`` plays share WORKER of WORKERS of
the plan and writes its report (windows, counts, health) as JSON for the parent to merge.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import harness.load.bootstrap  # noqa: F401  -- first: gevent must patch ssl before use
from harness.config import Scenario
from harness.load.interactions import supported
from harness.load.plan import RunOptions, build_plan
from harness.load.results import dump_report
from harness.load.runner import run_generator
from harness.load.session import probe_target


def main(argv: list[str]) -> int:
    """Run one generator; return its exit status."""
    plan_path, worker, workers, report_path, connections = argv
    data = json.loads(Path(plan_path).read_text(encoding="utf-8"))
    scenario = Scenario.model_validate(data["scenario"])
    raw = data["options"]
    options = RunOptions.from_json(raw)
    plan = build_plan(scenario, options, supported(probe_target(options.target)))
    report = run_generator(
        plan, worker=int(worker), workers=int(workers), connections=int(connections)
    )
    dump_report(Path(report_path), report)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
