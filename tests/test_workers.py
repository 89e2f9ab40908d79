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


def test_workers_die_with_a_killed_parent(tmp_path):
    import subprocess
    import sys
    import time

    script = (
        "import os, time\n"
        "from bench.workers import parallel_map\n"
        "def job(i):\n"
        f"    open(r'{tmp_path}' + f'/pid_{{os.getpid()}}', 'w').close()\n"
        "    time.sleep(120)\n"
        "if __name__ == '__main__':\n"
        "    list(parallel_map(job, range(4), workers=2))\n"
    )
    (tmp_path / "run.py").write_text(script)  # spawned workers must import job() from a file
    parent = subprocess.Popen([sys.executable, str(tmp_path / "run.py")], cwd=os.getcwd())
    deadline = time.time() + 60
    while len(list(tmp_path.glob("pid_*"))) < 2 and time.time() < deadline:
        time.sleep(0.2)
    pids = [int(p.name[4:]) for p in tmp_path.glob("pid_*")]
    assert len(pids) == 2
    parent.kill()
    parent.wait()
    deadline = time.time() + 10
    alive = pids
    while alive and time.time() < deadline:
        time.sleep(0.2)
        alive = [
            p for p in pids if os.path.exists(f"/proc/{p}") and "Z" not in open(f"/proc/{p}/stat").read().split()[2]
        ]
    assert not alive, f"orphaned workers {alive}"
