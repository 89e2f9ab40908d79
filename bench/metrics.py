"""Success-rate statistics."""

from __future__ import annotations

from scipy.stats import binomtest


def wilson(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion; (0, 1) when ``n`` is 0."""
    if n == 0:
        return 0.0, 1.0
    ci = binomtest(successes, n).proportion_ci(confidence_level=confidence, method="wilson")
    return float(ci.low), float(ci.high)


def format_rate(successes: int, n: int) -> str:
    """``"45/50 = 90.0% [78.6, 95.7]"``."""
    lo, hi = wilson(successes, n)
    rate = 100.0 * successes / n if n else float("nan")
    return f"{successes}/{n} = {rate:.1f}% [{100 * lo:.1f}, {100 * hi:.1f}]"
