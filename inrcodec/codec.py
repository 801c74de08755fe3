"""The public pipeline: encode an RGB image to .inr bytes and decode them back.

The only module that joins the field, the quantiser, the entropy coder and the bitstream. The figures that
`encode_image` reports come from decoding the bytes it wrote, with the decoder's own code path.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np
import torch

from inrcodec import context
from inrcodec.entropy import groups as entropy
from inrcodec.analysis import can_initialise, initialise_from_image
from inrcodec.bitstream.image_file import InrFile
from inrcodec.bitstream.syntax import MAX_PIXELS, MAX_SIDE, quant_step
from inrcodec.errors import BitstreamError, InrCodecError
from inrcodec.field.grid import GridConfig, LevelGeometry, coded_extent, level_table_size
from inrcodec.field.inr import FieldConfig, ImageField, default_pixels_per_unit, to_uint8
from inrcodec.field.mlp import MlpConfig
from inrcodec.fit import FitSchedule, ProgressFn, fit_field
from inrcodec.metrics import psnr
from inrcodec.quant import quantise
from inrcodec.presets import (
    DEFAULT_MODEL,
    DEFAULT_PRESET,
    DEFAULT_QUALITY,
    MODEL_PRESET_STEPS,
    PRESET_STEPS,
    QUALITY_LAMBDAS,
)

GRID_STEP_INDEX = 128  # quant_step(128) == 1.0: grid values are fitted in quantisation steps
MLP_STEP_CANDIDATES = range(32, 121, 4)  # 2^-12 .. 2^-1


@dataclass
class EncodeResult:
    """data: the .inr file; stats: bytes, bpp, psnr_rgb (of the decoded file), encode_seconds, steps, ..."""

    data: bytes
    stats: dict = field(default_factory=dict)


def init_gain(lam: float) -> float:
    """Signal size of one grid quantisation step at the start of the fit: finer for higher quality.

    Measured on kodim23: 1/16 is best up to quality 5; at quality 8 a fixed 1/16 cost ~0.8 dB at equal rate.
    """
    return min(1 / 16, 1.77 * lam**0.5)


def default_field_config() -> FieldConfig:
    return FieldConfig(grid=GridConfig(n_features=3), mlp=MlpConfig())


def image_to_tensor(rgb: np.ndarray) -> torch.Tensor:
    """uint8 [H, W, 3] -> float32 [H, W, 3] in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(rgb)).float() / 255.0


def encode_image(
    rgb: np.ndarray,
    quality: int = DEFAULT_QUALITY,
    preset: str = DEFAULT_PRESET,
    steps: int | None = None,
    config: FieldConfig | None = None,
    progress: ProgressFn | None = None,
    model: str | None = DEFAULT_MODEL,
    lam: float | None = None,
) -> EncodeResult:
    """Fit, quantise and entropy-code an image. rgb: uint8 [H, W, 3].

    model: an installed model's id, "default" for the manifest's default, or None for a self-contained file
    (format 1.0: its own MLP, no model needed to decode; `config` applies only then). lam, if given, replaces
    the quality's rate weight (rate control searches it)."""
    if quality not in QUALITY_LAMBDAS:
        raise InrCodecError(f"quality must be one of 1..8, got {quality}")
    if preset not in PRESET_STEPS:
        raise InrCodecError(f"unknown preset {preset!r} (choose from {', '.join(PRESET_STEPS)})")
    check_image_array(rgb)
    lam = lam if lam is not None else QUALITY_LAMBDAS[quality]
    if model is not None:
        return _encode_with_model(rgb, model, lam, steps if steps is not None else MODEL_PRESET_STEPS[preset], progress, quality, preset)
    start = time.perf_counter()
    height, width = rgb.shape[:2]
    config = config or default_field_config()
    n_steps = steps if steps is not None else PRESET_STEPS[preset]
    target = image_to_tensor(rgb)
    schedule = FitSchedule(steps=n_steps)
    # Seeded here, before the MLP's random init, and with deterministic kernels (a multithreaded scatter-add
    # otherwise sums in a varying order, which a long fit amplifies into different bytes), so the same input
    # gives the same file for a given torch version and thread count. The caller's settings are restored.
    with torch.random.fork_rng(), deterministic_kernels():
        torch.manual_seed(schedule.seed)
        field_model = ImageField(config, width, height, default_pixels_per_unit(width, height))
        if can_initialise(field_model):
            initialise_from_image(field_model, target, gain=init_gain(lam))
        fit = fit_field(field_model, target, lam, schedule, progress)
    grid_symbols = [quantise(v, quant_step(GRID_STEP_INDEX)) for v in fit.grid_values]
    grid_values = [s.float() * quant_step(GRID_STEP_INDEX) for s in grid_symbols]
    mlp_steps = choose_mlp_steps(field_model, grid_values, target, lam)
    data = write_file(field_model, grid_symbols, mlp_steps)
    encode_seconds = time.perf_counter() - start
    decoded = decode_bytes(data)
    stats = {
        "bytes": len(data),
        "bpp": len(data) * 8 / (width * height),
        "psnr_rgb": psnr(rgb, decoded),
        "estimated_bpp": fit.estimated_bits / (width * height),
        "encode_seconds": encode_seconds,
        "steps": n_steps,
        "quality": quality,
        "preset": preset,
        "lambda": lam,
        "model": None,
        "width": width,
        "height": height,
    }
    return EncodeResult(data=data, stats=stats)


