"""Moved to ``demos.render`` (issue 40: the data pipeline is the ``demos`` package).

This shim keeps ``python -m bench.render_demos`` and ``from bench.render_demos import ...`` working for this release.
"""

from demos.render import (
    COPIED,
    RenderConfig,
    Renderers,
    main,
    render_demo,
    run,
)

__all__ = [
    "COPIED",
    "main",
    "render_demo",
    "RenderConfig",
    "Renderers",
    "run",
]

if __name__ == "__main__":
    main()
