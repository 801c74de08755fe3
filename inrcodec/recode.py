"""Files from integer latents, and crops of files: entropy coding only (no torch, no fitting), so the latents
and so the pixels inside a crop stay exactly those of the file it was cut from.

`inrcodec crop` keeps the tiles that a box of the image needs and the box itself (SPEC.md section 3.2), and
re-codes them with the latents that the box's render does not read set to 0, so that a crop's size follows the
box's area rather than its tiles' (an untiled 2.0/2.1 file is cut into tiles first). Re-coding changes no
latent that the box reads.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from inrcodec import decoder
from inrcodec.bitstream.image_v2 import Halo, ImageFile, Tiling, parse_image
from inrcodec.entropy.planes import ContextNetworks, encode_latents
from inrcodec.entropy.tiles import TileGrid, encode_tiles, halo_positions, vertex_span
from inrcodec.errors import InrCodecError

TILED_LEVELS = 3  # levels 0..2 in tiles, 3.. (1/64 of the latents) in the coarse stream
# Measured on Kodak (eval/results/v2/tiling.json): tiles of 128 / 256 / 512 pixels cost +2.8 / +1.0 / +0.4 %
# BD-rate and slow entropy decoding (more, smaller streams), and buy crops and region decodes. Images up to
# TILING_PIXELS are left untiled by default (a crop cuts them into tiles); larger ones get 256-pixel tiles.
DEFAULT_TILE_LOG2 = 8
TILING_PIXELS = 1 << 22


def default_tile_log2(width: int, height: int) -> int | None:
    """The tiling an encode uses unless told: none up to TILING_PIXELS, else DEFAULT_TILE_LOG2."""
    return DEFAULT_TILE_LOG2 if width * height > TILING_PIXELS else None


def tile_grid_for(width: int, height: int, n_levels: int, tile_log2: int, tiled_levels: int = TILED_LEVELS) -> TileGrid:
    """The tiles of 2^tile_log2 pixels of a width x height image; InrCodecError if a tile is smaller than one
    vertex of the coarsest level."""
    if tile_log2 < n_levels - 1:
        raise InrCodecError(f"tiles of {1 << tile_log2} pixels are smaller than one vertex of the coarsest of "
                            f"{n_levels} levels ({1 << (n_levels - 1)} pixels)")  # fmt: skip
    return TileGrid(height, width, n_levels, tile_log2, min(tiled_levels, n_levels - 1))


def code_latents(file: ImageFile, integers: list[np.ndarray], contexts: ContextNetworks, tile_log2: int | None,
                 tiled_levels: int = TILED_LEVELS) -> tuple[ImageFile, list[np.ndarray]]:  # fmt: skip
    """file (its header and modulation) with `integers` entropy-coded into it: in tiles of 2^tile_log2 pixels,
    or as one stream (None). -> (the file, the grids as coded)."""
    if tile_log2 is None:
        payload, coded = encode_latents(integers, contexts, file.rate_code)
        return replace(file, payload=payload, tiling=None), coded
    grid = tile_grid_for(file.width, file.height, file.n_levels, tile_log2, tiled_levels)
    coarse, streams, coded = encode_tiles(integers, grid, contexts, file.rate_code)
    tiling = Tiling(tile_log2, grid.tiled_levels, (0, 0, file.width, file.height), len(coarse),
                    tuple(len(s) for s in streams))  # fmt: skip
    return replace(file, payload=coarse + b"".join(streams), tiling=tiling), coded


CROP_TILE_LOG2 = 6  # the tiles an untiled file is re-coded in before it is cut (the smallest the format allows)


def window_only(grid_values: np.ndarray, level: int, size: tuple[int, int], box: tuple[int, int, int, int],
                margin: int) -> np.ndarray:  # fmt: skip
    """Grid `level` of a crop's canvas (height, width = size) with 0 wherever the render of `box` (with `margin`
    pixels of convolution halo) does not read it: zeros cost little to code, and the decode of the box never
    reads them."""
    x, y, w, h = box
    step = 1 << level
    keep = np.zeros(grid_values.shape, dtype=bool)
    r0, r1 = vertex_span((max(0, y - margin), min(size[0], y + h + margin)), step, grid_values.shape[0])
    c0, c1 = vertex_span((max(0, x - margin), min(size[1], x + w + margin)), step, grid_values.shape[1])
    keep[r0:r1, c0:c1] = True
    return np.where(keep, grid_values, 0)


def crop(data: bytes, box: tuple[int, int, int, int], tile_log2: int = CROP_TILE_LOG2) -> bytes:
    """A file that decodes to `box` (x, y, w, h of the image `data` shows) and holds only what that needs (SPEC.md
    3.2, 3.3): on a canvas of the tiles that cover the box and one ring of absent tiles around them, the covering
    tiles re-coded with every latent that the render of the box does not read set to 0, and in a HALO section
    the few latents of the ring that it does read. Its decode equals the same box of the whole decode. An
    untiled file is tiled in tiles of 2^tile_log2 pixels first; a tiled one keeps its tiles."""
    file = parse_image(data, max_pixels=1 << 62)
    x, y, w, h = box
    bx, by, bw, bh = file.box
    if w <= 0 or h <= 0:
        raise InrCodecError(f"the box {x},{y},{w},{h} is empty (width and height must be positive)")
    if x < 0 or y < 0 or x + w > bw or y + h > bh:
        raise InrCodecError(f"the box {x},{y},{w},{h} is not inside the {bw}x{bh} image")
    shared = decoder.model_for(file)
    grid = decoder.tile_grid(file)
    if grid is None:
        grid = tile_grid_for(file.width, file.height, file.n_levels, max(tile_log2, file.n_levels - 1))
    side, margin = grid.side, len(shared.synthesis.res)
    left, top = bx + x, by + y  # the box on the canvas
    covering = (left // side, (left + w - 1) // side, top // side, (top + h - 1) // side)
    cx0, cx1 = max(0, covering[0] - 1), min(grid.columns - 1, covering[1] + 1)
    cy0, cy1 = max(0, covering[2] - 1), min(grid.rows - 1, covering[3] + 1)
    origin_x, origin_y = cx0 * side, cy0 * side
    width, height = min(file.width, (cx1 + 1) * side) - origin_x, min(file.height, (cy1 + 1) * side) - origin_y
    new_grid = TileGrid(height, width, file.n_levels, grid.tile_log2, grid.tiled_levels)
    present = {(ty - cy0) * new_grid.columns + tx - cx0
               for ty in range(covering[2], covering[3] + 1) for tx in range(covering[0], covering[1] + 1)}  # fmt: skip
    new_box = (left - origin_x, top - origin_y, w, h)
    needed = None
    if file.tiling is not None:
        needed = sorted(ty * grid.columns + tx for ty in range(cy0, cy1 + 1) for tx in range(cx0, cx1 + 1))
    latents = decoder.decode_file_latents(file, shared, needed)
    kept = []
    for level in range(file.n_levels):
        rows, cols = new_grid.grid_shape(level)
        window = latents[level][origin_y >> level :, origin_x >> level :][:rows, :cols]
        kept.append(window_only(window, level, (height, width), new_box, margin))
    coarse_stream, streams, coded = encode_tiles(kept, new_grid, shared.contexts, file.rate_code, only=present)
    _check_unchanged(kept, coded)
    positions = halo_positions(new_grid, present, new_box, margin)
    values = [kept[level][rows, cols] for level, (rows, cols) in enumerate(positions)]
    lengths = tuple(len(streams[index]) if index in present else 0 for index in range(new_grid.count))
    tiling = Tiling(grid.tile_log2, grid.tiled_levels, new_box, len(coarse_stream), lengths)
    payload = coarse_stream + b"".join(streams[index] for index in sorted(present))
    cropped = replace(file, width=width, height=height, payload=payload, tiling=tiling,
                      halo=Halo(margin, np.concatenate(values) if values else np.zeros(0, np.int64)))  # fmt: skip
    return cropped.to_bytes()


def _check_unchanged(latents: list[np.ndarray], coded: list[np.ndarray]) -> None:
    """Re-coding must not change a latent. It could only if one lay more than 255 from the mean that its new
    contexts predict, which the coder would clamp: refuse rather than write a crop that decodes differently."""
    if not all(np.array_equal(a, b) for a, b in zip(latents, coded)):
        raise InrCodecError("this file's latents cannot be re-coded without change, so it cannot be cropped")

