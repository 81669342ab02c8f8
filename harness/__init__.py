"""harness: load testing and availability simulation for a national health-messaging backbone.

The package models NHS Spine as it was rebuilt in 2014 (~400 million messages a month for more
than 20,000 organisations at 99.97 % availability) and answers three questions: what
availability a topology will give (``harness simulate``), whether a running service meets its
SLA under the real load profile (``harness load`` / ``harness run``), and whether a change made
latency or availability worse (``harness gate``).

Importing this package does no work: subsystems are imported by the CLI command that needs them.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
