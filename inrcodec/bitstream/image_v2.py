"""Syntax of a format 2.x still-image file (SPEC.md section 2): sections HEAD, MODU (optional) and DATA.

HEAD: width u32, height u32, channels u8 (1 grey, 3 RGB), bit_depth u8 (8), rate_code u8, n_levels u8,
model_id_length u8, the model id (ASCII, [A-Za-z0-9._-]), the model's SHA-256 (32 bytes).
MODU (2.1): count u16, then count binary16 numbers, the image's modulation of the synthesis.
DATA: the ANS stream of the latents (inrcodec/entropy/planes.py).
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass

import numpy as np

from inrcodec.bitstream.container import read_container, write_container
from inrcodec.bitstream.syntax import MAX_SIDE, MODEL_ID_MAX, Field, Record
from inrcodec.errors import BitstreamError

FORMAT = (2, 1)
TAG_HEAD, TAG_MODU, TAG_DATA = b"HEAD", b"MODU", b"DATA"
KNOWN_TAGS = frozenset({TAG_HEAD, TAG_MODU, TAG_DATA})
MAX_LEVELS = 12
MAX_MODULATION = 1024  # numbers in a MODU section
# A header may claim at most this many pixels unless the caller allows more: decoding work and memory grow
# with the pixels, and a valid stream of a few hundred bytes can code a huge blank image.
DEFAULT_MAX_PIXELS = 1 << 25
_MODEL_ID = re.compile(rb"[A-Za-z0-9][A-Za-z0-9._-]*")

HEADER = Record(
    "image",
    (
        Field("width", "I", 1, MAX_SIDE),
        Field("height", "I", 1, MAX_SIDE),
        Field("channels", "B", 1, 3),
        Field("bit_depth", "B", 8, 8),
        Field("rate_code", "B", 0, 255),
        Field("n_levels", "B", 1, MAX_LEVELS),
        Field("model_id_length", "B", 1, MODEL_ID_MAX),
    ),
)


@dataclass(frozen=True)
class ImageFile:
    """Everything in a format 2.x image file. modulation: the MODU numbers as little-endian binary16 bytes
    (b"": no MODU section, the synthesis as the model has it)."""

    width: int
    height: int
    channels: int
    rate_code: int
    n_levels: int
    model_id: str
    model_sha256: bytes
    payload: bytes
    modulation: bytes = b""

    def modulation_values(self) -> np.ndarray | None:
        """The modulation [M] as float32 (exact), or None without one."""
        if not self.modulation:
            return None
        return np.frombuffer(self.modulation, dtype="<f2").astype(np.float32)

    def header(self) -> dict:
        return {
            "width": self.width, "height": self.height, "channels": self.channels, "bit_depth": 8,
            "rate_code": self.rate_code, "n_levels": self.n_levels,
        }  # fmt: skip

    def to_bytes(self) -> bytes:
        model = self.model_id.encode("ascii")
        if not _MODEL_ID.fullmatch(model) or len(self.model_sha256) != 32:
            raise ValueError("a model id of [A-Za-z0-9._-] and a 32-byte sha256 are required")
        head = HEADER.pack({**self.header(), "model_id_length": len(model)}) + model + self.model_sha256
        sections = [(TAG_HEAD, head)]
        if self.modulation:
            count = len(self.modulation) // 2
            if len(self.modulation) % 2 or not 1 <= count <= MAX_MODULATION:
                raise ValueError(f"a modulation is 1..{MAX_MODULATION} binary16 numbers")
            sections.append((TAG_MODU, struct.pack("<H", count) + self.modulation))
        sections.append((TAG_DATA, self.payload))
        return write_container(sections, major=FORMAT[0], minor=FORMAT[1])


def parse_modulation(payload: bytes) -> bytes:
    """MODU payload -> its binary16 numbers (bytes); BitstreamError unless they are 1..1024 finite numbers."""
    if len(payload) < 2:
        raise BitstreamError("MODU section is truncated")
    (count,) = struct.unpack_from("<H", payload)
    if not 1 <= count <= MAX_MODULATION:
        raise BitstreamError(f"MODU.count = {count} is outside [1, {MAX_MODULATION}]")
    if len(payload) != 2 + 2 * count:
        raise BitstreamError(f"MODU section has {len(payload)} bytes, {2 + 2 * count} for {count} numbers")
    values = payload[2:]
    if not np.isfinite(np.frombuffer(values, dtype="<f2")).all():
        raise BitstreamError("MODU holds a number that is not finite")
    return values


def parse_image(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> ImageFile:
    """Bytes of a format 2.x image file -> ImageFile. BitstreamError naming the problem otherwise (a MODU
    section in a file that says 2.0 included: 2.0 has none)."""
    preamble, sections = read_container(data, KNOWN_TAGS)
    if preamble["major"] != FORMAT[0]:
        raise BitstreamError(f"not a format 2 image file (format {preamble['major']}.{preamble['minor']})")
    for tag in (TAG_HEAD, TAG_DATA):
        if tag not in sections:
            raise BitstreamError(f"missing section {tag.decode()!r}")
    modulation = b""
    if TAG_MODU in sections:
        if preamble["minor"] < 1:
            raise BitstreamError("section 'MODU' in a format 2.0 file (it came with 2.1)")
        modulation = parse_modulation(sections[TAG_MODU])
    head = sections[TAG_HEAD]
    values, offset = HEADER.unpack(head)
    if values["channels"] not in (1, 3):
        raise BitstreamError(f"image.channels = {values['channels']} is neither 1 nor 3")
    n_model = values["model_id_length"]
    if offset + n_model + 32 != len(head):
        raise BitstreamError("HEAD section has the wrong length for its model id")
    model = head[offset : offset + n_model]
    if not _MODEL_ID.fullmatch(model):
        raise BitstreamError("model id holds characters other than letters, digits, '.', '_' and '-'")
    pixels = values["width"] * values["height"]
    if pixels > max_pixels:
        raise BitstreamError(
            f"image of {values['width']}x{values['height']} is over the limit of {max_pixels} pixels "
            "(raise it with --max-pixels if you trust this file)"
        )
    return ImageFile(
        width=values["width"], height=values["height"], channels=values["channels"],
        rate_code=values["rate_code"], n_levels=values["n_levels"], model_id=model.decode("ascii"),
        model_sha256=head[offset + n_model :], payload=sections[TAG_DATA], modulation=modulation,
    )  # fmt: skip
