"""Encoding and decoding with a shipped meta-learned model (format 1.1 files that name their model).

The file carries the image's grid symbols (per-level steps chosen from lambda by the model) and the
modulation symbols V - V0; the MLP, the modulation basis and V0 come from the model, which the header names by
id and sha256. The encoder predicts the grid from the image, takes the model's Meta-SGD steps, and may refine
with Adam (`fewstep`); the decoder needs none of that.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass

import numpy as np
import torch

from inrcodec import models
from inrcodec.entropy import groups as entropy
from inrcodec.analysis import ycbcr_pyramid
from inrcodec.bitstream.image_file import InrFile
from inrcodec.codec import (
    check_image_array,
    code_levels,
    decode_bytes,
    decode_grid,
    deterministic_kernels,
    field_config_record,
    image_to_tensor,
    levels_from_file,
)
from inrcodec.errors import BitstreamError, InrCodecError
from inrcodec.fewstep import Images, ProgressFn, RefineSchedule, level_steps, meta_sgd, objective, predict, refine, render
from inrcodec.field.grid import LevelGeometry, image_geometry, pixel_coords
from inrcodec.field.inr import default_pixels_per_unit
from inrcodec.metamodel import MetaConfig, MetaModel
from inrcodec.metrics import psnr
from inrcodec.quant import quantise, straight_through_round

SEED = 0
# Per-image modulation did not pay for its bits with base-v1 (BD-rate +4.7 % against V = V0 at the fast preset,
# eval/results/meta_bench_summary.md), so files are grid-only by default; the format and models keep it.
MODULATE = False


@dataclass(frozen=True)
class LoadedModel:
    entry: models.ModelEntry
    model: MetaModel

    @property
    def sha256_bytes(self) -> bytes:
        return bytes.fromhex(self.entry.sha256)


@functools.lru_cache(maxsize=4)
def _load(entry: models.ModelEntry) -> LoadedModel:
    """Weights checked against the manifest's sha256; cached per entry (path, id and sha256)."""
    tensors, _ = models.load_model_tensors(entry)
    try:
        config = MetaConfig.from_dict(entry.config)
        model = MetaModel.from_tensors(config, tensors)
    except (TypeError, ValueError, KeyError) as exc:
        raise InrCodecError(f"model {entry.id!r} does not fit this version of inrcodec ({exc})") from None
    return LoadedModel(entry, model)


def load_model(model_id: str | None = None) -> LoadedModel:
    """The installed model `model_id` (None: the default), weights checked against MANIFEST.json."""
    entry = models.resolve(model_id)
    return _load(entry)


def load_model_for_file(model_id: str, sha256: bytes) -> LoadedModel:
    """The model a file names; a one-line error if it is not installed or has another sha256."""
    entry = models.find_model(model_id, sha256)
    return _load(entry)


@dataclass
class Analysis:
    """What the encoder computes once per image, whatever the rate: geometry and YCbCr pyramid."""

    width: int
    height: int
    pixels_per_unit: int
    levels: list[LevelGeometry]
    xs: torch.Tensor
    ys: torch.Tensor
    target: torch.Tensor  # [1, H, W, 3]
    pyramid: list[torch.Tensor]  # per level [1, ey, ex, 3]


def analyse(rgb: np.ndarray, config: MetaConfig) -> Analysis:
    check_image_array(rgb)
    height, width = rgb.shape[:2]
    ppu = default_pixels_per_unit(width, height)
    levels = image_geometry(config.grid, width, height, ppu)
    if not all(level.dense for level in levels):
        raise InrCodecError(f"image of {width}x{height} is too large for this model's grid")
    xs, ys = pixel_coords(width, ppu), pixel_coords(height, ppu)
    target = image_to_tensor(rgb)[None]
    shapes = [tuple(reversed(level.extent)) for level in levels]
    pyramid = ycbcr_pyramid(levels, shapes, xs, ys, target)
    return Analysis(width, height, ppu, levels, xs, ys, target, pyramid)


