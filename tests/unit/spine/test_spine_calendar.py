"""Tests for local time, clock changes and bank holidays (``harness.spine.calendar``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from harness.spine.calendar import bank_holiday_days, local_time, to_epoch_s


def _utc(moment: str) -> float:
    return pd.Timestamp(moment, tz="UTC").value / 1e9


def _local_noon(day: str) -> float:
    return to_epoch_s(f"{day}T12:00")


def test_spring_clock_change_jumps_from_0100_to_0200() -> None:
    lt = local_time([_utc("2014-03-30T00:59:30"), _utc("2014-03-30T01:00:00")])
    # 00:59:30 UTC is 00:59:30 GMT; thirty seconds later, 01:00 UTC is 02:00 BST.
    np.testing.assert_allclose(lt.minute_of_day, [59.5, 120.0])
    assert lt.weekday.tolist() == [6, 6]


def test_autumn_clock_change_repeats_0100_to_0200() -> None:
    lt = local_time([_utc("2014-10-26T00:30"), _utc("2014-10-26T01:30")])
    # 00:30 UTC is 01:30 BST; an hour later, 01:30 UTC is 01:30 GMT.
    np.testing.assert_allclose(lt.minute_of_day, [90.0, 90.0])


def test_summer_minute_of_day_is_utc_plus_one_hour() -> None:
    lt = local_time(_utc("2014-07-10T10:15"))
    np.testing.assert_allclose(lt.minute_of_day, [11 * 60 + 15])


def test_fractional_seconds_are_kept() -> None:
    lt = local_time(_utc("2014-01-06T00:00") + 30.5)
    np.testing.assert_allclose(lt.minute_of_day, [30.5 / 60.0])


def test_scalar_input_gives_length_one_arrays() -> None:
    lt = local_time(to_epoch_s("2014-09-01T00:00"))
    assert lt.minute_of_day.shape == (1,)
    assert lt.weekday.tolist() == [0]
    assert lt.minute_of_day.tolist() == [0.0]


@pytest.mark.parametrize(
    ("day", "weekday"),
    [
        ("2014-09-01", 0),  # Monday
        ("2014-09-05", 4),
        ("2014-09-06", 5),
        ("2014-09-07", 6),
        ("1970-01-01", 3),  # the epoch was a Thursday
        ("2020-02-29", 5),
    ],
)
def test_weekday(day: str, weekday: int) -> None:
    assert local_time(_local_noon(day)).weekday.tolist() == [weekday]


def test_weekday_uses_the_local_day_not_the_utc_day() -> None:
    # 23:30 UTC on Sunday 31 August 2014 is 00:30 BST on Monday 1 September.
    lt = local_time(_utc("2014-08-31T23:30"))
    assert lt.weekday.tolist() == [0]
    np.testing.assert_allclose(lt.minute_of_day, [30.0])


def test_day_of_year_is_local() -> None:
    lt = local_time(
        [_utc("2014-01-01T00:30"), _utc("2014-06-30T23:30"), to_epoch_s("2014-12-31T23:59")]
    )
    assert lt.day_of_year.tolist() == [1, 182, 365]  # 23:30 UTC on 30 June is 1 July BST


@pytest.mark.parametrize(
    "day",
    ["2014-01-01", "2014-04-18", "2014-04-21", "2014-05-05", "2014-05-26", "2014-08-25",
     "2014-12-25", "2014-12-26"],
)  # fmt: skip
def test_english_bank_holidays_2014(day: str) -> None:
    lt = local_time(_local_noon(day))
    assert lt.bank_holiday.tolist() == [True]
    assert lt.next_to_holiday.tolist() == [False]  # a holiday is not a working day


def test_bank_holiday_days_2014_has_eight_days() -> None:
    days = bank_holiday_days(2014)
    assert len(days) == 8
    assert (pd.Timestamp("2014-08-25") - pd.Timestamp("1970-01-01")).days in days


@pytest.mark.parametrize("day", ["2014-08-24", "2014-09-01", "2014-03-17", "2014-07-14"])
def test_ordinary_days_are_not_bank_holidays(day: str) -> None:
    # 17 March (St Patrick's) and 14 July are holidays elsewhere, not in England.
    assert local_time(_local_noon(day)).bank_holiday.tolist() == [False]


def test_tuesday_after_a_monday_bank_holiday_is_next_to_holiday() -> None:
    assert local_time(_local_noon("2014-08-26")).next_to_holiday.tolist() == [True]


def test_friday_before_a_monday_bank_holiday_is_next_to_holiday() -> None:
    # Friday 22 August 2014 is the last working day before the late summer bank holiday
    # (Monday 25 August): work pushed off the holiday lands on it.
    assert local_time(_local_noon("2014-08-22")).next_to_holiday.tolist() == [True]


@pytest.mark.parametrize(
    "day",
    [
        "2014-08-23",  # Saturday before the late summer bank holiday
        "2014-08-24",  # Sunday before it
        "2014-12-27",  # Saturday after Boxing Day
        "2014-04-19",  # Saturday between Good Friday and Easter Monday
    ],
)
def test_weekend_days_next_to_a_holiday_are_not_flagged(day: str) -> None:
    assert local_time(_local_noon(day)).next_to_holiday.tolist() == [False]


def test_thursday_before_good_friday_is_next_to_holiday() -> None:
    assert local_time(_local_noon("2014-04-17")).next_to_holiday.tolist() == [True]


def test_next_to_holiday_looks_across_the_new_year() -> None:
    # 31 December 2014 is next to 1 January 2015, which is in the following year's table.
    lt = local_time([_local_noon("2014-12-31"), _local_noon("2015-01-02")])
    assert lt.next_to_holiday.tolist() == [True, True]


def test_ordinary_weekday_is_not_next_to_holiday() -> None:
    assert local_time(_local_noon("2014-09-10")).next_to_holiday.tolist() == [False]


def test_to_epoch_s_reads_naive_moments_as_london_time() -> None:
    assert to_epoch_s("2014-09-01T00:00") == _utc("2014-08-31T23:00")  # BST, UTC+1
    assert to_epoch_s("2014-01-15T12:00") == _utc("2014-01-15T12:00")  # GMT
    assert to_epoch_s(pd.Timestamp("2014-07-01T09:00")) == _utc("2014-07-01T08:00")


def test_to_epoch_s_keeps_explicit_offsets() -> None:
    assert to_epoch_s("2014-09-01T00:00Z") == 1_409_529_600.0
    assert to_epoch_s("2014-09-01T00:00+02:00") == 1_409_529_600.0 - 7_200


def test_to_epoch_s_round_trips_through_local_time() -> None:
    t = to_epoch_s("2014-09-03T10:45")
    lt = local_time(t)
    assert lt.weekday.tolist() == [2]
    np.testing.assert_allclose(lt.minute_of_day, [10 * 60 + 45])
