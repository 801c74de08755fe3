"""Tiled latents (SPEC.md section 3.2): the fine levels 0..K-1 cut into square tiles of T = 2^tile_log2 pixels,
each tile's share entropy-coded as a stream of its own; the coarse levels K..L-1 (1/4^K of the latents) in one
stream for the whole canvas, decoded first. A tile then decodes from its own stream and the coarse levels
alone, without any other tile.

A tile's share of grid l < K is its vertices: rows [ty T / 2^l, (ty + 1) T / 2^l) and the same for columns,
clipped to the grid; T is a multiple of 2^(L-1), so every level splits at the same pixel borders and the share
has the shape of that grid for an image of the tile's size. Inside a tile, contexts read 0 for a same-level
or coarser neighbour outside it, as at the image's border; but level K-1 reads the coarse level K of the whole
canvas, neighbours across the tile's border included.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from inrcodec.entropy.context_model import padded_grid
from inrcodec.entropy.planes import (
    ContextNetworks, StreamError, Traversals, decode_latents, decode_streams, encode_latents,
)  # fmt: skip

LOCKSTEP_LATENTS = 1 << 18  # tiles' latents decoded together: 24 MB of contexts at most per pass


@dataclass(frozen=True)
class TileGrid:
    """The tiles of a height x width canvas with n_levels latent grids, levels < tiled_levels tiled:
    `rows` x `columns` tiles in raster order."""

    height: int
    width: int
    n_levels: int
    tile_log2: int
    tiled_levels: int

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

    def grid_shape(self, level: int) -> tuple[int, int]:
        step = 1 << level
        return -(-self.height // step), -(-self.width // step)

    def vertices(self, index: int, level: int) -> tuple[slice, slice]:
        """Rows and columns of grid `level` that lie in tile `index`."""
        ty, tx = divmod(index, self.columns)
        per_tile = self.side >> level
        grid_rows, grid_columns = self.grid_shape(level)
        return (slice(ty * per_tile, min(grid_rows, (ty + 1) * per_tile)),
                slice(tx * per_tile, min(grid_columns, (tx + 1) * per_tile)))  # fmt: skip

    def tiles_for(self, rows: tuple[int, int], columns: tuple[int, int]) -> list[int]:
        """The tiles holding a vertex of a tiled level that bilinear sampling at pixel rows [rows) and columns
        [columns) reads: the tiles a render of those pixels needs."""
        wanted = set()
        for level in range(self.tiled_levels):
            step, per_tile = 1 << level, self.side >> level
            r0, r1 = vertex_span(rows, step, self.grid_shape(level)[0])
            c0, c1 = vertex_span(columns, step, self.grid_shape(level)[1])
            for ty in range(r0 // per_tile, (r1 - 1) // per_tile + 1):
                wanted.update(ty * self.columns + tx for tx in range(c0 // per_tile, (c1 - 1) // per_tile + 1))
        return sorted(wanted)


def vertex_span(pixels: tuple[int, int], step: int, size: int) -> tuple[int, int]:
    """The vertices [first, last) of a grid with `step` pixels per vertex that bilinear sampling at pixel rows
    [pixels) reads: the one at or before each pixel centre and the one after it, clamped to the grid."""
    first = max(0, int(np.floor((pixels[0] + 0.5) / step - 0.5)))
    last = min(size, int(np.floor((pixels[1] - 1 + 0.5) / step - 0.5)) + 2)
    return min(first, size - 1), max(last, 1)


def coarse_window(coarse: np.ndarray, grid: TileGrid, index: int) -> np.ndarray:
    """The canvas's level K grid around tile `index`, one vertex beyond it each side (0 beyond the canvas), in
    padded_grid's layout: what the tile's level K-1 reads as its coarser level."""
    rows, cols = grid.vertices(index, grid.tiled_levels)
    padded = padded_grid(coarse, 1)
    return padded[rows.start : rows.stop + 2, cols.start : cols.stop + 2]


def tile_share(latents: list[np.ndarray], grid: TileGrid, index: int) -> list[np.ndarray]:
    return [latents[level][grid.vertices(index, level)] for level in range(grid.tiled_levels)]


def encode_tiles(latents: list[np.ndarray], grid: TileGrid, nets: ContextNetworks, rate_code: int,
                 only: set[int] | None = None) -> tuple[bytes, list[bytes], list[np.ndarray]]:  # fmt: skip
    """Integer grids (finest first) -> (the coarse levels' stream, one stream per tile in raster order, the grids
    as coded). only: code just these tiles (the others' streams are empty, their latents left as given)."""
    k = grid.tiled_levels
    coarse_stream, coarse_coded = encode_latents(latents[k:], nets, rate_code, first_level=k)
    coded = [np.asarray(q, dtype=np.int64).copy() for q in latents[:k]] + coarse_coded
    streams = []
    for index in range(grid.count):
        if only is not None and index not in only:
            streams.append(b"")
            continue
        window = coarse_window(coded[k], grid, index)
        stream, share = encode_latents(tile_share(coded, grid, index), nets, rate_code, coarser=window)
        for level, values in enumerate(share):
            coded[level][grid.vertices(index, level)] = values
        streams.append(stream)
    return coarse_stream, streams, coded


def decode_tiles(coarse_stream: bytes, streams: dict[int, bytes], grid: TileGrid, nets: ContextNetworks,
                 rate_code: int) -> list[np.ndarray]:  # fmt: skip
    """The coarse levels' stream and some tiles' streams (index -> bytes) -> the canvas's integer grids (finest
    first): the coarse levels whole, the tiled levels in those tiles, 0 elsewhere. ValueError on a bad stream."""
    k = grid.tiled_levels
    coarse = decode_latents(coarse_stream, [grid.grid_shape(l) for l in range(k, grid.n_levels)], nets, rate_code,
                            first_level=k)  # fmt: skip
    # int32 canvases (a coded latent lies within 255 of a bounded mean): half the memory of int64
    latents = [np.zeros(grid.grid_shape(level), dtype=np.int32) for level in range(k)] + coarse
    # tiles of one size are decoded together, LOCKSTEP_LATENTS at a time (the contexts of a chunk of each are
    # held at once): one context network call per chunk for the lot
    by_shape: dict[tuple, list[int]] = {}
    traversals = Traversals()  # a batch of tiles of a shape works the chunks out, the next batches reuse them
    for index in streams:
        by_shape.setdefault(tuple(latents[level][grid.vertices(index, level)].shape for level in range(k)), []).append(index)
    for shapes, indexes in by_shape.items():
        per_batch = max(1, LOCKSTEP_LATENTS // sum(h * w for h, w in shapes))
        for start in range(0, len(indexes), per_batch):
            batch = indexes[start : start + per_batch]
            try:
                windows = [coarse_window(latents[k], grid, i) for i in batch]
                shares = decode_streams([streams[i] for i in batch], list(shapes), nets, rate_code, 0, windows,
                                        traversals=traversals)  # fmt: skip
            except StreamError as exc:
                raise ValueError(f"tile {batch[exc.position]}: {exc}") from None
            for index, share in zip(batch, shares):
                for level, values in enumerate(share):
                    latents[level][grid.vertices(index, level)] = values
    return latents


def halo_positions(grid: TileGrid, present: set[int], box: tuple[int, int, int, int],
                   margin: int) -> list[tuple[np.ndarray, np.ndarray]]:  # fmt: skip
    """Per tiled level (finest first), the vertices (rows, cols; raster order) that rendering `box` (x, y, w, h
    on the canvas) with `margin` pixels of convolution halo reads from tiles that are not `present` (SPEC 3.3)."""
    x, y, w, h = box
    rows = (max(0, y - margin), min(grid.height, y + h + margin))
    columns = (max(0, x - margin), min(grid.width, x + w + margin))
    positions = []
    for level in range(grid.tiled_levels):
        per_tile = grid.side >> level
        r0, r1 = vertex_span(rows, 1 << level, grid.grid_shape(level)[0])
        c0, c1 = vertex_span(columns, 1 << level, grid.grid_shape(level)[1])
        r, c = np.mgrid[r0:r1, c0:c1]
        absent = ~np.isin((r // per_tile) * grid.columns + c // per_tile, sorted(present))
        positions.append((r[absent], c[absent]))
    return positions
