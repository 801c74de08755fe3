"""Fitting a video frame from the v1 meta-learned model: predict, take Meta-SGD steps, optionally refine with Adam.

The per-image unknowns are grid symbols (per level [B, ey, ex, F], in quantisation steps, integers once coded)
and modulation symbols [B, rank, L * F] (V - V0, integers once coded). The encoder and meta-training run the
same `predict` and `meta_sgd`; video meta-training (train/video.py) differentiates the result with respect to
the model's residual parameters.

The objective of one image is J = SSE / (3 lambda) + bits, i.e. (MSE + lambda * bpp) * pixels / lambda: the
gradient on one vertex then does not depend on the image's size or on lambda's scale, so step sizes learned on
small crops at any quality carry over to a full image at another.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

from inrcodec.video.v1.grid import LevelGeometry, lattice_level
from inrcodec.video.v1.metamodel import MetaModel
from inrcodec.video.v1.quant import inter_plane_contexts, laplace_bits, plane_contexts, straight_through_round, uniform_noise

ProgressFn = Callable[[int, dict], None]
Perturb = Callable[[torch.Tensor], torch.Tensor]
MAX_MOVE = 4.0


@dataclass
class Images:
    """B images of one size on one grid geometry. target: [B, H, W, 3] in [0, 1]; lams: [B] rate weights;
    step_lams: [B] the rate weights whose quantisation steps the grid uses (None: lams)."""

    levels: list[LevelGeometry]
    xs: torch.Tensor
    ys: torch.Tensor
    target: torch.Tensor
    lams: torch.Tensor
    step_lams: torch.Tensor | None = None

    @property
    def steps_of(self) -> torch.Tensor:
        return self.lams if self.step_lams is None else self.step_lams

    @property
    def n_pixels(self) -> int:
        return self.target.shape[1] * self.target.shape[2]


@dataclass
class Reference:
    """What a video frame's residual is coded against, per level [B, ey, ex, F] integers: base, the frame
    before's grid (this frame's grid is base + residual), and previous, that frame's own residual (None when it
    was a group's first frame), which sets the residual's contexts (`quant.inter_plane_contexts`)."""

    base: list[torch.Tensor]
    previous: list[torch.Tensor] | None = None


def level_steps(model: MetaModel, lams: torch.Tensor) -> torch.Tensor:
    """[B] rate weights -> [B, L] quantisation steps of each image's levels."""
    return torch.stack([model.steps(float(lam)) for lam in lams])


def predict(model: MetaModel, pyramid: list[torch.Tensor], steps: torch.Tensor) -> list[torch.Tensor]:
    """The predictor's first guess. pyramid: per level [B, ey, ex, 3] YCbCr coefficients; steps: [B, L]
    -> grid symbols per level [B, ey, ex, F] (continuous)."""
    symbols = []
    for level, coefficients in enumerate(pyramid):
        features = F.conv2d(
            coefficients.permute(0, 3, 1, 2),
            model.predictor_weight[level],
            padding=model.predictor_weight.shape[-1] // 2,
        )
        symbols.append(features.permute(0, 2, 3, 1) / steps[:, level, None, None, None])
    return symbols


def render(
    model: MetaModel,
    levels: list[LevelGeometry],
    xs: torch.Tensor,
    ys: torch.Tensor,
    values: list[torch.Tensor],
    mod_symbols: torch.Tensor,
) -> torch.Tensor:
    """values: per level [B, ey, ex, F] features (symbols * step) -> RGB [B, len(ys), len(xs), 3], unclamped."""
    n_images = mod_symbols.shape[0]
    features = []
    for level, table in zip(levels, values):
        stacked = table.permute(1, 2, 0, 3).reshape(table.shape[1], table.shape[2], -1)
        features.append(lattice_level(level, stacked, xs, ys).reshape(ys.shape[0], xs.shape[0], n_images, -1))
    return model.decode_rgb(torch.cat(features, dim=-1).permute(2, 0, 1, 3), mod_symbols)


