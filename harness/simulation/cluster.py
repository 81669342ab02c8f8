"""Running chunks of replications on a Dask cluster.

``--executor dask`` without an address starts a local cluster of worker processes; with
``--scheduler tcp://host:8786`` it joins an existing one (the docker-compose deployment runs a
scheduler and workers). Dask only moves the work: every replication is seeded by its index, so
the results are those of the local executor, whatever the cluster does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from harness.errors import ConfigurationError

T = TypeVar("T")


def run_dask(
    task: Callable[[str, int, Sequence[int]], T],
    scenario_json: str,
    seed: int,
    chunks: list[list[int]],
    workers: int,
    scheduler: str | None,
) -> Iterator[T]:
    """Run ``task`` on every chunk on a Dask cluster, yielding results as they finish."""
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError:  # pragma: no cover - depends on the installation
        raise ConfigurationError(
            "--executor dask needs the 'distributed' package: pip install 'dask[distributed]'"
        ) from None
    cluster: Any = None
    if scheduler is None:
        # distributed is typed (py.typed) but leaves these constructors unannotated.
        cluster = LocalCluster(  # type: ignore[no-untyped-call]
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        )
        client = Client(cluster)  # type: ignore[no-untyped-call]
    else:
        try:
            client = Client(scheduler, timeout="10s")  # type: ignore[no-untyped-call]
        except OSError as exc:
            raise ConfigurationError(f"cannot reach Dask scheduler {scheduler}: {exc}") from None
    try:
        futures = [client.submit(task, scenario_json, seed, chunk, pure=False) for chunk in chunks]
        for future in as_completed(futures):  # type: ignore[no-untyped-call]
            yield future.result()
    finally:
        client.close()  # type: ignore[no-untyped-call]
        if cluster is not None:
            cluster.close()
