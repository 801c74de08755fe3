"""Encoder-side initialisation of a field from the image, so the fit starts near the image, not from zero.

With three features per level, the grid starts as a bilinear Laplacian pyramid of the image in YCbCr (each level
holds the residual the coarser levels leave), and the MLP starts as the exact linear map from summed features to
RGB: ReLU pairs relu(v) - relu(-v) carry each signed colour channel through the hidden layers. The decoder never
needs this module.
"""

from __future__ import annotations

import torch

from inrcodec.field.grid import lattice_level
from inrcodec.field.inr import ImageField
from inrcodec.field.mlp import Mlp

# JPEG (full-range BT.601) YCbCr; rows map RGB in [0, 1] to (Y - 1/2, Cb, Cr).
RGB_TO_YCC = torch.tensor(
    [[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]], dtype=torch.float32
)
YCC_TO_RGB = torch.linalg.inv(RGB_TO_YCC)
N_COLOUR = 3


def can_initialise(field: ImageField) -> bool:
    """The pyramid start needs 3 features per level and hidden layers at least 6 wide."""
    mlp = field.config.mlp
    return field.config.grid.n_features == N_COLOUR and mlp.n_hidden_layers >= 1 and mlp.hidden_width >= 2 * N_COLOUR


def splat_fit(level, shape: tuple[int, ...], xs: torch.Tensor, ys: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
    """Vertex values whose interpolation approximates `residual` [H, W, 3]: the interpolation's transpose applied
    to the residual, normalised by its transpose applied to ones (a one-pass least-squares stand-in)."""
    probe = torch.zeros(shape, requires_grad=True)
    (numerator,) = torch.autograd.grad((lattice_level(level, probe, xs, ys) * residual).sum(), probe)
    (weight,) = torch.autograd.grad(lattice_level(level, probe, xs, ys).sum(), probe)
    return numerator / weight.clamp(min=1e-6)


@torch.no_grad()
def initialise_from_image(field: ImageField, target: torch.Tensor, gain: float, passes: int = 2) -> None:
    """Set field.grid.values to a YCbCr pyramid of target [H, W, 3] in units of `gain`, and the MLP to the
    linear map back to RGB. gain: the signal size (in [0, 1] RGB units) of one quantisation step."""
    shapes = [tuple(v.shape[:-1]) for v in field.grid.values]
    pyramid = ycbcr_pyramid(field.grid.levels, shapes, *field.lattice(), target[None], passes)
    for parameter, value in zip(field.grid.values, pyramid):
        parameter.copy_(value[0] / gain)
    linear_mlp_init(field.mlp, field.config.grid.n_levels, gain)


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
