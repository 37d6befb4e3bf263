"""Worker processes, one way for every command: `worker_pool` and `as_completed_in_workers`.

Each worker runs ``setup(*args)`` once and keeps what it returns (a model, the training rows), so
shared data travels once per worker, not once per task; a task runs as ``function(state, task)``.
Both must be importable by name (module-level), since a forkserver or spawned worker imports them.

Workers start with SIGINT and SIGTERM held, so none lands in multiprocessing's start-up code;
then `detach_worker` leaves signals to the parent and arms Linux's parent-death signal. The parent
stops every worker at once when the block ends early (an error, a signal, a consumer that stopped
reading), and a worker that dies becomes the caller's typed error, not a traceback or a hang.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any

_state: Any = None  # in a worker process: what its setup returned


def _start(parent: int | None, setup: Callable[..., Any], args: tuple[Any, ...]) -> None:
    from houseprice.core.signals import detach_worker

    global _state
    detach_worker(parent)
    _state = setup(*args)


def _run(function: Callable[[Any, Any], Any], task: Any) -> Any:
    return function(_state, task)


class Submit:
    """``submit(function, task)`` -> a Future of ``function(state, task)`` in a worker."""

    def __init__(self, pool: Any):
        self._pool, self._started = pool, False

    def __call__(self, function: Callable[[Any, Any], Any], task: Any) -> Any:
        if self._started:
            return self._pool.submit(_run, function, task)
        from houseprice.core.signals import signals_held

        with signals_held():  # the first submit starts the workers
            future = self._pool.submit(_run, function, task)
        self._started = True
        return future


@contextlib.contextmanager
def worker_pool(
    jobs: int,
    setup: Callable[..., Any],
    args: tuple[Any, ...] = (),
    *,
    method: str = "forkserver",
    died: Callable[[], Exception],
) -> Iterator[Submit]:
    """A pool of ``jobs`` processes started by ``method`` ("fork", "forkserver", "spawn").
    ``died()`` is the error raised when a worker dies (killed, out of memory)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    parent = os.getpid() if method == "fork" else None  # other methods' workers have another
    pool = ProcessPoolExecutor(
        jobs,
        mp_context=multiprocessing.get_context(method),
        initializer=_start,
        initargs=(parent, setup, args),
    )
    finished = False
    try:
        yield Submit(pool)
        finished = True
    except BrokenProcessPool:
        raise died() from None
    finally:
        if not finished:
            stop_workers(pool)
        pool.shutdown(wait=True, cancel_futures=True)


def as_completed_in_workers(
    function: Callable[[Any, Any], Any],
    tasks: Iterable[Any],
    jobs: int,
    setup: Callable[..., Any],
    args: tuple[Any, ...] = (),
    *,
    died: Callable[[], Exception],
) -> Iterator[tuple[Any, Any]]:
    """(task, function(state, task)) for every task, as they finish, from a forkserver (a child
    forked beside torch's or onnxruntime's thread pools can hang). Close the iterator
    (contextlib.closing) so that a signal raised in the caller's loop still stops the workers."""
    from concurrent.futures import FIRST_COMPLETED, wait

    with worker_pool(jobs, setup, args, died=died) as submit:
        pending = {submit(function, task): task for task in tasks}
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                yield pending.pop(future), future.result()


def stop_workers(pool: Any) -> None:
    """End a ProcessPoolExecutor's workers now instead of waiting for the tasks they run. The
    executor has no public way to do this; ``_processes`` (pid -> Process) has been there since
    Python 3.2, and without it the shutdown that follows waits for the running tasks."""
    processes = getattr(pool, "_processes", None) or {}
    for process in list(processes.values()):
        process.terminate()
