"""The shared decoder of codec v2 in torch: gains, bilinear upsampling, synthesis and the context model.

This is the differentiable twin of the numpy decoder (inrcodec/field/synthesis.py, inrcodec/entropy/context.py):
the same weights under the same names, the same function within float tolerance for the synthesis, and the
float model of the fixed-point context network. Training and the encoder's refinement use it.
"""

from __future__ import annotations

import math
from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import nn

from inrcodec.model.config import (
    CONTEXT_CLAMP,
    RATE_CODES,
    RATE_FEATURE_DIVISOR,
    SAME_LEVEL_OFFSETS,
    ModelConfig,
)
from inrcodec.entropy.tables import LOG_SCALE_MAX, LOG_SCALE_MIN



def upsample(latent: torch.Tensor, level: int, height: int, width: int) -> torch.Tensor:
    """[B, 1, h, w] grid of `level` -> [B, 1, height, width]: bilinear, vertex k at pixel (k + 0.5) 2^level - 0.5,
    edges clamped (F.interpolate with align_corners=False, then cropped)."""
    if level == 0:
        return latent[..., :height, :width]
    scale = float(1 << level)
    out = F.interpolate(latent, scale_factor=scale, mode="bilinear", align_corners=False)
    return out[..., :height, :width]


class Synthesis(nn.Module):
    """Latent features [B, L, H, W] -> RGB [B, 3, H, W] (about [0, 1]): 1x1 MLP, residual 3x3 convs, 1x1."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        widths = (config.n_levels, *config.synth_hidden, config.synth_channels)
        self.mlp = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:]))
        channels = config.synth_channels
        self.res = nn.ModuleList(nn.Conv2d(channels, channels, 3) for _ in range(config.synth_resblocks))
        self.out = nn.Conv2d(channels, 3, 1)
        for conv in self.res:
            nn.init.zeros_(conv.weight)
            nn.init.zeros_(conv.bias)

    def forward(self, features: torch.Tensor, modulation: torch.Tensor | None = None) -> torch.Tensor:
        """features [B, L, H, W]; modulation [M] (ModelConfig.modulation_size) added to the output layer's weight
        and bias and to the first layer's bias (SPEC 7), or None."""
        out_weight, out_bias = self.out.weight, self.out.bias
        first_bias = self.mlp[0].bias
        if modulation is not None:
            c = out_weight.shape[1]
            out_weight = out_weight + modulation[: 3 * c].view(3, c, 1, 1)
            out_bias = out_bias + modulation[3 * c : 3 * c + 3]
            first_bias = first_bias + modulation[3 * c + 3 :]
        x = features.permute(0, 2, 3, 1)  # per-pixel layers as matrix products on [B, H, W, C]
        for i, layer in enumerate(self.mlp):
            x = F.linear(x, layer.weight, first_bias if i == 0 else layer.bias)
            if i < len(self.mlp) - 1:
                x = F.relu(x)
        x = x.permute(0, 3, 1, 2)
        for i, conv in enumerate(self.res):
            # replicate padding, so borders see copies of the edge rather than zeros (the numpy path does the same)
            y = conv(F.pad(x, (1, 1, 1, 1), mode="replicate"))
            x = x + (F.relu(y) if i < len(self.res) - 1 else y)
        return F.conv2d(x, out_weight, out_bias) + 0.5


class ContextNet(nn.Module):
    """One (level, pass) MLP: contexts [N, C] -> (mean, log-scale) [N, 2] in latent units."""

    def __init__(self, inputs: int, hidden: tuple[int, ...]) -> None:
        super().__init__()
        widths = (inputs, *hidden, 2)
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:]))
        nn.init.zeros_(self.layers[-1].weight)
        nn.init.zeros_(self.layers[-1].bias)

    def forward(self, context: torch.Tensor) -> torch.Tensor:
        x = context
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = F.relu(x)
        return x


@lru_cache(maxsize=64)
def gather_plan(height: int, width: int, coarse_width: int) -> tuple[int, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Where the contexts of a level's latents are read, as flat indices (the decoder's SPEC 6.2, batched).

    Latents are taken in coding order: pass A (i + j even) then pass B, each in raster order. -> (number in
    pass A, indices [N, 9] of the parent's mirrored 3x3 neighbourhood in the coarser level padded by 1 (width
    coarse_width + 2), indices [N_B, 12] of pass B's SAME_LEVEL_OFFSETS neighbours in this level padded by 2,
    and the permutation [N] that puts coding order back into raster order)."""
    rows = torch.arange(height).view(-1, 1).expand(height, width).reshape(-1)
    cols = torch.arange(width).view(1, -1).expand(height, width).reshape(-1)
    anchors = (rows + cols) % 2 == 0
    order = torch.cat([torch.nonzero(anchors).view(-1), torch.nonzero(~anchors).view(-1)])
    rows, cols = rows[order], cols[order]
    sign_y, sign_x = torch.where(rows % 2 == 1, -1, 1), torch.where(cols % 2 == 1, -1, 1)
    parent_y, parent_x = rows // 2 + 1, cols // 2 + 1
    coarse = torch.stack([(parent_y + sign_y * dy) * (coarse_width + 2) + parent_x + sign_x * dx
                          for dy in (-1, 0, 1) for dx in (-1, 0, 1)], dim=1)  # fmt: skip
    n_a = int(anchors.sum())
    same = torch.stack([(rows[n_a:] + 2 + dy) * (width + 4) + cols[n_a:] + 2 + dx for dy, dx in SAME_LEVEL_OFFSETS], 1)
    inverse = torch.empty_like(order)
    inverse[order] = torch.arange(order.numel())
    return n_a, coarse, same, inverse


def padded_coarser(coarse: torch.Tensor) -> torch.Tensor:
    """A coarser level [B, 1, h', w'] as its finer level's contexts read it: clamped, zero-padded by one vertex
    [B, 1, h' + 2, w' + 2] (the layout of inrcodec.entropy.context_model.padded_grid, in latent units)."""
    return F.pad(coarse.clamp(-CONTEXT_CLAMP, CONTEXT_CLAMP), (1, 1, 1, 1))


def context_inputs(
    latent: torch.Tensor, coarse: torch.Tensor | None, rate_codes: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The context networks' inputs of a level: latent [B, 1, h, w], the coarser level as padded_coarser gives
    it [B, 1, h' + 2, w' + 2] (None for the coarsest), rate codes [B] -> (pass A [B, N_A, 10], pass B
    [B, N_B, 22]), in coding order."""
    batch, _, height, width = latent.shape
    coarse_width = coarse.shape[-1] - 2 if coarse is not None else 1
    n_a, coarse_index, same_index, _ = gather_plan(height, width, coarse_width)
    n = height * width
    if coarse is None:
        around = torch.zeros(batch, n, 9)
    else:
        around = coarse.reshape(batch, -1)[:, coarse_index]
    rate = (rate_codes / RATE_FEATURE_DIVISOR).view(-1, 1, 1).expand(batch, n, 1)
    same = F.pad(latent.clamp(-CONTEXT_CLAMP, CONTEXT_CLAMP), (2, 2, 2, 2)).reshape(batch, -1)[:, same_index]
    first = torch.cat([around[:, :n_a], rate[:, :n_a]], dim=-1)
    second = torch.cat([around[:, n_a:], rate[:, n_a:], same], dim=-1)
    return first, second


