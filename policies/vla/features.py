"""Moved to ``demos.features`` (issue 40: the data pipeline is the ``demos`` package).

This shim keeps ``python -m policies.vla.features`` and ``from policies.vla.features import ...``
working for this release.
"""

from demos.features import (
    IMAGE_KEYS,
    cache_task,
    count_demos,
    demo_render,
    main,
)

__all__ = [
    "IMAGE_KEYS",
    "cache_task",
    "count_demos",
    "demo_render",
    "main",
]

if __name__ == "__main__":
    main()
