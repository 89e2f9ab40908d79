"""Success-rate statistics."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats
from scipy.stats import binomtest


def wilson(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion; (0, 1) when ``n`` is 0."""
    if n == 0:
        return 0.0, 1.0
    ci = binomtest(successes, n).proportion_ci(confidence_level=confidence, method="wilson")
    return float(ci.low), float(ci.high)


def paired_diff_ci(a: list[bool], b: list[bool], confidence: float = 0.95) -> tuple[float, float, float]:
    """Difference of success rates ``mean(a) - mean(b)`` on paired episodes (the same init states) with
    Newcombe's score interval for paired proportions (1998, method 10: Wilson limits of both rates
    combined with the phi correlation of the pairs). Returns (difference, low, high)."""
    if len(a) != len(b) or not a:
        raise ValueError(f"need two equally long non-empty outcome lists, got {len(a)} and {len(b)}")
    n = len(a)
    both = sum(x and y for x, y in zip(a, b, strict=True))
    only_a = sum(x and not y for x, y in zip(a, b, strict=True))
    only_b = sum(y and not x for x, y in zip(a, b, strict=True))
    neither = n - both - only_a - only_b
    p1, p2 = (both + only_a) / n, (both + only_b) / n
    l1, u1 = wilson(both + only_a, n, confidence)
    l2, u2 = wilson(both + only_b, n, confidence)
    den = (both + only_a) * (only_b + neither) * (both + only_b) * (only_a + neither)
    phi = (both * neither - only_a * only_b) / math.sqrt(den) if den else 0.0
    low = math.sqrt(max((p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2, 0.0))
    high = math.sqrt(max((u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2, 0.0))
    d = p1 - p2
    return d, d - low, d + high


def fisher_regressed(ref: int, ref_n: int, successes: int, n: int) -> float:
    """One-sided Fisher exact p-value that a run of ``successes``/``n`` is worse than a reference of
    ``ref``/``ref_n`` (the test of LeRobot's ``lerobot-eval-compare``)."""
    if not (0 <= ref <= ref_n and 0 <= successes <= n) or not ref_n or not n:
        raise ValueError(f"need 0 <= successes <= n > 0, got {ref}/{ref_n} and {successes}/{n}")
    return float(stats.fisher_exact([[ref, ref_n - ref], [successes, n - successes]], alternative="greater")[1])


def fisher_floor(ref: int, n: int, alpha: float = 0.05) -> int:
    """The fewest successes out of ``n`` that a one-sided Fisher exact test at ``alpha`` does not call
    worse than the reference ``ref``/``n``: below it, a run is REGRESSED; at or above it, HELD."""
    return next(k for k in range(n + 1) if fisher_regressed(ref, n, k, n) >= alpha)


def format_rate(successes: int, n: int) -> str:
    """``"45/50 = 90.0% [78.6, 95.7]"``."""
    lo, hi = wilson(successes, n)
    rate = 100.0 * successes / n if n else float("nan")
    return f"{successes}/{n} = {rate:.1f}% [{100 * lo:.1f}, {100 * hi:.1f}]"


def rate_rows(df: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Success counts with 95% Wilson intervals per group of episode records.

    Columns: ``by``, successes, episodes, success_rate, ci95_low, ci95_high, errors, errors_<kind>
    for each failure kind (policy, simulator, renderer) and mean_steps.
    """
    rows = []
    for key, g in df.groupby(by, sort=True):
        s, n = int(g["success"].sum()), len(g)
        lo, hi = wilson(s, n)
        kinds = g["error_kind"] if "error_kind" in g else pd.Series([None] * n)
        rows.append(
            {
                **dict(zip(by, key if isinstance(key, tuple) else (key,), strict=True)),
                "successes": s,
                "episodes": n,
                "success_rate": s / n,
                "ci95_low": lo,
                "ci95_high": hi,
                "errors": int(g["error"].notna().sum()) if "error" in g else 0,
                **{f"errors_{k}": int((kinds == k).sum()) for k in ("policy", "simulator", "renderer")},
                "mean_steps": float(g["steps"].mean()),
            }
        )
    return pd.DataFrame(rows)


def mean_t_ci(values, confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean of ``values`` and its Student-t interval; a single value or no spread gives (m, m, m)."""
    v = np.asarray(values, np.float64)
    m = float(v.mean())
    if len(v) < 2 or float(v.std()) == 0.0:
        return m, m, m
    lo, hi = stats.t.interval(confidence, len(v) - 1, loc=m, scale=stats.sem(v))
    return m, float(lo), float(hi)
