"""A v1 grid in the file: the FELD section's field record and the LEVEL records' geometry.

Integers and records only: no network. The geometry read back from LEVEL records is checked against the frame
size, so a damaged header cannot make the renderer read outside a level.
"""

from __future__ import annotations

from inrcodec.errors import BitstreamError
from inrcodec.video.v1.grid import GridConfig, LevelGeometry, coded_extent, level_table_size
from inrcodec.video.v1.mlp import MlpConfig


def field_config_record(grid: GridConfig, mlp: MlpConfig, pixels_per_unit: int) -> dict:
    """The FELD section's field record for a grid and MLP configuration."""
    return {
        "n_dims": grid.n_dims,
        "n_levels": grid.n_levels,
        "n_features": grid.n_features,
        "log2_hashmap_size": grid.log2_hashmap_size,
        "pixels_per_unit": pixels_per_unit,
        "base_resolution": grid.base_resolution,
        "per_level_scale": grid.per_level_scale,
        "mlp_hidden_layers": mlp.n_hidden_layers,
        "mlp_hidden_width": mlp.hidden_width,
        "mlp_activation": 0,
        "out_channels": mlp.out_channels,
    }


def grid_config_from_header(fc: dict) -> GridConfig:
    """The GridConfig that a FELD section's field record describes."""
    return GridConfig(
        n_dims=fc["n_dims"],
        n_levels=fc["n_levels"],
        n_features=fc["n_features"],
        log2_hashmap_size=fc["log2_hashmap_size"],
        base_resolution=fc["base_resolution"],
        per_level_scale=fc["per_level_scale"],
    )


def levels_from_file(file) -> list[LevelGeometry]:
    """The grid geometry that a parsed file's LEVEL records describe (checked against the image size).
    file: anything with .field_config, .levels and .image (a video.file.VideoFile)."""
    fc = file.field_config
    grid = grid_config_from_header(fc)
    levels = []
    for level in file.levels:
        size, dense = level_table_size(level["res"], grid)
        extent = (level["extent_x"], level["extent_y"]) if dense else ()
        if dense:
            check_extent(level, file.image["width"], file.image["height"], fc["pixels_per_unit"])
        levels.append(LevelGeometry(scale=level["scale"], res=level["res"], size=size, dense=dense, extent=extent))
    return levels


def check_extent(level: dict, width: int, height: int, pixels_per_unit: int) -> None:
    """A dense level's coded extent must be what the geometry gives (one vertex of slack for float rounding)."""
    for axis, n_pixels in (("extent_x", width), ("extent_y", height)):
        expected = min(level["res"], coded_extent(level["scale"], n_pixels, pixels_per_unit))
        if abs(level[axis] - expected) > 1:
            raise BitstreamError(f"level {axis} {level[axis]} does not match the image geometry ({expected})")
