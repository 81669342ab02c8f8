"""Duration parsing: numbers are seconds; strings use ms, s, m, h, d, w."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.config.duration import format_duration, parse_duration_s


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        (90, 90.0),
        (1.5, 1.5),
        ("45", 45.0),
        ("90s", 90.0),
        ("10m", 600.0),
        ("1h30m", 5400.0),
        ("2d", 172_800.0),
        ("1w", 604_800.0),
        ("250ms", 0.25),
        ("1m 30s", 90.0),
        ("0s", 0.0),
    ],
)
def test_parse_examples(text: object, seconds: float) -> None:
    assert parse_duration_s(text) == pytest.approx(seconds)


@pytest.mark.parametrize("bad", ["", "ten", "10x", "m10", "1h-5m", "-5", "-1s", True, None, [1]])
def test_rejects_bad_durations(bad: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration_s(bad)


@given(st.integers(min_value=0, max_value=10**8))
def test_format_then_parse_round_trips(seconds: int) -> None:
    assert parse_duration_s(format_duration(seconds)) == seconds


@given(
    st.lists(
        st.tuples(st.integers(0, 10_000), st.sampled_from(["ms", "s", "m", "h", "d", "w"])),
        min_size=1,
        max_size=5,
    )
)
def test_parts_add_up(parts: list[tuple[int, str]]) -> None:
    unit_s = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
    text = "".join(f"{n}{u}" for n, u in parts)
    assert parse_duration_s(text) == pytest.approx(sum(n * unit_s[u] for n, u in parts))
