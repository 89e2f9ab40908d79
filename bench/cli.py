"""Command-line helpers: setup errors become one ``error:`` line and exit code 2, not a traceback."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def exit_on_setup_error() -> Iterator[None]:
    """For imports/setup at the top of a CLI module: a broken GL backend exits 2 with its fix.

    Matched by name: ``envs.errors`` cannot be imported before ``envs`` itself has imported.
    """
    try:
        yield
    except RuntimeError as e:
        if type(e).__name__ != "GLBackendError":
            raise
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(2) from None
