"""``harness run``: the measured window decides; the months' design verdict is shown beside it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from harness.reports.render import write_report
from harness.verdict import Verdict
from tests.synthetic import Shape, simulation_section, write_run

TWO_SERVICES = {"pds.retrieve": 0.5, "eps.create": 0.5}


def test_a_breaching_design_is_reported_beside_a_passing_window(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    simulation = simulation_section(rng, tmp_path / "run")
    breach = simulation["request_based"]["breach"]
    breach.update(probability=0.9, interval=[0.8, 0.95])  # the design breaches most months
    # 2 services × 250 req/s × 45 s of clean requests: the window itself passes.
    run_dir = write_run(
        tmp_path / "run", rng, Shape(duration_s=45, mix=TWO_SERVICES), simulation=simulation
    )
    data = write_report(run_dir)
    assert data.verdict is Verdict.PASS
    assert data.simulation is not None
    assert data.simulation.verdict == "fail"
    html = (run_dir / "report.html").read_text(encoding="utf-8")
    assert 'class="verdict pass"' in html
    assert "design verdict: FAIL" in html
    assert "design verdict: FAIL" in (run_dir / "summary.md").read_text(encoding="utf-8")
    assert "design verdict: FAIL" in (run_dir / "junit.xml").read_text(encoding="utf-8")
