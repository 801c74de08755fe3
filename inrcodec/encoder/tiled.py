"""Encoding a tiled image in bounded memory: the analysis network and the refinement see one tile at a time.

The prediction runs the analysis network on each tile with ANALYSIS_MARGIN pixels of the image around it and
keeps the latents inside the tile. The refinement optimises the latents of the whole canvas, but its cost is
evaluated tile by tile, each tile's gradients added into the canvas's before one optimiser step:

- distortion: each tile's pixels rendered with a halo of one pixel per convolution, from the latents of the
  tile and its eight neighbours (where bilinear sampling reaches); the halo's pixels are rendered but not
  counted, so every pixel is counted once and equals the whole render's;
- rate: each tile's fine levels as the file codes them (SPEC 3.2: the tile alone, level K-1 reading the canvas'
  level K around it), and the coarse levels once for the canvas.

So the sum over tiles is the cost of the file as coded, and peak memory grows with the tile, not the image
(beyond about ten float copies of the canvas's latents: the latents, their gradient, the optimiser's state, the
proxy's values). The quantisation proxy is drawn once per step for the canvas, so a vertex that two tiles read
has one value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from inrcodec.encoder.model_torch import CodecModel
from inrcodec.encoder.proxy import soft_round, soft_round_slope
from inrcodec.encoder.refine import CostFn
from inrcodec.encoder.shared_torch import laplace_bits
from inrcodec.entropy.tiles import TileGrid
from inrcodec.field.synthesis import interpolation
from inrcodec.model.config import CONTEXT_CLAMP

ANALYSIS_MARGIN = 64  # pixels of image around a tile that its prediction sees (a multiple of the coarsest step)


ELEMENTWISE_CHUNK = 1 << 18


def elementwise(fn, *tensors: torch.Tensor) -> torch.Tensor:
    """fn applied to same-shaped tensors in chunks of ELEMENTWISE_CHUNK elements, so that its temporaries stay
    small whatever the canvas' size."""
    out = torch.empty_like(tensors[0])
    flat_out, flats = out.view(-1), [t.reshape(-1) for t in tensors]
    for start in range(0, flat_out.numel(), ELEMENTWISE_CHUNK):
        flat_out[start : start + ELEMENTWISE_CHUNK] = fn(*(f[start : start + ELEMENTWISE_CHUNK] for f in flats))
    return out


def tile_target(pixels: np.ndarray, rows: slice, cols: slice) -> torch.Tensor:
    """uint8 [H, W, 3] or [H, W] -> the window as [1, 3, h, w] float in [0, 1] (grey as three equal channels)."""
    window = pixels[rows, cols]
    if window.ndim == 2:
        window = np.repeat(window[..., None], 3, axis=2)
    return torch.from_numpy(np.ascontiguousarray(window)).permute(2, 0, 1)[None].float() / 255.0


def tile_pixels(grid: TileGrid, index: int, margin: int = 0) -> tuple[slice, slice]:
    """The pixel rows and columns of tile `index`, grown by `margin` each side and clipped to the canvas."""
    ty, tx = divmod(index, grid.columns)
    side = grid.side
    return (slice(max(0, ty * side - margin), min(grid.height, (ty + 1) * side + margin)),
            slice(max(0, tx * side - margin), min(grid.width, (tx + 1) * side + margin)))  # fmt: skip


def predict_tiled(model: CodecModel, pixels: np.ndarray, rate_code: int, grid: TileGrid) -> list[torch.Tensor]:
    """The analysis network's latents (finest first) [h_l, w_l] float in integer units, tile by tile: each tile
    predicted from itself and ANALYSIS_MARGIN pixels around it."""
    code = torch.tensor([float(rate_code)])
    log_gains = model.shared.log_gains(code)
    out = [torch.zeros(grid.grid_shape(level)) for level in range(grid.n_levels)]
    for index in range(grid.count):
        rows, cols = tile_pixels(grid, index, ANALYSIS_MARGIN)
        with torch.no_grad():
            latents = model.analysis(tile_target(pixels, rows, cols), code, log_gains)
        for level, latent in enumerate(latents):
            r, c = grid.vertices(index, level)
            r0, c0 = rows.start >> level, cols.start >> level
            out[level][r, c] = latent[0, 0, r.start - r0 : r.stop - r0, c.start - c0 : c.stop - c0]
    return out


