"""The normative v2 field in numpy float32 (SPEC.md section 7): latents -> pixels, rendered in strips.

Latent l (int, [h_l, w_l]) times its gain is upsampled bilinearly (vertex k at pixel (k + 1/2) 2^l - 1/2,
edges clamped); the L feature maps go through a per-pixel MLP (ReLU between layers), residual 3x3
convolutions (replicate padding at the image border; ReLU inside all but the last) and a 1x1 layer to RGB,
plus 1/2. Rows are rendered in strips with a halo of one row per convolution, so memory grows with the width,
not the image. A View renders a window of the image (a region decode) or of a grid at another resolution
(a scaled decode: the features are sampled at the scaled pixel centres, the convolutions run on the new grid). inrcodec/encoder/shared_torch.py is the same function in torch (tested equal within 1e-4).
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


@dataclass(frozen=True)
class View:
    """What to render: an output grid of out_height x out_width pixels over the image (the coded size scaled;
    equal to it for a plain decode), and the window [top, bottom) x [left, right) of that grid."""

    out_height: int
    out_width: int
    top: int
    left: int
    bottom: int
    right: int

    @classmethod
    def whole(cls, height: int, width: int) -> "View":
        return cls(height, width, 0, 0, height, width)


def interpolation(size: int, level: int, grid_size: int, start: int = 0, stop: int | None = None,
                  out_size: int | None = None):  # fmt: skip
    """Lower index, upper index and upper weight (float32) of output pixels [start, stop) along one axis.

    An output grid of out_size pixels over an image side of `size` pixels samples the field at image coordinate
    (i + 1/2) size / out_size - 1/2 (the pixel centres, for out_size = size)."""
    out_size = size if out_size is None else out_size
    stop = out_size if stop is None else stop
    scale = np.float32(size / out_size / (1 << level))  # exactly 2^-l when out_size == size
    coord = np.maximum((np.arange(start, stop, dtype=np.float32) + np.float32(0.5)) * scale - np.float32(0.5), 0)
    lower = np.floor(coord).astype(np.int64)
    upper = np.minimum(lower + 1, grid_size - 1)
    return lower, upper, (coord - lower).astype(np.float32)


def upsample(grid: np.ndarray, level: int, height: int, width: int, view: View, rows: tuple[int, int],
             cols: tuple[int, int]) -> np.ndarray:  # fmt: skip
    """float32 grid [h, w] of `level` -> its bilinear upsampling on output rows [rows) and columns [cols) of the
    view's grid: [n_rows, n_cols]."""
    (top, bottom), (left, right) = rows, cols
    if level == 0 and (view.out_height, view.out_width) == (height, width):
        return grid[top:bottom, left:right]
    r0, r1, wr = interpolation(height, level, grid.shape[0], top, bottom, view.out_height)
    c0, c1, wc = interpolation(width, level, grid.shape[1], left, right, view.out_width)
    upper_rows = grid[r0] + wr[:, None] * (grid[r1] - grid[r0])
    return upper_rows[:, c0] + wc[None, :] * (upper_rows[:, c1] - upper_rows[:, c0])


def _conv3x3(x: np.ndarray, origin: tuple[int, int], size: tuple[int, int], kernel: np.ndarray,
             bias: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:  # fmt: skip
    """x [n, m, C] = output-grid rows [top, top + n) and columns [left, left + m) -> (conv output, its origin).

    At the grid's border rows and columns are replicated; elsewhere the halo row or column is used up."""
    (top, left), (height, width) = origin, size
    n, m = x.shape[:2]
    pad_top, pad_bottom = int(top == 0), int(top + n == height)
    pad_left, pad_right = int(left == 0), int(left + m == width)
    padded = np.pad(x, ((pad_top, pad_bottom), (pad_left, pad_right), (0, 0)), mode="edge")
    rows, cols = padded.shape[0] - 2, padded.shape[1] - 2
    out = np.broadcast_to(bias, (rows, cols, bias.size)).copy()
    for dy in range(3):
        for dx in range(3):
            out += padded[dy : dy + rows, dx : dx + cols] @ kernel[:, :, dy, dx].T
    return out, (top - pad_top + 1, left - pad_left + 1)


def render(
    latents: list[np.ndarray], gains: np.ndarray, weights: SynthesisWeights, height: int, width: int,
    strip_rows: int = STRIP_ROWS, view: View | None = None, finish=None,
) -> np.ndarray:
    """Integer latents (finest first) of a height x width image, gains [L] float32 -> RGB float32 (not clipped)
    of the view: [bottom - top, right - left, 3] (default: the whole image at its coded size); finish: applied
    to each strip's float RGB [n, w, 3] as it is rendered (e.g. to 8 bits), so the whole image is only ever
    held in its output form.

    Only the window is computed, with a halo of one row and column per convolution, so a region costs its share
    of the image and equals the same window of the whole render."""
    view = view or View.whole(height, width)
    grids = [q.astype(np.float32) * np.float32(g) for q, g in zip(latents, gains)]
    halo = len(weights.res)
    size = (view.out_height, view.out_width)
    left, right = max(0, view.left - halo), min(view.out_width, view.right + halo)
    out = None
    for first in range(view.top, view.bottom, strip_rows):
        last = min(view.bottom, first + strip_rows)
        top, bottom = max(0, first - halo), min(view.out_height, last + halo)
        x = np.stack([upsample(g, l, height, width, view, (top, bottom), (left, right))
                      for l, g in enumerate(grids)], -1)  # fmt: skip
        for i, (w, b) in enumerate(weights.mlp):
            x = x @ w.T + b
            if i < len(weights.mlp) - 1:
                np.maximum(x, 0, out=x)
        origin = (top, left)
        for i, (kernel, bias) in enumerate(weights.res):
            y, new_origin = _conv3x3(x, origin, size, kernel, bias)
            if i < len(weights.res) - 1:
                np.maximum(y, 0, out=y)
            dy, dx = new_origin[0] - origin[0], new_origin[1] - origin[1]
            x = x[dy : dy + y.shape[0], dx : dx + y.shape[1]] + y
            origin = new_origin
        w_out, b_out = weights.out
        window = x[first - origin[0] : last - origin[0], view.left - origin[1] : view.right - origin[1]]
        strip = window @ w_out.T + b_out + np.float32(0.5)
        if finish is not None:
            strip = finish(strip)
        if out is None:
            out = np.empty((view.bottom - view.top, *strip.shape[1:]), dtype=strip.dtype)
        out[first - view.top : last - view.top] = strip
    return out


def to_uint8(rgb: np.ndarray) -> np.ndarray:
    """float RGB in about [0, 1] -> uint8, rounding half up: floor(clip(x, 0, 1) * 255 + 1/2)."""
    return np.floor(np.clip(rgb, 0.0, 1.0) * np.float32(255) + np.float32(0.5)).astype(np.uint8)
