"""Generator accounting and the self-check that invalidates a run."""

from __future__ import annotations

from pathlib import Path

from harness.load.recorder import Accounting, Recorder
from harness.load.results import (
    GeneratorReport,
    check_health,
    report_from_json,
    report_to_json,
    write_merged,
)
from harness.slo import Outcome, Window, WindowKey, read_windows


def _report(recorder: Recorder, *, lag_p99_ms: float = 1.0, cpu: float = 20.0) -> GeneratorReport:
    return GeneratorReport(
        accounting=recorder.totals,
        windows=recorder.drain(),
        organisations=dict(recorder.organisations),
        journeys=dict(recorder.journeys),
        lag_p50_ms=0.5,
        lag_p99_ms=lag_p99_ms,
        cpu_max_percent=cpu,
        cpu_mean_percent=cpu / 2,
        locust_requests=0,
        locust_failures=0,
    )


def _run(drawn: int, dropped: int, late: int) -> Recorder:
    recorder = Recorder()
    for i in range(drawn):
        recorder.drawn(i // 100, "pds.retrieve", "gp-practice", lag_us=500, late=i < late)
        if i < dropped:
            recorder.queued()
            recorder.dropped(i // 100, "pds.retrieve", "gp-practice")
            continue
        recorder.sent(i // 100, "pds.retrieve", "gp-practice")
        recorder.attempt(
            i // 100,
            "pds.retrieve",
            "gp-practice",
            "A81001",
            outcome=Outcome.GOOD,
            status=200,
            latency_us=900,
            service_us=800,
        )
    return recorder


def test_healthy_run_is_valid_and_accounting_closes() -> None:
    recorder = _run(1000, dropped=0, late=5)
    assert recorder.totals.closes()
    health = check_health([_report(recorder)])
    assert health.valid, health.reasons


def test_late_arrivals_invalidate_the_run() -> None:
    health = check_health([_report(_run(1000, dropped=0, late=11))])
    assert not health.valid
    assert "handled on time" in health.reasons[0]
    assert "11 late" in health.reasons[0]


def test_arrivals_the_server_kept_waiting_do_not_invalidate_the_run() -> None:
    """A stalled server fills the cap; its dropped arrivals are its failures, not the
    generator's (issue 29 item 5)."""
    recorder = _run(1000, dropped=300, late=5)
    assert recorder.totals.closes()
    assert recorder.totals.queued == 300
    health = check_health([_report(recorder)])
    assert health.valid, health.reasons


def test_lag_and_cpu_thresholds() -> None:
    assert not check_health([_report(_run(100, 0, 0), lag_p99_ms=80.0)]).valid
    health = check_health([_report(_run(100, 0, 0), cpu=95.0)])
    assert not health.valid
    assert "CPU" in health.reasons[0]


def test_accounting_that_does_not_close_is_invalid() -> None:
    recorder = _run(100, 0, 0)
    recorder.totals.drawn += 1  # an arrival neither sent nor dropped
    assert not check_health([_report(recorder)]).valid


def test_reports_round_trip_through_json() -> None:
    recorder = _run(300, dropped=3, late=0)
    recorder.journey("pds.retrieve", "gp-practice", succeeded=True)
    report = _report(recorder)
    again = report_from_json(report_to_json(report))
    assert again.accounting == report.accounting
    assert again.organisations == report.organisations
    assert again.journeys == report.journeys
    assert again.windows == report.windows


def test_accounting_merges() -> None:
    a, b = Accounting(drawn=3, sent=2, dropped=1), Accounting(drawn=5, sent=5)
    a.merge(b)
    assert (a.drawn, a.sent, a.dropped) == (8, 7, 1)
    assert a.closes()


def test_sealed_windows_reopen_and_merge_exactly(tmp_path: Path) -> None:
    recorder = Recorder()
    for late in (False, True):
        recorder.drawn(5, "pds.retrieve", "gp-practice", lag_us=500, late=False)
        recorder.attempt(
            5,
            "pds.retrieve",
            "gp-practice",
            "A81001",
            outcome=Outcome.GOOD,
            status=200,
            latency_us=1000 if late else 500,
            service_us=400,
        )
        # Seal after the first attempt: the second reopens the same second's window.
        assert recorder.seal(before_second=6) == 1
    assert not recorder.windows
    windows = recorder.drain()
    assert len(windows) == 2
    path = tmp_path / "windows.jsonl"
    assert write_merged(path, windows) == 1
    (merged,) = list(read_windows(path))
    assert merged.drawn == 2
    assert merged.latency.get_total_count() == 2
    assert merged.latency.get_max_value() >= 1000


def test_new_windows_reuse_sealed_windows_emptied_histograms() -> None:
    recorder = Recorder()

    def attempt(second: int, latency_us: int) -> None:
        recorder.attempt(
            second,
            "pds.retrieve",
            "gp-practice",
            "A81001",
            outcome=Outcome.GOOD,
            status=200,
            latency_us=latency_us,
            service_us=latency_us // 2,
        )

    attempt(5, 90_000)
    old = recorder.windows[WindowKey(5, "pds.retrieve", "gp-practice")]
    assert recorder.seal(before_second=6) == 1
    attempt(7, 300)
    new = recorder.windows[WindowKey(7, "pds.retrieve", "gp-practice")]
    assert {id(new.latency), id(new.service)} == {id(old.latency), id(old.service)}
    fresh = Window(WindowKey(7, "pds.retrieve", "gp-practice"))
    fresh.record(Outcome.GOOD, 200, latency_us=300, service_us=150)
    assert new.to_json() == fresh.to_json()
    assert new.latency.get_max_value() < 1000
