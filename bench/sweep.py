"""Evaluate several policies x budgets x suites in one go, with one progress bar and resume.

Usage:
    python -m bench.sweep --policies teacher student --budgets 0.25 0.5 0.75 \\
        --suite libero_spatial libero_object --episodes-per-task 10 --workers 2
    python -m bench.sweep --policies nograph truncate uniform random early_exit dense --budgets 0.5 \\
        --suite libero_spatial libero_object --episodes-per-task 5 --workers 2

Robustness (``bench.robustness``): the LIBERO-PRO suites, then the swap probe on the clean suites:
    python -m bench.sweep --policies teacher student --budgets 0.25 0.5 0.75 --episodes-per-task 10 --no-cost \
        --suite libero_spatial_with_mug libero_spatial_lan libero_spatial_swap \
        libero_object_with_mug libero_object_lan libero_object_swap
    python -m bench.sweep --policies teacher student --budgets 0.25 0.5 0.75 --episodes-per-task 10 --no-cost \
        --suite libero_spatial libero_object --instruction swap

Routed policies run at every budget given; the others (teacher, expert) once. Episodes already recorded
under ``<out>/episodes`` are skipped, so an interrupted sweep continues where it stopped. After the
episodes, the FLOPs/latency of every VLA policy is measured (interleaved with the teacher for
students) and written to ``<out>/cost/<label>.json`` unless ``--no-cost`` is given.
"""

from __future__ import annotations

import argparse
import sys
from itertools import zip_longest

from tqdm import tqdm

from bench.cli import exit_on_setup_error
from bench.interrupt import RunInterrupted, exit_interrupted, graceful_stop

with exit_on_setup_error():
    from bench.evaluate import (
        RunConfig,
        StaleRecordsError,
        git_commit,
        missing_jobs,
        recorded,
        requested,
        run_episode,
        store,
    )
from bench.measure import print_cost
from bench.summary import summary_table, write_summary
from bench.workers import run_map
from envs.errors import GLBackendError
from policies import POLICIES
from policies.registry import get_policy


def configs(policies: list[str], budgets: list[float], **common) -> list[RunConfig]:
    """One RunConfig per policy (per budget for routed policies); raises ValueError on bad input."""
    out = []
    for name in policies:
        for b in budgets if get_policy(name).routed else [None]:
            out.append(RunConfig(policy=name, budget=b, **common))
    return out


def interleave(groups: list[list]) -> list:
    """Round-robin over the groups: a sweep stopped early leaves every policy with about as many episodes."""
    return [j for row in zip_longest(*groups) for j in row if j is not None]


def sweep(cfgs: list[RunConfig], workers: int, backend: str = "process") -> dict[str, list[dict]]:
    """Runs the missing episodes of every config through one worker pool (configs interleaved); returns
    records per label."""
    commit = git_commit()
    have = {c.label: {s: recorded(c, s) for s in c.suites} for c in cfgs}
    jobs = interleave([missing_jobs(c, have[c.label]) for c in cfgs])
    with graceful_stop() as stop:
        for rec in tqdm(run_map(run_episode, jobs, workers, backend, stop), total=len(jobs), desc="sweep", unit="ep"):
            store(rec, commit)
            have[rec["policy"]][rec["suite"]][(rec["task_id"], rec["init_state"])] = rec
    if stop():
        left = sum(len(missing_jobs(c, have[c.label])) for c in cfgs)
        raise RunInterrupted(f"stopped with {left} of {len(jobs)} episodes still to run")
    return {c.label: requested(c, have[c.label]) for c in cfgs}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    d = RunConfig()
    p.add_argument("--policies", nargs="+", required=True, help=f"from {sorted(POLICIES)}")
    p.add_argument("--budgets", type=float, nargs="+", default=[0.5], help="budgets of the routed policies")
    p.add_argument("--suite", dest="suites", nargs="+", default=d.suites)
    p.add_argument("--tasks", type=int, nargs="+", default=None)
    p.add_argument("--episodes-per-task", type=int, default=d.episodes_per_task)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--workers", type=int, default=d.workers)
    p.add_argument("--backend", default=d.backend)
    p.add_argument("--image-size", type=int, default=d.image_size)
    p.add_argument("--out", default=d.out)
    p.add_argument("--instruction", default=None, help="language probe of every run (bench.run --instruction)")
    p.add_argument("--no-cost", dest="cost", action="store_false")
    a = p.parse_args(argv)
    common = dict(
        suites=a.suites,
        tasks=a.tasks,
        episodes_per_task=a.episodes_per_task,
        seed=a.seed,
        workers=a.workers,
        backend=a.backend,
        image_size=a.image_size,
        out=a.out,
        instruction=a.instruction,
        cost=a.cost,  # recorded in every episode's config; the sweep measures it after the episodes
    )
    try:
        cfgs = configs(a.policies, a.budgets, **common)
    except (ValueError, GLBackendError) as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(2) from None
    try:
        results = sweep(cfgs, a.workers, a.backend)
    except StaleRecordsError as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(2) from None
    except RunInterrupted as e:
        exit_interrupted(e)
    for cfg in cfgs:
        records = results[cfg.label]
        print(f"\n== {cfg.label}: {len(records)} episodes")
        if records:
            print(summary_table(records))
            write_summary(cfg, records)
        if a.cost:
            print_cost(cfg, records)


if __name__ == "__main__":
    main()
