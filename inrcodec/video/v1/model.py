"""The v1 model as the video codec uses it: loading a shipped model, analysing a frame, rendering a grid.

A video file names its model by id and sha256 (models/base-v1, or a video model such as models/video-v1); the
MLP, the modulation basis and V0 come from that model. The encoder analyses each frame once (grid geometry and
YCbCr pyramid); the decoder renders a frame's dequantised grid in bands, to bound memory.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch

from inrcodec.encoder.model_torch import load_model_tensors
from inrcodec.model import registry as models
from inrcodec.bitstream.syntax import MAX_SIDE
from inrcodec.errors import BitstreamError, InrCodecError
from inrcodec.presets import VIDEO_MODEL
from inrcodec.video.v1.analysis import ycbcr_pyramid
from inrcodec.video.v1.fewstep import render
from inrcodec.video.v1.grid import LevelGeometry, image_geometry, pixel_coords
from inrcodec.video.v1.header import MAX_PIXELS
from inrcodec.video.v1.inr import default_pixels_per_unit
from inrcodec.video.v1.levels import field_config_record
from inrcodec.video.v1.metamodel import MetaConfig, MetaModel


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
    if entry.config.get("codec", 1) != 1:
        raise InrCodecError(f"model {entry.id!r} is an image (format 2) model; video needs a v1 model such as "
                            f"{VIDEO_MODEL!r}")
    tensors, _ = load_model_tensors(entry)
    try:
        config = MetaConfig.from_dict(entry.config)
        model = MetaModel.from_tensors(config, tensors)
    except (TypeError, ValueError, KeyError) as exc:
        raise InrCodecError(f"model {entry.id!r} does not fit this version of inrcodec ({exc})") from None
    return LoadedModel(entry, model)


def load_model(model_id: str) -> LoadedModel:
    """The installed v1 model `model_id`, weights checked against MANIFEST.json."""
    entry = models.resolve(model_id)
    return _load(entry)


def load_model_for_file(model_id: str, sha256: bytes) -> LoadedModel:
    """The model a file names; a one-line error if it is not installed or has another sha256."""
    entry = models.find_model(model_id, sha256)
    return _load(entry)


def check_image_array(rgb: np.ndarray) -> None:
    """Refuse, before any work, a frame this format cannot hold."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise InrCodecError(f"expected an 8-bit RGB image array [H, W, 3], got {rgb.dtype} {list(rgb.shape)}")
    height, width = rgb.shape[:2]
    if height == 0 or width == 0:
        raise InrCodecError("the image is empty (0 pixels)")
    if max(height, width) > MAX_SIDE or height * width > MAX_PIXELS:
        raise InrCodecError(f"image of {width}x{height} is too large (at most {MAX_SIDE} a side, {MAX_PIXELS} pixels)")


def image_to_tensor(rgb: np.ndarray) -> torch.Tensor:
    """uint8 [H, W, 3] -> float32 [H, W, 3] in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(rgb)).float() / 255.0


@dataclass
class Analysis:
    """What the encoder computes once per frame, whatever the rate: geometry and YCbCr pyramid."""

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


def check_config_matches(file, config: MetaConfig) -> None:
    """The file's field record must describe the model's architecture (file: a parsed video.file.VideoFile)."""
    expected = field_config_record(config.grid, config.mlp, file.field_config["pixels_per_unit"])
    if file.field_config != expected:
        raise BitstreamError(f"the field config does not match model {file.model_id!r}")


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
