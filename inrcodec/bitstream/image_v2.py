"""Syntax of a format 2.x still-image file (SPEC.md section 2): sections HEAD, MODU (optional) and DATA.

HEAD: width u32, height u32, channels u8 (1 grey, 3 RGB), bit_depth u8 (8), rate_code u8, n_levels u8,
model_id_length u8, the model id (ASCII, [A-Za-z0-9._-]), the model's SHA-256 (32 bytes).
MODU (2.1): count u16, then count binary16 numbers, the image's modulation of the synthesis.
TILE (2.2): tile_log2 u8, tiled_levels u8, the box (x, y, w, h: u32 each) of the canvas that the file shows,
the coarse levels' stream length u32, tile count u32, then each tile's stream length u32 (0: absent); the
canvas is HEAD's width x height. HALO (2.2, with TILE): margin u8, count u32, zlib of count int16 latents.
DATA: the ANS stream of the latents (inrcodec/entropy/planes.py), or with TILE the coarse levels' stream, then
the tiles' streams (inrcodec/entropy/tiles.py).
"""

from __future__ import annotations

import re
import struct
import zlib
from dataclasses import dataclass

import numpy as np

from inrcodec.bitstream.container import read_container, write_container
from inrcodec.bitstream.syntax import MAX_SIDE, MODEL_ID_MAX, Field, Record
from inrcodec.errors import BitstreamError

FORMAT = (2, 2)  # the newest minor written; a file says the lowest minor its sections need
TAG_HEAD, TAG_MODU, TAG_TILE, TAG_HALO, TAG_DATA = b"HEAD", b"MODU", b"TILE", b"HALO", b"DATA"
KNOWN_TAGS = frozenset({TAG_HEAD, TAG_MODU, TAG_TILE, TAG_HALO, TAG_DATA})
VIDEO_TAG, FRAMES_TAG = b"CLIP", b"FRMS"  # a 2.3 video's sections (video_v2.py): CLIP makes a file a video
VIDEO_TAGS = frozenset({VIDEO_TAG, FRAMES_TAG, b"TOFS", b"TMIX"})  # and its optional ones (2.4, 2.5)
_HALO_HEAD = struct.Struct("<BI")
MIN_TILE_LOG2, MAX_TILE_LOG2 = 6, 14
_TILE_HEAD = struct.Struct("<BBIIIIII")
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
class Tiling:
    """A TILE section: tiles of 2^tile_log2 pixels over the canvas, the box of the canvas the file shows
    (x, y, w, h), and each tile's stream length in DATA (raster order)."""

    tile_log2: int
    tiled_levels: int
    box: tuple[int, int, int, int]
    coarse_length: int
    lengths: tuple[int, ...]  # 0: the tile is absent (a cropped file keeps only the tiles its box needs)

    def to_bytes(self) -> bytes:
        head = _TILE_HEAD.pack(self.tile_log2, self.tiled_levels, *self.box, self.coarse_length, len(self.lengths))
        return head + struct.pack(f"<{len(self.lengths)}I", *self.lengths)

    @property
    def present(self) -> set[int]:
        return {index for index, length in enumerate(self.lengths) if length}

    def coarse(self, payload: bytes) -> bytes:
        """The coarse levels' stream, at the start of DATA."""
        return payload[: self.coarse_length]

    def streams(self, payload: bytes) -> list[bytes]:
        """The tiles' streams, after the coarse levels' in DATA (b"" for an absent tile)."""
        offsets = np.cumsum((self.coarse_length, *self.lengths))
        return [payload[a:b] for a, b in zip(offsets[:-1], offsets[1:])]


@dataclass(frozen=True)
class Halo:
    """A HALO section: the latents of absent tiles that rendering the box reads, with `margin` pixels of
    convolution halo (SPEC.md 3.3): int16 values in the order of entropy.tiles.halo_positions."""

    margin: int
    values: np.ndarray  # int64 [count]

    def to_bytes(self) -> bytes:
        packed = zlib.compress(self.values.astype("<i2").tobytes(), 9)
        return _HALO_HEAD.pack(self.margin, self.values.size) + packed


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
    tiling: Tiling | None = None
    halo: Halo | None = None

    @property
    def box(self) -> tuple[int, int, int, int]:
        """The part of the canvas (width x height) that the file decodes to: all of it unless cropped."""
        return self.tiling.box if self.tiling else (0, 0, self.width, self.height)

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
        if self.tiling:
            sections.append((TAG_TILE, self.tiling.to_bytes()))
        if self.halo is not None:
            sections.append((TAG_HALO, self.halo.to_bytes()))
        sections.append((TAG_DATA, self.payload))
        # the lowest minor version that holds these sections, so that older 2.x decoders read what they can
        return write_container(sections, major=FORMAT[0], minor=2 if self.tiling else 1)


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


