"""``harness calibrate``: measure per-interaction service demands from a ``harness run``."""

from __future__ import annotations

from pathlib import Path

import typer

from harness.cli.output import ExitCode, make_console


def calibrate(
    results_dir: Path = typer.Argument(..., help="Results directory of a `harness run`."),
    output: Path | None = typer.Option(
        None, help="Calibration file to write (default RESULTS_DIR/calibration.yaml)."
    ),
) -> int:
    """Fit what each interaction costs the server; write a calibration file scenarios include."""
    from rich.table import Table

    from harness.config.calibration import dump_calibration
    from harness.run.calibrate import calibrate as fit

    result = fit(results_dir)
    target = output or results_dir / "calibration.yaml"
    calibration = result.calibration
    dump_calibration(
        calibration,
        target,
        header=(
            f"Written by `harness calibrate {results_dir}`: {result.seconds} clean seconds, "
            f"method {calibration.method}, R² {result.r_squared:.3f}.\n"
            "Include it from a scenario with `calibration: <path relative to the scenario>`."
        ),
    )
    console = make_console()
    table = Table(title=f"Calibration ({calibration.method}, R² {result.r_squared:.3f})")
    for name in ("interaction", "demand ms", "service p50 ms", "service p95 ms", "latency p95 ms"):
        table.add_column(name, justify="left" if name == "interaction" else "right")
    for name, cost in calibration.interactions.items():
        q, b = cost.service_ms, cost.base_latency_ms
        table.add_row(
            name,
            f"{cost.demand_ms:.2f}",
            f"{q[len(q) // 2]:.1f}",
            f"{q[int(len(q) * 0.95)]:.1f}",
            f"{b[int(len(b) * 0.95)]:.1f}",
        )
    console.print(table)
    console.print(
        f"idle server CPU {calibration.cpu_idle_s_per_s:.3f} s/s; worker restart "
        f"{calibration.worker_restart_s:.2f} s; written to {target}"
    )
    low, high = calibration.rate_per_s or (0.0, 0.0)
    generator = calibration.generator_cpu_ms
    console.print(
        f"holds on {calibration.machine or 'an unrecorded machine'}, for "
        f"{low:,.0f}-{high:,.0f} requests/s (harness run warns outside half to one and a half "
        f"times that range, or on another machine); generator CPU per arrival "
        f"{'not measured' if generator is None else f'{generator:.2f} ms'}",
        markup=False,
        soft_wrap=True,
    )
    return ExitCode.PASS
