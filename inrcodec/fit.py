"""The encoder's inner loop: fit an ImageField to an image under a rate-distortion loss.

Grid values are held in quantisation steps (the file's step is 1.0), so rounding them gives the coded integers.
The loss is MSE + lambda * (estimated bits / pixels); bits come from a Laplace per (level, feature, context)
whose scale is learned alongside, with the coder's contexts, so the fit sees the rate the file will have.
The fit runs coarse to fine (2 x 2 block averages first, whole pixels after) and moves from additive noise to
straight-through rounding, so that the final steps see the real quantiser.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

from inrcodec.field.inr import ImageField
from inrcodec.context import N_CONTEXTS
from inrcodec.quant import initial_log_scale, laplace_bits, plane_contexts, straight_through_round, uniform_noise


@dataclass(frozen=True)
class FitSchedule:
    """Steps and learning rates of a fit; fractions are of `steps`."""

    steps: int
    lr_grid: float = 0.1
    lr_mlp: float = 0.01
    coarse_fraction: float = 0.25
    noise_fraction: float = 0.75
    seed: int = 0


@dataclass
class FitResult:
    grid_values: list[torch.Tensor]
    log_scales: torch.Tensor
    final_loss: float
    estimated_bits: float


ProgressFn = Callable[[int, dict], None]


def downsample(image: torch.Tensor, stride: int) -> torch.Tensor:
    """image: [H, W, 3] -> [ceil(H / stride), ceil(W / stride), 3] block means (edge blocks partial)."""
    if stride == 1:
        return image
    chw = image.permute(2, 0, 1)[None]
    pooled = F.avg_pool2d(chw, stride, stride, ceil_mode=True, count_include_pad=False)
    return pooled[0].permute(1, 2, 0)


def rate_bits(grid_values: list[torch.Tensor], log_scales: torch.Tensor, dense: list[bool]) -> torch.Tensor:
    """Estimated bits of all grid values under the coder's contexts.

    grid_values[l]: dense [H, W, F] or hashed [T, F]; log_scales: [L, F, N_CONTEXTS] Laplace log-scales.
    Contexts come from the rounded values (no gradient flows through the choice of context).
    """
    total = torch.zeros(())
    parent = None
    for level, values in enumerate(grid_values):
        rounded = torch.round(values.detach())
        if dense[level]:
            contexts = plane_contexts(rounded, parent)
            parent = rounded
        else:
            contexts = torch.zeros(values.shape, dtype=torch.long)
            parent = None
        features = torch.arange(values.shape[-1]).expand_as(contexts)
        total = total + laplace_bits(values, log_scales[level][features, contexts]).sum()
    return total


def fit_field(
    field: ImageField,
    target: torch.Tensor,
    lam: float,
    schedule: FitSchedule,
    progress: ProgressFn | None = None,
) -> FitResult:
    """Fit `field` in place. target: [H, W, 3] in [0, 1]; lam weighs bits per pixel against MSE.

    Uses torch's global generator for the quantisation noise; the caller seeds it (codec.encode_image does).
    """
    n_levels, n_features = field.config.grid.n_levels, field.config.grid.n_features
    log_scales = torch.full((n_levels, n_features, N_CONTEXTS), initial_log_scale(), requires_grad=True)
    dense = [level.dense for level in field.grid.levels]
    optimiser = torch.optim.Adam(
        [
            {"params": list(field.grid.values), "lr": schedule.lr_grid},
            {"params": list(field.mlp.parameters()), "lr": schedule.lr_mlp},
            {"params": [log_scales], "lr": 0.05},
        ]
    )
    base_lrs = [group["lr"] for group in optimiser.param_groups]
    targets = {1: target, 2: downsample(target, 2)}
    n_pixels = target.shape[0] * target.shape[1]
    loss = torch.zeros(())
    bits = torch.zeros(())
    for step in range(schedule.steps):
        progress_fraction = step / max(1, schedule.steps)
        stride = 2 if progress_fraction < schedule.coarse_fraction else 1
        warm = min(1.0, (step + 1) / 20)
        cosine = 0.5 * (1 + math.cos(math.pi * progress_fraction))
        for group, base in zip(optimiser.param_groups, base_lrs):
            group["lr"] = base * warm * (0.05 + 0.95 * cosine)
        perturb = uniform_noise if progress_fraction < schedule.noise_fraction else straight_through_round
        values = [perturb(v) for v in field.grid.values]
        rgb = field.render(stride, grid_values=values)
        mse = F.mse_loss(rgb, targets[stride])
        bits = rate_bits(values, log_scales, dense)
        loss = mse + lam * bits / n_pixels
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        if progress is not None:
            progress(step, {"psnr": -10 * math.log10(max(mse.item(), 1e-12)), "bpp": bits.item() / n_pixels})
    return FitResult(
        grid_values=[v.detach().clone() for v in field.grid.values],
        log_scales=log_scales.detach(),
        final_loss=loss.item(),
        estimated_bits=bits.item(),
    )
