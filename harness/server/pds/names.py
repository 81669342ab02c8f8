"""The name and place lists of the synthetic population, which now live in
:mod:`harness.spine.names` (re-exported here for the server's modules and tests)."""

from __future__ import annotations

from harness.spine.names import FAMILY, GIVEN_FEMALE, GIVEN_MALE, INWARD_LETTERS, STREETS, TOWNS

__all__ = ["FAMILY", "GIVEN_FEMALE", "GIVEN_MALE", "INWARD_LETTERS", "STREETS", "TOWNS"]
