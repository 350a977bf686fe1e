"""Job runs are supervised by threads of the process that starts them, a bounded number at once.

The process that starts a run (a django-q2 worker; the web process when tasks run inline) hands
the run's supervision to `pool.submit` once the run's row is committed. A thread of this pool
then starts the job, waits for it or kills it at its deadline, and records the outcome
(services.job_run_supervise): no process boots Django for a run, so a run costs its job's
process and nothing else.

- At most `settings.SM_JOB_MAX_CONCURRENT_RUNS` runs of one process go at once. Further runs wait
  here, first come first served, as Pending runs; a thread that finishes a run takes the next
  waiting one. Nothing fails for lack of a slot.
- The thread that starts a job stays with it until it ends. The sandbox's `--die-with-parent`
  follows the thread that started bwrap, so a job cannot outlive its supervision, and a thread
  only takes another run after its job has ended.
- A thread that finds no waiting run stays for IDLE_SECONDS before it ends, so that the next
  run reuses it and its database connection: with a thread per run, each run opened a new
  connection, on PostgreSQL a new server process (issue 13: 127 sessions for 158 activations
  of the benchmark). An idle thread ends early when the process shuts down (its main thread has
  ended) and when `wait_idle` drains the pool.
- The threads are not daemons: a process that exits normally (a worker that is stopped or
  recycled) first lets its runs end, each within its deadline, and starts the waiting ones. A
  process that is killed takes its sandboxed jobs with it; what it leaves `running` or `pending`
  is ended by services.job_runs_cleanup (a scheduled task) once the run's deadline has passed.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings

logger = logging.getLogger(__name__)

# How long a supervising thread with nothing to do waits for another run before it ends.
IDLE_SECONDS = 10.0
# How often an idle thread looks whether the process is shutting down.
_IDLE_CHECK_SECONDS = 0.25


@dataclass(frozen=True)
class _Work:
    name: str
    run: Callable[[], None]


class RunPool:
    """Threads that supervise job runs, at most `limit()` at once; the rest wait in order."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        # Also in a forked child: the parent's threads do not exist there, and a lock that one
        # of them held would stay held forever.
        self._changed = threading.Condition(threading.Lock())
        self._waiting: deque[_Work] = deque()
        self._threads: set[threading.Thread] = set()  # taking work
        self._alive = 0  # threads not yet ended (one that took no more work still closes up)
        self._busy = 0
        self._draining = 0  # wait_idle calls going on: idle threads end at once
        self.most_at_once = 0  # since the process started (or reset_stats)

    @staticmethod
    def limit() -> int:
        return max(1, int(settings.SM_JOB_MAX_CONCURRENT_RUNS))

    def submit(self, run: Callable[[], None], *, name: str) -> None:
        """Supervise `run` in a thread now, or as soon as one of the threads is free."""
        with self._changed:
            self._waiting.append(_Work(name=name, run=run))
            idle = len(self._threads) - self._busy  # waiting for work: one of them takes it
            if idle < len(self._waiting) and len(self._threads) < self.limit():
                thread = threading.Thread(
                    target=self._serve, name=f"job-run-{len(self._threads) + 1}", daemon=False
                )
                self._threads.add(thread)
                self._alive += 1
                thread.start()
            elif idle < len(self._waiting) and (
                len(self._waiting) == 1 or len(self._waiting) % 10 == 0
            ):
                logger.info(
                    "Job run %s waits for a free slot: %d runs go at once in this process "
                    "(SM_JOB_MAX_CONCURRENT_RUNS); %d waiting.",
                    name,
                    self.limit(),
                    len(self._waiting),
                )
            self._changed.notify_all()

    def _serve(self) -> None:
        me = threading.current_thread()
        try:
            while True:
                with self._changed:
                    if not self._wait_for_work():
                        self._threads.discard(me)
                        self._changed.notify_all()
                        return
                    work = self._waiting.popleft()
                    self._busy += 1
                    self.most_at_once = max(self.most_at_once, self._busy)
                try:
                    work.run()
                except Exception:  # the run's own code logs what went wrong, redacted
                    logger.error("The supervision of job run %s failed.", work.name)
                finally:
                    with self._changed:
                        self._busy -= 1
                        self._changed.notify_all()
        finally:
            from django.db import connections

            connections.close_all()  # this thread's connections: it is about to end
            with self._changed:
                self._alive -= 1
                self._changed.notify_all()

    def _wait_for_work(self) -> bool:
        """With the lock held: whether a run waits, after at most IDLE_SECONDS of waiting for one.
        False also once the process shuts down or the pool drains."""
        idle_until = time.monotonic() + IDLE_SECONDS
        while not self._waiting:
            remaining = idle_until - time.monotonic()
            if remaining <= 0 or self._draining or not threading.main_thread().is_alive():
                return False
            self._changed.wait(min(remaining, _IDLE_CHECK_SECONDS))
        return True

    def counts(self) -> tuple[int, int]:
        """(runs being supervised, runs waiting for a slot) in this process."""
        with self._changed:
            return self._busy, len(self._waiting)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no run is supervised or waiting here and every supervising thread has ended
        (idle ones end at once); False if `timeout` passed first."""
        deadline = time.monotonic() + timeout
        with self._changed:
            self._draining += 1  # idle threads end now rather than after IDLE_SECONDS
            self._changed.notify_all()
            try:
                while self._alive or self._waiting:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return False
                    self._changed.wait(remaining)
            finally:
                self._draining -= 1
        return True

    def reset_stats(self) -> None:
        with self._changed:
            self.most_at_once = self._busy


pool = RunPool()
os.register_at_fork(after_in_child=pool._reset)
