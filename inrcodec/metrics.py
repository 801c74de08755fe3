"""Distortion and rate-distortion metrics: MSE/PSNR on 8-bit images and Bjontegaard deltas.

numpy/scipy only, so evaluation code and tests can use it without importing torch.
Conventions follow the measurement protocol in DESIGN.md: PSNR on the decoded 8-bit RGB output, BD-rate by
pchip interpolation of log-rate against PSNR over the overlapping PSNR range.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

ArrayLike = np.ndarray | Sequence[float]


def _as_float_pair(reference: np.ndarray, decoded: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Check two integer images of equal shape and return them as float64 (so differences cannot wrap)."""
    reference, decoded = np.asarray(reference), np.asarray(decoded)
    if reference.shape != decoded.shape:
        raise ValueError(f"shape mismatch: reference {reference.shape} vs decoded {decoded.shape}")
    if reference.size == 0:
        raise ValueError("cannot measure distortion of empty images")
    for name, image in (("reference", reference), ("decoded", decoded)):
        # A float image in [0, 1] against peak 255 would give a meaningless PSNR without any error.
        if not np.issubdtype(image.dtype, np.integer):
            raise TypeError(f"{name} must hold integer samples (e.g. uint8), got dtype {image.dtype}")
    return reference.astype(np.float64), decoded.astype(np.float64)


def mse(reference: np.ndarray, decoded: np.ndarray) -> float:
    """Mean squared error over all samples, in squared code values.

    reference, decoded: integer arrays of the same shape, typically uint8 [H, W, 3].
    """
    reference, decoded = _as_float_pair(reference, decoded)
    return float(np.mean((reference - decoded) ** 2))


def psnr_from_mse(mse_value: float, peak: float = 255.0) -> float:
    """PSNR in dB for a mean squared error in squared code values; inf when mse_value is 0."""
    if mse_value < 0:
        raise ValueError(f"MSE must be non-negative, got {mse_value}")
    if mse_value == 0:
        return float("inf")
    return 10.0 * math.log10(peak * peak / mse_value)


def psnr(reference: np.ndarray, decoded: np.ndarray, peak: float = 255.0) -> float:
    """Peak signal-to-noise ratio in dB; float('inf') for identical images.

    reference, decoded: integer arrays of the same shape, typically uint8 [H, W, 3] RGB.
    peak: largest code value (255 for 8-bit samples).
    """
    return psnr_from_mse(mse(reference, decoded), peak)


def _rd_points(rate: ArrayLike, psnr_db: ArrayLike, curve: str) -> tuple[np.ndarray, np.ndarray]:
    """Validate one rate-distortion curve; return (log rate, PSNR), both float64 [N]."""
    rate, psnr_db = np.asarray(rate, dtype=np.float64).ravel(), np.asarray(psnr_db, dtype=np.float64).ravel()
    if rate.size != psnr_db.size:
        raise ValueError(f"{curve} curve: {rate.size} rates but {psnr_db.size} PSNR values")
    if rate.size < 2:
        raise ValueError(f"{curve} curve: need at least 2 rate-distortion points, got {rate.size}")
    if not (np.all(np.isfinite(rate)) and np.all(np.isfinite(psnr_db))):
        raise ValueError(f"{curve} curve: rates and PSNR values must be finite")
    if np.any(rate <= 0):
        raise ValueError(f"{curve} curve: rates must be positive (their logarithm is interpolated)")
    return np.log(rate), psnr_db


def _overlap(anchor_x: np.ndarray, test_x: np.ndarray, axis: str) -> tuple[float, float]:
    """The interval [lo, hi] covered by both curves along the integration axis."""
    lo, hi = max(anchor_x.min(), test_x.min()), min(anchor_x.max(), test_x.max())
    if hi <= lo:
        raise ValueError(
            f"{axis} ranges do not overlap: anchor [{anchor_x.min():.4g}, {anchor_x.max():.4g}], "
            f"test [{test_x.min():.4g}, {test_x.max():.4g}]"
        )
    return float(lo), float(hi)


def _pchip_mean(x: np.ndarray, y: np.ndarray, lo: float, hi: float, curve: str) -> float:
    """Mean of the pchip interpolant of y(x) over [lo, hi]; points are sorted by x first."""
    from scipy.interpolate import PchipInterpolator  # deferred: scipy.interpolate takes ~0.5 s to import

    order = np.argsort(x, kind="stable")
    x, y = x[order], y[order]
    if np.any(np.diff(x) == 0):
        raise ValueError(f"{curve} curve: repeated values on the interpolation axis: {x.tolist()}")
    return float(PchipInterpolator(x, y).integrate(lo, hi)) / (hi - lo)


def bd_rate(anchor_bpp: ArrayLike, anchor_psnr: ArrayLike, test_bpp: ArrayLike, test_psnr: ArrayLike) -> float:
    """Bjontegaard delta rate of test against anchor, in percent.

    Each curve is N >= 2 points (rate [N], any positive unit such as bpp; PSNR [N] in dB), in any order.
    log(rate) is interpolated as a function of PSNR with pchip and averaged over the PSNR range both curves
    cover. Negative means the test codec needs fewer bits than the anchor for the same quality
    (e.g. -50.0: half the rate). Raises ValueError for too few points or PSNR ranges that do not overlap.
    """
    anchor_log_rate, anchor_db = _rd_points(anchor_bpp, anchor_psnr, "anchor")
    test_log_rate, test_db = _rd_points(test_bpp, test_psnr, "test")
    lo, hi = _overlap(anchor_db, test_db, "PSNR")
    mean_log_ratio = _pchip_mean(test_db, test_log_rate, lo, hi, "test") - _pchip_mean(
        anchor_db, anchor_log_rate, lo, hi, "anchor"
    )
    return float(np.expm1(mean_log_ratio) * 100.0)


def bd_psnr(anchor_bpp: ArrayLike, anchor_psnr: ArrayLike, test_bpp: ArrayLike, test_psnr: ArrayLike) -> float:
    """Bjontegaard delta PSNR of test against anchor, in dB.

    Same inputs as bd_rate. PSNR is interpolated as a function of log(rate) with pchip and averaged over the
    log-rate range both curves cover. Positive means the test codec is better at the same rate. Raises
    ValueError for too few points or rate ranges that do not overlap.
    """
    anchor_log_rate, anchor_db = _rd_points(anchor_bpp, anchor_psnr, "anchor")
    test_log_rate, test_db = _rd_points(test_bpp, test_psnr, "test")
    lo, hi = _overlap(anchor_log_rate, test_log_rate, "log-rate")
    return _pchip_mean(test_log_rate, test_db, lo, hi, "test") - _pchip_mean(
        anchor_log_rate, anchor_db, lo, hi, "anchor"
    )
