"""Process-pool helpers shared by the evaluation and demonstration runners."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any

import gymnasium as gym


class EnvCache:
    """Keeps the env of the last task used in this process; a new task closes the previous env.

    One LIBERO env with its renderer holds a few hundred MB (textures), so a worker that cached
    every task it met would grow by gigabytes over a suite.
    """

    def __init__(self) -> None:
        self.key: Any = None
        self.value: Any = None

    def get(self, key: Any, factory: Callable[[], Any]) -> Any:
        if key != self.key:
            self.close()
            self.key, self.value = key, factory()
        return self.value

    def close(self) -> None:
        env = self.value[0] if isinstance(self.value, tuple) else self.value
        if isinstance(env, gym.Env):
            env.close()
        self.key = self.value = None


def _never() -> bool:
    return False


def _init_worker() -> None:
    """Worker initializer. SIGINT is ignored (Ctrl-C reaches the whole process group; the parent
    decides, see ``bench.interrupt``). On Linux the kernel kills this worker when its parent dies
    (even by SIGKILL), so a killed run leaves no orphan simulator processes behind."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def parallel_map(
    fn: Callable[[Any], Any], jobs: Iterable[Any], workers: int, stop: Callable[[], bool] = _never
) -> Iterator[Any]:
    """Yields ``fn(job)`` as jobs finish, in ``workers`` spawned processes (in-process for 1).

    Once ``stop()`` is true no job starts; the jobs already running finish and are yielded.
    Unlike ``multiprocessing.Pool``, a worker that dies (segfault, out of memory) raises
    ``BrokenProcessPool`` here instead of hanging forever on the lost job.
    """
    jobs = list(jobs)
    if workers <= 1:
        for job in jobs:
            if stop():
                return
            yield fn(job)
        return
    with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"), initializer=_init_worker) as pool:
        pending: set = set()
        try:
            for job in jobs:  # keep at most 2 jobs per worker in flight: results stream back early
                if stop():
                    break
                pending.add(pool.submit(fn, job))
                if len(pending) >= 2 * workers:
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    yield from (f.result() for f in done)
            while pending:
                if stop():  # queued jobs are dropped; cancel() is False for those already running
                    pending = {f for f in pending if not f.cancel()}
                    if not pending:
                        break
                done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                yield from (f.result() for f in done)
        except BaseException:
            for f in pending:
                f.cancel()
            raise


def ray_map(
    fn: Callable[[Any], Any], jobs: Iterable[Any], workers: int, stop: Callable[[], bool] = _never
) -> Iterator[Any]:
    """Yields ``fn(job)`` as jobs finish on a Ray cluster (``RAY_ADDRESS``) or a local Ray instance.

    At most ``2 * workers`` jobs are in flight; once ``stop()`` is true none is submitted and those
    in flight are collected; a job that raises re-raises here. Ray reuses its
    worker processes, so per-process env caches (``EnvCache``) work as with the process pool.
    """
    try:
        import ray
    except ImportError:
        raise RuntimeError("the ray backend needs Ray: pip install -e '.[ray]'") from None
    started = not ray.is_initialized()
    if started:
        ray.init(
            num_cpus=None if os.environ.get("RAY_ADDRESS") else workers, log_to_driver=False, include_dashboard=False
        )
    remote = ray.remote(num_cpus=1, max_retries=0)(fn)
    try:
        pending, queue = [], iter(list(jobs))
        for job in queue:
            if stop():
                break
            pending.append(remote.remote(job))
            if len(pending) >= 2 * workers:
                done, pending = ray.wait(pending, num_returns=1)
                yield from ray.get(done)
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            yield from ray.get(done)
    finally:
        if started:
            ray.shutdown()


def run_map(
    fn: Callable[[Any], Any],
    jobs: Iterable[Any],
    workers: int,
    backend: str = "process",
    stop: Callable[[], bool] = _never,
) -> Iterator[Any]:
    """``parallel_map`` (``backend="process"``: spawned processes on this machine) or ``ray_map``."""
    if backend == "process":
        return parallel_map(fn, jobs, workers, stop)
    if backend == "ray":
        return ray_map(fn, jobs, workers, stop)
    raise ValueError(f"backend must be 'process' or 'ray', got {backend!r}")
