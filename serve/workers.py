"""Several server processes on one listening socket (the kernel spreads connections among them),
and the small supervisor that keeps them: one process per CPU, since a Python worker prices on
one core at a time.

The supervisor forks the workers, forwards SIGHUP (reload) and SIGTERM/SIGINT (graceful stop) to
them, and starts a new one when one dies. Workers live in their own process group: a Ctrl-C on
the terminal reaches the supervisor alone, which stops every worker exactly once, gracefully.
uvicorn's own multi-worker mode restarts every worker on SIGHUP, which would drop the serving
model before the new file is proven; here each worker swaps its model in place.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from houseprice.core.signals import detach_worker

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
# A worker that dies within this many seconds of starting, this many times in a row, is not
# restarted again: something is wrong with every start (the supervisor stops with an error).
QUICK_DEATH_S = 2.0
QUICK_DEATHS_ALLOWED = 5


def accept_reloads() -> None:
    """Once a SIGHUP handler is in place: take reloads from now on, first the one asked for
    while the process started (it was held, not dropped)."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, (signal.SIGHUP,))


class WorkersFailed(Exception):
    """Workers kept dying right after they started."""


@dataclass
class Supervisor:
    """``serve`` runs in each forked worker and returns when it has stopped serving; it calls
    accept_reloads once its SIGHUP handler is in place."""

    count: int
    serve: Callable[[], None]
    on_reload: Callable[[], None] = lambda: None  # the supervisor's own part of a reload
    on_worker_exit: Callable[[int], None] = lambda pid: None
    workers: dict[int, float] = field(default_factory=dict)  # pid -> start time
    stopping: int = 0  # the stop signal received, once one was
    quick_deaths: int = 0

    def run(self) -> int:
        """Serve until a stop signal; returns that signal's number once every worker is gone."""
        previous = {s: signal.getsignal(s) for s in (*STOP_SIGNALS, signal.SIGHUP)}
        for signum in STOP_SIGNALS:
            signal.signal(signum, self._stop)
        signal.signal(signal.SIGHUP, self._reload)
        accept_reloads()
        try:
            for _ in range(self.count):
                self._start()
            self._watch()
        finally:
            self._stop(signal.SIGTERM, None)
            self._reap_all()
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        return self.stopping

    def _start(self) -> None:
        parent = os.getpid()
        # Held across fork, so the child never runs the supervisor's handlers.
        held = signal.pthread_sigmask(signal.SIG_BLOCK, (*STOP_SIGNALS, signal.SIGHUP))
        try:
            pid = os.fork()
            if pid == 0:
                self._worker(parent)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
        self.workers[pid] = time.monotonic()

    def _worker(self, parent: int) -> None:
        status = 1
        try:
            os.setpgid(0, 0)
            detach_worker(parent)  # dies with the supervisor, even a SIGKILLed one
            # SIGHUP stays blocked until `serve` calls accept_reloads: a reload asked for while
            # this worker starts waits for it, since the model it started from may be the old one.
            self.serve()
            status = 0
        finally:
            os._exit(status)  # never return into the supervisor's code

    def _watch(self) -> None:
        while self.workers:
            pid, _ = os.wait()
            started = self.workers.pop(pid, None)
            if started is None:
                continue
            self.on_worker_exit(pid)
            if self.stopping:
                continue
            quick = time.monotonic() - started < QUICK_DEATH_S
            self.quick_deaths = self.quick_deaths + 1 if quick else 0
            if self.quick_deaths >= QUICK_DEATHS_ALLOWED:
                raise WorkersFailed(f"workers died {self.quick_deaths} times right after starting")
            self._start()

    def _stop(self, signum: int, frame: object) -> None:
        if not self.stopping:
            self.stopping = signum
            self._tell_workers(signal.SIGTERM)  # SIGTERM: uvicorn's graceful stop

    def _reload(self, signum: int, frame: object) -> None:
        self.on_reload()
        self._tell_workers(signal.SIGHUP)

    def _tell_workers(self, signum: int) -> None:
        for pid in list(self.workers):
            with contextlib.suppress(ProcessLookupError):  # exited; os.wait collects it
                os.kill(pid, signum)

    def _reap_all(self) -> None:
        while self.workers:
            try:
                pid, _ = os.wait()
            except ChildProcessError:
                break
            if self.workers.pop(pid, None) is not None:
                self.on_worker_exit(pid)
