"""Lists the registered suites: base suite, perturbation kind, task count and whether they can run here.

Usage:
    python -m envs                                   # all suites, file checks only (about a second)
    python -m envs --kind language swap              # only these kinds
    python -m envs --check --suite libero_spatial_lan # also build and reset one task of each listed suite

The status comes from ``envs.libero_pro.suite_status`` (BDDL, init states and custom assets present);
``--check`` builds the first runnable task, resets it on init state 0 and reports a build error.
"""

from __future__ import annotations

import argparse
from collections import Counter
from dataclasses import dataclass

import envs
from envs.libero_pro import suite_status


@dataclass
class Row:
    suite: str
    base: str
    kind: str
    tasks: int
    status: str


def rows(suites: list[str], check: bool) -> list[Row]:
    out = []
    for name in suites:
        spec = envs.get_suite(name)
        if spec.entry_point != "envs.libero:LiberoEnv":  # robosuite: no files to check
            out.append(Row(name, "-", spec.perturbation, spec.num_tasks, "ok"))
            continue
        status = suite_status(name)
        label = status.label
        if check and status.runnable:
            label = f"{label}; {build_check(name, min(set(range(status.num_tasks)) - set(status.issues)))}"
        out.append(Row(name, spec.base_suite or "-", spec.perturbation, spec.num_tasks, label))
    return out


def build_check(suite: str, task_id: int) -> str:
    """Builds one task and resets it on init state 0; the error, if any, is the result."""
    try:
        env = envs.make_env(suite, task_id, image_size=32, render_images=False)
        try:
            env.reset(seed=0, options={"init_state": 0})
        finally:
            env.close()
    except Exception as e:  # reported per suite, never hidden: this is the check's result
        return f"task {task_id} build failed: {type(e).__name__}: {e}"
    return f"task {task_id} builds"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--suite", dest="suites", nargs="+", default=None, help="suites to list (default: all)")
    p.add_argument("--kind", dest="kinds", nargs="+", default=None, help="perturbation kinds to list")
    p.add_argument("--check", action="store_true", help="build and reset one task of each listed suite (slow)")
    a = p.parse_args(argv)
    for s in a.suites or []:
        envs.get_suite(s)  # unknown names list the choices
    names = [s for s in (a.suites or list(envs.SUITES)) if a.kinds is None or envs.get_suite(s).perturbation in a.kinds]
    table = rows(names, a.check)
    print(f"{'suite':42s} {'base':15s} {'kind':13s} {'tasks':>5s}  status")
    for r in table:
        print(f"{r.suite:42s} {r.base:15s} {r.kind:13s} {r.tasks:5d}  {r.status}")
    runnable = Counter(r.kind for r in table if not r.status.startswith("unavailable"))
    kinds = Counter(r.kind for r in table)
    print("\n" + ", ".join(f"{k}: {runnable[k]}/{n} runnable" for k, n in sorted(kinds.items())))


if __name__ == "__main__":
    main()
