"""Quantisation proxies for refining latents (C3, Kim et al. 2024): soft-rounding with an annealed temperature
plus uniform noise, then straight-through rounding. y: latents in integer units, any shape."""

from __future__ import annotations

import math

import torch


def soft_round(y: torch.Tensor, temperature: float) -> torch.Tensor:
    """floor(y) + 1/2 + tanh(r / T) / (2 tanh(1 / (2 T))), r = y - floor(y) - 1/2: y itself as T grows, round(y)
    as T -> 0, differentiable in between."""
    base = torch.floor(y) + 0.5
    r = y - base
    return base + 0.5 * torch.tanh(r / temperature) / math.tanh(0.5 / temperature)


def soft_round_slope(y: torch.Tensor, temperature: float) -> torch.Tensor:
    """d soft_round(y) / dy, elementwise."""
    r = y - torch.floor(y) - 0.5
    return (1 - torch.tanh(r / temperature) ** 2) / (2 * temperature * math.tanh(0.5 / temperature))


def noisy_soft_round(y: torch.Tensor, temperature: float) -> torch.Tensor:
    """C3's proxy: s_T(s_T(y) + u), u ~ U(-1/2, 1/2)."""
    return soft_round(soft_round(y, temperature) + torch.empty_like(y).uniform_(-0.5, 0.5), temperature)


def straight_through(y: torch.Tensor) -> torch.Tensor:
    """round(y) forward, identity backward."""
    return y + (torch.round(y) - y).detach()


def temperature_at(progress: float, start: float = 0.3, end: float = 0.1) -> float:
    """Soft-round temperature at a fraction of the soft phase: log-linear from start to end."""
    return math.exp(math.log(start) + progress * (math.log(end) - math.log(start)))
