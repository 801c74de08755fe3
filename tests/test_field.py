"""The v1 grid of video frames: its fast lattice paths agree with the normative per-point lookup (DESIGN rule 3),
and its geometry and hash follow tiny-cuda-nn."""

import pytest
import torch

import inrcodec.video.v1.grid as grid_module
from inrcodec.video.v1.grid import (
    GridConfig,
    image_geometry,
    lattice_level,
    level_scales,
    level_table_size,
    lookup_level,
    pixel_coords,
)
from inrcodec.video.v1.inr import default_pixels_per_unit

TOLERANCE = 1e-5  # float32 rounding of sums taken in another order; features are O(1)


def random_grid(config: GridConfig, width: int, height: int, seed: int):
    """(levels, tables, xs, ys): every level's geometry, random values of its coded entries, the pixel lattice."""
    ppu = default_pixels_per_unit(width, height)
    levels = image_geometry(config, width, height, ppu)
    generator = torch.Generator().manual_seed(seed)
    tables = [
        torch.randn(*reversed(level.extent), config.n_features, generator=generator)
        if level.dense
        else torch.randn(level.size, config.n_features, generator=generator)
        for level in levels
    ]
    return levels, tables, pixel_coords(width, ppu), pixel_coords(height, ppu)


def lattice_features(levels, tables, xs, ys) -> torch.Tensor:
    return torch.cat([lattice_level(level, table, xs, ys) for level, table in zip(levels, tables)], dim=2)


def reference_features(levels, tables, xs, ys) -> torch.Tensor:
    grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
    points = torch.stack([grid_x.reshape(-1), grid_y.reshape(-1)], dim=1)
    features = torch.cat([lookup_level(level, table, points) for level, table in zip(levels, tables)], dim=1)
    return features.reshape(ys.shape[0], xs.shape[0], -1)


@pytest.mark.parametrize("matmul_max", [0, grid_module.MATMUL_MAX_VERTICES], ids=["gather", "matmul"])
@pytest.mark.parametrize("log2_table,size", [(20, (37, 23)), (10, (64, 48)), (20, (1, 1)), (20, (1024, 3))])
def test_lattice_equals_reference_lookup(monkeypatch, matmul_max, log2_table, size):
    monkeypatch.setattr(grid_module, "MATMUL_MAX_VERTICES", matmul_max)
    width, height = size
    levels, tables, xs, ys = random_grid(GridConfig(n_features=3, log2_hashmap_size=log2_table), width, height, 0)
    fast = lattice_features(levels, tables, xs, ys)
    assert fast.shape == (height, width, 21)
    assert (fast - reference_features(levels, tables, xs, ys)).abs().max() < TOLERANCE


def test_gradients_of_both_lattice_paths_agree(monkeypatch):
    levels, tables, xs, ys = random_grid(GridConfig(n_features=3), 45, 30, 1)
    weights = torch.randn(30, 45, 21, generator=torch.Generator().manual_seed(2))
    grads = []
    for matmul_max in (0, grid_module.MATMUL_MAX_VERTICES):
        monkeypatch.setattr(grid_module, "MATMUL_MAX_VERTICES", matmul_max)
        leaves = [t.clone().requires_grad_(True) for t in tables]
        (lattice_features(levels, leaves, xs, ys) * weights).sum().backward()
        grads.append([leaf.grad.clone() for leaf in leaves])
    for a, b in zip(*grads):
        assert (a - b).abs().max() < 1e-4


def test_level_geometry_follows_tiny_cuda_nn():
    config = GridConfig(n_levels=7, base_resolution=16.0, per_level_scale=2.0, log2_hashmap_size=14)
    scales = level_scales(config)
    assert scales[:3] == [15.0, 31.0, 63.0]
    assert level_table_size(16, config) == (256, True)
    assert level_table_size(129, config) == (16384, False)  # 129^2 > 2^14: hashed
    levels = image_geometry(config, 768, 512, 1024)
    assert [level.dense for level in levels] == [True] * 4 + [False] * 3
    assert levels[0].extent == (13, 9)


def test_hashed_lookup_uses_the_tiny_cuda_nn_hash():
    config = GridConfig(n_levels=1, n_features=1, base_resolution=300.0, log2_hashmap_size=8)
    level = image_geometry(config, 64, 64, 64)[0]
    assert not level.dense
    table = torch.arange(level.size, dtype=torch.float32)[:, None]
    corner_x, corner_y = 5, 7  # a point exactly on a vertex reads that vertex alone
    point = torch.tensor([[(corner_x - 0.5) / level.scale, (corner_y - 0.5) / level.scale]])
    expected = ((corner_x * 1) ^ (corner_y * 2654435761 & 0xFFFFFFFF)) % level.size
    assert lookup_level(level, table, point).item() == pytest.approx(expected, abs=1e-2)