def encode_to_bpp(
    rgb: np.ndarray,
    target_bpp: float,
    preset: str = DEFAULT_PRESET,
    steps: int | None = None,
    model: str | None = DEFAULT_MODEL,
    progress: ProgressFn | None = None,
    on_trial=None,
    tolerance: float = 0.05,
) -> EncodeResult:
    """Encode at the rate weight whose file is within `tolerance` of target_bpp (or the nearest one found).

    Each trial is a full encode at the preset; with a model, the image analysis (geometry and pyramid) is done
    once and shared by the trials. stats gain target_bpp, target_reached, trials and rate_control_seconds."""
    from inrcodec.ratecontrol import search_lambda

    if preset not in PRESET_STEPS:
        raise InrCodecError(f"unknown preset {preset!r} (choose from {', '.join(PRESET_STEPS)})")
    if not (target_bpp > 0 and np.isfinite(target_bpp)):
        raise InrCodecError(f"--target-bpp must be a positive number, got {target_bpp}")
    check_image_array(rgb)
    start = time.perf_counter()
    if model is not None:
        from inrcodec.model_codec import analyse, encode_with_model, load_model

        loaded = load_model(None if model == DEFAULT_MODEL else model)
        analysis = analyse(rgb, loaded.model.config)
        total = steps if steps is not None else MODEL_PRESET_STEPS[preset]
        meta_steps = min(total, loaded.model.config.meta_steps)

        def encode_at(lam: float) -> tuple[bytes, dict]:
            return encode_with_model(rgb, loaded, lam, meta_steps, total - meta_steps, progress, analysis)

    else:

        def encode_at(lam: float) -> tuple[bytes, dict]:
            result = encode_image(rgb, preset=preset, steps=steps, progress=progress, model=None, lam=lam)
            return result.data, result.stats

    search = search_lambda(encode_at, target_bpp, QUALITY_LAMBDAS[DEFAULT_QUALITY], tolerance, on_trial=on_trial)
    stats = {
        **search.stats,
        "quality": None,
        "preset": preset,
        "target_bpp": target_bpp,
        "target_reached": search.reached,
        "trials": search.trials,
        "rate_control_seconds": time.perf_counter() - start,
    }
    return EncodeResult(data=search.data, stats=stats)


def _encode_with_model(
    rgb: np.ndarray, model: str, lam: float, steps: int, progress: ProgressFn | None, quality: int, preset: str
) -> EncodeResult:
    from inrcodec.model_codec import encode_with_model, load_model

    loaded = load_model(None if model == DEFAULT_MODEL else model)
    meta_steps = min(steps, loaded.model.config.meta_steps)
    data, stats = encode_with_model(rgb, loaded, lam, meta_steps, steps - meta_steps, progress)
    return EncodeResult(data=data, stats={**stats, "quality": quality, "preset": preset})


