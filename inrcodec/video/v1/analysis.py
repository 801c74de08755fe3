"""Encoder-side analysis of a v1 frame: its bilinear Laplacian pyramid in YCbCr, and the linear MLP start.

The pyramid (each level holds the residual the coarser levels leave) is what the v1 model's predictor reads to
guess a frame's grid. A fresh MetaModel's MLP starts as the exact linear map from summed features to RGB: ReLU
pairs relu(v) - relu(-v) carry each signed colour channel through the hidden layers. The decoder never needs
this module.
"""

from __future__ import annotations

import torch

from inrcodec.video.v1.grid import lattice_level
from inrcodec.video.v1.mlp import Mlp

# JPEG (full-range BT.601) YCbCr; rows map RGB in [0, 1] to (Y - 1/2, Cb, Cr).
RGB_TO_YCC = torch.tensor(
    [[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]], dtype=torch.float32
)
YCC_TO_RGB = torch.linalg.inv(RGB_TO_YCC)
N_COLOUR = 3


def splat_fit(level, shape: tuple[int, ...], xs: torch.Tensor, ys: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
    """Vertex values whose interpolation approximates `residual` [H, W, 3]: the interpolation's transpose applied
    to the residual, normalised by its transpose applied to ones (a one-pass least-squares stand-in)."""
    probe = torch.zeros(shape, requires_grad=True)
    (numerator,) = torch.autograd.grad((lattice_level(level, probe, xs, ys) * residual).sum(), probe)
    (weight,) = torch.autograd.grad(lattice_level(level, probe, xs, ys).sum(), probe)
    return numerator / weight.clamp(min=1e-6)


@torch.no_grad()
def ycbcr_pyramid(
    levels: list, shapes: list[tuple[int, ...]], xs: torch.Tensor, ys: torch.Tensor, target: torch.Tensor, passes: int = 2
) -> list[torch.Tensor]:
    """Bilinear Laplacian pyramid of B images in YCbCr (Y centred on 0): each level holds what the coarser ones
    leave. target: [B, H, W, 3] RGB in [0, 1]; shapes: per level (extent_y, extent_x), or (size,) for a hashed
    level -> per level [B, *shape, 3].
    """
    n_images = target.shape[0]
    # Image by image, so one image gives bit-identical numbers to the single-image code this replaced.
    residual = torch.cat([image @ RGB_TO_YCC.T - torch.tensor([0.5, 0.0, 0.0]) for image in target], dim=-1)
    values = [torch.zeros(*shape, n_images * N_COLOUR) for shape in shapes]
    for _ in range(passes):
        for index, level in enumerate(levels):
            with torch.enable_grad():
                update = splat_fit(level, tuple(values[index].shape), xs, ys, residual)
            values[index] += update
            residual = residual - lattice_level(level, update, xs, ys)
    return [v.reshape(*v.shape[:-1], n_images, N_COLOUR).movedim(-2, 0).contiguous() for v in values]


def linear_mlp_init(mlp: Mlp, n_levels: int, gain: float) -> None:
    """MLP weights so that output = YCC_TO_RGB @ (gain * sum over levels of features) + (1/2, 0, 0) mapped.

    Needs 3 features per level and hidden layers at least 6 wide; the other hidden units keep 1 % of their
    random weights."""
    layers = mlp.layers
    for layer in layers:
        layer.weight.mul_(0.01)
        layer.bias.zero_()
    first = layers[0].weight
    first[: 2 * N_COLOUR].zero_()
    for level in range(n_levels):
        for colour in range(N_COLOUR):
            first[colour, level * N_COLOUR + colour] = gain
            first[N_COLOUR + colour, level * N_COLOUR + colour] = -gain
    for layer in layers[1:-1]:
        layer.weight[: 2 * N_COLOUR].zero_()
        layer.weight[:, : 2 * N_COLOUR].zero_()
        layer.weight[: 2 * N_COLOUR, : 2 * N_COLOUR] = torch.eye(2 * N_COLOUR)
    last = layers[-1]
    last.weight[:, : 2 * N_COLOUR] = torch.cat([YCC_TO_RGB, -YCC_TO_RGB], dim=1)
    last.bias.copy_(YCC_TO_RGB @ torch.tensor([0.5, 0.0, 0.0]))
