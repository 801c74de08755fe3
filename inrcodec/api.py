"""The public facade over the encoder and decoder: validates quality, preset, model and image once.

`encode`, `decode`, `decode_frame` and `info` are what `import inrcodec` offers (README "Python"); the
`*_image` functions below them are what the CLI and the rd harness call with pixels already read.
The encoder (torch) is imported only by the functions that encode; decoding an image imports numpy,
constriction and safetensors' numpy loader only.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Union

import numpy as np

from inrcodec.encoder.result import EncodeResult
from inrcodec.errors import InrCodecError
from inrcodec.presets import DEFAULT_MODEL, DEFAULT_PRESET, DEFAULT_QUALITY, IMAGE_PRESET_STEPS, QUALITY_LAMBDAS

if TYPE_CHECKING:
    from PIL import Image

ImageInput = Union[str, os.PathLike, "Image.Image", np.ndarray]
FileInput = Union[bytes, bytearray, memoryview, str, os.PathLike]


def encode(
    image: ImageInput, quality: int = DEFAULT_QUALITY, preset: str = DEFAULT_PRESET, *,
    target_bpp: float | None = None, steps: int | None = None, model: str = DEFAULT_MODEL, tile: int | None = None,
    jobs: int = 1, progress=None,
) -> EncodeResult:
    """Encode an image to .inr bytes -> EncodeResult (.data, .bpp, .psnr, .seconds; .save(path)).

    image: a path to an image file, a PIL image, or a uint8 [H, W, 3] RGB / [H, W] grey array.
    quality 1..8 (higher: better and bigger) or target_bpp (searched with real encodes); preset fast, medium or
    slow (refinement steps, overridden by steps); model: an installed model id; tile: the side of the tiles
    in pixels (0: untiled; None: the default); jobs: processes that refine a tiled image's tiles (the same file,
    faster). progress(step, metrics) is called after each refinement step. InrCodecError on any problem with the
    input."""
    pixels = image_pixels(image)
    if not (isinstance(jobs, int) and jobs >= 1):
        raise InrCodecError(f"jobs must be a positive integer, got {jobs!r}")
    if target_bpp is not None:
        return encode_to_bpp(pixels, target_bpp, preset, steps, model, progress=progress, tile=tile)
    return encode_image(pixels, quality, preset, steps, model, progress=progress, tile=tile, jobs=jobs)


def decode(data: FileInput, max_pixels: int | None = None, *, region: tuple[int, int, int, int] | None = None,
           scale: float | None = None) -> np.ndarray:  # fmt: skip
    """An .inr image (bytes or a path) -> uint8 [H, W, 3] RGB or [H, W] grey. Never imports torch.

    scale renders the field at scale x the coded size (0.25: a thumbnail, 2: a smooth upscale); region
    (x, y, w, h, in pixels of that output) renders only that box. max_pixels refuses larger outputs (a few
    hundred bytes can claim a huge image); a clip needs decode_frame."""
    data = file_bytes(data)
    if clip_format(data):
        raise InrCodecError("this is a video file; use inrcodec.decode_frame(data, index)")
    return decode_image(data, max_pixels, region, scale)


def crop(data: FileInput, box: tuple[int, int, int, int]) -> bytes:
    """A new .inr file that decodes to `box` (x, y, w, h of the image) of `data` (bytes or a path), without
    re-encoding: it keeps the tiles that cover the box (64-pixel tiles for an untiled file), with the latents the
    box's render does not read set to 0. Its pixels equal the box of the whole file's decode, within one level of
    255 (README "Tiles")."""
    from inrcodec.recode import crop as crop_file

    return crop_file(file_bytes(data), tuple(int(v) for v in box))


def tile_log2_for(tile: int | None, pixels: np.ndarray | None = None) -> int | None:
    """--tile in pixels (0: untiled, None: the default for the image's size) -> log2 of it, None for untiled;
    InrCodecError unless a power of two in 64..16384."""
    from inrcodec.bitstream.image_v2 import MAX_TILE_LOG2, MIN_TILE_LOG2
    from inrcodec.recode import default_tile_log2

    if tile is None:
        return None if pixels is None else default_tile_log2(pixels.shape[1], pixels.shape[0])
    if tile == 0:
        return None
    if tile < 1 or tile & (tile - 1) or not MIN_TILE_LOG2 <= tile.bit_length() - 1 <= MAX_TILE_LOG2:
        raise InrCodecError(f"the tile size must be 0 (untiled) or a power of two from {1 << MIN_TILE_LOG2} to "
                            f"{1 << MAX_TILE_LOG2} pixels, got {tile}")  # fmt: skip
    return tile.bit_length() - 1


def decode_frame(data: FileInput, index: int) -> np.ndarray:
    """Frame `index` (from 0) of an .inr clip (bytes or a path) -> uint8 [H, W, 3], without decoding the others'
    pixels."""
    data = file_bytes(data)
    kind = clip_format(data)
    if kind is None:
        raise InrCodecError("this is an image file; use inrcodec.decode(data)")
    if kind == 2:
        from inrcodec.video_decoder import VideoDecoder

        return VideoDecoder(data).frame(index)
    from inrcodec.video.decoder_v1 import decode_frame as decode_v1_frame

    return decode_v1_frame(data, index)


def clip_format(data: bytes) -> int | None:
    """2 for a format 2.3 - 2.5 video, 1 for a format 1.2 one, None for an image; BitstreamError for bytes that are
    not a well-formed .inr container."""
    from inrcodec.video.file import is_video
    from inrcodec.video_decoder import is_video_v2

    if is_video_v2(data):
        return 2
    return 1 if is_video(data) else None


def info(data: FileInput) -> dict:
    """The header of an .inr file (bytes or a path) as plain data, what `inrcodec info --json` prints: format
    version, size, model, bytes per part. Reads the header only."""
    data = file_bytes(data)
    from inrcodec.decoder import describe_image

    kind = clip_format(data)
    if kind == 2:
        from inrcodec.video_decoder import describe_video

        return describe_video(data)
    if kind == 1:
        from inrcodec.video.file import describe_video as describe_v1_video

        return describe_v1_video(data)
    return describe_image(data)


def image_pixels(image: ImageInput) -> np.ndarray:
    """A path, PIL image or uint8 array -> uint8 [H, W, 3] RGB or [H, W] grey (what the encoder takes)."""
    if isinstance(image, np.ndarray):
        check_image_array(image)
        return image
    if isinstance(image, (str, os.PathLike)):
        from inrcodec.media.images import read_image

        return read_image(image, keep_grey=True)
    from inrcodec.media.images import pil_pixels

    return pil_pixels(image)


def file_bytes(data: FileInput) -> bytes:
    """bytes-like -> bytes; a path -> the file's bytes (a regular file of bounded size)."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    if isinstance(data, (str, os.PathLike)):
        from inrcodec.media.files import read_bytes

        return read_bytes(Path(data))
    raise InrCodecError(f"expected .inr bytes or a path, got {type(data).__name__}")


def check_image_array(pixels: np.ndarray) -> None:
    """uint8 [H, W, 3] (RGB) or [H, W] (grey), non-empty; InrCodecError otherwise."""
    if not isinstance(pixels, np.ndarray) or pixels.dtype != np.uint8:
        raise InrCodecError("the image must be a uint8 numpy array")
    if not (pixels.ndim == 2 or (pixels.ndim == 3 and pixels.shape[2] == 3)) or 0 in pixels.shape:
        raise InrCodecError(f"the image must be H x W x 3 (RGB) or H x W (grey), got shape {pixels.shape}")


def resolve_model(model: str | None):
    """The installed v2 model entry for a model id ('default' or None: the manifest's default)."""
    from inrcodec.model.registry import resolve

    entry = resolve(None if model in (None, DEFAULT_MODEL) else model)
    if entry.config.get("codec") != 2:
        raise InrCodecError(f"model '{entry.id}' is a video (format 1) model; images need a v2 model")
    return entry


def preset_steps(preset: str, steps: int | None) -> int:
    if preset not in IMAGE_PRESET_STEPS:
        raise InrCodecError(f"unknown preset {preset!r} (choose from {', '.join(IMAGE_PRESET_STEPS)})")
    if steps is not None and steps < 0:
        raise InrCodecError(f"steps must be >= 0, got {steps}")
    return IMAGE_PRESET_STEPS[preset] if steps is None else steps


def encode_image(
    pixels: np.ndarray, quality: int = DEFAULT_QUALITY, preset: str = DEFAULT_PRESET, steps: int | None = None,
    model: str | None = DEFAULT_MODEL, lam: float | None = None, progress=None, tile: int | None = None,
    jobs: int = 1,
):
    """Encode uint8 [H, W, 3] RGB or [H, W] grey -> EncodeResult (data: the .inr bytes; stats from its decode).

    lam, when given, replaces the quality's rate weight (rate control searches it); tile, jobs: see encode."""
    from inrcodec.encoder.image import encode_image as encode_v2

    if quality not in QUALITY_LAMBDAS:
        raise InrCodecError(f"quality must be one of 1..8, got {quality}")
    check_image_array(pixels)
    n_steps = preset_steps(preset, steps)
    tile_log2 = tile_log2_for(tile, pixels)
    result = encode_v2(pixels, resolve_model(model), lam=QUALITY_LAMBDAS[quality] if lam is None else lam,
                       steps=n_steps, progress=progress, tile_log2=tile_log2, jobs=jobs)  # fmt: skip
    result.stats.update({"quality": quality if lam is None else None, "preset": preset})
    return result


def encode_to_bpp(
    pixels: np.ndarray, target_bpp: float, preset: str = DEFAULT_PRESET, steps: int | None = None,
    model: str | None = DEFAULT_MODEL, progress=None, on_trial=None, tolerance: float = 0.05, tile: int | None = None,
):
    """Encode at the rate weight whose file lands within `tolerance` of target_bpp (or the nearest found).

    Every trial is a real encode; stats gain target_bpp, target_reached, trials and rate_control_seconds."""
    from inrcodec.encoder.ratecontrol import search_lambda

    if not (isinstance(target_bpp, (int, float)) and target_bpp > 0 and math.isfinite(target_bpp)):
        raise InrCodecError(f"--target-bpp must be a positive number, got {target_bpp}")
    check_image_array(pixels)
    preset_steps(preset, steps)
    tile_log2_for(tile)
    started = time.perf_counter()

    def encode_at(lam: float) -> tuple[bytes, dict]:
        result = encode_image(pixels, preset=preset, steps=steps, model=model, lam=lam, progress=progress, tile=tile)
        return result.data, result.stats

    search = search_lambda(encode_at, target_bpp, QUALITY_LAMBDAS[DEFAULT_QUALITY], tolerance, on_trial=on_trial)

    stats = {**search.stats, "target_bpp": target_bpp, "target_reached": search.reached, "trials": search.trials,
             "rate_control_seconds": time.perf_counter() - started}  # fmt: skip
    return EncodeResult(search.data, stats)


def decode_image(data: bytes, max_pixels: int | None = None, region: tuple[int, int, int, int] | None = None,
                 scale: float | None = None) -> np.ndarray:  # fmt: skip
    """Bytes of a format 2 image file -> uint8 [H, W, 3] RGB or [H, W] grey; InrCodecError on any problem.

    scale: render at scale x the coded size; region: (x, y, w, h) of the output to render (the rest is not
    computed)."""
    from inrcodec import decoder
    from inrcodec.bitstream.image_v2 import DEFAULT_MAX_PIXELS

    limit = DEFAULT_MAX_PIXELS if max_pixels is None else max_pixels
    return decoder.decode_image(data, limit, region, scale).pixels
