"""The pipeline's old module paths (before issue 40 moved it to ``demos``) still import and run."""

import importlib
import subprocess
import sys

import pytest

MOVED = {
    "bench.demos": "demos.record",
    "bench.demo_files": "demos.files",
    "bench.dagger": "demos.dagger",
    "bench.render_demos": "demos.render",
    "policies.vla.features": "demos.features",
}


@pytest.mark.parametrize("old", sorted(MOVED))
def test_an_old_path_re_exports_the_new_module(old):
    shim, new = importlib.import_module(old), importlib.import_module(MOVED[old])
    assert "Moved to" in shim.__doc__ and shim.__all__
    for name in shim.__all__:
        assert getattr(shim, name) is getattr(new, name)


@pytest.mark.parametrize("old", ["bench.demos", "bench.dagger", "bench.render_demos", "policies.vla.features"])
def test_an_old_command_line_still_runs(old):
    r = subprocess.run([sys.executable, "-m", old, "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and f"python -m {MOVED[old]}" in r.stdout, r.stderr
