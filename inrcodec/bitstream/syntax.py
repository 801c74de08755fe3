"""Declarative header syntax: each field has a name, a little-endian width and a range check.

The same definitions write, parse and dump a record, so the three cannot disagree. Knows bytes only.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass

from inrcodec.errors import BitstreamError


@dataclass(frozen=True)
class Field:
    """One header field. fmt: struct code (B u8, H u16, I u32, f f32); [low, high] inclusive, None = any."""

    name: str
    fmt: str
    low: float | None = None
    high: float | None = None

    @property
    def size(self) -> int:
        return struct.calcsize("<" + self.fmt)

    def check(self, value: float, record: str) -> None:
        if self.fmt == "f" and not math.isfinite(value):
            raise BitstreamError(f"{record}.{self.name} is not a finite number")
        if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
            raise BitstreamError(f"{record}.{self.name} = {value} is outside [{self.low}, {self.high}]")


@dataclass(frozen=True)
class Record:
    """A fixed sequence of fields."""

    name: str
    fields: tuple[Field, ...]

    @property
    def size(self) -> int:
        return sum(f.size for f in self.fields)

    def pack(self, values: dict) -> bytes:
        out = bytearray()
        for f in self.fields:
            value = values[f.name]
            f.check(value, self.name)
            out += struct.pack("<" + f.fmt, value)
        return bytes(out)

    def unpack(self, buf: bytes, offset: int = 0) -> tuple[dict, int]:
        """-> (values, offset after the record). Raises BitstreamError if short or out of range."""
        if offset + self.size > len(buf):
            raise BitstreamError(f"{self.name} record is truncated")
        values = {}
        for f in self.fields:
            (value,) = struct.unpack_from("<" + f.fmt, buf, offset)
            offset += f.size
            f.check(value, self.name)
            values[f.name] = value
        return values, offset


MAX_SIDE = 16384
MAX_PIXELS = 1 << 26  # 64 Mpixel: a header claiming more is refused rather than rendered
TABLES_PER_FEATURE = 6  # one entropy table per context of a grid plane
N_TABLES = 64  # normative entropy tables 0..63 (inrcodec/entropy.py)
ALL_ZERO = 255  # table index of a group whose symbols are all 0: nothing is coded
MAX_SYMBOL = 255  # coded integers lie in [-MAX_SYMBOL, MAX_SYMBOL]
MODEL_ID_MAX = 64

IMAGE_HEADER = Record(
    "image",
    (
        Field("width", "I", 1, MAX_SIDE),
        Field("height", "I", 1, MAX_SIDE),
        Field("channels", "B", 3, 3),
        Field("bit_depth", "B", 8, 8),
        Field("model_id_length", "B", 0, MODEL_ID_MAX),
    ),
)

FIELD_CONFIG = Record(
    "field",
    (
        Field("n_dims", "B", 2, 2),
        Field("n_levels", "B", 1, 16),
        Field("n_features", "B", 1, 8),
        Field("log2_hashmap_size", "B", 4, 24),
        Field("pixels_per_unit", "I", 1, 4 * MAX_SIDE),
        Field("base_resolution", "f", 1.0, 1e6),
        Field("per_level_scale", "f", 1.0, 16.0),
        Field("mlp_hidden_layers", "B", 0, 4),
        Field("mlp_hidden_width", "H", 1, 256),
        Field("mlp_activation", "B", 0, 0),
        Field("out_channels", "B", 3, 3),
    ),
)

LEVEL = Record(
    "level",
    (
        Field("scale", "f", 0.0, 1e7),
        Field("res", "I", 1, 1 << 24),
        Field("extent_x", "H", 0, 65535),
        Field("extent_y", "H", 0, 65535),
        Field("quant_step", "B", 0, 255),
    ),
)

MODULATION = Record(
    "modulation",
    (
        Field("rank", "B", 0, 16),
        Field("n_inputs", "H", 1, 1024),
        Field("table", "B", 0, 255),
    ),
)

TABLE_INDEX = Record("table", (Field("table_index", "B", 0, 255),))

LAYER = Record(
    "layer",
    (
        Field("weight_step", "B", 0, 255),
        Field("weight_table", "B", 0, 255),
        Field("bias_step", "B", 0, 255),
        Field("bias_table", "B", 0, 255),
    ),
)


def quant_step(index: int) -> float:
    """Quantisation step of a step index: 2^((index - 128) / 8)."""
    return 2.0 ** ((index - 128) / 8)

MAX_FRAMES = 1 << 24
MAX_GOP = 1024

VIDEO_HEADER = Record(
    "video",
    (
        Field("frame_count", "I", 1, MAX_FRAMES),
        Field("fps_num", "I", 0, 1 << 20),
        Field("fps_den", "I", 1, 1 << 20),
        Field("gop_size", "H", 1, MAX_GOP),
    ),
)

GOP = Record("gop", (Field("first_frame", "I", 0, MAX_FRAMES - 1), Field("n_frames", "H", 1, MAX_GOP)))

FRAME = Record("frame", (Field("length", "I", 0, 0xFFFFFFFF),))
