"""The machine a record was measured on: wall times and bit-level actions depend on it."""

from __future__ import annotations

import platform
from functools import cache
from pathlib import Path


@cache
def cpu_name() -> str:
    """The CPU model (Linux ``/proc/cpuinfo``), with "avx512" or "avx512-bf16" when it has them; else the
    machine type."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.machine()
    name = next((ln.split(":", 1)[1].strip() for ln in info.splitlines() if ln.startswith("model name")), "")
    flags = next((ln.split(":", 1)[1].split() for ln in info.splitlines() if ln.startswith("flags")), [])
    isa = ", avx512-bf16" if "avx512_bf16" in flags else ", avx512" if "avx512f" in flags else ""
    return f"{name or platform.machine()}{isa}"
