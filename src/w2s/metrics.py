"""Accuracy, pass@k, bootstrap confidence intervals, performance gap recovered (PGR) and the spread
of a statistic across seeds."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence


def accuracy(correct: Sequence[bool]) -> float:
    return sum(map(bool, correct)) / len(correct) if correct else float("nan")


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k of one question with n samples of which c are correct (Chen et al. 2021):
    1 - C(n-c, k) / C(n, k)."""
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"pass@k needs 0 <= c <= n and 1 <= k <= n (n={n}, c={c}, k={k})")
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def mean_pass_at_k(counts: Sequence[tuple[int, int]], k: int) -> float:
    """Mean pass@k over questions given (n, c) per question."""
    return sum(pass_at_k(n, c, k) for n, c in counts) / len(counts)


def bootstrap_indices(n: int, resamples: int = 1000, seed: int = 0) -> list[list[int]]:
    """The question indices each bootstrap resample draws (with replacement), seeded.

    ``bootstrap_ci`` draws exactly these, so a caller that resamples several methods on the same
    questions with the same seed gets each method's ``bootstrap_ci`` interval and, from the same
    resamples, paired statistics such as the PGR interval.
    """
    rng = random.Random(seed)
    return [[rng.randrange(n) for _ in range(n)] for _ in range(resamples)]


def percentile_interval(stats: Sequence[float], level: float = 0.95) -> tuple[float, float]:
    """The percentile interval of bootstrap statistics: the order statistics at (1 -/+ level) / 2."""
    if not stats:
        return (float("nan"), float("nan"))
    ordered = sorted(stats)
    m = len(ordered)
    lo_index = int(math.floor((1 - level) / 2 * m))
    hi_index = int(math.ceil((1 + level) / 2 * m)) - 1
    return (ordered[max(lo_index, 0)], ordered[min(max(hi_index, 0), m - 1)])


def bootstrap_ci(correct: Sequence[bool], resamples: int = 1000, seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of the accuracy: resample questions with replacement.

    Seeded, so a rerun gives the same interval. The percentile method is used because
    accuracies near 0 or 1 make normal intervals leave [0, 1].
    """
    values = [1 if c else 0 for c in correct]
    n = len(values)
    if n == 0:
        return (float("nan"), float("nan"))
    stats = [sum(values[i] for i in draw) / n for draw in bootstrap_indices(n, resamples, seed)]
    return percentile_interval(stats, level)


def pgr(method: float, weak_floor: float, strong_ceiling: float) -> float:
    """Performance gap recovered: (method - weak floor) / (strong ceiling - weak floor)."""
    gap = strong_ceiling - weak_floor
    if gap == 0:
        return float("nan")
    # + 0.0 turns -0.0 (the floor itself when the gap is negative) into 0.0.
    return (method - weak_floor) / gap + 0.0


def spread(values: Sequence[float | None]) -> dict[str, float]:
    """Mean, sample standard deviation (n - 1), min and max of the defined values (None and NaN
    left out), and how many there were. With one value the sd is NaN; with none, everything is."""
    xs = [float(v) for v in values if v is not None and v == v]
    nan = float("nan")
    if not xs:
        return {"mean": nan, "sd": nan, "min": nan, "max": nan, "count": 0}
    mean = math.fsum(xs) / len(xs)
    sd = math.sqrt(math.fsum((x - mean) ** 2 for x in xs) / (len(xs) - 1)) if len(xs) > 1 else nan
    return {"mean": mean, "sd": sd, "min": min(xs), "max": max(xs), "count": len(xs)}
