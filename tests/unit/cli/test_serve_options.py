"""``harness serve`` option parsing: bad values are located usage errors (exit 2).

The effect of ``--patients`` on a running server is tested with real workers in
``tests/integration/test_serve_patients.py``.
"""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from harness.cli.main import app
from harness.config import ServerSettings
from harness.spine.population import DEFAULT_PATIENTS, MAX_PATIENTS


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0", "greater than or equal to 1"),
        ("-5", "greater than or equal to 1"),
        (str(MAX_PATIENTS + 1), "less than or equal to 92000000"),
        ("lots", "valid integer"),
        ("1e6", "valid integer"),
    ],
)
def test_bad_patients_is_a_usage_error_naming_the_option(value: str, message: str) -> None:
    result = CliRunner().invoke(app, ["serve", "--patients", value, "--port", "1"])
    assert result.exit_code == 2, result.output
    assert "Invalid value for '--patients'" in result.output
    assert message in result.output


def test_patients_is_documented_in_help() -> None:
    result = CliRunner().invoke(app, ["serve", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "--patients" in result.output
    assert "population" in result.output


def test_settings_carry_the_population_size(monkeypatch: pytest.MonkeyPatch) -> None:
    """What ``serve`` exports as HARNESS_PATIENTS is what every worker's settings read."""
    monkeypatch.delenv("HARNESS_PATIENTS", raising=False)
    assert ServerSettings().patients == DEFAULT_PATIENTS
    monkeypatch.setenv("HARNESS_PATIENTS", "1000")
    assert ServerSettings().patients == 1000
    monkeypatch.setenv("HARNESS_PATIENTS", "0")
    with pytest.raises(ValueError, match="patients"):
        ServerSettings()
