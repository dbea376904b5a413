"""Connecting to dask.distributed (a new LocalCluster of worker processes, or an existing scheduler), or
running the same tasks in the calling thread (``scheduler="inprocess"``, no dask needed).

The in-process client runs each task lazily, when its result is asked for, in submission order: a job
driven from a napari thread worker predicts one block per progress event and stops between blocks when
its generator is closed, with no event loop, thread or process of dask's inside the GUI process."""

from __future__ import annotations

import contextlib
import logging

__all__ = ["connect", "gather_results", "wait_all", "InlineClient", "INPROCESS"]

#: ``scheduler=`` value that runs the tasks in the calling thread, one after the other
INPROCESS = "inprocess"


@contextlib.contextmanager
def connect(workers: int | None = None, scheduler: str | None = None, threads_per_worker: int = 1):
    """A ``distributed.Client``: to ``scheduler`` if given, else to a new ``LocalCluster`` of ``workers``
    processes with ``threads_per_worker`` threads each (closed on exit; an existing cluster is left running).

    ``scheduler="inprocess"`` gives an :class:`InlineClient` instead: the tasks run one by one in the
    calling thread (dask.distributed is not needed).

    Raises
    ------
    ValueError
        If both are given, ``workers`` is not positive, or distributed is not installed.
    """
    if scheduler == INPROCESS:
        if workers is not None:
            raise ValueError(f"scheduler={INPROCESS!r} runs in this thread: do not give workers too.")
        yield InlineClient()
        return
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
    if isinstance(client, InlineClient):
        for future in futures:
            yield future, future.result()
        return
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


def wait_all(futures) -> None:
    """Wait for every future (of either client) and raise the first task error."""
    for future in futures:
        future.result()


class InlineFuture:
    """A task of :class:`InlineClient`: run (once) when its result is first asked for."""

    def __init__(self, fn, args, kwargs):
        self._call = (fn, args, kwargs)
        self._done = False
        self._value = None

    def result(self):
        if not self._done:
            fn, args, kwargs = self._call
            self._value, self._done, self._call = fn(*args, **kwargs), True, None
        return self._value

    def done(self) -> bool:
        return self._done


class InlineClient:
    """The part of ``distributed.Client`` the predictors use, running every task in the calling thread.

    Tasks run lazily, in the order their results are asked for (``gather_results`` asks in submission
    order); ``cancel`` drops tasks not yet run. Retries are not repeated: a failing task raises at once.
    """

    def submit(self, fn, *args, key=None, retries=0, pure=False, **kwargs):
        return InlineFuture(fn, args, kwargs)

    def map(self, fn, *iterables, pure=False, **kwargs):
        return [InlineFuture(fn, args, kwargs) for args in zip(*iterables)]

    def gather(self, futures):
        return [f.result() for f in futures]

    def cancel(self, futures) -> None:
        for future in futures:
            if not future.done():
                future._call = None
