"""Quantisation of v1 grid values to integers, and the differentiable rate proxy used while fitting a video frame."""

from __future__ import annotations

import math

import torch

from inrcodec.video.v1.header import MAX_SYMBOL


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
    # exp(-|x| / scale) never overflows; the branch picks the tail on the side of x.
    z = -torch.abs(x) / scale
    half_tail = 0.5 * torch.exp(z)
    return torch.where(x < 0, half_tail, 1.0 - half_tail)


def plane_contexts(rounded: torch.Tensor, parent: torch.Tensor | None) -> torch.Tensor:
    """Contexts of context.py (context_map) for whole planes, in torch: rounded [H, W, F], parent [h, w, F] -> [H, W, F].

    The fit uses it to estimate the rate the context coder will spend; tests check it equals context_map.
    """
    magnitude = rounded.abs()
    above = torch.nn.functional.pad(magnitude, (0, 0, 1, 1, 1, 0))[:-1]  # row y holds row y-1, zero-padded in x
    activity = above[:, :-2] + above[:, 1:-1] + above[:, 2:]
    contexts = torch.clamp(activity, max=2)
    if parent is not None:
        rows = torch.clamp(torch.arange(rounded.shape[0]) // 2, max=parent.shape[0] - 1)
        cols = torch.clamp(torch.arange(rounded.shape[1]) // 2, max=parent.shape[1] - 1)
        contexts = contexts + 3 * (parent[rows][:, cols] != 0)
    return contexts.long()


def inter_plane_contexts(
    shape: torch.Size, parent: torch.Tensor | None, previous: torch.Tensor | None
) -> torch.Tensor:
    """Contexts of context.inter_context_map in torch: shape (H, W, F); parent [h, w, F] (this frame's
    coarser residual), previous [H, W, F] (the frame before's residual) or None -> [H, W, F]."""
    contexts = torch.zeros(shape, dtype=torch.long)
    if previous is not None:
        contexts = torch.clamp(previous.abs(), max=2).long()
    if parent is not None:
        rows = torch.clamp(torch.arange(shape[0]) // 2, max=parent.shape[0] - 1)
        cols = torch.clamp(torch.arange(shape[1]) // 2, max=parent.shape[1] - 1)
        contexts = contexts + 3 * (parent[rows][:, cols] != 0).long()
    return contexts


def initial_log_scale() -> float:
    return math.log(0.5)
