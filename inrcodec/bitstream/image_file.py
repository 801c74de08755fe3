"""Syntax of a v1 still-image .inr file: which sections, which records, and their consistency checks.

Sections, in order: HEAD (image header and model), FELD (field config, per-level records, then per-layer
records for a self-contained v1.0 file or one modulation record for a v1.1 file that names a model), DATA (the
ANS stream). See bitstream/SPEC.md. Knows bytes only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from inrcodec.bitstream.container import read_container, write_container
from inrcodec.bitstream.syntax import (
    ALL_ZERO,
    FIELD_CONFIG,
    IMAGE_HEADER,
    LAYER,
    LEVEL,
    MAX_PIXELS,
    MODULATION,
    N_TABLES,
    TABLE_INDEX,
    TABLES_PER_FEATURE,
)
from inrcodec.errors import BitstreamError

TAG_HEAD, TAG_FIELD, TAG_DATA = b"HEAD", b"FELD", b"DATA"
KNOWN_TAGS = frozenset({TAG_HEAD, TAG_FIELD, TAG_DATA})
MAX_GRID_ENTRIES = 1 << 26


@dataclass
class InrFile:
    """Everything in a v1 image file. levels: LEVEL records + "tables" (n_features x 6 indices, feature-major);
    layers: LAYER records (no model); modulation: the MODULATION record (a file that names a model)."""

    image: dict
    model_id: str
    model_sha256: bytes
    field_config: dict
    levels: list[dict]
    layers: list[dict]
    payload: bytes
    modulation: dict | None = None
    version: tuple[int, int] = field(default=(1, 0))

    def to_bytes(self) -> bytes:
        head = pack_head(self.image, self.model_id, self.model_sha256)
        feld = FIELD_CONFIG.pack(self.field_config)
        for level in self.levels:
            feld += LEVEL.pack(level)
            feld += b"".join(TABLE_INDEX.pack({"table_index": t}) for t in level["tables"])
        if self.model_id:
            feld += MODULATION.pack(self.modulation)
        else:
            feld += b"".join(LAYER.pack(layer) for layer in self.layers)
        # A self-contained file stays 1.0, so a 1.0 decoder reads it; naming a model needs 1.1.
        minor = 1 if self.model_id else 0
        return write_container([(TAG_HEAD, head), (TAG_FIELD, feld), (TAG_DATA, self.payload)], minor=minor)

    @classmethod
    def from_bytes(cls, data: bytes) -> "InrFile":
        preamble, sections = read_container(data, KNOWN_TAGS)
        for tag in (TAG_HEAD, TAG_FIELD, TAG_DATA):
            if tag not in sections:
                raise BitstreamError(f"missing section {tag.decode()!r}")
        image, model_id, sha = parse_head(sections[TAG_HEAD])
        feld = sections[TAG_FIELD]
        config, offset = FIELD_CONFIG.unpack(feld)
        levels = []
        for _ in range(config["n_levels"]):
            level, offset = LEVEL.unpack(feld, offset)
            tables = []
            for _ in range(config["n_features"] * TABLES_PER_FEATURE):
                table, offset = TABLE_INDEX.unpack(feld, offset)
                tables.append(table["table_index"])
            levels.append({**level, "tables": tables})
        layers, modulation = [], None
        if model_id:
            if preamble["minor"] < 1:
                raise BitstreamError("a format 1.0 file cannot name a model")
            modulation, offset = MODULATION.unpack(feld, offset)
        else:
            for _ in range(config["mlp_hidden_layers"] + 1):
                layer, offset = LAYER.unpack(feld, offset)
                layers.append(layer)
        if offset != len(feld):
            raise BitstreamError("FELD section has the wrong length")
        version = (preamble["major"], preamble["minor"])
        parsed = cls(image, model_id, sha, config, levels, layers, sections[TAG_DATA], modulation, version)
        parsed.check_consistency()
        return parsed

    def check_consistency(self) -> None:
        """Refuse headers whose grid does not match its own config or would need absurd memory."""
        config = self.field_config
        width, height = self.image["width"], self.image["height"]
        if width * height > MAX_PIXELS:
            raise BitstreamError(f"header claims an absurd image size ({width}x{height})")
        if not max(width, height) <= config["pixels_per_unit"] <= 4 * max(width, height, 1024):
            raise BitstreamError("pixels_per_unit does not fit the image size")
        table_size = 1 << config["log2_hashmap_size"]
        total = 0
        for index, level in enumerate(self.levels):
            if any(not (t < N_TABLES or t == ALL_ZERO) for t in level["tables"]):
                raise BitstreamError(f"level {index}: entropy table index out of range")
            if level["res"] != math.ceil(level["scale"]) + 1:
                raise BitstreamError(f"level {index}: res does not match scale")
            dense_entries = level["res"] ** config["n_dims"]
            size = min((dense_entries + 7) // 8 * 8, table_size)
            if dense_entries <= size:
                if not (0 < level["extent_x"] <= level["res"] and 0 < level["extent_y"] <= level["res"]):
                    raise BitstreamError(f"level {index}: coded extent is outside the level")
                total += level["extent_x"] * level["extent_y"]
            else:
                if level["extent_x"] or level["extent_y"]:
                    raise BitstreamError(f"level {index}: a hashed level has no extent")
                total += size
        if total * config["n_features"] > MAX_GRID_ENTRIES:
            raise BitstreamError("header claims an absurdly large grid")
        if self.modulation is not None:
            if self.modulation["n_inputs"] != config["n_levels"] * config["n_features"]:
                raise BitstreamError("modulation record does not match the field config")
            if not (self.modulation["table"] < N_TABLES or self.modulation["table"] == ALL_ZERO):
                raise BitstreamError("modulation entropy table index out of range")
        for index, layer in enumerate(self.layers):
            if any(not (layer[k] < N_TABLES or layer[k] == ALL_ZERO) for k in ("weight_table", "bias_table")):
                raise BitstreamError(f"MLP layer {index}: entropy table index out of range")


def pack_head(image: dict, model_id: str, model_sha256: bytes) -> bytes:
    """The HEAD section: the image header, then the model id and its SHA-256 when the file names a model."""
    model = model_id.encode("ascii")
    if model and len(model_sha256) != 32:
        raise ValueError("model_sha256 must be 32 bytes")
    head = IMAGE_HEADER.pack({**image, "model_id_length": len(model)})
    return head + model + model_sha256 if model else head


def parse_head(head: bytes) -> tuple[dict, str, bytes]:
    """HEAD section -> (image header, model id or "", model SHA-256 or b"")."""
    image, offset = IMAGE_HEADER.unpack(head)
    n_model = image.pop("model_id_length")
    if not n_model:
        if offset != len(head):
            raise BitstreamError("HEAD section has the wrong length")
        return image, "", b""
    if offset + n_model + 32 != len(head):
        raise BitstreamError("HEAD section has the wrong length for its model id")
    try:
        model_id = head[offset : offset + n_model].decode("ascii")
    except UnicodeDecodeError:
        raise BitstreamError("model id is not ASCII") from None
    return image, model_id, head[offset + n_model :]

