"""How many synthetic patients this server's PDS serves (``HARNESS_PATIENTS``).

The population itself is part of the shared model of the world
(:mod:`harness.spine.population`), so that the load driver derives the same patients without
importing the server; the names below are re-exported for the server's modules and tests.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from harness.spine.population import (
    BIRTH_DAYS,
    BIRTH_EPOCH,
    BLOCK_PATIENTS,
    DEFAULT_PATIENTS,
    MAX_PATIENTS,
    Person,
    Population,
    check_digit,
    index_of,
    nhs_number_of,
    valid_nhs_number,
)

__all__ = [
    "BIRTH_DAYS",
    "BIRTH_EPOCH",
    "BLOCK_PATIENTS",
    "DEFAULT_PATIENTS",
    "MAX_PATIENTS",
    "Person",
    "Population",
    "PopulationSettings",
    "check_digit",
    "index_of",
    "nhs_number_of",
    "valid_nhs_number",
]


class PopulationSettings(BaseSettings):
    """``HARNESS_PATIENTS``: how many synthetic patients PDS serves."""

    model_config = SettingsConfigDict(env_prefix="HARNESS_", extra="ignore")

    patients: int = Field(DEFAULT_PATIENTS, ge=1, le=MAX_PATIENTS)