def encode_with_model(
    rgb: np.ndarray,
    loaded: LoadedModel,
    lam: float,
    meta_steps: int,
    refine_steps: int,
    progress: ProgressFn | None = None,
    analysis: Analysis | None = None,
    modulate: bool = MODULATE,
) -> tuple[bytes, dict]:
    """-> (.inr bytes, stats measured by decoding them). `analysis` may be reused across rates; modulate=False
    keeps V at V0 (rank 0 in the file, no modulation symbols)."""
    start = time.perf_counter()
    model = loaded.model
    analysis = analysis or analyse(rgb, model.config)
    images = Images(analysis.levels, analysis.xs, analysis.ys, analysis.target, torch.tensor([lam]))
    rank = model.config.mod_rank if modulate else 0
    with torch.random.fork_rng(), deterministic_kernels(), torch.no_grad():
        torch.manual_seed(SEED)
        symbols = predict(model, analysis.pyramid, level_steps(model, images.lams))
        mod = torch.zeros(1, model.config.mod_rank, model.config.n_inputs)
        symbols, mod = meta_sgd(model, images, symbols, mod, meta_steps, progress, fit_modulation=modulate)
        if refine_steps:
            schedule = RefineSchedule(refine_steps)
            symbols, mod, _ = refine(model, images, symbols, mod, schedule, progress, meta_steps, modulate)
        _, _, estimated_bits = objective(
            model, images, symbols, mod, straight_through_round, fit_modulation=modulate
        )
    grid_symbols = [quantise(s[0], 1.0) for s in symbols]
    mod_symbols = quantise(mod[0, :rank], 1.0)
    data = write_model_file(loaded, analysis, model.step_indices(lam), grid_symbols, mod_symbols)
    encode_seconds = time.perf_counter() - start
    decoded = decode_bytes(data)
    n_pixels = analysis.width * analysis.height
    stats = {
        "bytes": len(data),
        "bpp": len(data) * 8 / n_pixels,
        "psnr_rgb": psnr(rgb, decoded),
        "estimated_bpp": float(estimated_bits[0]) / n_pixels,
        "encode_seconds": encode_seconds,
        "steps": meta_steps + refine_steps,
        "meta_steps": meta_steps,
        "refine_steps": refine_steps,
        "lambda": lam,
        "model": loaded.entry.id,
        "width": analysis.width,
        "height": analysis.height,
    }
    return data, stats


def write_model_file(
    loaded: LoadedModel,
    analysis: Analysis,
    step_indices: list[int],
    grid_symbols: list[torch.Tensor],
    mod_symbols: torch.Tensor,
) -> bytes:
    """grid_symbols: per level int [ey, ex, F]; mod_symbols: int [rank, L * F] -> the .inr bytes (format 1.1)."""
    config = loaded.model.config
    encoder = entropy.SymbolEncoder()
    levels = code_levels(encoder, analysis.levels, grid_symbols, step_indices)
    group = entropy.best_group(mod_symbols.to(torch.int32).numpy().ravel())
    encoder.add(group.symbols, group.table_index)
    inr = InrFile(
        image={"width": analysis.width, "height": analysis.height, "channels": 3, "bit_depth": 8},
        model_id=loaded.entry.id,
        model_sha256=loaded.sha256_bytes,
        field_config=field_config_record(config.grid, config.mlp, analysis.pixels_per_unit),
        levels=levels,
        layers=[],
        payload=encoder.to_bytes(),
        modulation={"rank": mod_symbols.shape[0], "n_inputs": config.n_inputs, "table": group.table_index},
    )
    return inr.to_bytes()


def check_config_matches(inr: InrFile, config: MetaConfig) -> None:
    """The file's field record must describe the model's architecture."""
    expected = field_config_record(config.grid, config.mlp, inr.field_config["pixels_per_unit"])
    if inr.field_config != expected:
        raise BitstreamError(f"the field config does not match model {inr.model_id!r}")
    if inr.modulation is not None and inr.modulation["rank"] > config.mod_rank:
        raise BitstreamError(f"modulation rank {inr.modulation['rank']} exceeds model {inr.model_id!r}'s")


def decode_model_file(inr: InrFile, band_pixels: int = 1 << 20) -> torch.Tensor:
    """A parsed file that names a model -> RGB [H, W, 3] in [0, 1]."""
    loaded = load_model_for_file(inr.model_id, inr.model_sha256)
    model = loaded.model
    check_config_matches(inr, model.config)
    levels = levels_from_file(inr)
    rank, n_inputs = inr.modulation["rank"], inr.modulation["n_inputs"]
    try:
        decoder = entropy.SymbolDecoder(inr.payload)
        values = decode_grid(decoder, levels, model.config.n_features, inr.levels)
        mod_symbols = decoder.decode(rank * n_inputs, inr.modulation["table"]).reshape(rank, n_inputs)
        decoder.finish()
    except (ValueError, RuntimeError, OverflowError) as exc:
        raise BitstreamError(f"entropy-coded data is corrupted ({exc})") from None
    mod = torch.zeros(1, model.config.mod_rank, n_inputs)
    mod[0, :rank] = torch.from_numpy(mod_symbols).float()
    size = (inr.image["width"], inr.image["height"], inr.field_config["pixels_per_unit"])
    return render_in_bands(model, levels, values, mod, size, band_pixels)


@torch.no_grad()
def render_in_bands(
    model: MetaModel,
    levels: list[LevelGeometry],
    values: list[torch.Tensor],
    mod: torch.Tensor,
    size: tuple[int, int, int],
    band_pixels: int = 1 << 20,
) -> torch.Tensor:
    """values: per level [ey, ex, F] features; size: (width, height, pixels_per_unit) -> RGB [H, W, 3] in
    [0, 1], rendered in bands of about band_pixels pixels to bound memory."""
    width, height, ppu = size
    xs, all_ys = pixel_coords(width, ppu), pixel_coords(height, ppu)
    tables = [v[None] for v in values]
    band_rows = max(1, band_pixels // width)
    bands = [render(model, levels, xs, all_ys[top : top + band_rows], tables, mod)[0] for top in range(0, height, band_rows)]
    return torch.cat(bands, dim=0).clamp(0.0, 1.0)


