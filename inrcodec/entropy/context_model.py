"""The context model of codec v2 in integer fixed point (SPEC.md sections 5.1 and 6.2): bit-exact on any machine.

For each latent of a level, in one of two checkerboard passes, a small MLP maps its causal context (9 coarse
neighbours, the rate code, and in pass B 12 same-level neighbours) to a Laplace mean and log-scale, which select
a table of inrcodec/entropy/tables.py. Weights are the float32 weights of the shared model rounded to multiples
of 2^-12; activations carry 8 fractional bits; every product and sum is an integer below 2^53, so numpy float64
matrix products compute it exactly (and fast); `mlp_int64` is the same function in int64 arithmetic, kept
for the tests.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from inrcodec.entropy.tables import LOG_SCALE_MIN, LOG_SCALE_STEP, N_FRACTIONS, N_SCALES
from inrcodec.model.config import (
    CONTEXT_CLAMP,
    RATE_FEATURE_DIVISOR,
    SAME_LEVEL_OFFSETS,
)

WEIGHT_BITS = 12
ACTIVATION_BITS = 8
WEIGHT_LIMIT = 1 << 15  # |weight| < 8 after scaling by 2^12
BIAS_LIMIT = 1 << 31
ACTIVATION_LIMIT = (1 << 24) - 1  # hidden activations are clamped to [0, 2^24 - 1]
MEAN_LIMIT = 1024 << ACTIVATION_BITS  # predicted means are clamped to [-1024, 1024]
_ONE = 1 << ACTIVATION_BITS
MLP_COLUMNS = 4096


@dataclass(frozen=True)
class IntegerMlp:
    """Layers (W [out, in] int, b [out] int) in fixed point; weights at 2^-12, biases at 2^-20."""

    weights: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray, ...]

    @classmethod
    def from_float(cls, layers: list[tuple[np.ndarray, np.ndarray]], name: str) -> "IntegerMlp":
        """Round float32 (weight [out, in], bias [out]) pairs; ValueError if a value is out of range."""
        weights, biases = [], []
        for weight, bias in layers:
            w = np.round(np.asarray(weight, dtype=np.float64) * (1 << WEIGHT_BITS))
            b = np.round(np.asarray(bias, dtype=np.float64) * (1 << (WEIGHT_BITS + ACTIVATION_BITS)))
            if np.abs(w).max(initial=0) >= WEIGHT_LIMIT or np.abs(b).max(initial=0) >= BIAS_LIMIT:
                raise ValueError(f"context network {name} has a weight outside the fixed-point range")
            weights.append(w.astype(np.int64))
            biases.append(b.astype(np.int64))
        return cls(tuple(weights), tuple(biases))

    def __post_init__(self) -> None:
        # float64 copies for the fast path, scaled by 2^-12: W x / 2^12 summed term by term is exact (every
        # partial sum is a multiple of 2^-12 below 2^32 in magnitude: 44 bits), so one floor finishes a layer
        scale = 1.0 / (1 << WEIGHT_BITS)
        object.__setattr__(self, "_float_layers", tuple(
            (w.astype(np.float64) * scale, b.astype(np.float64)[:, None] * scale)
            for w, b in zip(self.weights, self.biases)
        ))  # fmt: skip

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """x [in, N] integer-valued float64 at 2^-8 -> [2, N] integer-valued float64 at 2^-8 (mean, log-scale).

        Feature-major on purpose: W [out, in] @ x [in, N] is faster in BLAS than x.T @ W.T for these narrow
        layers. Columns go MLP_COLUMNS at a time, so that the hidden activations stay in the CPU's cache (a
        chunk of 65,536 pass-B contexts: 4.6 against 9.3 ms in one thread; 8 % of a video frame's decode)."""
        out = np.empty((self.weights[-1].shape[0], x.shape[1]))
        for start in range(0, x.shape[1], MLP_COLUMNS):
            out[:, start : start + MLP_COLUMNS] = self._columns(x[:, start : start + MLP_COLUMNS])
        return out

    def _columns(self, x: np.ndarray) -> np.ndarray:
        layers = self._float_layers
        for i, (w, b) in enumerate(layers):
            x = w @ x
            x += b
            np.floor(x, out=x)
            if i < len(layers) - 1:
                np.maximum(x, 0, out=x)  # np.clip's Python wrapper costs more than these two ufuncs
                np.minimum(x, ACTIVATION_LIMIT, out=x)
        return x

    def mlp_int64(self, x: np.ndarray) -> np.ndarray:
        """The same function in int64 arithmetic (the definition; slower): x [in, N] -> [2, N]."""
        x = x.astype(np.int64)
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            x = (w @ x + b[:, None]) >> WEIGHT_BITS
            if i < len(self.weights) - 1:
                x = np.clip(x, 0, ACTIVATION_LIMIT)
        return x


def padded_grid(grid: np.ndarray, pad: int) -> np.ndarray:
    """int grid [..., h, w] -> float64 [..., h + 2 pad, w + 2 pad]: values clamped to +-CONTEXT_CLAMP, at 2^-8,
    zero outside (leading axes, a stack of grids, are not padded)."""
    clamped = np.clip(grid, -CONTEXT_CLAMP, CONTEXT_CLAMP).astype(np.float64) * _ONE
    return np.pad(clamped, [(0, 0)] * (grid.ndim - 2) + [(pad, pad)] * 2)