class SharedModel(nn.Module):
    """Everything the decoder shares across images: per-level gains, synthesis and the context networks."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        # latent l enters the synthesis as q_l * exp(gain_base[l] + gain_slope[l] * t / 255)
        self.gain_base = nn.Parameter(torch.zeros(config.n_levels))
        self.gain_slope = nn.Parameter(torch.full((config.n_levels,), -2.0))
        self.synthesis = Synthesis(config)
        self.context_a = nn.ModuleList(
            ContextNet(config.context_inputs(False), config.ctx_hidden) for _ in range(config.n_levels)
        )
        self.context_b = nn.ModuleList(
            ContextNet(config.context_inputs(True), config.ctx_hidden) for _ in range(config.n_levels)
        )

    def log_gains(self, rate_codes: torch.Tensor) -> torch.Tensor:
        """rate_codes [B] in [0, 255] -> log gains [B, L]."""
        frac = (rate_codes / (RATE_CODES - 1)).view(-1, 1)
        return self.gain_base.view(1, -1) + self.gain_slope.view(1, -1) * frac

    def render(
        self, latents: list[torch.Tensor], rate_codes: torch.Tensor, height: int, width: int,
        modulation: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Quantised latents (finest first) [B, 1, h_l, w_l] -> RGB [B, 3, height, width]; modulation [M] or None."""
        gains = torch.exp(self.log_gains(rate_codes))
        features = torch.cat(
            [upsample(q * gains[:, l].view(-1, 1, 1, 1), l, height, width) for l, q in enumerate(latents)], dim=1
        )
        return self.synthesis(features, modulation)

    def distribution(
        self, latents: list[torch.Tensor], rate_codes: torch.Tensor, first_level: int = 0,
        coarser: torch.Tensor | None = None,
    ) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Per level (finest first), the Laplace (mean, log-scale) [B, 1, h, w] of every latent from its causal
        context in the integer latents `latents` (rounded values: the decoder sees nothing else), the model's
        levels first_level..; coarser: what the coarsest of them reads as its coarser level, in padded_coarser's
        layout (a tile's window of the canvas, SPEC 3.2), None for the model's coarsest level."""
        out = []
        for index, q in enumerate(latents):
            batch, _, height, width = q.shape
            coarse = padded_coarser(latents[index + 1]) if index + 1 < len(latents) else coarser
            first, second = context_inputs(q, coarse, rate_codes)
            inverse = gather_plan(height, width, coarse.shape[-1] - 2 if coarse is not None else 1)[3]
            level = first_level + index
            params = torch.cat([self.context_a[level](first), self.context_b[level](second)], dim=1)[:, inverse]
            params = params.view(batch, height, width, 2).permute(0, 3, 1, 2)
            out.append((params[:, :1], params[:, 1:].clamp(LOG_SCALE_MIN, LOG_SCALE_MAX)))
        return out


def laplace_bits(value: torch.Tensor, mean: torch.Tensor, log_scale: torch.Tensor) -> torch.Tensor:
    """-log2 of the probability of the unit bin around `value` under Laplace(mean, exp(log_scale)), elementwise;
    capped at 24 bits (the coder's table precision)."""
    inv_b = torch.exp(-log_scale)
    d = (value - mean).abs()
    # d >= 1/2: P = 1/2 exp(-(d - 1/2)/b) (1 - exp(-1/b))
    far = -math.log(2.0) - (d - 0.5).clamp(min=0) * inv_b + torch.log1p(-torch.exp(-inv_b).clamp(max=1 - 1e-7))
    # d < 1/2: P = 1 - 1/2 exp(-(1/2 - d)/b) - 1/2 exp(-(1/2 + d)/b)
    tail = 0.5 * torch.exp(-(0.5 - d).clamp(min=0) * inv_b) + 0.5 * torch.exp(-(0.5 + d) * inv_b)
    near = torch.log1p(-tail.clamp(max=1 - 1e-7))
    log_p = torch.where(d >= 0.5, far, near)
    return (-log_p / math.log(2.0)).clamp(max=24.0)
