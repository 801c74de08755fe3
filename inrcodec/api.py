"""The public facade over the v2 image encoder and decoder: validates quality, preset, model and image once.

The encoder (torch) is imported only by the functions that encode; decoding imports numpy, constriction and
safetensors' numpy loader only.
"""

from __future__ import annotations

import math
import time

import numpy as np

from inrcodec.errors import InrCodecError
from inrcodec.presets import DEFAULT_MODEL, DEFAULT_PRESET, DEFAULT_QUALITY, IMAGE_PRESET_STEPS, QUALITY_LAMBDAS


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
    model: str | None = DEFAULT_MODEL, lam: float | None = None, progress=None,
):
    """Encode uint8 [H, W, 3] RGB or [H, W] grey -> EncodeResult (data: the .inr bytes; stats from its decode).

    lam, when given, replaces the quality's rate weight (rate control searches it)."""
    from inrcodec.encoder.image import encode_image as encode_v2

    if quality not in QUALITY_LAMBDAS:
        raise InrCodecError(f"quality must be one of 1..8, got {quality}")
    check_image_array(pixels)
    n_steps = preset_steps(preset, steps)
    result = encode_v2(pixels, resolve_model(model), lam=QUALITY_LAMBDAS[quality] if lam is None else lam,
                       steps=n_steps, progress=progress)  # fmt: skip
    result.stats.update({"quality": quality if lam is None else None, "preset": preset})
    return result


def encode_to_bpp(
    pixels: np.ndarray, target_bpp: float, preset: str = DEFAULT_PRESET, steps: int | None = None,
    model: str | None = DEFAULT_MODEL, progress=None, on_trial=None, tolerance: float = 0.05,
):
    """Encode at the rate weight whose file lands within `tolerance` of target_bpp (or the nearest found).

    Every trial is a real encode; stats gain target_bpp, target_reached, trials and rate_control_seconds."""
    from inrcodec.encoder.ratecontrol import search_lambda

    if not (isinstance(target_bpp, (int, float)) and target_bpp > 0 and math.isfinite(target_bpp)):
        raise InrCodecError(f"--target-bpp must be a positive number, got {target_bpp}")
    check_image_array(pixels)
    preset_steps(preset, steps)
    started = time.perf_counter()

    def encode_at(lam: float) -> tuple[bytes, dict]:
        result = encode_image(pixels, preset=preset, steps=steps, model=model, lam=lam, progress=progress)
        return result.data, result.stats

    search = search_lambda(encode_at, target_bpp, QUALITY_LAMBDAS[DEFAULT_QUALITY], tolerance, on_trial=on_trial)
    from inrcodec.encoder.image import EncodeResult

    stats = {**search.stats, "target_bpp": target_bpp, "target_reached": search.reached, "trials": search.trials,
             "rate_control_seconds": time.perf_counter() - started}  # fmt: skip
    return EncodeResult(search.data, stats)


def decode_image(data: bytes, max_pixels: int | None = None) -> np.ndarray:
    """Bytes of a format 2 image file -> uint8 [H, W, 3] RGB or [H, W] grey; InrCodecError on any problem."""
    from inrcodec import decoder
    from inrcodec.bitstream.image_v2 import DEFAULT_MAX_PIXELS

    return decoder.decode_image(data, DEFAULT_MAX_PIXELS if max_pixels is None else max_pixels).pixels
