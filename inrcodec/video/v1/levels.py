"""A v1 grid in the file: the FELD section's field record, the LEVEL records' geometry, and the entropy coding of
a grid's planes with the row contexts (a video group's first frame).

Integers and records only: no network. The geometry read back from LEVEL records is checked against the frame
size, so a damaged header cannot make the renderer read outside a level.
"""

from __future__ import annotations

import numpy as np
import torch

from inrcodec.errors import BitstreamError
from inrcodec.video.v1 import context
from inrcodec.video.v1 import groups as entropy
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


def code_levels(
    encoder: entropy.SymbolEncoder, levels: list[LevelGeometry], grid_symbols: list[torch.Tensor], step_indices: list[int]
) -> list[dict]:
    """Add every grid level's symbols (int, [ey, ex, F] or [size, F]) to the stream -> the LEVEL records."""
    records = []
    parent = None
    for level, symbols, step_index in zip(levels, grid_symbols, step_indices):
        planes = symbols.to(torch.int32).numpy()
        tables = []
        for feature in range(planes.shape[-1]):
            plane = planes[..., feature] if level.dense else planes[:, feature][None]
            plane_parent = parent[..., feature] if (parent is not None and level.dense) else None
            tables += code_plane(encoder, plane, plane_parent)
        parent = planes if level.dense else None
        extent = level.extent if level.dense else (0, 0)
        records.append(
            {
                "scale": level.scale,
                "res": level.res,
                "extent_x": extent[0],
                "extent_y": extent[1],
                "quant_step": step_index,
                "tables": tables,
            }
        )
    return records


def code_plane(encoder: entropy.SymbolEncoder, plane: np.ndarray, parent: np.ndarray | None) -> list[int]:
    """Add a grid plane int32 [H, W] to the stream with context modelling; -> its N_CONTEXTS table indices.

    A hashed level is passed as one row without parent, which puts every entry in context 0.
    """
    contexts = context.context_map(plane, parent)
    tables = [entropy.best_group(plane[contexts == c]).table_index for c in range(context.N_CONTEXTS)]
    for symbols, ctx in context.plane_chunks(plane, parent):
        encoder.add(symbols, tables[ctx])
    return tables


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
