"""The install's console entry points (``[project.scripts]`` in ``pyproject.toml``)."""

import importlib
import inspect
import tomllib
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def test_every_console_script_is_a_main_taking_argv() -> None:
    """Read from pyproject.toml, not importlib.metadata: an editable install sees new scripts only once reinstalled."""
    scripts = tomllib.loads(PYPROJECT.read_text())["project"]["scripts"]
    assert {"vlabench-run", "vlabench-report", "vlabench-train", "vlabench-distill"} <= set(scripts)
    for name, target in scripts.items():
        module, _, func = target.partition(":")
        main = getattr(importlib.import_module(module), func)
        assert callable(main), name
        assert list(inspect.signature(main).parameters) == ["argv"], name  # python -m passes none: sys.argv