@dataclass(frozen=True)
class TilePlan:
    """What the cost of one tile reads. rows, cols: the tile's pixels; render_rows, render_cols: with the
    convolutions' halo; near: per level the vertices of the tile and its neighbours (rows, cols slices);
    sampling: per level the bilinear (lower, upper, weight) of the render's rows and of its columns, as indices
    into `near`; own: per tiled level the tile's vertices; coarse: the level-K vertices its level K-1 reads
    (one beyond the tile each side, clipped) and the zero padding beyond the canvas (F.pad order)."""

    rows: slice
    cols: slice
    render_rows: slice
    render_cols: slice
    near: tuple[tuple[slice, slice], ...]
    sampling: tuple[tuple[tuple[torch.Tensor, ...], tuple[torch.Tensor, ...]] | None, ...]
    own: tuple[tuple[slice, slice], ...]
    coarse: tuple[slice, slice, tuple[int, int, int, int]]


def _span(slices: list[slice]) -> slice:
    return slice(min(s.start for s in slices), max(s.stop for s in slices))


def plan_tile(grid: TileGrid, index: int, halo: int) -> TilePlan:
    ty, tx = divmod(index, grid.columns)
    rows, cols = tile_pixels(grid, index)
    render_rows, render_cols = tile_pixels(grid, index, halo)
    around = [y * grid.columns + x for y in range(max(0, ty - 1), min(grid.rows, ty + 2))
              for x in range(max(0, tx - 1), min(grid.columns, tx + 2))]  # fmt: skip
    near, sampling = [], []
    for level in range(grid.n_levels):
        spans = [grid.vertices(i, level) for i in around]
        near_rows, near_cols = _span([r for r, _ in spans]), _span([c for _, c in spans])
        near.append((near_rows, near_cols))
        if level == 0:
            sampling.append(None)
            continue
        axes = []
        for (start, stop), size, first, grid_size in (
            ((render_rows.start, render_rows.stop), grid.height, near_rows.start, grid.grid_shape(level)[0]),
            ((render_cols.start, render_cols.stop), grid.width, near_cols.start, grid.grid_shape(level)[1]),
        ):
            lower, upper, weight = interpolation(size, level, grid_size, start, stop)
            axes.append((torch.from_numpy(lower - first), torch.from_numpy(upper - first), torch.from_numpy(weight)))
        sampling.append(tuple(axes))
    k = grid.tiled_levels
    own = tuple(grid.vertices(index, level) for level in range(k))
    r, c = grid.vertices(index, k)
    height, width = grid.grid_shape(k)
    coarse_rows, coarse_cols = slice(max(0, r.start - 1), min(height, r.stop + 1)), slice(max(0, c.start - 1),
                                                                                        min(width, c.stop + 1))
    padding = (int(c.start == 0), int(c.stop == width), int(r.start == 0), int(r.stop == height))
    return TilePlan(rows, cols, render_rows, render_cols, tuple(near), tuple(sampling), own,
                    (coarse_rows, coarse_cols, padding))  # fmt: skip


def sample(latent: torch.Tensor, level: int, plan: TilePlan) -> torch.Tensor:
    """A level's neighbourhood [h, w] -> its bilinear upsampling on the tile's render window [n, m]."""
    if level == 0:
        near_rows, near_cols = plan.near[0]
        return latent[plan.render_rows.start - near_rows.start : plan.render_rows.stop - near_rows.start,
                      plan.render_cols.start - near_cols.start : plan.render_cols.stop - near_cols.start]  # fmt: skip
    (r0, r1, wr), (c0, c1, wc) = plan.sampling[level]
    rows = latent[r0] + wr[:, None] * (latent[r1] - latent[r0])
    return rows[:, c0] + wc[None, :] * (rows[:, c1] - rows[:, c0])


