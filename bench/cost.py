"""Per-call cost of VLA policies: FLOPs (torch ``FlopCounterMode``) and batch-1 CPU latency.

FLOPs are counted on the real forward pass of one policy call (both camera encoders, token
embedding, the trunk layers that run, the action head); the instruction is encoded once per episode
and reported separately. ``FlopCounterMode`` does not count CPU sdpa
(``aten._scaled_dot_product_flash_attention_for_cpu``); it is mapped to torch's own sdpa formula.

Latency: policies measured in one process with ``torch.set_num_threads`` fixed, interleaved call by
call after warm-up, medians of many calls at batch 1; the trunk alone and the whole call are timed
separately. Compare ratios, not absolute times across runs. Other processes busy on the CPU while
timing (a background job) distort even the ratios: the share of the machine's CPU time they used during
the timed calls is recorded (``other_cpu_share``, from ``/proc/stat``) and a high one is warned about.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count

from policies.vla.config import CAMERAS
from policies.vla.policy import VLAPolicy

aten = torch.ops.aten


def _cpu_sdpa_flops(query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs) -> int:
    return sdpa_flop_count(query_shape, key_shape, value_shape)


SDPA_MAPPING = {aten._scaled_dot_product_flash_attention_for_cpu: _cpu_sdpa_flops}


def count_flops(fn, *args: Any) -> int:
    with FlopCounterMode(display=False, custom_mapping=SDPA_MAPPING) as counter:
        fn(*args)
    return int(counter.get_total_flops())


def call_parts(policy: VLAPolicy, obs: dict[str, Any]) -> dict[str, Any]:
    """The pieces of one policy call on ``obs``: encoder input, tokens and the layer mask used."""
    with torch.inference_mode():
        imgs = torch.from_numpy(np.stack([obs[k] for k in CAMERAS]))
        feats = policy.images(imgs).unsqueeze(0)
        state = torch.from_numpy(np.asarray(obs["state"], np.float32)).unsqueeze(0)
        lang = policy.lang(obs["instruction"])
        tokens = policy.model.embed(feats, lang, state)
    return {"imgs": imgs, "state": state, "lang": lang, "tokens": tokens}


def flops(policy: VLAPolicy, obs: dict[str, Any]) -> dict[str, float]:
    """GFLOPs of one call (whole and trunk) and of encoding the instruction (once per episode)."""
    parts = call_parts(policy, obs)
    m = policy.model
    router = getattr(getattr(policy, "student", None), "router", None)
    policy.images.use_jit = False  # the traced graph hides its ops from FlopCounterMode
    if hasattr(router, "use_numpy"):  # so do the numpy gates: count the same arithmetic in torch
        router.use_numpy = False
    try:
        with torch.inference_mode():
            trunk = count_flops(policy.trunk, parts["tokens"])
            whole = count_flops(_whole_call, policy, parts)
            text = count_flops(policy.text, [obs["instruction"]])
    finally:
        policy.images.use_jit = True
        if hasattr(router, "use_numpy"):
            router.use_numpy = True
    with torch.inference_mode():
        keep = policy.trunk(parts["tokens"])[1]
        per_layer = _layer_flops(policy, parts["tokens"])
    return {
        "gflops_call": whole / 1e9,
        "gflops_trunk": trunk / 1e9,
        "gflops_instruction": text / 1e9,
        "gflops_per_layer": per_layer / 1e9,
        "trunk_flops_share": trunk / whole,
        "layers_run": len(m.layers) if keep is None else int(sum(keep)),
    }


def _layer_flops(policy: VLAPolicy, tokens: torch.Tensor) -> int:
    """FLOPs that one more executed trunk layer adds to a call (early exit also decodes after it)."""
    m = policy.model
    pe = m.position_embeddings(tokens)
    n = count_flops(m.run_layer, 0, tokens, pe)
    student = getattr(policy, "student", None)
    if student is not None and student.cfg.routing == "early_exit":
        n += count_flops(m.decode, tokens)
    return n


def _whole_call(policy: VLAPolicy, parts: dict[str, Any], clock: list[float] | None = None) -> torch.Tensor:
    """One policy call from the raw images; ``clock`` receives the trunk's start and end times."""
    m = policy.model
    feats = policy.images(parts["imgs"]).unsqueeze(0)
    tokens = m.embed(feats, parts["lang"], parts["state"])
    if clock is not None:
        clock.append(time.perf_counter())
    h = policy.trunk(tokens)[0]
    if clock is not None:
        clock.append(time.perf_counter())
    return m.unnormalise_actions(m.decode(h))


CONTENTION_WARN = 0.1  # other processes' share of the CPU above which timings are flagged


