"""Connecting to dask.distributed: a new LocalCluster of worker processes, or an existing scheduler."""

from __future__ import annotations

import contextlib
import logging

__all__ = ["connect", "gather_results"]


@contextlib.contextmanager
def connect(workers: int | None = None, scheduler: str | None = None, threads_per_worker: int = 1):
    """A ``distributed.Client``: to ``scheduler`` if given, else to a new ``LocalCluster`` of ``workers``
    processes with ``threads_per_worker`` threads each (closed on exit; an existing cluster is left running).

    Raises
    ------
    ValueError
        If both are given, ``workers`` is not positive, or distributed is not installed.
    """
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:
        raise ValueError(
            "distributed prediction needs dask.distributed: pip install 'napari-segsuite[distributed]'."
        ) from exc
    if workers is not None and scheduler is not None:
        raise ValueError(
            "give either workers (a new local cluster) or scheduler (an existing one), not both."
        )
    if scheduler is not None:
        client = Client(scheduler)
        try:
            yield client
        finally:
            client.close()
        return
    if workers is not None and (int(workers) != workers or workers < 1):
        raise ValueError(f"workers must be a whole number >= 1, got {workers!r}.")
    cluster = LocalCluster(
        n_workers=workers,
        threads_per_worker=int(threads_per_worker),
        processes=True,
        dashboard_address=":0",
        silence_logs=logging.ERROR,
    )
    client = Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


def gather_results(client, futures, describe):
    """Yield ``(future, result)`` as tasks finish; a task that keeps killing workers becomes a clear error."""
    from distributed import as_completed

    try:
        for future in as_completed(futures):
            yield future, future.result()
    except Exception as exc:
        if type(exc).__name__ == "KilledWorker":
            raise RuntimeError(
                f"{describe}: workers died repeatedly on the same task ({exc}); "
                "see the worker logs (out of memory?)."
            ) from exc
        raise
