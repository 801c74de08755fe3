"""The v1 multi-resolution feature grid (video frames) with tiny-cuda-nn HashGrid semantics, in pure PyTorch.

Level l has scale_l = exp2(l * log2(s)) * b - 1 (float32), res_l = ceil(scale_l) + 1 vertices per axis and
size_l = min(next_multiple_of_8(res_l^D), T) table entries. A level is dense (index = sum_d c_d * res_l^d, dim 0
fastest) while res_l^D <= size_l, otherwise hashed (XOR of c_d * P_d in uint32, modulo size_l). A point x in
[0, 1]^D reads pos = scale_l * x + 0.5, corner floor(pos) and linear weights pos - floor(pos).

A dense level stores only its *coded extent*: the vertices that some pixel of the image touches, as a tensor
[extent_y, extent_x, F]. Vertices outside it are never read by the image's pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

HASH_PRIMES = (1, 2654435761, 805459861)
MATMUL_MAX_VERTICES = 1 << 15  # dense levels up to this size interpolate by matrix products


@dataclass(frozen=True)
class GridConfig:
    """Configuration of the grid, stored in the file header."""

    n_dims: int = 2
    n_levels: int = 7
    n_features: int = 1
    log2_hashmap_size: int = 20
    base_resolution: float = 16.0
    per_level_scale: float = 2.0


@dataclass(frozen=True)
class LevelGeometry:
    """Geometry of one level. `extent` is (x, y) vertices coded for a dense 2-D level, () for a hashed one."""

    scale: float
    res: int
    size: int
    dense: bool
    extent: tuple[int, ...]


def level_scales(config: GridConfig) -> list[float]:
    """Per-level scales in float32 arithmetic, as tiny-cuda-nn computes them on the host."""
    log2_s = np.float32(math.log2(config.per_level_scale))
    b = np.float32(config.base_resolution)
    return [float(np.exp2(np.float32(level) * log2_s) * b - np.float32(1.0)) for level in range(config.n_levels)]


def level_table_size(res: int, config: GridConfig) -> tuple[int, bool]:
    """(table entries, dense?) of a level with `res` vertices per axis."""
    n_dense = res**config.n_dims
    size = min((n_dense + 7) // 8 * 8, 2**config.log2_hashmap_size)
    return size, n_dense <= size


def pixel_coords(n_pixels: int, pixels_per_unit: int, stride: int = 1) -> torch.Tensor:
    """Coordinates of pixel centres along one axis: [ceil(n_pixels / stride)] in float32.

    With stride k the lattice samples the centres of k x k pixel blocks (a downsampled image); a partial block
    at the edge is sampled no further out than the last pixel centre, so it reads only the coded extent.
    """
    index = torch.arange(0, n_pixels, stride, dtype=torch.float32)
    centre = torch.clamp(index + 0.5 * stride, max=n_pixels - 0.5)
    return centre / float(pixels_per_unit)


def coded_extent(scale: float, n_pixels: int, pixels_per_unit: int) -> int:
    """Number of vertices along an axis that the pixel centres 0..n_pixels-1 touch (corner and corner + 1)."""
    x_last = pixel_coords(n_pixels, pixels_per_unit)[-1:]
    pos = torch.tensor(scale, dtype=torch.float32) * x_last + 0.5
    return int(torch.floor(pos).item()) + 2


def image_geometry(config: GridConfig, width: int, height: int, pixels_per_unit: int) -> list[LevelGeometry]:
    """Geometry of every level for a width x height image."""
    if config.n_dims != 2:
        raise ValueError("image geometry needs a 2-D grid")
    levels = []
    for scale in level_scales(config):
        res = math.ceil(scale) + 1
        size, dense = level_table_size(res, config)
        extent: tuple[int, ...] = ()
        if dense:
            extent = (
                min(res, coded_extent(scale, width, pixels_per_unit)),
                min(res, coded_extent(scale, height, pixels_per_unit)),
            )
        levels.append(LevelGeometry(scale=scale, res=res, size=size, dense=dense, extent=extent))
    return levels


def _axis_corners(coords: torch.Tensor, scale: float) -> tuple[torch.Tensor, torch.Tensor]:
    """coords: [N] in [0, 1] -> (corner index [N] int64, weight of corner + 1 [N] float32)."""
    pos = torch.tensor(scale, dtype=torch.float32) * coords + 0.5
    corner = torch.floor(pos)
    return corner.long(), pos - corner


def _hash(corner: torch.Tensor, size: int) -> torch.Tensor:
    """corner: [N, D] int64 -> table index [N] int64, uint32 XOR hash as in tiny-cuda-nn."""
    mask = 0xFFFFFFFF
    h = torch.zeros(corner.shape[0], dtype=torch.int64)
    for d in range(corner.shape[1]):
        h = h ^ ((corner[:, d] * HASH_PRIMES[d]) & mask)
    return h % size


def lookup_level(level: LevelGeometry, table: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Reference lookup of one level: the normative function. x: [N, 2] in [0, 1] (x, y) -> [N, F].

    table: dense [extent_y, extent_x, F] or hashed [size, F].
    """
    n_features = table.shape[-1]
    flat = table.reshape(-1, n_features)
    cx, wx = _axis_corners(x[:, 0], level.scale)
    cy, wy = _axis_corners(x[:, 1], level.scale)
    out = torch.zeros(x.shape[0], n_features, dtype=table.dtype)
    for dy in (0, 1):
        for dx in (0, 1):
            weight = (wx if dx else 1 - wx) * (wy if dy else 1 - wy)
            if level.dense:
                # Clamped as in lattice_level: a no-op inside the coded extent.
                row = (cy + dy).clamp(0, level.extent[1] - 1)
                index = row * level.extent[0] + (cx + dx).clamp(0, level.extent[0] - 1)
            else:
                index = _hash(torch.stack([cx + dx, cy + dy], dim=1), level.size)
            out = out + weight[:, None] * flat[index]
    return out


