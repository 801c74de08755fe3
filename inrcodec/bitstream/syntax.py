"""Declarative header syntax: each field has a name, a little-endian width and a range check.

The same definitions write, parse and dump a record, so the three cannot disagree. The records of the format 2
image file are in image_v2.py; those of the format 1 video file in inrcodec/video/ (file.py, v1/header.py).
Knows bytes only.
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


MAX_SIDE = 16384  # the longest side any .inr image or frame header may claim
MODEL_ID_MAX = 64  # bytes of a model id in a HEAD section
