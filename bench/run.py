"""Evaluate a registered policy on LIBERO / robosuite tasks from official init states.

Usage:
    python -m bench.run --policy expert --suite libero_spatial --episodes-per-task 10
    python -m bench.run --policy teacher --suite libero_spatial_lan libero_object_swap --episodes-per-task 10
    python -m bench.run --policy teacher --suite libero_object --instruction swap   # results under teacher_instr-swap
    python -m bench.run --policy expert --suite robosuite --tasks 0 --episodes-per-task 20 --workers 2

Episode k of a task starts from init state k (LIBERO's official init states; robosuite: layout seed k)
with env seed ``seed + 1000 * task_id + k`` (``bench.evaluate``). One JSON line per episode is appended to
``<out>/episodes/<policy>/<suite>.jsonl`` as it finishes; a rerun skips recorded episodes, and refuses
records of other weights (``weights_sha1``: a retrained checkpoint under the same name).
``--instruction swap|empty|unrelated`` gives the policy another instruction (``envs.probes``) while the
task and its success stay the original's; the probe is part of the results label (``<policy>_instr-<probe>``).
Suites: ``python -m envs`` lists them all (LIBERO-PRO's perturbed ones too) with whether they can run here.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from bench.cli import exit_on_setup_error
from bench.interrupt import RunInterrupted, exit_interrupted

with exit_on_setup_error():
    from bench.evaluate import (  # noqa: F401  (the rest re-exported for callers of bench.run)
        RunConfig,
        StaleRecordsError,
        env_kwargs,
        git_commit,
        missing_jobs,
        policy_kwargs,
        recorded,
        records_path,
        render_settings,
        requested,
        run,
        run_episode,
        save_video,
        store,
    )
from bench.measure import print_cost
from bench.summary import summary_frame, summary_table, write_summary  # noqa: F401
from envs.errors import GLBackendError
from envs.probes import PROBES
from policies import POLICIES
from policies.paths import episodes_dir


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    d = RunConfig()
    p.add_argument("--policy", default=d.policy, help=f"one of {sorted(POLICIES)}")
    p.add_argument("--suite", dest="suites", nargs="+", default=d.suites, help="suites (python -m envs lists them)")
    p.add_argument(
        "--instruction",
        choices=PROBES,
        default=None,
        help="language probe: swap (task t gets task (t+1) mod n's instruction), empty, or unrelated (a fixed "
        "sentence); success stays the original task's; results under <policy>_instr-<probe>",
    )
    p.add_argument("--tasks", type=int, nargs="+", default=None, help="task ids (default: all)")
    p.add_argument("--episodes-per-task", type=int, default=d.episodes_per_task)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--workers", type=int, default=d.workers)
    p.add_argument("--backend", default=d.backend, help="process (local worker processes) or ray")
    p.add_argument("--image-size", type=int, default=d.image_size)
    p.add_argument("--out", default=d.out)
    p.add_argument("--video", action="store_true", help="save an mp4 per episode under <out>/videos")
    p.add_argument(
        "--trace",
        action="store_true",
        help="save each episode's actions and proprio (npz) under <out>/traces (like --video: only for episodes "
        "run now, not those already recorded in <out>)",
    )
    p.add_argument("--budget", type=float, default=None, help="routed students: the trained budget to load")
    p.add_argument(
        "--face-budget",
        type=int,
        default=None,
        help="render with meshes simplified to this many faces (envs.render; default: the policy's training path)",
    )
    p.add_argument(
        "--exec-steps",
        type=int,
        default=None,
        help="VLA policies: actions executed per predicted chunk before "
        "predicting again (default: the checkpoint's, the whole chunk); results go under <policy>_x<N>",
    )
    p.add_argument("--no-cost", dest="cost", action="store_false", help="skip the FLOPs/latency measurement")
    p.add_argument("--checkpoint", default=None, help="weights folder for teacher/student (default: committed)")
    a = vars(p.parse_args(argv))
    try:
        cfg = RunConfig(**a)
    except (ValueError, GLBackendError) as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(2) from None
    t0 = time.time()
    try:
        records = run(cfg)
    except StaleRecordsError as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(2) from None
    except RunInterrupted as e:
        exit_interrupted(e)
    print(summary_table(records))
    if records:
        write_summary(cfg, records)
    where = episodes_dir(cfg.out, cfg.label)
    print(f"{len(records)} episodes; wall time {time.time() - t0:.0f} s; records in {where}")
    calls = [r["call_ms_median"] for r in records if r.get("call_ms_median") is not None]
    if calls:
        print(f"median model-call latency inside the episodes: {statistics.median(calls):.1f} ms")
    if cfg.cost:
        print_cost(cfg, records)


if __name__ == "__main__":
    main()
