"""Tiled latents (SPEC.md section 3.2): the image's grids cut into square tiles of T = 2^tile_log2 pixels, each
tile entropy-coded as an image of its own (planes.py), so that any set of tiles decodes without the others.

A tile's share of grid l is its vertices: rows [ty T / 2^l, (ty + 1) T / 2^l) and the same for columns,
clipped to the grid. T is a multiple of 2^(L-1), so every level's vertices split at the same pixel borders,
and a tile's share of each grid has exactly the shape of that grid for an image of the tile's size. Contexts
read 0 for a neighbour outside the tile, as at the image's border: that is all tiling costs in rate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from inrcodec.entropy.planes import ContextNetworks, decode_latents, encode_latents


@dataclass(frozen=True)
class TileGrid:
    """The tiles of a height x width canvas with n_levels latent grids: `rows` x `columns` tiles in raster order."""

    height: int
    width: int
    n_levels: int
    tile_log2: int

    @property
    def side(self) -> int:
        return 1 << self.tile_log2

    @property
    def rows(self) -> int:
        return -(-self.height // self.side)

    @property
    def columns(self) -> int:
        return -(-self.width // self.side)

    @property
    def count(self) -> int:
        return self.rows * self.columns

    def pixels(self, index: int) -> tuple[slice, slice]:
        """Pixel rows and columns of tile `index` (raster order)."""
        ty, tx = divmod(index, self.columns)
        return (slice(ty * self.side, min(self.height, (ty + 1) * self.side)),
                slice(tx * self.side, min(self.width, (tx + 1) * self.side)))  # fmt: skip

    def vertices(self, index: int, level: int) -> tuple[slice, slice]:
        """Rows and columns of grid `level` that tile `index` holds."""
        ty, tx = divmod(index, self.columns)
        per_tile, step = self.side >> level, 1 << level
        grid_rows, grid_columns = -(-self.height // step), -(-self.width // step)
        return (slice(ty * per_tile, min(grid_rows, (ty + 1) * per_tile)),
                slice(tx * per_tile, min(grid_columns, (tx + 1) * per_tile)))  # fmt: skip

    def tiles_for(self, rows: tuple[int, int], columns: tuple[int, int]) -> list[int]:
        """Tiles holding any vertex of any level with index in the pixel-aligned ranges [rows) x [columns) of
        level 0 expanded per level: the tiles whose latents a render of those pixel rows and columns reads."""
        wanted = set()
        for level in range(self.n_levels):
            step = 1 << level
            r0, r1 = _vertex_span(rows, step, -(-self.height // step))
            c0, c1 = _vertex_span(columns, step, -(-self.width // step))
            per_tile = self.side >> level
            for ty in range(r0 // per_tile, (r1 - 1) // per_tile + 1):
                for tx in range(c0 // per_tile, (c1 - 1) // per_tile + 1):
                    wanted.add(ty * self.columns + tx)
        return sorted(wanted)


def _vertex_span(pixels: tuple[int, int], step: int, size: int) -> tuple[int, int]:
    """The vertices [first, last) of a grid with `step` pixels per vertex that bilinear sampling at pixel rows
    [pixels) reads: the one at or before each pixel centre and the one after it, clamped to the grid."""
    first = max(0, int(np.floor((pixels[0] + 0.5) / step - 0.5)))
    last = min(size, int(np.floor((pixels[1] - 1 + 0.5) / step - 0.5)) + 2)
    return min(first, size - 1), max(last, 1)


def tile_latents(latents: list[np.ndarray], grid: TileGrid, index: int) -> list[np.ndarray]:
    return [q[grid.vertices(index, level)] for level, q in enumerate(latents)]


def encode_tiles(latents: list[np.ndarray], grid: TileGrid, nets: ContextNetworks,
                 rate_code: int) -> tuple[list[bytes], list[np.ndarray]]:  # fmt: skip
    """Integer grids (finest first) -> (one stream per tile in raster order, the grids as coded)."""
    coded = [np.asarray(q, dtype=np.int64).copy() for q in latents]
    streams = []
    for index in range(grid.count):
        stream, tile_coded = encode_latents(tile_latents(coded, grid, index), nets, rate_code)
        for level, values in enumerate(tile_coded):
            coded[level][grid.vertices(index, level)] = values
        streams.append(stream)
    return streams, coded


def decode_tiles(streams: dict[int, bytes], grid: TileGrid, nets: ContextNetworks, rate_code: int) -> list[np.ndarray]:
    """Streams of some tiles (index -> bytes) -> the canvas's integer grids (finest first), those tiles filled
    and the rest 0. ValueError on a bad stream."""
    latents = [np.zeros(((grid.height + (1 << l) - 1) >> l, (grid.width + (1 << l) - 1) >> l), dtype=np.int64)
               for l in range(grid.n_levels)]  # fmt: skip
    for index, stream in streams.items():
        shapes = [latents[level][grid.vertices(index, level)].shape for level in range(grid.n_levels)]
        try:
            values = decode_latents(stream, shapes, nets, rate_code)
        except ValueError as exc:
            raise ValueError(f"tile {index}: {exc}") from None
        for level, tile in enumerate(values):
            latents[level][grid.vertices(index, level)] = tile
    return latents


def halo_positions(grid: TileGrid, present: set[int], box: tuple[int, int, int, int],
                   margin: int) -> list[tuple[np.ndarray, np.ndarray]]:  # fmt: skip
    """Per level (finest first), the vertices (rows, cols; raster order) that rendering `box` (x, y, w, h on the
    canvas) with `margin` pixels of convolution halo reads from tiles that are not `present` (SPEC.md 3.3)."""
    x, y, w, h = box
    rows = (max(0, y - margin), min(grid.height, y + h + margin))
    columns = (max(0, x - margin), min(grid.width, x + w + margin))
    positions = []
    for level in range(grid.n_levels):
        step, per_tile = 1 << level, grid.side >> level
        r0, r1 = _vertex_span(rows, step, -(-grid.height // step))
        c0, c1 = _vertex_span(columns, step, -(-grid.width // step))
        r, c = np.mgrid[r0:r1, c0:c1]
        tiles = (r // per_tile) * grid.columns + c // per_tile
        absent = ~np.isin(tiles, sorted(present))
        positions.append((r[absent], c[absent]))
    return positions