_COARSE_OFFSETS = tuple((dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1))


def context_indices(
    rows: np.ndarray, cols: np.ndarray, coarse_stride: int | None, same_stride: int | None
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Where the context of vertices (rows, cols) lies: flat indices [9, N] into the padded coarser grid (row
    length coarse_stride; None: no coarser level) and [12, N] into the padded grid of this level (row length
    same_stride; None: pass A), in context_matrix's column order; int32, or int64 for grids too large for it."""
    coarse = same = None
    # int32 (half the memory traffic of int64) unless a padded grid holds 2^31 values or more
    widest = max(coarse_stride or 0, same_stride or 0)
    dtype = np.int32 if not rows.size or (int(rows.max()) + 5) * widest < 1 << 31 else np.int64
    if coarse_stride is not None:
        sign_y = np.where(rows % 2 == 1, -coarse_stride, coarse_stride)
        sign_x = np.where(cols % 2 == 1, -1, 1)
        centre = (rows // 2 + 1) * coarse_stride + cols // 2 + 1
        coarse = np.empty((len(_COARSE_OFFSETS), rows.size), dtype)
        for k, (dy, dx) in enumerate(_COARSE_OFFSETS):
            coarse[k] = centre + sign_y * dy + sign_x * dx
    if same_stride is not None:
        centre = (rows + 2) * same_stride + cols + 2
        same = np.empty((len(SAME_LEVEL_OFFSETS), rows.size), dtype)
        for k, (dy, dx) in enumerate(SAME_LEVEL_OFFSETS):
            same[k] = centre + dy * same_stride + dx
    return coarse, same


def gather_context(
    coarse: np.ndarray | None, same: np.ndarray | None, coarse_at: np.ndarray | None, same_at: np.ndarray | None,
    rate_code: int, count: int,
) -> np.ndarray:
    """context_matrix of `count` vertices from the padded grids and context_indices' indices into them (coarse_at
    None where coarse is, same_at where same is) -> [C, B count]. np.take of precomputed indices: several times
    faster than computing and fancy-indexing them per chunk (mode "clip": the indices lie in the grids by
    construction, and "raise" would buffer the output)."""
    stacked = next((grid.shape[0] for grid in (coarse, same) if grid is not None and grid.ndim == 3), 1)
    out = np.zeros((10 + (len(SAME_LEVEL_OFFSETS) if same is not None else 0), stacked, count), dtype=np.float64)
    for grid, at, first in ((coarse, coarse_at, 0), (same, same_at, 10)):
        if grid is None:
            continue
        flat = grid.reshape(stacked, -1)
        if stacked == 1:
            np.take(flat[0], at, out=out[first : first + at.shape[0], 0], mode="clip")
        else:
            out[first : first + at.shape[0]] = np.take(flat, at, axis=1, mode="clip").transpose(1, 0, 2)
    out[9] = rate_code * (_ONE // RATE_FEATURE_DIVISOR)
    return out.reshape(out.shape[0], -1)


def context_matrix(
    coarse: np.ndarray | None, same: np.ndarray | None, rows: np.ndarray, cols: np.ndarray, rate_code: int
) -> np.ndarray:
    """Fixed-point inputs [C, N] (float64 holding integers at 2^-8) of vertices (rows, cols) of a level; of a
    stack of B grids of one size, [C, B N] (grid after grid).

    coarse: padded_grid(coarser level, 1) ([h, w] or [B, h, w]), or None for the coarsest level (zeros); same:
    padded_grid(this level, 2) in pass B, None in pass A. Columns: the 3x3 neighbourhood of the parent (rows // 2, cols // 2) on
    the coarser level in (dy, dx) row-major order, mirrored left-right on odd columns and up-down on odd rows (so
    the first row and column lie away from the vertex); the rate code as t / 64; in pass B the 12 neighbours
    of SAME_LEVEL_OFFSETS.
    """
    coarse_at, same_at = context_indices(rows, cols, None if coarse is None else coarse.shape[-1],
                                         None if same is None else same.shape[-1])  # fmt: skip
    return gather_context(coarse, same, coarse_at, same_at, rate_code, rows.size)


def pass_positions(height: int, width: int, second: bool) -> tuple[np.ndarray, np.ndarray]:
    """(rows, cols) of a checkerboard pass in raster order: pass A has i + j even, pass B odd."""
    rows, cols = np.nonzero((np.add.outer(np.arange(height), np.arange(width)) % 2 == 1) == second)
    return rows, cols


def table_choice(params: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Network output [2, N] (mean, log-scale at 2^-8) -> (integer mean m int64 [N], table index int64 [N])."""
    mean = np.clip(params[0], -MEAN_LIMIT, MEAN_LIMIT).astype(np.int64)
    log_scale = params[1].astype(np.int64)
    m = (mean + _ONE // 2) >> ACTIVATION_BITS
    fraction = (mean + _ONE // 2 - (m << ACTIVATION_BITS)) >> (ACTIVATION_BITS - 3)
    step = round(LOG_SCALE_STEP * _ONE)
    s = np.clip((log_scale - round(LOG_SCALE_MIN * _ONE) + step // 2) // step, 0, N_SCALES - 1)
    return m, s * N_FRACTIONS + fraction
