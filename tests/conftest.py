"""Shared fixtures: settings pointing at a temporary folder and a seeded random generator."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from harness.config import HarnessSettings

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SCENARIOS_DIR = PROJECT_ROOT / "scenarios"


@pytest.fixture
def settings(tmp_path: Path) -> HarnessSettings:
    """Settings whose writable folders live under the test's temporary directory."""
    return HarnessSettings(
        data_dir=tmp_path / "data",
        reports_dir=tmp_path / "reports",
        scenarios_dir=SCENARIOS_DIR,
    )


@pytest.fixture
def rng() -> np.random.Generator:
    """A generator with a fixed seed, so failures reproduce."""
    return np.random.default_rng(20140822)
