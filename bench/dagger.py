"""Moved to ``demos.dagger`` (issue 40: the data pipeline is the ``demos`` package).

This shim keeps ``python -m bench.dagger`` and ``from bench.dagger import ...`` working for this release.
"""

from demos.dagger import (
    DaggerConfig,
    main,
    run,
    run_episode,
)

__all__ = [
    "DaggerConfig",
    "main",
    "run",
    "run_episode",
]

if __name__ == "__main__":
    main()
