"""Quantisation of grid values and MLP weights to integers, and the differentiable rate proxy used while fitting."""

from __future__ import annotations

import math

import torch

from inrcodec.entropy import MAX_SYMBOL


def quantise(values: torch.Tensor, step: float) -> torch.Tensor:
    """Nearest integer multiple of `step`, clamped to the coder's alphabet: int32 symbols, same shape."""
    return torch.clamp(torch.round(values / step), -MAX_SYMBOL, MAX_SYMBOL).to(torch.int32)


def straight_through_round(values: torch.Tensor) -> torch.Tensor:
    """round() in the forward pass, identity gradient in the backward pass."""
    rounded = torch.clamp(torch.round(values), -MAX_SYMBOL, MAX_SYMBOL)
    return values + (rounded - values).detach()


def uniform_noise(values: torch.Tensor) -> torch.Tensor:
    """values + U(-1/2, 1/2): the usual differentiable stand-in for rounding early in the fit."""
    return values + torch.rand_like(values) - 0.5


def laplace_bits(values: torch.Tensor, log_scale: torch.Tensor) -> torch.Tensor:
    """Bits of each value under a zero-mean Laplace of scale exp(log_scale), integrated over a unit bin.

    values: [...] in quantisation steps; log_scale: broadcastable to values. -> [...] bits (differentiable).
    """
    scale = torch.exp(log_scale)
    upper = _laplace_cdf(values + 0.5, scale)
    lower = _laplace_cdf(values - 0.5, scale)
    return -torch.log2(torch.clamp(upper - lower, min=1e-9))


def _laplace_cdf(x: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    # The two branches avoid exp overflow; expm1 keeps precision for the centre bin.
    z = -torch.abs(x) / scale
    half_tail = 0.5 * torch.exp(z)
    return torch.where(x < 0, half_tail, 1.0 - half_tail)


def initial_log_scale() -> float:
    return math.log(0.5)
