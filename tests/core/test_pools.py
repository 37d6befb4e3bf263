"""The one worker pool behind hp-infer's chunks, cross-validation and parallel members: results
as they finish, setup run once per worker, and a worker that dies is the caller's typed error,
not a traceback or a hang.

The functions sent are builtins: a forkserver worker imports what it runs by name, and the tests
package is not importable there (the commands' own tests cover their setup functions).
"""

from __future__ import annotations

import operator
from concurrent.futures import ProcessPoolExecutor

import pytest

from houseprice.core.pools import as_completed_in_workers, stop_workers, worker_pool


class Died(Exception):
    pass


def test_every_task_comes_back_once_with_the_workers_state():
    results = list(as_completed_in_workers(operator.sub, range(6), 2, int, ("10",), died=Died))
    assert sorted(results) == [(task, 10 - task) for task in range(6)]


@pytest.mark.parametrize("method", ["fork", "forkserver"])
def test_a_worker_that_dies_is_the_callers_error(method):
    """os._exit(code) ends the worker mid-task, as a kill or the OOM killer would."""
    exits = (eval, ("__import__('os')._exit",))  # each worker's state: os._exit itself
    with pytest.raises(Died), worker_pool(2, *exits, method=method, died=Died) as submit:
        [f.result() for f in [submit(operator.call, 3), submit(operator.call, 4)]]


def test_an_early_exit_stops_the_workers_at_once():
    with pytest.raises(KeyError), worker_pool(1, int, ("0",), method="fork", died=Died) as submit:
        slow = submit(operator.add, 1)  # a quick task: the worker exists
        assert slow.result() == 1
        raise KeyError("the caller stops")
    # nothing left to wait for: the pool is shut down and its workers gone


def test_stop_workers_works_without_the_private_attribute():
    pool = ProcessPoolExecutor(1)
    try:
        assert pool.submit(operator.add, 1, 2).result() == 3
        stop_workers(pool)  # the usual path: terminates through _processes
        assert all(not p.is_alive() or p.join(5) is None for p in pool._processes.values())
        pool._processes = None  # a Python without it: nothing to terminate, no error
        stop_workers(pool)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
