"""The image field: grid + MLP over pixel coordinates x = (i + 0.5) / pixels_per_unit."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from inrcodec.field.grid import FeatureGrid, GridConfig, LevelGeometry, image_geometry, pixel_coords
from inrcodec.field.mlp import Mlp, MlpConfig


@dataclass(frozen=True)
class FieldConfig:
    grid: GridConfig = GridConfig()
    mlp: MlpConfig = MlpConfig()


MIN_PIXELS_PER_UNIT = 1024


def default_pixels_per_unit(width: int, height: int) -> int:
    """1024, or the smallest power of two >= the longer side above that, so the image lies in [0, 1]^2.

    Fixing the unit in pixels keeps the grid's spacing in pixels the same for every image up to 1024 on a side
    (the default config's finest level has ~1 px spacing, its coarsest ~68 px).
    """
    side = max(width, height, MIN_PIXELS_PER_UNIT)
    return 1 << (side - 1).bit_length()


class ImageField(nn.Module):
    """An image of width x height as a field. Parameters: grid.values (per level) and mlp.layers."""

    def __init__(
        self,
        config: FieldConfig,
        width: int,
        height: int,
        pixels_per_unit: int,
        levels: list[LevelGeometry] | None = None,
    ):
        super().__init__()
        self.config = config
        self.width, self.height, self.pixels_per_unit = width, height, pixels_per_unit
        levels = levels if levels is not None else image_geometry(config.grid, width, height, pixels_per_unit)
        self.grid = FeatureGrid(config.grid, levels)
        self.mlp = Mlp(self.grid.n_outputs, config.mlp)

    def lattice(self, stride: int = 1, rows: slice = slice(None)) -> tuple[torch.Tensor, torch.Tensor]:
        """(xs [W'], ys [H']) of the pixel centres, or of stride x stride block centres; `rows` picks a band."""
        xs = pixel_coords(self.width, self.pixels_per_unit, stride)
        ys = pixel_coords(self.height, self.pixels_per_unit, stride)[rows]
        return xs, ys

    def render(
        self,
        stride: int = 1,
        grid_values: list[torch.Tensor] | None = None,
        mlp_params: list[torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """RGB [H', W', 3], unclamped, differentiable. Used for fitting."""
        xs, ys = self.lattice(stride)
        return self.mlp(self.grid.render_lattice(xs, ys, grid_values), mlp_params)

    @torch.no_grad()
    def render_tiled(
        self,
        grid_values: list[torch.Tensor] | None = None,
        mlp_params: list[torch.Tensor] | None = None,
        band_pixels: int = 1 << 20,
    ) -> torch.Tensor:
        """RGB [H, W, 3] in [0, 1] rendered in bands of about `band_pixels` pixels, to bound memory."""
        band_rows = max(1, band_pixels // self.width)
        bands = []
        for top in range(0, self.height, band_rows):
            xs, ys = self.lattice(rows=slice(top, top + band_rows))
            bands.append(self.mlp(self.grid.render_lattice(xs, ys, grid_values), mlp_params))
        return torch.cat(bands, dim=0).clamp(0.0, 1.0)


def to_uint8(rgb: torch.Tensor) -> torch.Tensor:
    """[H, W, 3] in [0, 1] -> uint8, rounding half up as the decoder does."""
    return torch.floor(rgb.clamp(0.0, 1.0) * 255.0 + 0.5).to(torch.uint8)
