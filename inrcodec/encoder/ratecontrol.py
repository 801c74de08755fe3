"""Rate control: find the rate weight lambda whose file lands within a tolerance of a target bpp.

The file size falls with lambda roughly as a power law, so the search steps in (log lambda, log bpp): a first
jump with a typical slope, then secants through the two trials that bracket (or are nearest to) the target.
Every trial is a real encode whose bpp comes from its bytes. Torch-free: the caller supplies `encode_at`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

from inrcodec.model.config import LAMBDA_MAX, LAMBDA_MIN

LAMBDA_LOW = LAMBDA_MIN  # the range of the v2 rate codes
LAMBDA_HIGH = LAMBDA_MAX
TYPICAL_SLOPE = -0.6  # d log(bpp) / d log(lambda), measured over q1..q8 on Kodak (core benchmark)

EncodeAt = Callable[[float], tuple[bytes, dict]]


@dataclass
class Search:
    """Outcome: the chosen trial's file and stats, every trial's (lambda, bpp), and whether it is in tolerance."""

    data: bytes
    stats: dict
    trials: list[dict] = field(default_factory=list)
    reached: bool = False


def search_lambda(
    encode_at: EncodeAt,
    target_bpp: float,
    start_lambda: float,
    tolerance: float = 0.05,
    max_trials: int = 8,
    on_trial: Callable[[dict], None] | None = None,
) -> Search:
    """Trials until |bpp / target - 1| <= tolerance, the lambda range is exhausted, or max_trials.

    Returns the trial nearest the target (in log bpp) when none is within tolerance.
    """
    if not target_bpp > 0 or not math.isfinite(target_bpp):
        raise ValueError(f"target bpp must be a positive number, got {target_bpp}")
    results: list[tuple[float, float, bytes, dict]] = []
    lam = min(max(start_lambda, LAMBDA_LOW), LAMBDA_HIGH)
    for _ in range(max_trials):
        data, stats = encode_at(lam)
        bpp = stats["bpp"]
        results.append((lam, bpp, data, stats))
        trial = {"lambda": lam, "bpp": bpp, "psnr_rgb": stats.get("psnr_rgb")}
        if on_trial is not None:
            on_trial(trial)
        if abs(bpp / target_bpp - 1) <= tolerance:
            break
        next_lam = _next_lambda(results, target_bpp)
        if any(abs(math.log(next_lam / tried)) < 1e-3 for tried, *_ in results):
            break  # at a bound of the range, or the secant stalled: nothing new to try
        lam = next_lam
    best = min(results, key=lambda r: abs(math.log(r[1] / target_bpp)))
    trials = [{"lambda": r[0], "bpp": r[1], "psnr_rgb": r[3].get("psnr_rgb")} for r in results]
    return Search(data=best[2], stats=best[3], trials=trials, reached=abs(best[1] / target_bpp - 1) <= tolerance)


def _next_lambda(results: list[tuple[float, float, bytes, dict]], target_bpp: float) -> float:
    """Secant in log-log space through the trials nearest the target on each side (or the two nearest)."""
    log_target = math.log(target_bpp)
    below = [r for r in results if r[1] < target_bpp]
    above = [r for r in results if r[1] >= target_bpp]
    if below and above:
        pair = [max(below, key=lambda r: r[1]), min(above, key=lambda r: r[1])]
    else:
        pair = sorted(results, key=lambda r: abs(math.log(r[1]) - log_target))[:2]
    slope = TYPICAL_SLOPE
    if len(pair) == 2 and abs(math.log(pair[0][0] / pair[1][0])) > 1e-6:
        measured = (math.log(pair[0][1]) - math.log(pair[1][1])) / (math.log(pair[0][0]) - math.log(pair[1][0]))
        if measured < -0.05:  # a flat or rising secant (noise) would send the search far away
            slope = measured
    lam, bpp = pair[0][0], pair[0][1]
    next_log = math.log(lam) + (log_target - math.log(bpp)) / slope
    if below and above:  # stay strictly inside the bracket
        low, high = sorted((math.log(pair[0][0]), math.log(pair[1][0])))
        next_log = min(max(next_log, low + 0.1 * (high - low)), high - 0.1 * (high - low))
    return min(max(math.exp(next_log), LAMBDA_LOW), LAMBDA_HIGH)
