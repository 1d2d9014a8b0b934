"""The statistics behind experiment verdicts, as pure functions of counts: proportion tests
and intervals, a Mann-Whitney test on latency histograms, a mean with its interval."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


def normal_cdf(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2))


def two_sided_p(z: float) -> float:
    """2 P(Z > |z|), computed so that a tiny p-value does not round to 0 (not 1 - cdf)."""
    return math.erfc(abs(z) / math.sqrt(2))


def normal_ppf(p: float) -> float:
    """Inverse of the standard normal CDF (Acklam's rational approximation, then refined)."""
    if not 0 < p < 1:
        raise ValueError(f"p must be in (0, 1), got {p}")
    a = (
        -3.969683028665376e01,
        2.209460984245205e02,
        -2.759285104469687e02,
        1.383577518672690e02,
        -3.066479806614716e01,
        2.506628277459239e00,
    )
    b = (
        -5.447609879822406e01,
        1.615858368580409e02,
        -1.556989798598866e02,
        6.680131188771972e01,
        -1.328068155288572e01,
    )
    c = (
        -7.784894002430293e-03,
        -3.223964580411365e-01,
        -2.400758277161838e00,
        -2.549732539343734e00,
        4.374664141464968e00,
        2.938163982698783e00,
    )
    d = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00, 3.754408661907416e00)
    low = 0.02425
    if p < low:
        q = math.sqrt(-2 * math.log(p))
        x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / (
            (((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1
        )
    elif p > 1 - low:
        q = math.sqrt(-2 * math.log(1 - p))
        x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / (
            (((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1
        )
    else:
        q = p - 0.5
        r = q * q
        x = (
            (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5])
            * q
            / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
        )
    # One Newton step on the exact CDF brings it to double precision.
    e = normal_cdf(x) - p
    return x - e * math.sqrt(2 * math.pi) * math.exp(x * x / 2)


@dataclass(frozen=True)
class Interval:
    low: float
    high: float


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> Interval:
    """Wilson score interval for a proportion: honest near 0 and 1 and for small n."""
    if n <= 0:
        return Interval(0.0, 1.0)
    z = normal_ppf(0.5 + confidence / 2)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return Interval(max(0.0, centre - half), min(1.0, centre + half))


@dataclass(frozen=True)
class ProportionTest:
    p_a: float
    p_b: float
    diff: float  # p_b - p_a
    diff_interval: Interval  # Newcombe's hybrid score interval
    z: float
    p_value: float  # two-sided


def two_proportion_test(
    x_a: int, n_a: int, x_b: int, n_b: int, confidence: float = 0.95
) -> ProportionTest:
    """Pooled two-proportion z-test of B against A (no continuity correction)."""
    if n_a <= 0 or n_b <= 0:
        raise ValueError("both groups need at least one observation")
    p_a, p_b = x_a / n_a, x_b / n_b
    pooled = (x_a + x_b) / (n_a + n_b)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    if se == 0:
        z, p_value = 0.0, 1.0
    else:
        z = (p_b - p_a) / se
        p_value = two_sided_p(z)
    wa, wb = wilson_interval(x_a, n_a, confidence), wilson_interval(x_b, n_b, confidence)
    diff = p_b - p_a
    low = diff - math.sqrt((p_b - wb.low) ** 2 + (wa.high - p_a) ** 2)
    high = diff + math.sqrt((wb.high - p_b) ** 2 + (p_a - wa.low) ** 2)
    return ProportionTest(p_a, p_b, diff, Interval(low, high), z, p_value)


def sample_size_two_proportions(
    p_base: float, min_effect: float, alpha: float = 0.05, power: float = 0.8
) -> int:
    """Per-group n to detect |p_b - p_a| >= min_effect with a two-sided test."""
    if not 0 < min_effect < 1:
        raise ValueError("min_effect must be in (0, 1)")
    p_alt = min(max(p_base + min_effect, 1e-9), 1 - 1e-9)
    if p_alt == p_base:
        p_alt = max(p_base - min_effect, 1e-9)
    z_a = normal_ppf(1 - alpha / 2)
    z_b = normal_ppf(power)
    p_bar = (p_base + p_alt) / 2
    num = z_a * math.sqrt(2 * p_bar * (1 - p_bar)) + z_b * math.sqrt(
        p_base * (1 - p_base) + p_alt * (1 - p_alt)
    )
    return math.ceil(num * num / (p_alt - p_base) ** 2)


@dataclass(frozen=True)
class RankTest:
    u: float  # Mann-Whitney U of B (count of pairs where B > A, ties count half)
    z: float
    p_value: float  # two-sided, normal approximation with tie correction
    prob_b_greater: float  # U / (n_a n_b): P(B > A) + P(tie) / 2


def mann_whitney_binned(counts_a: Sequence[int], counts_b: Sequence[int]) -> RankTest:
    """Rank test on two histograms over the same ordered buckets (each bucket one tie group)."""
    if len(counts_a) != len(counts_b):
        raise ValueError("both histograms need the same buckets")
    n_a, n_b = sum(counts_a), sum(counts_b)
    if n_a == 0 or n_b == 0:
        raise ValueError("both groups need at least one observation")
    n = n_a + n_b
    rank_sum_b = 0.0
    below = 0
    tie_term = 0.0
    for ca, cb in zip(counts_a, counts_b, strict=True):
        t = ca + cb
        if t == 0:
            continue
        mid_rank = below + (t + 1) / 2
        rank_sum_b += cb * mid_rank
        tie_term += t**3 - t
        below += t
    u = rank_sum_b - n_b * (n_b + 1) / 2
    mean = n_a * n_b / 2
    var = n_a * n_b / 12 * ((n + 1) - tie_term / (n * (n - 1))) if n > 1 else 0.0
    if var <= 0:
        return RankTest(u, 0.0, 1.0, u / (n_a * n_b))
    z = (u - mean) / math.sqrt(var)
    return RankTest(u, z, two_sided_p(z), u / (n_a * n_b))


@dataclass(frozen=True)
class MeanEstimate:
    mean: float
    interval: Interval
    n: int


def mean_interval(total: float, total_sq: float, n: int, confidence: float = 0.95) -> MeanEstimate:
    """A mean (e.g. absolute error, for MAE) from running sums, with a normal interval."""
    if n <= 0:
        raise ValueError("need at least one observation")
    mean = total / n
    var = max(0.0, (total_sq - n * mean * mean) / (n - 1)) if n > 1 else 0.0
    half = normal_ppf(0.5 + confidence / 2) * math.sqrt(var / n)
    return MeanEstimate(mean, Interval(mean - half, mean + half), n)


def histogram_quantile(q: float, bounds: Sequence[float], counts: Sequence[int]) -> float | None:
    """Prometheus-style quantile from bucket upper bounds and per-bucket counts."""
    total = sum(counts)
    if total == 0:
        return None
    rank = q * total
    below = 0
    lower = 0.0
    for upper, c in zip(bounds, counts, strict=True):
        if below + c >= rank and c > 0:
            if math.isinf(upper):
                return lower
            return lower + (upper - lower) * (rank - below) / c
        below += c
        lower = upper if not math.isinf(upper) else lower
    return lower
