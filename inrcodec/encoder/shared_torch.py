"""The shared decoder of codec v2 in torch: gains, bilinear upsampling, synthesis and the context model.

This is the differentiable twin of the numpy decoder (inrcodec/field/synthesis.py, inrcodec/entropy/context.py):
the same weights under the same names, the same function within float tolerance for the synthesis, and the
float model of the fixed-point context network. Training and the encoder's refinement use it.
"""

from __future__ import annotations

import math

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

# 3x3 patch order is row-major over (dy, dx) in -1..1; mirroring a patch left-right or up-down permutes it.
_MIRROR_X = [2, 1, 0, 5, 4, 3, 8, 7, 6]
_MIRROR_Y = [6, 7, 8, 3, 4, 5, 0, 1, 2]


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

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        x = features.permute(0, 2, 3, 1)  # per-pixel layers as matrix products on [B, H, W, C]
        for i, layer in enumerate(self.mlp):
            x = layer(x)
            if i < len(self.mlp) - 1:
                x = F.relu(x)
        x = x.permute(0, 3, 1, 2)
        for i, conv in enumerate(self.res):
            # replicate padding, so borders see copies of the edge rather than zeros (the numpy path does the same)
            y = conv(F.pad(x, (1, 1, 1, 1), mode="replicate"))
            x = x + (F.relu(y) if i < len(self.res) - 1 else y)
        return self.out(x) + 0.5


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


def _shift(x: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """[B, 1, H, W] -> value at (i + dy, j + dx), zero outside."""
    h, w = x.shape[-2:]
    padded = F.pad(x, (2, 2, 2, 2))
    return padded[..., 2 + dy : 2 + dy + h, 2 + dx : 2 + dx + w]


def coarse_context(coarse: torch.Tensor | None, height: int, width: int, batch: int) -> torch.Tensor:
    """3x3 neighbourhood of each vertex's parent on the coarser level, mirrored so that the patch's first
    column and row lie away from the vertex: [B, 1, h, w] -> [B, 9, height, width]. Zeros for the coarsest."""
    if coarse is None:
        return torch.zeros(batch, 9, height, width)
    patches = F.unfold(F.pad(coarse, (1, 1, 1, 1)), 3).view(batch, 9, *coarse.shape[-2:])
    up = patches.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)[..., :height, :width]
    col_odd = (torch.arange(width) % 2 == 1).view(1, 1, 1, width)
    row_odd = (torch.arange(height) % 2 == 1).view(1, 1, height, 1)
    up = torch.where(col_odd, up[:, _MIRROR_X], up)
    return torch.where(row_odd, up[:, _MIRROR_Y], up)


def same_level_context(latent: torch.Tensor) -> torch.Tensor:
    """[B, 1, H, W] -> [B, 12, H, W]: the pass-A neighbours of SAME_LEVEL_OFFSETS."""
    return torch.cat([_shift(latent, dy, dx) for dy, dx in SAME_LEVEL_OFFSETS], dim=1)


def anchor_mask(height: int, width: int) -> torch.Tensor:
    """[1, 1, H, W] bool: True on pass A, (i + j) even."""
    i = torch.arange(height).view(-1, 1)
    j = torch.arange(width).view(1, -1)
    return ((i + j) % 2 == 0).view(1, 1, height, width)


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

    def render(self, latents: list[torch.Tensor], rate_codes: torch.Tensor, height: int, width: int) -> torch.Tensor:
        """Quantised latents (finest first) [B, 1, h_l, w_l] -> RGB [B, 3, height, width]."""
        gains = torch.exp(self.log_gains(rate_codes))
        features = torch.cat(
            [upsample(q * gains[:, l].view(-1, 1, 1, 1), l, height, width) for l, q in enumerate(latents)], dim=1
        )
        return self.synthesis(features)

    def distribution(
        self, latents: list[torch.Tensor], rate_codes: torch.Tensor
    ) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Per level (finest first), the Laplace (mean, log-scale) [B, 1, h, w] of every latent from its causal
        context in the integer latents `latents` (rounded values: the decoder sees nothing else)."""
        batch = latents[0].shape[0]
        rate_feature = (rate_codes / RATE_FEATURE_DIVISOR).view(-1, 1, 1, 1)
        out = []
        for level, q in enumerate(latents):
            h, w = q.shape[-2:]
            clamped = q.clamp(-CONTEXT_CLAMP, CONTEXT_CLAMP)
            coarse = latents[level + 1].clamp(-CONTEXT_CLAMP, CONTEXT_CLAMP) if level + 1 < len(latents) else None
            rate = rate_feature.expand(batch, 1, h, w)
            context = torch.cat([coarse_context(coarse, h, w, batch), rate, same_level_context(clamped)], dim=1)
            context = context.permute(0, 2, 3, 1).reshape(batch, h * w, -1)
            anchors = anchor_mask(h, w).view(-1)
            n_a = self.config.context_inputs(False)
            params = torch.empty(batch, h * w, 2)
            params[:, anchors] = self.context_a[level](context[:, anchors, :n_a])
            params[:, ~anchors] = self.context_b[level](context[:, ~anchors])
            params = params.view(batch, h, w, 2).permute(0, 3, 1, 2)
            mean = params[:, :1]
            log_scale = params[:, 1:].clamp(LOG_SCALE_MIN, LOG_SCALE_MAX)
            out.append((mean, log_scale))
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
