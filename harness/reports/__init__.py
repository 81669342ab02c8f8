"""Reports: results directories, the schema-versioned ``results.json``, and figures.

Reports are built from records and plain data only — never from SimPy or Locust objects — so a
results directory can be re-rendered, compared and gated long after the run.
"""

from __future__ import annotations

from harness.reports.results import RESULTS_SCHEMA_VERSION, ResultsDir, create_results_dir

__all__ = ["RESULTS_SCHEMA_VERSION", "ResultsDir", "create_results_dir"]