def rate_bits(
    symbols: list[torch.Tensor],
    mod_symbols: torch.Tensor,
    log_scales: torch.Tensor,
    mod_log_scale: torch.Tensor,
    reference: Reference | None = None,
) -> torch.Tensor:
    """Estimated bits per image [B] under the coder's contexts (chosen from the rounded symbols, no gradient);
    with a reference, the symbols are a residual, under the inter contexts."""
    n_images = mod_symbols.shape[0]
    total = laplace_bits(mod_symbols, mod_log_scale).sum(dim=(1, 2))
    parent = None
    for level, values in enumerate(symbols):
        rounded = torch.round(values.detach()).permute(1, 2, 0, 3).reshape(values.shape[1], values.shape[2], -1)
        if reference is None:
            contexts = plane_contexts(rounded, parent)
        else:
            previous = None
            if reference.previous is not None:
                before = reference.previous[level]
                previous = before.permute(1, 2, 0, 3).reshape(before.shape[1], before.shape[2], -1)
            contexts = inter_plane_contexts(rounded.shape, parent, previous)
        parent = rounded
        contexts = contexts.reshape(values.shape[1], values.shape[2], n_images, -1).permute(2, 0, 1, 3)
        features = torch.arange(values.shape[-1]).expand_as(contexts)
        total = total + laplace_bits(values, log_scales[level][features, contexts]).sum(dim=(1, 2, 3))
    return total


