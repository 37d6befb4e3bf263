"""The worker pool behind cross-validation and parallel members: results as they finish, and a
worker that dies is a TrainError naming the work, not a traceback or a hang.

The functions sent are builtins: a forkserver worker imports what it runs by name, and the tests
package is not importable there (cross-validation's own tests cover the start function's state).
"""

from __future__ import annotations

import operator
import os

import pytest

from houseprice.train.fit import TrainError
from houseprice.train.workers import in_workers


def test_every_task_comes_back_once():
    results = list(in_workers(operator.neg, range(6), 2, dict, (), "test"))
    assert sorted(results) == [(task, -task) for task in range(6)]


def test_a_worker_that_dies_is_a_train_error_naming_the_work():
    """os._exit(task) ends the worker mid-task, as a kill or the OOM killer would."""
    with pytest.raises(TrainError, match=r"^a training worker process died"):
        list(in_workers(os._exit, [3, 4], 2, dict, (), "training"))
