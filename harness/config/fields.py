"""Field types shared by every part of the scenario: strict models, durations, ids, laws.

A scenario is many small models that all obey the same rules — unknown keys are errors, values
are immutable, identifiers are kebab-case, durations are written the way people write them
(``90s``, ``1h30m``) — and the failure processes of the availability model all draw their
times from one of three laws (exponential, Weibull, lognormal). Keeping those shared pieces
here lets :mod:`harness.config.scenario` and :mod:`harness.config.availability` build on them
without importing each other.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from harness.config.duration import parse_duration_s

KEBAB_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"

DURATION_JSON_SCHEMA = {
    "anyOf": [
        {"type": "number", "minimum": 0},
        {"type": "string", "pattern": r"^\s*([0-9]+(\.[0-9]+)?\s*(ms|s|m|h|d|w)?\s*)+$"},
    ],
    "description": "seconds, or a duration such as 90s, 10m, 1h30m, 250ms",
}
Seconds = Annotated[
    float,
    BeforeValidator(parse_duration_s),
    Field(ge=0),
    WithJsonSchema(DURATION_JSON_SCHEMA),
]
"""A duration in seconds, written as a number or a string such as ``10m`` or ``1h30m``."""
KebabId = Annotated[str, Field(pattern=KEBAB_PATTERN, max_length=64)]


class StrictModel(BaseModel):
    """Base of every scenario model: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class Exponential(StrictModel):
    """Memoryless times: constant hazard."""

    distribution: Literal["exponential"] = Field(examples=["exponential"])
    """The law's name: ``exponential``."""
    mean: Seconds = Field(gt=0, examples=["26280h"])
    """Mean time, seconds or a duration such as ``26280h`` (three years) or ``4h``."""


class Weibull(StrictModel):
    """Times with a rising (shape > 1) or falling (shape < 1) hazard."""

    distribution: Literal["weibull"] = Field(examples=["weibull"])
    """The law's name: ``weibull``."""
    shape: float = Field(gt=0, examples=[1.2])
    """Shape k (no unit): above 1 wear-out, below 1 infant mortality. Example: ``1.2``."""
    scale: Seconds = Field(gt=0, examples=["2300h"])
    """Scale, seconds or a duration (the time by which 63 % have happened). Example: ``2300h``."""


class Lognormal(StrictModel):
    """Repair times with a long tail (median plus a multiplicative spread)."""

    distribution: Literal["lognormal"] = Field(examples=["lognormal"])
    """The law's name: ``lognormal``."""
    median: Seconds = Field(gt=0, examples=["4h"])
    """Median time, seconds or a duration. Example: ``4h``."""
    sigma: float = Field(gt=0, examples=[0.8])
    """Spread: standard deviation of the log of the time (no unit). Example: ``0.8``."""


Distribution = Annotated[Exponential | Weibull | Lognormal, Field(discriminator="distribution")]
