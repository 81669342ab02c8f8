"""Tests for the traffic profile (``harness.spine.traffic``).

Figures under test (``domain/spine.md`` §0): ~400 M messages in the 30-day reference month of
2014 (154.3 msg/s on average) with weekday peaks of ~1,500 msg/s; 1 billion a month and peaks of
~3,500 msg/s in 2018.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.errors import ConfigurationError
from harness.spine.calendar import to_epoch_s
from harness.spine.catalogue import Pattern, Service
from harness.spine.organisations import OrgType
from harness.spine.traffic import (
    MINUTE_S,
    Scale,
    TrafficProfile,
    minute_midpoints,
    parse_scale,
    reference_window,
)

MONTH_S = 30 * 86_400
MESSAGES_2014 = 400e6
MEAN_2014_PER_S = MESSAGES_2014 / MONTH_S  # 154.32 msg/s
MONDAY, WEDNESDAY, FRIDAY, SATURDAY, SUNDAY = 0, 2, 4, 5, 6


def _day_minutes(day: str) -> np.ndarray:
    """Minute midpoints of one local day (none of the days used has a clock change)."""
    start = to_epoch_s(f"{day}T00:00")
    return minute_midpoints(start, start + 86_400)


def _day_messages(profile: TrafficProfile, day: str, **filters: str) -> float:
    return float(profile.rate_per_s(_day_minutes(day), **filters).sum() * MINUTE_S)


def _mean_daily_by_weekday(reference_month, mask=None) -> dict[int, float]:
    daily = reference_month.daily_messages(mask)
    weekdays = reference_month.day_weekdays()
    return {wd: float(daily[weekdays == wd].mean()) for wd in range(7)}


# ---------------------------------------------------------------- window helpers


def test_reference_window_is_september_2014_london_time() -> None:
    start_s, end_s = reference_window()
    assert start_s == to_epoch_s("2014-09-01T00:00") == 1_409_526_000.0  # 23:00 UTC, 31 Aug
    assert end_s - start_s == MONTH_S
    assert end_s == to_epoch_s("2014-10-01T00:00")  # no clock change inside the month


def test_minute_midpoints() -> None:
    start_s, end_s = reference_window()
    t = minute_midpoints(start_s, end_s)
    assert t.shape == (43_200,)
    assert t[0] == start_s + 30.0
    assert t[-1] == end_s - 30.0
    np.testing.assert_array_equal(np.diff(t), 60.0)


# ---------------------------------------------------------------- calibration


def test_reference_month_carries_400_million_at_one_minute(reference_month) -> None:
    total = reference_month.rates.sum() * MINUTE_S
    assert total == pytest.approx(MESSAGES_2014, rel=5e-3)
    assert reference_month.profile.messages(*reference_window()) == pytest.approx(
        MESSAGES_2014, rel=5e-3
    )


def test_reference_month_carries_400_million_at_ten_seconds(profile: TrafficProfile) -> None:
    # Our own midpoint rule over the raw stream rates, a day at a time to bound memory.
    start_s, end_s = reference_window()
    step_s = 10.0
    total = 0.0
    for day_start in np.arange(start_s, end_s, 86_400.0):
        t = np.arange(day_start, day_start + 86_400.0, step_s) + step_s / 2.0
        assert t.shape == (8_640,)
        total += float(profile.rates(t).sum()) * step_s
    assert total == pytest.approx(MESSAGES_2014, rel=5e-3)


def test_another_30_day_month_differs_only_by_calendar(profile: TrafficProfile) -> None:
    start_s = to_epoch_s("2014-06-02T00:00")
    total = profile.messages(start_s, start_s + MONTH_S)
    assert total == pytest.approx(MESSAGES_2014, rel=5e-2)


def test_mean_rate_is_154_per_second(reference_month) -> None:
    assert round(MEAN_2014_PER_S, 2) == 154.32
    assert reference_month.total().mean() == pytest.approx(MEAN_2014_PER_S, rel=5e-3)


def test_weekday_peak_is_about_1500_and_ten_times_the_mean(reference_month) -> None:
    total = reference_month.total()
    weekday = reference_month.local.weekday < 5
    peak = float(total[weekday].max())
    assert 1_350.0 <= peak <= 1_650.0
    assert 9.0 <= peak / total.mean() <= 10.5
    # The weekend never comes near the weekday peak.
    assert total[~weekday].max() < 0.5 * peak


def test_2018_scale_month_and_peak(reference_month) -> None:
    profile = TrafficProfile(scale=parse_scale("2018"))
    assert profile.messages(*reference_window()) == pytest.approx(1e9, rel=5e-3)
    rates = profile.rates(reference_month.t_s)
    peak = float(rates.sum(axis=1)[reference_month.local.weekday < 5].max())
    assert 3_150.0 <= peak <= 3_850.0
    # Scaling multiplies every stream by the same factor.
    np.testing.assert_allclose(rates, 2.5 * reference_month.rates, rtol=1e-12)


# ---------------------------------------------------------------- parse_scale


@pytest.mark.parametrize(
    ("value", "name", "factor"),
    [
        ("2014", "2014", 1.0),
        ("2018", "2018", 2.5),
        (" 2018 ", "2018", 2.5),
        ("1.5", "x1.5", 1.5),
        ("x1.5", "x1.5", 1.5),
        ("X2", "x2", 2.0),
        (2.5, "x2.5", 2.5),
        (2014, "2014", 1.0),
    ],
)
def test_parse_scale_accepts(value: str | float, name: str, factor: float) -> None:
    scale = parse_scale(value)
    assert isinstance(scale, Scale)
    assert scale.name == name
    assert scale.factor == pytest.approx(factor, rel=1e-12)
    assert scale.messages_per_month == pytest.approx(MESSAGES_2014 * factor, rel=1e-12)


@pytest.mark.parametrize("value", ["abc", "0", "-1", "nan", "inf", "x", "", "x-2", 0.0, -3.0])
def test_parse_scale_rejects(value: str | float) -> None:
    with pytest.raises(ConfigurationError, match="invalid traffic scale"):
        parse_scale(value)


@settings(max_examples=50)
@given(factor=st.floats(min_value=1e-6, max_value=1e6, allow_nan=False, allow_infinity=False))
def test_parse_scale_round_trips_positive_floats(factor: float) -> None:
    scale = parse_scale(str(factor))
    assert scale.factor == pytest.approx(factor, rel=1e-12)
    assert scale.messages_per_month == pytest.approx(MESSAGES_2014 * factor, rel=1e-12)
    assert scale.name == f"x{factor:g}"


# ---------------------------------------------------------------- weekly shape


def test_monday_busiest_and_friday_quietest_weekday(reference_month) -> None:
    daily = _mean_daily_by_weekday(reference_month)
    weekdays = [daily[wd] for wd in range(5)]
    assert max(weekdays) == daily[MONDAY]
    assert min(weekdays) == daily[FRIDAY]
    assert daily[MONDAY] > 1.05 * daily[FRIDAY]
    assert daily[SATURDAY] < daily[FRIDAY]
    assert daily[SUNDAY] < daily[FRIDAY]


@pytest.mark.parametrize("org_type", [OrgType.AMBULANCE, OrgType.URGENT_CARE])
def test_urgent_care_runs_24_7(reference_month, org_type: OrgType) -> None:
    rate = reference_month.total(reference_month.profile.select(org_type=org_type))
    assert (rate > 0).all()
    minute = reference_month.local.minute_of_day
    night = (minute >= 120) & (minute < 300)  # 02:00-05:00 local
    assert night.sum() == 30 * 180
    # Overnight the rate stays a sizeable fraction of the monthly mean, not a token floor.
    assert rate[night].min() > 0.25 * rate.mean()


def test_nhs111_busier_on_saturday_than_wednesday(reference_month) -> None:
    mask = reference_month.profile.select(org_type=OrgType.URGENT_CARE)
    daily = _mean_daily_by_weekday(reference_month, mask)
    assert daily[SATURDAY] > 1.3 * daily[WEDNESDAY]


def test_gp_traffic_at_0300_is_under_5_percent_of_1000(reference_month) -> None:
    profile = reference_month.profile
    gp = profile.select(org_type=OrgType.GP_PRACTICE)
    poll = profile.select(interaction="mesh.poll")
    # Mailbox polling is a flat 24/7 floor by design (one check per mailbox every five
    # minutes), so the working-hours comparison is over the GP streams that follow the clock.
    clock_driven = reference_month.total(gp & ~poll)
    floor = reference_month.total(gp & poll)
    minute = reference_month.local.minute_of_day
    working_day = reference_month.local.weekday < 5
    at_0300 = clock_driven[working_day & (minute == 180.5)]
    at_1000 = clock_driven[working_day & (minute == 600.5)]
    assert at_0300.shape == at_1000.shape == (22,)  # 22 working days in September 2014
    assert (at_0300 < 0.05 * at_1000).all(), (at_0300 / at_1000).max()
    assert floor.max() / floor.min() < 1.0001


def test_pharmacies_keep_more_of_their_weekday_level_on_saturday(reference_month) -> None:
    def saturday_ratio(org_type: OrgType) -> float:
        daily = _mean_daily_by_weekday(
            reference_month, reference_month.profile.select(org_type=org_type)
        )
        return daily[SATURDAY] / np.mean([daily[wd] for wd in range(5)])

    pharmacy = saturday_ratio(OrgType.COMMUNITY_PHARMACY)
    gp = saturday_ratio(OrgType.GP_PRACTICE)
    assert pharmacy > gp + 0.05, (pharmacy, gp)


def test_mesh_polling_is_flat_over_a_week(reference_month) -> None:
    week = slice(0, 7 * 1_440)
    rate = reference_month.total(reference_month.profile.select(interaction="mesh.poll"))[week]
    assert rate.min() > 0
    assert rate.max() / rate.min() < 1.0001


def test_mesh_polling_is_flat_in_winter_too() -> None:
    profile = TrafficProfile(winter_pressure=0.2)
    start_s = to_epoch_s("2014-01-13T00:00")  # the week of the winter peak
    week = minute_midpoints(start_s, start_s + 7 * 86_400)
    poll = profile.rate_per_s(week, interaction="mesh.poll")
    mesh = profile.rate_per_s(week, service="mesh")
    assert poll.max() / poll.min() < 1.0001
    assert mesh.max() / mesh.min() > 1.5  # the rest of MESH does follow the clock


# ---------------------------------------------------------------- bank holidays


def test_bank_holiday_carries_less_gp_traffic_than_the_monday_before(
    profile: TrafficProfile,
) -> None:
    holiday = _day_messages(profile, "2014-08-25", org_type="gp-practice")
    monday_before = _day_messages(profile, "2014-08-18", org_type="gp-practice")
    assert holiday < 0.5 * monday_before


def test_day_after_a_bank_holiday_carries_more_than_a_week_later(
    profile: TrafficProfile,
) -> None:
    after = _day_messages(profile, "2014-08-26", org_type="gp-practice")
    week_later = _day_messages(profile, "2014-09-02", org_type="gp-practice")
    assert after > 1.05 * week_later
    assert _day_messages(profile, "2014-08-26") > _day_messages(profile, "2014-09-02")


# ---------------------------------------------------------------- seasonality


def test_winter_pressure_raises_mid_january_by_about_20_percent() -> None:
    calm, winter = TrafficProfile(), TrafficProfile(winter_pressure=0.2)
    t = to_epoch_s("2014-01-15T10:00:30")  # a Wednesday morning, day 15 of the year
    calm_rates, winter_rates = calm.rates(t)[0], winter.rates(t)[0]
    flat = np.array([s.interaction.pattern is Pattern.POLLING for s in calm.streams])
    np.testing.assert_allclose(winter_rates[~flat], 1.2 * calm_rates[~flat], rtol=1e-9)
    np.testing.assert_allclose(winter_rates[flat], calm_rates[flat], rtol=1e-12)
    ratio = winter_rates.sum() / calm_rates.sum()
    assert 1.18 <= ratio <= 1.2


def test_winter_pressure_barely_changes_mid_july() -> None:
    calm, winter = TrafficProfile(), TrafficProfile(winter_pressure=0.2)
    t = to_epoch_s("2014-07-15T10:00:30")
    ratio = float(winter.rate_per_s(t)[0] / calm.rate_per_s(t)[0])
    assert 1.0 <= ratio < 1.01


def test_negative_winter_pressure_is_rejected() -> None:
    with pytest.raises(ConfigurationError, match="winter_pressure"):
        TrafficProfile(winter_pressure=-0.1)


# ---------------------------------------------------------------- streams and filters


def test_stream_shares_sum_to_one(profile: TrafficProfile) -> None:
    shares = np.array([s.share for s in profile.streams])
    assert len(shares) == 67
    assert (shares > 0).all()
    assert shares.sum() == pytest.approx(1.0, rel=1e-12)


def test_filters_partition_the_total(profile: TrafficProfile) -> None:
    t = minute_midpoints(to_epoch_s("2014-09-01T00:00"), to_epoch_s("2014-09-08T00:00"))[::7]
    total = profile.rate_per_s(t)
    by_service = sum(profile.rate_per_s(t, service=s) for s in Service)
    by_type = sum(profile.rate_per_s(t, org_type=o) for o in OrgType)
    ids = {s.interaction.id for s in profile.streams}
    by_interaction = sum(profile.rate_per_s(t, interaction=i) for i in ids)
    np.testing.assert_allclose(by_service, total, rtol=1e-12)
    np.testing.assert_allclose(by_type, total, rtol=1e-12)
    np.testing.assert_allclose(by_interaction, total, rtol=1e-12)
    assert all(profile.rate_per_s(t, service=s).max() > 0 for s in Service)


def test_filters_combine_and_accept_strings(profile: TrafficProfile) -> None:
    t = np.array([to_epoch_s("2014-09-02T10:00:30")])
    one = profile.select(org_type="gp-practice", service="pds", interaction="pds.retrieve")
    assert one.sum() == 1
    assert profile.streams[int(np.argmax(one))].org_type is OrgType.GP_PRACTICE
    np.testing.assert_array_equal(
        profile.rate_per_s(t, org_type="gp-practice", service="pds"),
        profile.rate_per_s(t, org_type=OrgType.GP_PRACTICE, service=Service.PDS),
    )
    gp_pds = profile.rate_per_s(t, org_type="gp-practice", service="pds")
    parts = sum(
        profile.rate_per_s(t, org_type="gp-practice", interaction=i)
        for i in ("pds.retrieve", "pds.search", "pds.update")
    )
    np.testing.assert_allclose(parts, gp_pds, rtol=1e-12)
    # A service nobody of that type uses carries nothing.
    assert profile.rate_per_s(t, org_type="community-pharmacy", service="mesh").tolist() == [0.0]


def test_scalar_time_input(profile: TrafficProfile) -> None:
    t = to_epoch_s("2014-09-02T10:00:30")
    rates = profile.rates(t)
    assert rates.shape == (1, len(profile.streams))
    np.testing.assert_array_equal(profile.rate_per_s(t), profile.rate_per_s(np.array([t])))
    np.testing.assert_array_equal(profile.rate_per_s(int(t)), profile.rate_per_s([float(int(t))]))
    assert profile.rate_per_s(t).shape == (1,)


def test_rates_shape_follows_the_input(profile: TrafficProfile) -> None:
    t = minute_midpoints(*reference_window())[:100]
    assert profile.rates(t).shape == (100, 67)
    assert profile.rate_per_s(t).shape == (100,)


# ---------------------------------------------------------------- properties

_START_2010 = to_epoch_s("2010-01-01T00:00")
_END_2030 = to_epoch_s("2031-01-01T00:00")
_instants = st.floats(min_value=_START_2010, max_value=_END_2030, allow_nan=False)


@settings(max_examples=50, deadline=None)
@given(
    t=st.lists(_instants, min_size=1, max_size=20),
    winter_pressure=st.floats(min_value=0.0, max_value=1.0),
)
def test_rates_are_finite_and_non_negative(t: list[float], winter_pressure: float) -> None:
    profile = TrafficProfile(winter_pressure=winter_pressure)
    rates = profile.rates(np.array(t))
    assert rates.shape == (len(t), len(profile.streams))
    assert np.isfinite(rates).all()
    assert (rates >= 0).all()
    # At least the 24/7 streams are running at every instant.
    assert (rates.sum(axis=1) > 0).all()


@settings(max_examples=50, deadline=None)
@given(t=_instants)
def test_total_is_within_a_plausible_band(profile: TrafficProfile, t: float) -> None:
    # Between the polling floor and a little above the documented weekday peak.
    total = float(profile.rate_per_s(t)[0])
    assert 0.1 * MEAN_2014_PER_S < total < 1.2 * 1_650.0
    assert math.isfinite(total)
