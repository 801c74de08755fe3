"""The fast lattice paths of the grid agree with the normative per-point lookup (DESIGN rule 3)."""

import pytest
import torch

import inrcodec.field.grid as grid_module
from inrcodec.field.grid import GridConfig, image_geometry, lookup_level, level_scales, level_table_size
from inrcodec.field.inr import FieldConfig, ImageField, default_pixels_per_unit

TOLERANCE = 1e-5  # float32 rounding of sums taken in another order; features are O(1)


def reference_features(field: ImageField) -> torch.Tensor:
    xs, ys = field.lattice()
    grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
    points = torch.stack([grid_x.reshape(-1), grid_y.reshape(-1)], dim=1)
    return field.grid.query(points).reshape(ys.shape[0], xs.shape[0], -1)


@pytest.mark.parametrize("matmul_max", [0, grid_module.MATMUL_MAX_VERTICES], ids=["gather", "matmul"])
@pytest.mark.parametrize("log2_table,size", [(20, (37, 23)), (10, (64, 48)), (20, (1, 1)), (20, (1024, 3))])
def test_lattice_equals_reference_lookup(monkeypatch, matmul_max, log2_table, size):
    monkeypatch.setattr(grid_module, "MATMUL_MAX_VERTICES", matmul_max)
    width, height = size
    torch.manual_seed(0)
    config = FieldConfig(grid=GridConfig(n_features=3, log2_hashmap_size=log2_table))
    field = ImageField(config, width, height, default_pixels_per_unit(width, height))
    for values in field.grid.values:
        values.data.normal_()
    xs, ys = field.lattice()
    fast = field.grid.render_lattice(xs, ys)
    assert fast.shape == (height, width, 21)
    assert (fast - reference_features(field)).abs().max() < TOLERANCE


def test_gradients_of_both_lattice_paths_agree(monkeypatch):
    torch.manual_seed(1)
    field = ImageField(FieldConfig(grid=GridConfig(n_features=3)), 45, 30, 1024)
    weights = torch.randn(30, 45, 21)
    grads = []
    for matmul_max in (0, grid_module.MATMUL_MAX_VERTICES):
        monkeypatch.setattr(grid_module, "MATMUL_MAX_VERTICES", matmul_max)
        field.zero_grad()
        (field.grid.render_lattice(*field.lattice()) * weights).sum().backward()
        grads.append([v.grad.clone() for v in field.grid.values])
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
