"""The v2 image decoder: parse once, entropy-decode the latents (integers only), render (numpy float32).

Imports nothing of the encoder and never torch: numpy, constriction and safetensors' numpy loader only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from inrcodec.bitstream.container import PREAMBLE, MAGIC
from inrcodec.bitstream.image_v2 import DEFAULT_MAX_PIXELS, ImageFile, parse_image
from inrcodec.entropy.planes import decode_latents
from inrcodec.entropy.tiles import TileGrid, decode_tiles, halo_positions
from inrcodec.errors import BitstreamError, InrCodecError
from inrcodec.field.synthesis import SynthesisWeights, View, render, to_uint8
from inrcodec.model.config import level_shape
from inrcodec.model.shared import SharedDecoder, load_shared
from inrcodec.model.registry import find_model


@dataclass(frozen=True)
class DecodedImage:
    """pixels: uint8 [H, W, 3] (RGB) or [H, W] (grey); file: the parsed header."""

    pixels: np.ndarray
    file: ImageFile


def file_version(data: bytes) -> tuple[int, int]:
    """(major, minor) of .inr bytes, without parsing further; BitstreamError if they are not an .inr file."""
    if not data or data[:4] != MAGIC[: len(data[:4])]:
        raise BitstreamError("not an .inr file (wrong magic bytes)")
    if len(data) < PREAMBLE.size:
        raise BitstreamError("file is truncated")
    return data[4], data[5]


def model_for(file: ImageFile) -> SharedDecoder:
    """The installed v2 model that the file names (id and sha256 must match); InrCodecError otherwise."""
    entry = find_model(file.model_id, file.model_sha256)
    if entry.config.get("codec") != 2:
        raise InrCodecError(f"model '{entry.id}' is not a v2 image model")
    shared = load_shared(entry)
    if shared.config.n_levels != file.n_levels:
        raise BitstreamError(f"file has {file.n_levels} latent levels, model '{entry.id}' has {shared.config.n_levels}")
    return shared


def latent_shapes(file: ImageFile) -> list[tuple[int, int]]:
    return [level_shape(file.height, file.width, level) for level in range(file.n_levels)]


def tile_grid(file: ImageFile) -> TileGrid | None:
    if file.tiling is None:
        return None
    return TileGrid(file.height, file.width, file.n_levels, file.tiling.tile_log2, file.tiling.tiled_levels)


def decode_file_latents(file: ImageFile, shared: SharedDecoder, tiles: list[int] | None = None) -> list[np.ndarray]:
    """Entropy-decode the integer latent grids (finest first): of a tiled file only `tiles` (None: all; the
    others stay 0). BitstreamError on a bad stream."""
    grid = tile_grid(file)
    try:
        if grid is None:
            return decode_latents(file.payload, latent_shapes(file), shared.contexts, file.rate_code)
        streams = file.tiling.streams(file.payload)
        wanted = file.tiling.present & set(range(grid.count) if tiles is None else tiles)
        latents = decode_tiles(file.tiling.coarse(file.payload), {i: streams[i] for i in sorted(wanted)}, grid,
                               shared.contexts, file.rate_code)  # fmt: skip
    except ValueError as exc:
        raise BitstreamError(str(exc)) from None
    if file.halo is not None:
        fill_halo(file, grid, latents, len(shared.synthesis.res))
    return latents


def fill_halo(file: ImageFile, grid: TileGrid, latents: list[np.ndarray], convolutions: int) -> None:
    """Put a cropped file's HALO values into the absent tiles' vertices that its box reads (SPEC 3.3)."""
    if file.halo.margin < convolutions:
        raise BitstreamError(f"HALO.margin = {file.halo.margin} is less than the model's {convolutions} convolutions")
    positions = halo_positions(grid, file.tiling.present, file.box, file.halo.margin)
    count = sum(rows.size for rows, _ in positions)
    if count != file.halo.values.size:
        raise BitstreamError(f"HALO holds {file.halo.values.size} values, the box reads {count}")
    start = 0
    for level, (rows, cols) in enumerate(positions):
        latents[level][rows, cols] = file.halo.values[start : start + rows.size]
        start += rows.size


def tiles_for_view(file: ImageFile, view: View, halo: int) -> list[int] | None:
    """The tiles whose latents a render of `view` reads (None for an untiled file: it decodes whole)."""
    grid = tile_grid(file)
    if grid is None:
        return None

    def span(first: int, last: int, out_size: int, size: int) -> tuple[int, int]:
        first, last = max(0, first - halo), min(out_size, last + halo)
        if out_size == size:
            return first, last
        ratio = size / out_size  # output pixel i samples canvas position (i + 1/2) ratio - 1/2
        return max(0, int(np.floor(first * ratio)) - 1), min(size, int(np.ceil(last * ratio)) + 1)

    rows = span(view.top, view.bottom, view.out_height, file.height)
    columns = span(view.left, view.right, view.out_width, file.width)
    return grid.tiles_for(rows, columns)


def pixels_of(rgb: np.ndarray, channels: int) -> np.ndarray:
    """Rendered float RGB [H, W, 3] -> the decoded 8-bit image (grey: the mean of the three channels)."""
    if channels == 1:
        return to_uint8(rgb.mean(axis=2))
    return to_uint8(rgb)


def synthesis_of(file: ImageFile, shared: SharedDecoder) -> SynthesisWeights:
    """The model's synthesis with the file's modulation added (SPEC 7); BitstreamError if it does not fit."""
    modulation = file.modulation_values()
    if modulation is None:
        return shared.synthesis
    try:
        return shared.synthesis.modulated(modulation)
    except ValueError as exc:
        raise BitstreamError(f"MODU section does not fit model '{file.model_id}': {exc}") from None


def render_latents(file: ImageFile, shared: SharedDecoder, latents: list[np.ndarray],
                   view: View | None = None, finish=None) -> np.ndarray:  # fmt: skip
    return render(latents, shared.gains(file.rate_code), synthesis_of(file, shared), file.height, file.width,
                  view=view, finish=finish)  # fmt: skip


def view_of(file: ImageFile, region: tuple[int, int, int, int] | None, scale: float | None, max_pixels: int) -> View:
    """The View for a decode at `scale` (None: the coded size) of `region` (x, y, w, h of the image the file
    shows, at that scale; None: all of it). The grid is the canvas at that scale, the window the file's box in
    it (all of the canvas unless the file was cropped). InrCodecError for a region outside the image, an empty
    one, a scale that is not a positive number, or an output over max_pixels."""
    bx, by, bw, bh = file.box
    if scale is None:
        out_height, out_width = file.height, file.width
    else:
        if not (isinstance(scale, (int, float)) and 0 < scale < float("inf")):
            raise InrCodecError(f"the scale must be a positive number, got {scale}")
        out_height, out_width = max(1, round(file.height * scale)), max(1, round(file.width * scale))
        bx, by = min(out_width - 1, round(bx * scale)), min(out_height - 1, round(by * scale))
        bw, bh = max(1, min(out_width - bx, round(bw * scale))), max(1, min(out_height - by, round(bh * scale)))
    if region is None:
        x, y, w, h = 0, 0, bw, bh
    else:
        x, y, w, h = region
        if w <= 0 or h <= 0:
            raise InrCodecError(f"the region {x},{y},{w},{h} is empty (width and height must be positive)")
        if x < 0 or y < 0 or x + w > bw or y + h > bh:
            raise InrCodecError(f"the region {x},{y},{w},{h} is not inside the {bw}x{bh} image")
    if w * h > max_pixels:
        raise InrCodecError(f"the output of {w}x{h} is over the limit of {max_pixels} pixels (--max-pixels)")
    return View(out_height, out_width, by + y, bx + x, by + y + h, bx + x + w)


def decode_image(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS, region: tuple[int, int, int, int] | None = None,
                 scale: float | None = None) -> DecodedImage:  # fmt: skip
    """Bytes of a format 2 image file -> the decoded image. InrCodecError (one line) on any problem.

    scale renders the field at scale x the coded size (any positive number); region (x, y, w, h, on that grid)
    renders only that window, and equals the same window of the whole decode."""
    major, minor = file_version(data)
    if major == 1:
        raise BitstreamError(
            f"this is a format {major}.{minor} file of inrcodec 0.1; this version decodes format 2 images "
            "(and 1.2 video): decode it with inrcodec 0.1 (pip install inrcodec==0.1.0)"
        )
    file = parse_image(data, max_pixels)
    view = view_of(file, region, scale, max_pixels)
    shared = model_for(file)
    synthesis_of(file, shared)  # a misfit modulation is refused before any decoding work
    try:
        latents = decode_file_latents(file, shared, tiles_for_view(file, view, len(shared.synthesis.res)))
        # 8 bits strip by strip: the float image is never held whole
        pixels = render_latents(file, shared, latents, view, finish=lambda rgb: pixels_of(rgb, file.channels))
    except MemoryError:
        raise InrCodecError(f"not enough memory to decode a {file.width}x{file.height} image") from None
    return DecodedImage(pixels, file)


def describe_image(data: bytes) -> dict:
    """A JSON-ready description of a format 2 image file's header, without decoding it (header values are
    checked by the parser; the model id can only hold [A-Za-z0-9._-], so it prints safely)."""
    from inrcodec.model.config import rate_code_lambda

    major, minor = file_version(data)
    if major != 2:
        raise BitstreamError(f"this is a format {major}.{minor} file of inrcodec 0.1; use inrcodec 0.1 to inspect it")
    file = parse_image(data, max_pixels=1 << 62)
    shapes = [level_shape(file.height, file.width, level) for level in range(file.n_levels)]
    return {
        "kind": "image",
        "file_bytes": len(data),
        "bpp": len(data) * 8 / (file.box[2] * file.box[3]),  # over the pixels the file shows
        "format_version": f"{major}.{minor}",
        "image": file.header(),
        "lambda": rate_code_lambda(file.rate_code),
        "model_id": file.model_id,
        "model_sha256": file.model_sha256.hex(),
        "latent_grids": [{"level": level, "height": h, "width": w} for level, (h, w) in enumerate(shapes)],
        "latents": sum(h * w for h, w in shapes),
        "payload_bytes": len(file.payload),
        "modulation_numbers": len(file.modulation) // 2,
        "box": list(file.box),
        "tile_side": None if file.tiling is None else 1 << file.tiling.tile_log2,
        "tiles": None if file.tiling is None else len(file.tiling.lengths),
    }
