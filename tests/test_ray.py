"""The Ray backend gives the same episodes as local worker processes (local Ray instance)."""

import pytest

from bench import run

pytestmark = pytest.mark.sim
ray = pytest.importorskip("ray", reason="install the ray extra: pip install -e '.[ray]'")


def _content(records):
    return sorted((r["task_id"], r["init_state"], r["success"], r["steps"], r["actions_sha1"]) for r in records)


def test_ray_backend_matches_process_backend(tmp_path):
    base = dict(policy="expert", suites=["robosuite"], tasks=[0], episodes_per_task=3, workers=2, cost=False)
    local = run.run(run.RunConfig(**base, out=str(tmp_path / "process")))
    distributed = run.run(run.RunConfig(**base, backend="ray", out=str(tmp_path / "ray")))
    assert len(local) == 3 and _content(local) == _content(distributed)
    assert not ray.is_initialized()  # the instance the run started is shut down
