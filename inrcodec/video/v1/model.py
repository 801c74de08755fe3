"""The v1 model as format 1.2 decoding uses it: loading a shipped model, rendering a grid.

A 1.2 file names its model by id and sha256 (models/base-v1, or a video model such as models/video-v1); the
MLP, the modulation basis and V0 come from that model. A frame's dequantised grid is rendered in bands, to bound
memory.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch

from inrcodec.encoder.model_torch import load_model_tensors
from inrcodec.model import registry as models
from inrcodec.errors import BitstreamError, InrCodecError
from inrcodec.presets import VIDEO_MODEL
from inrcodec.video.v1.grid import LevelGeometry, lattice_level, pixel_coords
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


def load_model_for_file(model_id: str, sha256: bytes) -> LoadedModel:
    """The model a file names; a one-line error if it is not installed or has another sha256."""
    entry = models.find_model(model_id, sha256)
    return _load(entry)


def check_config_matches(file, config: MetaConfig) -> None:
    """The file's field record must describe the model's architecture (file: a parsed video.file.VideoFile)."""
    expected = field_config_record(config.grid, config.mlp, file.field_config["pixels_per_unit"])
    if file.field_config != expected:
        raise BitstreamError(f"the field config does not match model {file.model_id!r}")


def render(model: MetaModel, levels: list[LevelGeometry], xs: torch.Tensor, ys: torch.Tensor,
           values: list[torch.Tensor], mod_symbols: torch.Tensor) -> torch.Tensor:  # fmt: skip
    """values: per level [B, ey, ex, F] features (symbols * step) -> RGB [B, len(ys), len(xs), 3], unclamped."""
    n_images = mod_symbols.shape[0]
    features = []
    for level, table in zip(levels, values):
        stacked = table.permute(1, 2, 0, 3).reshape(table.shape[1], table.shape[2], -1)
        features.append(lattice_level(level, stacked, xs, ys).reshape(ys.shape[0], xs.shape[0], n_images, -1))
    return model.decode_rgb(torch.cat(features, dim=-1).permute(2, 0, 1, 3), mod_symbols)


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
