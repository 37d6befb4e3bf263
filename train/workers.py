"""Independent training work in worker processes, with results as they finish.

Workers come from a forkserver: a child forked from a process that has used torch's thread pools
can hang in its first parallel op. A signal or an error stops the work still running, and a worker
that dies ends the run with a TrainError instead of a traceback.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from houseprice.train.fit import TrainError

Task = TypeVar("Task")


def in_workers(
    function: Callable[[Task], Any],
    tasks: Iterable[Task],
    jobs: int,
    start: Callable[..., None],
    start_args: tuple[Any, ...],
    what: str,
) -> Iterator[tuple[Task, Any]]:
    """(task, function(task)) for every task, run in ``jobs`` processes that each ran
    ``start(*start_args)`` first (shared data travels once per worker, not once per task).
    ``what`` names the work in the error when a worker dies. Close the iterator (contextlib's
    closing) so that a signal raised in the caller's loop still stops the workers."""
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    from houseprice.core.pools import stop_workers
    from houseprice.core.signals import held_while_forking

    context = multiprocessing.get_context("forkserver")
    pool = ProcessPoolExecutor(jobs, mp_context=context, initializer=start, initargs=start_args)
    finished = False
    try:
        with held_while_forking():
            pending = {pool.submit(function, task): task for task in tasks}
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                yield pending.pop(future), future.result()
        finished = True
    except BrokenProcessPool:
        raise TrainError(f"a {what} worker process died (killed, or out of memory)") from None
    finally:
        if not finished:  # an error or a signal: stop the work still running
            stop_workers(pool)
        pool.shutdown(wait=True, cancel_futures=True)
