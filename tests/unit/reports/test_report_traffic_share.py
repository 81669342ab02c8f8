"""A report says what share of national traffic it played, and why a prediction may not hold."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from harness.reports.render import write_report
from tests.synthetic import Shape, write_run

MIX = {"pds.retrieve": 1.0}


def _with(run_dir: Path, **sections: object) -> Path:
    path = run_dir / "results.json"
    document = json.loads(path.read_text(encoding="utf-8"))
    document["load"]["scenario"]["traffic"] = {"rate_scale": 0.005}
    document.update(sections)
    path.write_text(json.dumps(document), encoding="utf-8")
    return run_dir


def test_the_report_says_the_share_of_national_traffic_played(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    run_dir = _with(write_run(tmp_path / "run", rng, Shape(duration_s=10, mix=MIX)))
    data = write_report(run_dir)
    assert data.notes == ["Traffic: 0.50% of national traffic (rate_scale)."]
    assert data.notes[0] in (run_dir / "summary.md").read_text(encoding="utf-8")
    assert data.notes[0] in (run_dir / "report.html").read_text(encoding="utf-8")


def test_a_machine_fit_and_calibration_caveats_are_shown(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    line = "playing 25.80% of national traffic (rate_scale 0.258, scenario 1)"
    caveat = "the calibration was measured on another machine (a; this is b)"
    run_dir = _with(
        write_run(tmp_path / "run", rng, Shape(duration_s=10, mix=MIX)),
        run={
            "status": "complete",
            "reasons": [],
            "partial": False,
            "traffic_share": {"line": line},
        },
        prediction={"caveats": [caveat]},
    )
    data = write_report(run_dir)
    assert data.notes == [f"Traffic: {line}."]
    assert f"prediction: {caveat}" in data.warnings
    summary = (run_dir / "summary.md").read_text(encoding="utf-8")
    assert line in summary
    assert caveat in summary
