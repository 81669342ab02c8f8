"""``report.html`` renders in headless Chromium with its figures and no console errors.

Skipped when Debian's ``chromium`` is not installed locally; fails when ``CI`` is set, because
``.ci/run`` installs it there.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pytest

from harness.reports.render import write_report
from tests.synthetic import Shape, simulation_section, write_run

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-logging=stderr",
    "--v=0",
)
# Any console message counts: the page has no script, so none is expected.
CONSOLE_ERROR = re.compile(r"Uncaught|:CONSOLE[:(]\d+")


def _chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    if os.environ.get("CI"):
        pytest.fail("chromium is not installed but CI is set (.ci/run should install it)")
    pytest.skip("chromium is not installed (apt-get install chromium)")


def _browse(chromium: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    return subprocess.run(
        [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_report_renders_in_headless_chromium(tmp_path: Path, rng: np.random.Generator) -> None:
    chromium = _chromium()
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    shape = Shape(duration_s=90, rate_per_s=100, outage=(40, 43), maintenance=(60, 70))
    write_run(run_dir, rng, shape, simulation=simulation_section(rng, run_dir))
    data = write_report(run_dir)
    url = (run_dir / "report.html").resolve().as_uri()

    shot = tmp_path / "report.png"
    result = _browse(chromium, tmp_path, f"--screenshot={shot}", "--window-size=1280,2000", url)
    assert result.returncode == 0, result.stderr[-2000:]
    assert not CONSOLE_ERROR.search(result.stderr), result.stderr[-2000:]
    pixels = mpimg.imread(shot)
    assert pixels.shape[:2] == (2000, 1280)
    not_white = (pixels[..., :3] < 0.95).any(axis=2).mean()
    assert not_white > 0.05, "the screenshot is (nearly) blank"
    # The verdict banner comes first: the top of the page has its colour (fail: red).
    banner = pixels[60:160, 40:1200, :3]
    assert (banner[..., 0] > 0.7).mean() > 0.3

    dom = _browse(chromium, tmp_path, "--dump-dom", url)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert not CONSOLE_ERROR.search(dom.stderr), dom.stderr[-2000:]
    figures = re.findall(
        r'<img src="data:image/png;base64,[^"]+"[^>]*data-figure="([^"]+)"', dom.stdout
    )
    assert sorted(figures) == sorted(data.figures)
    assert len(figures) == 5
    assert 'id="verdict"' in dom.stdout
    # Keep the screenshot for a person to look at.
    if os.environ.get("HARNESS_KEEP_SCREENSHOT"):
        shutil.copyfile(shot, os.environ["HARNESS_KEEP_SCREENSHOT"])
