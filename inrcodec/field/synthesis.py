"""The normative v2 field in numpy float32 (SPEC.md section 7): latents -> pixels, rendered in strips.

Latent l (int, [h_l, w_l]) times its gain is upsampled bilinearly (vertex k at pixel (k + 1/2) 2^l - 1/2,
edges clamped); the L feature maps go through a per-pixel MLP (ReLU between layers), residual 3x3
convolutions (replicate padding at the image border; ReLU inside all but the last) and a 1x1 layer to RGB,
plus 1/2. Rows are rendered in strips with a halo of one row per convolution, so memory grows with the width,
not the image. inrcodec/encoder/shared_torch.py is the same function in torch (tested equal within 1e-4).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

STRIP_ROWS = 64


@dataclass(frozen=True)
class SynthesisWeights:
    """float32 weights: mlp [(W [out, in], b [out])], res [(K [C, C, 3, 3], b [C])], out (W [3, C], b [3])."""

    mlp: tuple[tuple[np.ndarray, np.ndarray], ...]
    res: tuple[tuple[np.ndarray, np.ndarray], ...]
    out: tuple[np.ndarray, np.ndarray]

    @property
    def modulation_size(self) -> int:
        return self.out[0].size + self.out[1].size + self.mlp[0][1].size

    def modulated(self, modulation: np.ndarray) -> "SynthesisWeights":
        """A file's modulation [M] float32 (SPEC 7: output weight [3, C] row-major, output bias [3], first
        layer's bias) added to these weights."""
        if modulation.size != self.modulation_size:
            raise ValueError(f"a modulation of {modulation.size} numbers, the model takes {self.modulation_size}")
        w_out, b_out = self.out
        n_weight = w_out.size
        out = (w_out + modulation[:n_weight].reshape(w_out.shape), b_out + modulation[n_weight : n_weight + 3])
        (w_first, b_first), *rest = self.mlp
        first = (w_first, b_first + modulation[n_weight + 3 :])
        return SynthesisWeights((first, *rest), self.res, out)


def interpolation(size: int, level: int, grid_size: int, start: int = 0, stop: int | None = None):
    """Lower index, upper index and upper weight (float32) of output pixels [start, stop) along one axis."""
    stop = size if stop is None else stop
    scale = np.float32(1.0 / (1 << level))
    coord = np.maximum((np.arange(start, stop, dtype=np.float32) + np.float32(0.5)) * scale - np.float32(0.5), 0)
    lower = np.floor(coord).astype(np.int64)
    upper = np.minimum(lower + 1, grid_size - 1)
    return lower, upper, (coord - lower).astype(np.float32)


def upsample_rows(grid: np.ndarray, level: int, height: int, width: int, top: int, bottom: int) -> np.ndarray:
    """float32 grid [h, w] of `level` -> its bilinear upsampling on image rows [top, bottom): [rows, width]."""
    if level == 0:
        return grid[top:bottom, :width]
    r0, r1, wr = interpolation(height, level, grid.shape[0], top, bottom)
    c0, c1, wc = interpolation(width, level, grid.shape[1])
    rows = grid[r0] + wr[:, None] * (grid[r1] - grid[r0])
    return rows[:, c0] + wc[None, :] * (rows[:, c1] - rows[:, c0])


def _conv3x3(x: np.ndarray, top: int, height: int, kernel: np.ndarray, bias: np.ndarray) -> tuple[np.ndarray, int]:
    """x [n, W, C] = image rows [top, top + n) -> (conv output [n', W, C], its first row). Rows at the image
    border are replicated; elsewhere the halo row is used up."""
    n = x.shape[0]
    pad_top, pad_bottom = int(top == 0), int(top + n == height)
    padded = np.pad(x, ((pad_top, pad_bottom), (1, 1), (0, 0)), mode="edge")
    rows, width = padded.shape[0] - 2, x.shape[1]
    out = np.broadcast_to(bias, (rows, width, bias.size)).copy()
    for dy in range(3):
        for dx in range(3):
            out += padded[dy : dy + rows, dx : dx + width] @ kernel[:, :, dy, dx].T
    return out, top - pad_top + 1


def render(
    latents: list[np.ndarray], gains: np.ndarray, weights: SynthesisWeights, height: int, width: int,
    strip_rows: int = STRIP_ROWS,
) -> np.ndarray:
    """Integer latents (finest first), gains [L] float32 -> RGB float32 [height, width, 3] (not clipped)."""
    grids = [q.astype(np.float32) * np.float32(g) for q, g in zip(latents, gains)]
    halo = len(weights.res)
    out = np.empty((height, width, 3), dtype=np.float32)
    for first in range(0, height, strip_rows):
        last = min(height, first + strip_rows)
        top, bottom = max(0, first - halo), min(height, last + halo)
        x = np.stack([upsample_rows(g, l, height, width, top, bottom) for l, g in enumerate(grids)], -1)
        for i, (w, b) in enumerate(weights.mlp):
            x = x @ w.T + b
            if i < len(weights.mlp) - 1:
                np.maximum(x, 0, out=x)
        row = top
        for i, (kernel, bias) in enumerate(weights.res):
            y, new_row = _conv3x3(x, row, height, kernel, bias)
            if i < len(weights.res) - 1:
                np.maximum(y, 0, out=y)
            x = x[new_row - row : new_row - row + y.shape[0]] + y
            row = new_row
        w_out, b_out = weights.out
        rgb = x[first - row : last - row] @ w_out.T + b_out + np.float32(0.5)
        out[first:last] = rgb
    return out


def to_uint8(rgb: np.ndarray) -> np.ndarray:
    """float RGB in about [0, 1] -> uint8, rounding half up: floor(clip(x, 0, 1) * 255 + 1/2)."""
    return np.floor(np.clip(rgb, 0.0, 1.0) * np.float32(255) + np.float32(0.5)).astype(np.uint8)
