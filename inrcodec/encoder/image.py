"""The v2 image encoder: predict the latents, refine them, round, entropy-code, write, and measure the file.

The figures it reports (bytes, bpp, PSNR) come from decoding the bytes it wrote with the decoder's own code.
"""

from __future__ import annotations

import time
from contextlib import ExitStack

import numpy as np
import torch

from inrcodec import decoder
from inrcodec.bitstream.image_v2 import DEFAULT_MAX_PIXELS, ImageFile
from inrcodec.encoder.model_torch import load_codec_model
from inrcodec.encoder.refine import ProgressFn, refine, refine_with
from inrcodec.encoder.result import EncodeResult
from inrcodec.encoder.tile_workers import TileWorkers
from inrcodec.encoder.tiled import predict_tiled, tiled_cost
from inrcodec.errors import InrCodecError
from inrcodec.metrics import psnr
from inrcodec.model.config import lambda_rate_code, rate_code_lambda
from inrcodec.model.shared import load_shared
from inrcodec.model.registry import ModelEntry
from inrcodec.recode import code_latents, tile_grid_for
from inrcodec.runtime import large_allocations_returned

# Tiled encodes work tile by tile (memory follows the tile size), so they take larger images than untiled ones.
TILED_MAX_PIXELS = 1 << 27


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
    """Float latents [1, 1, h, w] or [h, w] (rounded here) and a modulation [M] (binary16 values) or None -> the
    file's bytes, in tiles of 2^tile_log2 pixels (None: one stream, format 2.1)."""
    shared = load_shared(entry)
    integers = [torch.round(y).reshape(y.shape[-2:]).numpy().astype(np.int64) for y in latents]
    modulated = b"" if modulation is None else modulation.numpy().astype("<f2").tobytes()
    header = ImageFile(width, height, channels, rate_code, len(integers), entry.id, bytes.fromhex(entry.sha256),
                       b"", modulated)  # fmt: skip
    file, _ = code_latents(header, integers, shared.contexts, tile_log2)
    return file.to_bytes()


def encode_image(
    pixels: np.ndarray, entry: ModelEntry, lam: float | None = None, rate_code: int | None = None, steps: int = 0,
    progress: ProgressFn | None = None, proxy: str = "soft", modulate: bool = True, learning_rate: float | None = None,
    tile_log2: int | None = None, jobs: int = 1,
) -> EncodeResult:
    """uint8 [H, W, 3] RGB or [H, W] grey -> a format 2 file at a rate weight lambda (or an explicit rate code);
    modulate: let the refinement add a modulation of the synthesis where it pays; learning_rate: the refinement's
    step for the latents (None: the encoder's rule, inrcodec.encoder.refine.learning_rate_for); jobs: processes
    that refine the tiles of a tiled encode (inrcodec.encoder.tile_workers)."""
    started = time.perf_counter()
    height, width = pixels.shape[:2]
    limit = DEFAULT_MAX_PIXELS if tile_log2 is None else TILED_MAX_PIXELS
    if height * width > limit:
        raise InrCodecError(f"image of {width}x{height} is over the limit of {limit} pixels"
                            + (" for an untiled encode" if tile_log2 is None else ""))  # fmt: skip
    if rate_code is None:
        rate_code = lambda_rate_code(lam)
    lam = rate_code_lambda(rate_code) if lam is None else lam
    model = load_codec_model(entry)
    grey = pixels.ndim == 2
    if tile_log2 is None:
        target, _ = as_target(pixels)
        latents = predict(entry, target, rate_code)
        measured = target.mean(dim=1, keepdim=True) if grey else target
        refined = refine(model, latents, measured, rate_code, lam, steps, grey=grey, progress=progress, proxy=proxy,
                         modulate=modulate, learning_rate=learning_rate)  # fmt: skip
    else:
        # tile by tile, so that memory follows the tile size (inrcodec/encoder/tiled.py)
        grid = tile_grid_for(width, height, model.shared.config.n_levels, tile_log2)
        with ExitStack() as stack:
            stack.enter_context(large_allocations_returned())
            latents = predict_tiled(model, pixels, rate_code, grid)
            workers = None
            if jobs > 1 and steps > 0:
                workers = stack.enter_context(TileWorkers(jobs, entry, pixels, grid, rate_code, lam, proxy))
            cost = tiled_cost(model, pixels, grid, rate_code, lam, proxy, workers)
            refined = refine_with(cost, latents, width * height, model.shared.config.modulation_size, lam, steps,
                                  progress, proxy, modulate, learning_rate)  # fmt: skip
            del cost
    data = encode_latents_to_file(entry, refined.latents, width, height, 1 if grey else 3, rate_code,
                                  refined.modulation, tile_log2)  # fmt: skip
    modulated = refined.modulation is not None
    del latents, refined  # before the check decode: memory
    seconds = time.perf_counter() - started
    decoded = decoder.decode_image(data, max_pixels=height * width).pixels
    stats = {
        "bytes": len(data), "bpp": len(data) * 8 / (width * height), "psnr_rgb": psnr(pixels, decoded),
        "encode_seconds": seconds, "steps": steps, "rate_code": rate_code, "lambda": lam, "model": entry.id,
        "width": width, "height": height, "channels": 1 if grey else 3, "modulated": modulated,
    }  # fmt: skip
    return EncodeResult(data, stats)
