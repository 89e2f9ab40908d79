"""Graceful Ctrl-C for long runs: the first SIGINT stops new work, in-flight work finishes and is kept.

Python's default turns SIGINT into ``KeyboardInterrupt`` wherever the main thread happens to be;
raised inside a ``__del__`` or another callback the interpreter reports and *drops* it, and the run
goes on as if nothing happened. A handler that only sets a flag cannot be dropped: the runners check
it between episodes. A second SIGINT raises ``KeyboardInterrupt`` at once (abort).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class RunInterrupted(KeyboardInterrupt):
    """A run stopped on SIGINT after recording its finished work; rerunning the command resumes it."""


class StopFlag:
    """Set by the first SIGINT inside ``graceful_stop``; callable, so it can be passed as ``stop=``."""

    def __init__(self) -> None:
        self.signals = 0

    def __call__(self) -> bool:
        return self.signals > 0

    def _handle(self, signum: int, frame: object) -> None:
        self.signals += 1
        if self.signals > 1:
            raise KeyboardInterrupt
        # os.write, not print: a handler may run while the main thread is inside a write to stderr
        os.write(2, b"\ninterrupted: finishing the work in flight, then stopping (Ctrl-C again to abort)\n")


def exit_interrupted(e: RunInterrupted) -> None:
    """Ends the process after a graceful Ctrl-C with the shell's SIGINT status (130)."""
    print(f"interrupted: {e}; rerun the same command to resume", file=sys.stderr)
    raise SystemExit(130) from None


@contextmanager
def graceful_stop() -> Iterator[StopFlag]:
    """Within the block, SIGINT sets the yielded flag instead of raising; the old handler returns after.

    Outside the main thread, or where SIGINT is ignored (a background job of a non-interactive
    shell), nothing is installed and the flag stays unset.
    """
    flag = StopFlag()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return
    previous = signal.getsignal(signal.SIGINT)
    if previous is signal.SIG_IGN:
        yield flag
        return
    signal.signal(signal.SIGINT, flag._handle)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)