def parse_tiling(payload: bytes, width: int, height: int, n_levels: int, data_length: int) -> Tiling:
    """TILE payload -> Tiling; BitstreamError unless it fits the canvas, the levels and DATA exactly."""
    if len(payload) < _TILE_HEAD.size:
        raise BitstreamError("TILE section is truncated")
    tile_log2, tiled_levels, x, y, w, h, coarse_length, count = _TILE_HEAD.unpack_from(payload)
    if not max(MIN_TILE_LOG2, n_levels - 1) <= tile_log2 <= MAX_TILE_LOG2:
        raise BitstreamError(f"TILE.tile_log2 = {tile_log2} is outside [{max(MIN_TILE_LOG2, n_levels - 1)}, "
                             f"{MAX_TILE_LOG2}]")  # fmt: skip
    if not 1 <= tiled_levels < n_levels:
        raise BitstreamError(f"TILE.tiled_levels = {tiled_levels} is outside [1, {n_levels - 1}]")
    if coarse_length == 0 or coarse_length % 4:
        raise BitstreamError("the coarse levels' stream length is not a non-zero multiple of 4")
    if w < 1 or h < 1 or x + w > width or y + h > height:
        raise BitstreamError(f"TILE box {x},{y},{w},{h} is not a non-empty part of the {width}x{height} canvas")
    side = 1 << tile_log2
    expected = -(-width // side) * -(-height // side)
    if count != expected:
        raise BitstreamError(f"TILE.count = {count}, but {expected} tiles of {side} pixels cover the canvas")
    if len(payload) != _TILE_HEAD.size + 4 * count:
        raise BitstreamError(f"TILE section has {len(payload)} bytes, {_TILE_HEAD.size + 4 * count} for {count} tiles")
    lengths = struct.unpack_from(f"<{count}I", payload, _TILE_HEAD.size)
    if any(length % 4 for length in lengths):
        raise BitstreamError("a tile's stream length is not a multiple of 4")
    if not any(lengths):
        raise BitstreamError("every tile is absent")
    if coarse_length + sum(lengths) != data_length:
        raise BitstreamError(f"the coarse levels' and tiles' streams add up to {coarse_length + sum(lengths)} bytes, "
                             f"DATA has {data_length}")  # fmt: skip
    return Tiling(tile_log2, tiled_levels, (x, y, w, h), coarse_length, lengths)


def parse_halo(payload: bytes, max_count: int) -> Halo:
    """HALO payload -> Halo; BitstreamError unless its zlib stream holds exactly `count` int16 values (count at
    most max_count, the canvas's latents: decompressing is bounded by that, not by what the stream claims)."""
    if len(payload) < _HALO_HEAD.size:
        raise BitstreamError("HALO section is truncated")
    margin, count = _HALO_HEAD.unpack_from(payload)
    if count > max_count:
        raise BitstreamError(f"HALO.count = {count} is more than the canvas's {max_count} latents")
    inflate = zlib.decompressobj()
    try:
        raw = inflate.decompress(payload[_HALO_HEAD.size :], 2 * count + 1)
    except zlib.error as exc:
        raise BitstreamError(f"HALO values are not a valid zlib stream ({exc})") from None
    if len(raw) != 2 * count or not inflate.eof or inflate.unused_data or inflate.unconsumed_tail:
        raise BitstreamError(f"HALO values do not hold exactly {count} int16 numbers")
    return Halo(margin, np.frombuffer(raw, dtype="<i2").astype(np.int64))


def parse_head(head: bytes, max_pixels: int) -> dict:
    """HEAD payload -> its values (model_id as str, model_sha256 as bytes); BitstreamError unless it is well
    formed and claims at most max_pixels pixels."""
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
    return {**values, "model_id": model.decode("ascii"), "model_sha256": head[offset + n_model :]}


def parse_image(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> ImageFile:
    """Bytes of a format 2.x image file -> ImageFile. BitstreamError naming the problem otherwise (a MODU
    section in a file that says 2.0 included: 2.0 has none)."""
    preamble, sections = read_container(data, KNOWN_TAGS | VIDEO_TAGS)
    if preamble["major"] != FORMAT[0]:
        raise BitstreamError(f"not a format 2 image file (format {preamble['major']}.{preamble['minor']})")
    if VIDEO_TAG in sections:
        raise BitstreamError(f"the file is a video (format {preamble['major']}.{preamble['minor']}), not an image")
    for tag in (TAG_HEAD, TAG_DATA):
        if tag not in sections:
            raise BitstreamError(f"missing section {tag.decode()!r}")
    modulation = b""
    if TAG_MODU in sections:
        if preamble["minor"] < 1:
            raise BitstreamError("section 'MODU' in a format 2.0 file (it came with 2.1)")
        modulation = parse_modulation(sections[TAG_MODU])
    values = parse_head(sections[TAG_HEAD], max_pixels)
    tiling = None
    if TAG_TILE in sections:
        if preamble["minor"] < 2:
            raise BitstreamError(f"section 'TILE' in a format 2.{preamble['minor']} file (it came with 2.2)")
        tiling = parse_tiling(sections[TAG_TILE], values["width"], values["height"], values["n_levels"],
                              len(sections[TAG_DATA]))  # fmt: skip
    halo = None
    if TAG_HALO in sections:
        if tiling is None:
            raise BitstreamError("section 'HALO' without a 'TILE' section")
        halo = parse_halo(sections[TAG_HALO], int(values["width"]) * int(values["height"]) * 2)
    return ImageFile(
        width=values["width"], height=values["height"], channels=values["channels"],
        rate_code=values["rate_code"], n_levels=values["n_levels"], model_id=values["model_id"],
        model_sha256=values["model_sha256"], payload=sections[TAG_DATA], modulation=modulation, tiling=tiling,
        halo=halo,
    )  # fmt: skip
