"""Decoding format 1.2 video files (inrcodec 0.2's video codec, on the v1 field and model of video/v1/): every
frame, or one. Their encoder was replaced by video v2 (format 2.3, inrcodec/encoder/clip.py) and removed.

A 1.2 clip is cut into groups. Frame t of a group has its own grid G_t on the frame's geometry, read by the
shared MLP of a v1 model; the file codes G_0 and then, for t > 0, the integer residual R_t = G_t - G_{t-1}, each
frame in its own ANS stream. Decoding frame k entropy-decodes its group's residuals up to k (integer additions)
and renders one frame; decoding the clip holds one grid and one frame at a time.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import torch

from inrcodec.errors import BitstreamError, InrCodecError
from inrcodec.video.file import VideoFile
from inrcodec.video.v1 import context
from inrcodec.video.v1 import groups as entropy
from inrcodec.video.v1.context import N_CONTEXTS
from inrcodec.video.v1.header import quant_step
from inrcodec.video.v1.inr import to_uint8
from inrcodec.video.v1.levels import levels_from_file
from inrcodec.video.v1.model import LoadedModel, check_config_matches, load_model_for_file, render_in_bands


@dataclass
class _Decoder:
    """A parsed video file with its model and geometry, ready to decode groups and render frames."""

    file: VideoFile
    loaded: LoadedModel
    levels: list

    @classmethod
    def open(cls, data: bytes) -> "_Decoder":
        file = VideoFile.from_bytes(data)
        loaded = load_model_for_file(file.model_id, file.model_sha256)
        check_config_matches(file, loaded.model.config)
        return cls(file, loaded, levels_from_file(file))

    def group_symbols(self, gop_number: int, last: int | None = None) -> Iterator[list[np.ndarray]]:
        """The integer grids (per level int32 [ey, ex, F]) of a group's frames in order, up to position `last`."""
        gop = self.file.gops[gop_number]
        per_level = self.file.field_config["n_features"] * N_CONTEXTS
        grid = previous = None
        for position, stream in enumerate(self.file.frame_streams(gop_number)):
            if last is not None and position > last:
                return
            tables = gop["frames"][position]["tables"]
            level_tables = [tables[i * per_level : (i + 1) * per_level] for i in range(len(self.levels))]
            try:
                decoder = entropy.SymbolDecoder(stream)
                symbols = self._decode_planes(decoder, level_tables, position > 0, previous)
                decoder.finish()
            except (ValueError, RuntimeError, OverflowError):  # the coder's own text names its internals, not the file
                frame = gop["first_frame"] + position
                raise BitstreamError(f"entropy-coded data of frame {frame} is corrupted") from None
            grid = symbols if grid is None else [g + s for g, s in zip(grid, symbols)]
            previous = symbols if position > 0 else None
            yield grid

    def _decode_planes(
        self, decoder: entropy.SymbolDecoder, level_tables: list[list[int]], residual: bool,
        previous: list[np.ndarray] | None,
    ) -> list[np.ndarray]:
        """One frame's symbols, per level int32 [ey, ex, F] (SPEC-v1.md): a grid with the row
        contexts, or a residual with the inter contexts (previous: the frame before's residual, or None)."""
        n_features = self.file.field_config["n_features"]
        out, parent = [], None
        for index, (level, tables) in enumerate(zip(self.levels, level_tables)):
            width, height = level.extent
            planes = []
            for feature in range(n_features):
                feature_tables = tables[feature * N_CONTEXTS : (feature + 1) * N_CONTEXTS]
                decode = lambda n, c, t=feature_tables: decoder.decode(n, t[c])  # noqa: E731
                above = None if parent is None else parent[..., feature]
                if residual:
                    before = None if previous is None else previous[index][..., feature]
                    planes.append(context.decode_inter_plane(decode, height, width, above, before))
                else:
                    planes.append(context.decode_plane(decode, height, width, above))
            parent = np.stack(planes, axis=-1)
            out.append(parent)
        return out

    def render(self, grid: list[np.ndarray]) -> np.ndarray:
        """An integer grid (per level int32 [ey, ex, F]) -> uint8 RGB [H, W, 3]."""
        values = [torch.from_numpy(g).float() * quant_step(level["quant_step"]) for g, level in zip(grid, self.file.levels)]
        model = self.loaded.model
        mod = torch.zeros(1, model.config.mod_rank, model.config.n_inputs)
        size = (self.file.image["width"], self.file.image["height"], self.file.field_config["pixels_per_unit"])
        return to_uint8(render_in_bands(model, self.levels, values, mod, size)).numpy()


def decode_video(data: bytes) -> Iterator[np.ndarray]:
    """Every frame, in order, as uint8 RGB [H, W, 3]; one frame and one grid in memory at a time."""
    decoder = _Decoder.open(data)
    for number in range(len(decoder.file.gops)):
        for grid in decoder.group_symbols(number):
            yield decoder.render(grid)


def decode_frame(data: bytes, index: int) -> np.ndarray:
    """Frame `index` (0-based) as uint8 RGB [H, W, 3]: entropy-decodes its group up to it, renders one frame."""
    decoder = _Decoder.open(data)
    count = decoder.file.video["frame_count"]
    if not 0 <= index < count:
        raise InrCodecError(f"frame {index} does not exist: the clip has frames 0..{count - 1}")
    number, position = decoder.file.frame_location(index)
    grid = None
    for grid in decoder.group_symbols(number, last=position):
        pass
    return decoder.render(grid)


def file_fps(file: VideoFile) -> Fraction | None:
    """The frame rate a video file records, None if unknown."""
    return Fraction(file.video["fps_num"], file.video["fps_den"]) if file.video["fps_num"] else None
