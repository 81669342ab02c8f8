"""Configuration: process settings (environment, prefix ``HARNESS_``) and scenario files.

Settings say *where and how* the harness runs (directories, database URL); a scenario says
*what* to run (organisations, traffic, topology, faults, SLOs). Both are strict: unknown keys
are errors, and a scenario file with several mistakes reports all of them with their lines.
"""

from __future__ import annotations

from harness.config.loading import load_scenario, scenario_problems
from harness.config.scenario import Scenario
from harness.config.settings import HarnessSettings, ServerSettings

__all__ = ["HarnessSettings", "Scenario", "ServerSettings", "load_scenario", "scenario_problems"]