@contextmanager
def deterministic_kernels() -> Iterator[None]:
    """torch.use_deterministic_algorithms(True) for the duration; the previous setting is restored."""
    previous = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous)


def check_image_array(rgb: np.ndarray) -> None:
    """Refuse, before any work, an array this format cannot hold."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise InrCodecError(f"expected an 8-bit RGB image array [H, W, 3], got {rgb.dtype} {list(rgb.shape)}")
    height, width = rgb.shape[:2]
    if height == 0 or width == 0:
        raise InrCodecError("the image is empty (0 pixels)")
    if max(height, width) > MAX_SIDE or height * width > MAX_PIXELS:
        raise InrCodecError(f"image of {width}x{height} is too large (at most {MAX_SIDE} a side, {MAX_PIXELS} pixels)")


@torch.no_grad()
def choose_mlp_steps(
    field_model: ImageField, grid_values: list[torch.Tensor], target: torch.Tensor, lam: float
) -> list[int]:
    """Per MLP tensor (w0, b0, w1, ...), the step index that minimises MSE + lam * bpp, chosen greedily."""
    params = [p.detach().clone() for p in field_model.mlp.param_list()]
    features = field_model.grid.render_lattice(*field_model.lattice(), grid_values)
    n_pixels = target.shape[0] * target.shape[1]
    chosen = []
    for index, original in enumerate(params):
        best_cost, best_step = float("inf"), MLP_STEP_CANDIDATES[-1]
        for step_index in MLP_STEP_CANDIDATES:
            step = quant_step(step_index)
            symbols = torch.round(original / step)
            if symbols.abs().max() > entropy.MAX_SYMBOL:
                continue
            trial = list(params)
            trial[index] = symbols * step
            mse = torch.mean((field_model.mlp(features, trial).clamp(0, 1) - target) ** 2).item()
            group = entropy.best_group(symbols.to(torch.int32).numpy())
            cost = mse + lam * entropy.group_bits(group.symbols, group.table_index) / n_pixels
            if cost < best_cost:
                best_cost, best_step = cost, step_index
        params[index] = torch.round(original / quant_step(best_step)) * quant_step(best_step)
        chosen.append(best_step)
    return chosen


def write_file(field_model: ImageField, grid_symbols: list[torch.Tensor], mlp_steps: list[int]) -> bytes:
    """Build the .inr bytes from integer grid symbols and the MLP quantised with `mlp_steps`."""
    config = field_model.config
    encoder = entropy.SymbolEncoder()
    step_indices = [GRID_STEP_INDEX] * len(field_model.grid.levels)
    levels = code_levels(encoder, field_model.grid.levels, grid_symbols, step_indices)
    layers = []
    params = [p.detach() for p in field_model.mlp.param_list()]
    for layer_index in range(len(params) // 2):
        layer = {}
        for kind, offset in (("weight", 0), ("bias", 1)):
            step_index = mlp_steps[2 * layer_index + offset]
            symbols = torch.round(params[2 * layer_index + offset] / quant_step(step_index)).to(torch.int32)
            group = entropy.best_group(symbols.numpy())
            encoder.add(group.symbols, group.table_index)
            layer[f"{kind}_step"], layer[f"{kind}_table"] = step_index, group.table_index
        layers.append(layer)
    inr = InrFile(
        image={"width": field_model.width, "height": field_model.height, "channels": 3, "bit_depth": 8},
        model_id="",
        model_sha256=b"",
        field_config=field_config_record(config.grid, config.mlp, field_model.pixels_per_unit),
        levels=levels,
        layers=layers,
        payload=encoder.to_bytes(),
    )
    return inr.to_bytes()


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


def field_config_from_header(fc: dict) -> FieldConfig:
    """The FieldConfig that a FELD section's field record describes."""
    return FieldConfig(
        grid=GridConfig(
            n_dims=fc["n_dims"],
            n_levels=fc["n_levels"],
            n_features=fc["n_features"],
            log2_hashmap_size=fc["log2_hashmap_size"],
            base_resolution=fc["base_resolution"],
            per_level_scale=fc["per_level_scale"],
        ),
        mlp=MlpConfig(
            n_hidden_layers=fc["mlp_hidden_layers"], hidden_width=fc["mlp_hidden_width"], out_channels=fc["out_channels"]
        ),
    )


