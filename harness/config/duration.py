"""Durations as people write them in scenario files: ``90s``, ``10m``, ``1h30m``, ``2d``.

Pydantic's ``timedelta`` accepts ISO 8601 (``PT1H30M``) and plain seconds; load-testing users
write Go-style durations as k6 and Vegeta take them, and no maintained library parses those
into seconds, so this small parser is hand-written. A bare number means seconds.
"""

from __future__ import annotations

import math
import re

_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86_400.0, "w": 604_800.0}
_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h|d|w)")


def parse_duration_s(value: object) -> float:
    """Seconds in ``value``: a number of seconds or a string such as ``1h30m`` or ``250ms``.

    Raises:
        ValueError: with a message naming the accepted forms.
    """
    if isinstance(value, bool):
        raise ValueError("a duration must be a number of seconds or a string like '10m'")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().replace(" ", "")
        try:
            seconds = float(text)
        except ValueError:
            pos, seconds = 0, 0.0
            for match in _PART.finditer(text):
                if match.start() != pos:
                    break
                seconds += float(match.group(1)) * _UNIT_S[match.group(2)]
                pos = match.end()
            if pos != len(text) or not text:
                raise ValueError(
                    f"invalid duration {value!r}: use seconds or units ms, s, m, h, d, w "
                    "(e.g. '90s', '1h30m')"
                ) from None
    else:
        raise ValueError("a duration must be a number of seconds or a string like '10m'")
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"invalid duration {value!r}: must be finite and not negative")
    return seconds


def format_duration(seconds: float) -> str:
    """The shortest ``1h30m``-style spelling of a whole number of seconds (else ``1.5s``)."""
    if seconds != int(seconds):
        return f"{seconds:g}s"
    rest, parts = int(seconds), []
    for unit, size in (("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)):
        count, rest = divmod(rest, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"
