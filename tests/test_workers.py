import os
import signal
from concurrent.futures.process import BrokenProcessPool

import pytest

from bench.workers import EnvCache, parallel_map


def _die(x: int) -> int:
    if x == 3:
        os.kill(os.getpid(), signal.SIGKILL)
    return x


def test_parallel_map_returns_every_result():
    assert sorted(parallel_map(abs, range(-7, 0), workers=2)) == list(range(1, 8))
    assert list(parallel_map(abs, [-1, -2], workers=1)) == [1, 2]


def test_dead_worker_raises_instead_of_hanging():
    with pytest.raises(BrokenProcessPool):
        list(parallel_map(_die, range(6), workers=2))


def test_env_cache_keeps_only_the_last_key():
    built = []
    cache = EnvCache()
    assert cache.get("a", lambda: built.append("a") or "A") == "A"
    assert cache.get("a", lambda: built.append("a2") or "A2") == "A"
    assert cache.get("b", lambda: built.append("b") or "B") == "B"
    assert built == ["a", "b"] and cache.key == "b"