def objective(
    model: MetaModel,
    images: Images,
    symbols: list[torch.Tensor],
    mod_symbols: torch.Tensor,
    perturb: Perturb,
    log_scales: torch.Tensor | None = None,
    mod_log_scale: torch.Tensor | None = None,
    fit_modulation: bool = True,
    reference: Reference | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """-> (J [B], MSE [B], bits [B]) of the perturbed symbols; see the module docstring for J.
    fit_modulation=False: the modulation is fixed (not coded): neither perturbed nor counted in the rate.
    reference: `symbols` are a video frame's residual from reference.base; the rate counts the residual."""
    log_scales = model.log_scales if log_scales is None else log_scales
    mod_log_scale = model.mod_log_scale if mod_log_scale is None else mod_log_scale
    noisy = [perturb(s) for s in symbols]
    noisy_mod = perturb(mod_symbols) if fit_modulation else mod_symbols
    steps = level_steps(model, images.steps_of)
    totals = noisy if reference is None else [b + s for b, s in zip(reference.base, noisy)]
    values = [s * steps[:, level, None, None, None] for level, s in enumerate(totals)]
    rgb = render(model, images.levels, images.xs, images.ys, values, noisy_mod)
    sse = ((rgb - images.target) ** 2).sum(dim=(1, 2, 3))
    bits = rate_bits(noisy, noisy_mod if fit_modulation else noisy_mod[:, :0], log_scales, mod_log_scale, reference)
    mse = sse / (3 * images.n_pixels)
    return sse / (3 * images.lams) + bits, mse, bits


def meta_sgd(
    model: MetaModel,
    images: Images,
    symbols: list[torch.Tensor],
    mod_symbols: torch.Tensor,
    n_steps: int,
    progress: ProgressFn | None = None,
    fit_modulation: bool = True,
    reference: Reference | None = None,
    log_lr_grid: torch.Tensor | None = None,
    log_scales: torch.Tensor | None = None,
) -> tuple[list[torch.Tensor], torch.Tensor]:
    """n_steps of s <- s - exp(log_lr) * dJ/ds with per-level step sizes, under quantisation noise.
    fit_modulation=False keeps the modulation symbols as given (0 rounds to 0, so noise is not added either).
    reference, log_lr_grid and log_scales (default: the model's) serve video frames coded as residuals.

    First-order: the gradients are taken as constants, so the result stays differentiable with respect to the
    starting point (the predictor) and the step sizes, but not through the gradients themselves.
    """
    lr_grid = torch.exp(model.log_lr_grid if log_lr_grid is None else log_lr_grid)
    lr_mod = torch.exp(model.log_lr_mod) / images.n_pixels  # dJ/dV sums over every pixel
    for step in range(n_steps):
        leaves = [s.detach().requires_grad_(True) for s in symbols]
        mod_leaf = mod_symbols.detach().requires_grad_(True)
        with torch.enable_grad():
            j, mse, bits = objective(
                model, images, leaves, mod_leaf, uniform_noise, log_scales, fit_modulation=fit_modulation, reference=reference
            )
            grads = torch.autograd.grad(j.sum(), leaves + [mod_leaf])
        # A step is at most MAX_MOVE quantisation steps, so a poor step size cannot blow the fit up.
        symbols = [s - _clamp(lr_grid[level] * g) for level, (s, g) in enumerate(zip(symbols, grads[:-1]))]
        if fit_modulation:
            mod_symbols = mod_symbols - _clamp(lr_mod * grads[-1])
        if progress is not None:
            progress(step, _metrics(mse, bits, images.n_pixels))
    return symbols, mod_symbols


@dataclass(frozen=True)
class RefineSchedule:
    """Adam steps after the Meta-SGD steps (encoder only); noise first, straight-through rounding after."""

    steps: int
    lr_grid: float = 0.1
    lr_mod: float = 0.02
    noise_fraction: float = 0.7


def refine(
    model: MetaModel,
    images: Images,
    symbols: list[torch.Tensor],
    mod_symbols: torch.Tensor,
    schedule: RefineSchedule,
    progress: ProgressFn | None = None,
    first_step: int = 0,
    fit_modulation: bool = True,
    reference: Reference | None = None,
    log_scales: torch.Tensor | None = None,
) -> tuple[list[torch.Tensor], torch.Tensor, float]:
    """Adam on the symbols and the rate model's scales; the shared model stays fixed (and the modulation too,
    with fit_modulation=False). reference and log_scales: as in `meta_sgd`.

    Uses torch's global generator for the noise (the caller seeds it). -> (symbols, mod symbols, est. bits).
    """
    symbols = [s.detach().clone().requires_grad_(True) for s in symbols]
    mod_symbols = mod_symbols.detach().clone().requires_grad_(fit_modulation)
    log_scales = (model.log_scales if log_scales is None else log_scales).detach().clone().requires_grad_(True)
    mod_log_scale = model.mod_log_scale.detach().clone().requires_grad_(True)
    optimiser = torch.optim.Adam(
        [
            {"params": symbols, "lr": schedule.lr_grid},
            *([{"params": [mod_symbols], "lr": schedule.lr_mod}] if fit_modulation else []),
            {"params": [log_scales, mod_log_scale], "lr": 0.05},
        ]
    )
    initial_lrs = [group["lr"] for group in optimiser.param_groups]
    bits = torch.zeros(1)
    for step in range(schedule.steps):
        fraction = step / schedule.steps
        cosine = 0.5 * (1 + math.cos(math.pi * fraction))
        for group, initial in zip(optimiser.param_groups, initial_lrs):
            group["lr"] = initial * (0.05 + 0.95 * cosine)
        perturb = uniform_noise if fraction < schedule.noise_fraction else straight_through_round
        with torch.enable_grad():
            j, mse, bits = objective(
                model, images, symbols, mod_symbols, perturb, log_scales, mod_log_scale, fit_modulation, reference
            )
            optimiser.zero_grad(set_to_none=True)
            (j.sum() / images.n_pixels).backward()
        optimiser.step()
        if progress is not None:
            progress(first_step + step, _metrics(mse, bits, images.n_pixels))
    return [s.detach() for s in symbols], mod_symbols.detach(), float(bits.sum())


def _clamp(update: torch.Tensor) -> torch.Tensor:
    return torch.clamp(update, -MAX_MOVE, MAX_MOVE)


def _metrics(mse: torch.Tensor, bits: torch.Tensor, n_pixels: int) -> dict:
    mse_value = float(mse.detach().mean())
    return {"psnr": -10 * math.log10(max(mse_value, 1e-12)), "bpp": float(bits.detach().mean()) / n_pixels}