def levels_from_file(inr: InrFile) -> list[LevelGeometry]:
    """The grid geometry that the LEVEL records describe (checked against the image size)."""
    fc = inr.field_config
    grid = field_config_from_header(fc).grid
    levels = []
    for level in inr.levels:
        size, dense = level_table_size(level["res"], grid)
        extent = (level["extent_x"], level["extent_y"]) if dense else ()
        if dense:
            check_extent(level, inr.image["width"], inr.image["height"], fc["pixels_per_unit"])
        levels.append(LevelGeometry(scale=level["scale"], res=level["res"], size=size, dense=dense, extent=extent))
    return levels


def field_from_file(inr: InrFile) -> ImageField:
    """An ImageField with the header's configuration and geometry (values not yet set)."""
    fc = inr.field_config
    config = field_config_from_header(fc)
    levels = levels_from_file(inr)
    with torch.random.fork_rng():  # the MLP's default init draws random numbers the decoder overwrites
        return ImageField(config, inr.image["width"], inr.image["height"], fc["pixels_per_unit"], levels)


def check_extent(level: dict, width: int, height: int, pixels_per_unit: int) -> None:
    """A dense level's coded extent must be what the geometry gives (one vertex of slack for float rounding)."""
    for axis, n_pixels in (("extent_x", width), ("extent_y", height)):
        expected = min(level["res"], coded_extent(level["scale"], n_pixels, pixels_per_unit))
        if abs(level[axis] - expected) > 1:
            raise BitstreamError(f"level {axis} {level[axis]} does not match the image geometry ({expected})")


def decode_to_tensor(data: bytes) -> torch.Tensor:
    """.inr bytes -> RGB float [H, W, 3] in [0, 1]. Raises BitstreamError on a bad file."""
    inr = InrFile.from_bytes(data)
    if inr.model_id:
        from inrcodec.model_codec import decode_model_file

        return decode_model_file(inr)
    field_model = field_from_file(inr)
    try:
        decoder = entropy.SymbolDecoder(inr.payload)
        grid_values = decode_grid(decoder, field_model.grid.levels, inr.field_config["n_features"], inr.levels)
        mlp_params = []
        for index, parameter in enumerate(field_model.mlp.param_list()):
            layer = inr.layers[index // 2]
            kind = "weight" if index % 2 == 0 else "bias"
            symbols = decoder.decode(parameter.numel(), layer[f"{kind}_table"])
            mlp_params.append(torch.from_numpy(symbols).reshape(parameter.shape).float() * quant_step(layer[f"{kind}_step"]))
        decoder.finish()
    except (ValueError, RuntimeError, OverflowError) as exc:
        raise BitstreamError(f"entropy-coded data is corrupted ({exc})") from None
    return field_model.render_tiled(grid_values, mlp_params)


def decode_grid(
    decoder: entropy.SymbolDecoder, levels: list[LevelGeometry], n_features: int, records: list[dict]
) -> list[torch.Tensor]:
    """Entropy-decode every grid level (the inverse of `code_levels`) and dequantise: per level [ey, ex, F]."""
    values = []
    parent = None
    for level, record in zip(levels, records):
        planes = []
        for feature in range(n_features):
            tables = record["tables"][feature * context.N_CONTEXTS : (feature + 1) * context.N_CONTEXTS]
            width, height = level.extent if level.dense else (level.size, 1)
            plane_parent = parent[..., feature] if parent is not None and level.dense else None
            plane = context.decode_plane(lambda n, c: decoder.decode(n, tables[c]), height, width, plane_parent)
            planes.append(plane if level.dense else plane[0])
        stacked = np.stack(planes, axis=-1)
        parent = stacked if level.dense else None
        values.append(torch.from_numpy(stacked).float() * quant_step(record["quant_step"]))
    return values


def decode_bytes(data: bytes) -> np.ndarray:
    """.inr bytes -> uint8 RGB [H, W, 3]."""
    return to_uint8(decode_to_tensor(data)).numpy()
