"""Ctrl-C stops runs gracefully: no new work starts, work in flight finishes and is returned."""

import functools
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from bench.interrupt import graceful_stop
from bench.workers import parallel_map


@pytest.fixture
def sigint_default():
    """As in an interactive shell (a background CI shell would have SIGINT ignored)."""
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, old)


def _sigint() -> None:
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(0.05)  # the handler runs here, on the main thread


class _InterruptedWhileCollected:
    def __del__(self) -> None:
        _sigint()


def test_first_sigint_sets_the_flag_and_a_second_aborts(sigint_default) -> None:
    with graceful_stop() as stop:
        assert not stop()
        _sigint()
        assert stop()
        with pytest.raises(KeyboardInterrupt):
            _sigint()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_sigint_inside_a_finalizer_is_not_lost(sigint_default, monkeypatch) -> None:
    dropped = []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: dropped.append(u.exc_type))
    _InterruptedWhileCollected()  # Python's default: KeyboardInterrupt raised inside __del__ is dropped
    assert dropped == [KeyboardInterrupt]
    with graceful_stop() as stop:
        _InterruptedWhileCollected()
        assert stop()


def test_ignored_sigint_stays_ignored() -> None:
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with graceful_stop() as stop:
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN and not stop()
    finally:
        signal.signal(signal.SIGINT, old)


def test_stop_starts_no_new_job_in_process() -> None:
    started, out = [], []
    for r in parallel_map(lambda x: started.append(x) or x, range(10), workers=1, stop=lambda: len(out) >= 3):
        out.append(r)
    assert out == started == [0, 1, 2]


def _job(folder: str, x: int) -> int:
    Path(folder, str(x)).touch()
    time.sleep(0.3)
    return x


def test_stop_keeps_every_started_job_in_a_pool(tmp_path) -> None:
    out: list[int] = []
    for r in parallel_map(functools.partial(_job, str(tmp_path)), range(20), workers=2, stop=lambda: bool(out)):
        out.append(r)
    started = sorted(int(p.name) for p in tmp_path.iterdir())
    assert sorted(out) == started and 1 <= len(out) < 20