class TiledCost:
    """The refinement's cost of a tiled image (inrcodec.encoder.refine.CostFn), tile by tile.

    pixels: uint8 [H, W, 3] or [H, W] (grey: the distortion is measured on one channel)."""

    def __init__(self, model: CodecModel, pixels: np.ndarray, grid: TileGrid, rate_code: int, lam: float,
                 proxy: str, workers=None) -> None:  # fmt: skip
        """workers: a TileWorkers (inrcodec.encoder.tile_workers) that evaluates the tiles in other processes,
        or None (here)."""
        self.shared, self.pixels, self.grid, self.lam, self.proxy = model.shared, pixels, grid, lam, proxy
        self.workers = workers
        self.code = torch.tensor([float(rate_code)])
        self.grey = pixels.ndim == 2
        self.halo = len(self.shared.synthesis.res)
        self.plans = [plan_tile(grid, index, self.halo) for index in range(grid.count)]

    def __call__(self, latents, modulation, temperature, backward) -> tuple[float, float, float]:
        # The proxy is elementwise, so it is applied here without autograd (a graph over the canvas would cost
        # several copies of it) and its derivative applied to the gradients that the tiles add up.
        soft = temperature is not None and self.proxy not in ("noise", "mixed")
        with torch.no_grad():
            values = [t.detach() for t in latents]
            rounded = [torch.round(t) for t in values]
            noise = None if temperature is None else [torch.empty_like(t).uniform_(-0.5, 0.5) for t in values]
            if temperature is None:
                coded = rendered = rounded
            elif soft:
                coded = rendered = [elementwise(lambda y, u: soft_round(soft_round(y, temperature) + u, temperature),
                                                t, n) for t, n in zip(values, noise)]  # fmt: skip
            else:
                coded = [t + n for t, n in zip(values, noise)]
                # mixed, as in training: the distortion through rounding, the rate at the latents plus noise
                rendered = rounded if self.proxy == "mixed" else coded
        views = {"rounded": rounded, "coded": coded, "rendered": rendered}
        grads = None
        if backward:
            for t in latents:  # rounding is straight-through: its gradient is the latents' own
                if t.grad is None:
                    t.grad = torch.zeros_like(t)
            identity = [t.grad for t in latents]
            through = [torch.zeros_like(t) for t in values] if soft else identity
            grads = {"rounded": identity, "coded": through, "rendered": through}
        modulation_in = modulation if modulation is None or backward else modulation.detach()
        scale = 1.0 / (self.grid.height * self.grid.width)
        coarse_bits = self._coarse_bits(views, grads, scale)
        if self.workers is None:
            squared, bits = self.tiles(range(self.grid.count), views, grads, modulation_in)
        else:
            squared, bits = self.workers.tiles(views, grads, modulation_in, soft)
        bits += coarse_bits
        if backward and soft:
            with torch.no_grad():
                def chain(y: torch.Tensor, u: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
                    return g * soft_round_slope(soft_round(y, temperature) + u, temperature) * soft_round_slope(
                        y, temperature)  # fmt: skip

                for t, y, n, g in zip(latents, values, noise, grads["coded"]):
                    t.grad += elementwise(chain, y, n, g)
        mse = squared * scale / (1 if self.grey else 3)
        bpp = bits * scale
        return mse + self.lam * bpp, mse, bpp

    def tiles(self, indices, views, grads, modulation) -> tuple[float, float]:
        """The tiles' sum of squared errors and bits of their fine levels; backward (grads not None) adds their
        gradients to grads and to the modulation's .grad."""
        gains = torch.exp(self.shared.log_gains(self.code))[0].detach()
        scale = 1.0 / (self.grid.height * self.grid.width)
        squared, bits = 0.0, 0.0
        for index in indices:
            tile_squared, tile_bits = self._tile(self.plans[index], views, grads, gains, modulation, scale)
            squared, bits = squared + tile_squared, bits + tile_bits
        return squared, bits

    def _window(self, views, grads, name: str, level: int, where: tuple[slice, slice]):
        """A leaf copy of part of a canvas tensor, and where its gradient goes (None without backward)."""
        value = views[name][level][where]
        if grads is None:
            return value, None
        leaf = value.clone().requires_grad_(True)
        return leaf, (grads[name][level], where, leaf)

    @staticmethod
    def _add_grads(parts) -> None:
        for target, where, leaf in parts:
            if leaf.grad is not None:
                target[where] += leaf.grad

    def _coarse_bits(self, views, grads, scale: float) -> float:
        """The bits of the coarse levels K.. (one stream for the canvas); backward adds lam x bpp's gradients."""
        k, whole = self.grid.tiled_levels, (slice(None), slice(None))
        with torch.enable_grad() if grads is not None else torch.no_grad():
            context = [self._window(views, grads, "rounded", level, whole) for level in range(k, self.grid.n_levels)]
            values = [self._window(views, grads, "coded", level, whole) for level in range(k, self.grid.n_levels)]
            params = self.shared.distribution([c[0][None, None] for c in context], self.code, first_level=k)
            bits = sum(laplace_bits(v[0][None, None], mean, log_scale).sum() for v, (mean, log_scale) in
                       zip(values, params))  # fmt: skip
        if grads is not None:
            (bits * (self.lam * scale)).backward()
            self._add_grads([part for _, part in context + values])
        return float(bits.detach())

    def _tile(self, plan: TilePlan, views, grads, gains, modulation, scale: float) -> tuple[float, float]:
        """-> (sum of squared errors over the tile's pixels and channels, bits of its fine levels)."""
        grid, k = self.grid, self.grid.tiled_levels
        with torch.enable_grad() if grads is not None else torch.no_grad():
            near = [self._window(views, grads, "rendered", level, plan.near[level]) for level in range(grid.n_levels)]
            features = torch.stack([sample(q * gains[level], level, plan) for level, (q, _) in enumerate(near)])
            recon = self.shared.synthesis(features[None], modulation)
            inner = recon[0, :, plan.rows.start - plan.render_rows.start : plan.rows.stop - plan.render_rows.start,
                          plan.cols.start - plan.render_cols.start : plan.cols.stop - plan.render_cols.start]
            target = tile_target(self.pixels, plan.rows, plan.cols)[0]
            if self.grey:
                inner, target = inner.mean(dim=0, keepdim=True), target[:1]
            squared = ((inner - target) ** 2).sum()
            context = [self._window(views, grads, "rounded", level, plan.own[level]) for level in range(k)]
            values = [self._window(views, grads, "coded", level, plan.own[level]) for level in range(k)]
            coarse_rows, coarse_cols, padding = plan.coarse
            coarse_part = self._window(views, grads, "rounded", k, (coarse_rows, coarse_cols))
            coarser = F.pad(coarse_part[0].clamp(-CONTEXT_CLAMP, CONTEXT_CLAMP), padding)[None, None]
            params = self.shared.distribution([c[0][None, None] for c in context], self.code, coarser=coarser)
            bits = sum(laplace_bits(v[0][None, None], mean, log_scale).sum() for v, (mean, log_scale) in
                       zip(values, params))  # fmt: skip
        if grads is not None:
            (squared * (scale / (1 if self.grey else 3)) + bits * (self.lam * scale)).backward()
            self._add_grads([part for _, part in near + context + values + [coarse_part]])
        return float(squared.detach()), float(bits.detach())


def tiled_cost(model: CodecModel, pixels: np.ndarray, grid: TileGrid, rate_code: int, lam: float,
               proxy: str, workers=None) -> CostFn:  # fmt: skip
    return TiledCost(model, pixels, grid, rate_code, lam, proxy, workers)