def cpu_busy_seconds() -> tuple[float, int] | None:
    """CPU seconds the whole machine has spent busy since boot, and its CPU count (Linux; None elsewhere)."""
    try:
        lines = Path("/proc/stat").read_text().splitlines()
    except OSError:
        return None
    v = [int(x) for x in lines[0].split()[1:9]]  # user nice system idle iowait irq softirq steal
    cpus = sum(1 for ln in lines if ln.startswith("cpu") and ln[3:4].isdigit())
    return (sum(v) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK"), cpus


def other_cpu_share(
    before: tuple[float, int] | None, after: tuple[float, int] | None, own_s: float, wall_s: float
) -> float | None:
    """Share of the machine's CPU time used by other processes between two ``cpu_busy_seconds`` readings,
    given this process's CPU seconds ``own_s`` over ``wall_s`` (None where /proc/stat is missing)."""
    if before is None or after is None or wall_s <= 0:
        return None
    return min(1.0, max(0.0, (after[0] - before[0] - own_s) / (wall_s * after[1])))


def latency(
    policies: dict[str, VLAPolicy],
    obs: Sequence[dict[str, Any]],
    calls: int = 60,
    warmup: int = 10,
    threads: int = 2,
    rounds: int = 5,
) -> dict[str, dict[str, Any]]:
    """Interleaved medians (ms) of the whole call and of the trunk inside it, per policy, at batch 1, and
    the medians of ``rounds`` consecutive rounds of those calls (``*_ms_rounds``, for speedup intervals).

    The trunk (with the router of a routed student) is timed inside the same calls as the whole, so
    its share is measured under identical conditions.
    """
    prev = torch.get_num_threads()
    torch.set_num_threads(threads)
    parts = {name: [call_parts(p, o) for o in obs] for name, p in policies.items()}
    times: dict[str, dict[str, list[float]]] = {n: {"call": [], "trunk": []} for n in policies}
    busy, own, wall = cpu_busy_seconds(), time.process_time(), time.perf_counter()
    with torch.inference_mode():
        for i in range(warmup + calls):
            for name, p in policies.items():
                clock: list[float] = []
                t0 = time.perf_counter()
                _whole_call(p, parts[name][i % len(obs)], clock)
                t1 = time.perf_counter()
                if i >= warmup:
                    times[name]["call"].append(1e3 * (t1 - t0))
                    times[name]["trunk"].append(1e3 * (clock[1] - clock[0]))
    other = other_cpu_share(busy, cpu_busy_seconds(), time.process_time() - own, time.perf_counter() - wall)
    torch.set_num_threads(prev)
    out = {}
    for name, t in times.items():
        call, trunk = float(np.median(t["call"])), float(np.median(t["trunk"]))
        out[name] = {"call_ms": call, "trunk_ms": trunk, "trunk_time_share": trunk / call, "calls": calls}
        out[name]["other_cpu_share"] = other
        # medians of consecutive rounds of the interleaved calls: paired across policies, round by round
        for part in ("call", "trunk"):
            out[name][f"{part}_ms_rounds"] = [
                round(float(np.median(r)), 4) for r in np.array_split(t[part], min(rounds, len(t[part])))
            ]
    return out


def contention_warning(share: float | None) -> str:
    """A warning line when other processes used the CPU while timing, else ''."""
    if share is None or share <= CONTENTION_WARN:
        return ""
    return (
        f"warning: other processes used {100 * share:.0f}% of the CPU while timing: the latencies and speedups "
        "are unreliable (pause them and measure again)"
    )


def amdahl_bound(trunk_share: float, fraction: float) -> float:
    """Whole-call speedup reachable by running a fraction f of the trunk: 1 / ((1 - t) + t f)."""
    return 1.0 / ((1.0 - trunk_share) + trunk_share * fraction)


def mean_call_gflops(student: dict[str, float], fraction: float, layers: int) -> tuple[float, float]:
    """(trunk, whole) GFLOPs of the mean call that runs ``fraction`` of ``layers``: the probe call's
    FlopCounterMode count, corrected by the layers the mean call runs more (or fewer) than it did."""
    extra = (fraction * layers - student["layers_run"]) * student["gflops_per_layer"]
    return student["gflops_trunk"] + extra, student["gflops_call"] + extra


def compare(
    teacher_flops: dict[str, float],
    teacher_lat: dict[str, float],
    student: dict[str, Any],
    fractions: Sequence[float] | None = None,
) -> dict[str, float]:
    """Student vs teacher: FLOP ratios, speedups (ratios of medians) and the Amdahl bound.

    ``fractions``: realised layer fractions per evaluation episode; without them the fraction of the
    profiled call is used. FLOP ratios are those of the mean call over the episodes.
    """
    if fractions:
        f = float(np.mean(fractions))
    else:
        f = student["layers_run"] / teacher_flops["layers_run"]
    t = teacher_lat["trunk_time_share"]
    trunk, call = mean_call_gflops(student, f, teacher_flops["layers_run"])
    return {
        "layer_fraction": f,
        "gflops_trunk_mean": trunk,
        "gflops_call_mean": call,
        "teacher_call_ms": teacher_lat["call_ms"],
        "teacher_trunk_ms": teacher_lat["trunk_ms"],
        "teacher_trunk_time_share": t,
        "teacher_gflops_call": teacher_flops["gflops_call"],
        "teacher_gflops_trunk": teacher_flops["gflops_trunk"],
        "trunk_flops_ratio": trunk / teacher_flops["gflops_trunk"],
        "call_flops_ratio": call / teacher_flops["gflops_call"],
        "speedup_trunk": teacher_lat["trunk_ms"] / student["trunk_ms"],
        "speedup_call": teacher_lat["call_ms"] / student["call_ms"],
        "amdahl_bound": amdahl_bound(t, f),
        **round_speedups(teacher_lat, student),
    }


def round_speedups(teacher_lat: dict[str, Any], student: dict[str, Any]) -> dict[str, Any]:
    """Speedups of each timing round (teacher's round median / student's, the rounds interleaved) and their
    95% t-interval: ``speedup_call_ci``, ``speedup_trunk_ci`` (empty without rounds)."""
    from bench.metrics import mean_t_ci

    out: dict[str, Any] = {}
    for part in ("call", "trunk"):
        a, b = teacher_lat.get(f"{part}_ms_rounds"), student.get(f"{part}_ms_rounds")
        if not a or not b or len(a) != len(b) or len(a) < 2:
            continue
        s = np.asarray(a) / np.asarray(b)
        _, lo, hi = mean_t_ci(s)
        out[f"speedup_{part}_rounds"] = [round(float(x), 4) for x in s]
        out[f"speedup_{part}_ci"] = [round(float(lo), 4), round(float(hi), 4)]
    return out