def lattice_level(level: LevelGeometry, table: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor) -> torch.Tensor:
    """Lookup of one level on a pixel lattice. xs: [W], ys: [H] in [0, 1] -> [H, W, F].

    Dense levels interpolate separably (rows, then columns: two gathers per axis instead of four per pixel),
    which equals `lookup_level` up to float rounding; hashed levels use `lookup_level`.
    """
    if not level.dense:
        grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
        points = torch.stack([grid_x.reshape(-1), grid_y.reshape(-1)], dim=1)
        return lookup_level(level, table, points).reshape(ys.shape[0], xs.shape[0], -1)
    if table.shape[0] * table.shape[1] <= MATMUL_MAX_VERTICES:
        # Coarse levels: many pixels share each vertex, where a gather's backward (a scatter-add onto few rows)
        # is slow on CPU; two small matrix products compute the same sums with fast backward passes.
        weights_y = _axis_matrix(ys, level.scale, table.shape[0])
        weights_x = _axis_matrix(xs, level.scale, table.shape[1])
        rows = (weights_y @ table.reshape(table.shape[0], -1)).reshape(ys.shape[0], table.shape[1], -1)
        return torch.einsum("hef,we->hwf", rows, weights_x)
    cx, wx = _axis_corners(xs, level.scale)
    cy, wy = _axis_corners(ys, level.scale)
    # Clamping changes nothing for a well-formed file (its extent covers every corner) and keeps a damaged one
    # from indexing outside the table.
    cy0, cy1 = cy.clamp(0, table.shape[0] - 1), (cy + 1).clamp(0, table.shape[0] - 1)
    cx0, cx1 = cx.clamp(0, table.shape[1] - 1), (cx + 1).clamp(0, table.shape[1] - 1)
    wy, wx = wy[:, None, None], wx[None, :, None]
    rows = table.index_select(0, cy0) * (1 - wy) + table.index_select(0, cy1) * wy
    return rows.index_select(1, cx0) * (1 - wx) + rows.index_select(1, cx1) * wx


def _axis_matrix(coords: torch.Tensor, scale: float, n_vertices: int) -> torch.Tensor:
    """Linear interpolation along one axis as a matrix: coords [N] -> [N, n_vertices], two weights a row
    (corners clamped to the extent, as in lookup_level)."""
    corner, weight = _axis_corners(coords, scale)
    rows = torch.arange(coords.shape[0])
    matrix = torch.zeros(coords.shape[0], n_vertices)
    matrix.index_put_((rows, corner.clamp(0, n_vertices - 1)), 1 - weight, accumulate=True)
    matrix.index_put_((rows, (corner + 1).clamp(0, n_vertices - 1)), weight, accumulate=True)
    return matrix
