"""The v2 image encoder: predict the latents, refine them, round, entropy-code, write, and measure the file.

The figures it reports (bytes, bpp, PSNR) come from decoding the bytes it wrote with the decoder's own code.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from inrcodec import decoder
from inrcodec.bitstream.image_v2 import DEFAULT_MAX_PIXELS, ImageFile
from inrcodec.encoder.model_torch import load_codec_model
from inrcodec.encoder.refine import ProgressFn, refine
from inrcodec.encoder.result import EncodeResult
from inrcodec.errors import InrCodecError
from inrcodec.metrics import psnr
from inrcodec.model.config import lambda_rate_code, rate_code_lambda
from inrcodec.model.shared import load_shared
from inrcodec.model.registry import ModelEntry
from inrcodec.recode import code_latents


def as_target(pixels: np.ndarray) -> tuple[torch.Tensor, bool]:
    """uint8 [H, W, 3] or [H, W] -> ([1, 3, H, W] float in [0, 1], grey?). A grey image is fed to the analysis
    as three equal channels and measured on one."""
    grey = pixels.ndim == 2
    rgb = np.repeat(pixels[..., None], 3, axis=2) if grey else pixels
    return torch.from_numpy(np.array(rgb)).permute(2, 0, 1)[None].float() / 255.0, grey


def predict(entry: ModelEntry, target: torch.Tensor, rate_code: int) -> list[torch.Tensor]:
    """The analysis network's latents (finest first) [1, 1, h, w], float, in integer units."""
    model = load_codec_model(entry)
    code = torch.tensor([float(rate_code)])
    with torch.no_grad():
        return model.analysis(target, code, model.shared.log_gains(code))


def encode_latents_to_file(
    entry: ModelEntry, latents: list[torch.Tensor], width: int, height: int, channels: int, rate_code: int,
    modulation: torch.Tensor | None = None, tile_log2: int | None = None,
) -> bytes:
    """Float latents (rounded here) and a modulation [M] (binary16 values) or None -> the file's bytes, in tiles
    of 2^tile_log2 pixels (None: one stream, format 2.1)."""
    shared = load_shared(entry)
    integers = [torch.round(y)[0, 0].numpy().astype(np.int64) for y in latents]
    modulated = b"" if modulation is None else modulation.numpy().astype("<f2").tobytes()
    header = ImageFile(width, height, channels, rate_code, len(integers), entry.id, bytes.fromhex(entry.sha256),
                       b"", modulated)  # fmt: skip
    file, _ = code_latents(header, integers, shared.contexts, tile_log2)
    return file.to_bytes()


def encode_image(
    pixels: np.ndarray, entry: ModelEntry, lam: float | None = None, rate_code: int | None = None, steps: int = 0,
    progress: ProgressFn | None = None, proxy: str = "soft", modulate: bool = True, learning_rate: float | None = None,
    tile_log2: int | None = None,
) -> EncodeResult:
    """uint8 [H, W, 3] RGB or [H, W] grey -> a format 2 file at a rate weight lambda (or an explicit rate code);
    modulate: let the refinement add a modulation of the synthesis where it pays; learning_rate: the refinement's
    step for the latents (None: the encoder's rule, inrcodec.encoder.refine.learning_rate_for)."""
    started = time.perf_counter()
    height, width = pixels.shape[:2]
    if height * width > DEFAULT_MAX_PIXELS:
        raise InrCodecError(f"image of {width}x{height} is over the limit of {DEFAULT_MAX_PIXELS} pixels")
    if rate_code is None:
        rate_code = lambda_rate_code(lam)
    lam = rate_code_lambda(rate_code) if lam is None else lam
    target, grey = as_target(pixels)
    model = load_codec_model(entry)
    latents = predict(entry, target, rate_code)
    measured = target.mean(dim=1, keepdim=True) if grey else target
    refined = refine(model, latents, measured, rate_code, lam, steps, grey=grey, progress=progress, proxy=proxy,
                     modulate=modulate, learning_rate=learning_rate)  # fmt: skip
    data = encode_latents_to_file(entry, refined.latents, width, height, 1 if grey else 3, rate_code,
                                  refined.modulation, tile_log2)  # fmt: skip
    seconds = time.perf_counter() - started
    decoded = decoder.decode_image(data).pixels
    stats = {
        "bytes": len(data), "bpp": len(data) * 8 / (width * height), "psnr_rgb": psnr(pixels, decoded),
        "encode_seconds": seconds, "steps": steps, "rate_code": rate_code, "lambda": lam, "model": entry.id,
        "width": width, "height": height, "channels": 1 if grey else 3, "modulated": refined.modulation is not None,
    }  # fmt: skip
    return EncodeResult(data, stats)
