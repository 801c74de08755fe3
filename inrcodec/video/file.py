"""Syntax of a video .inr file (format 1.2): sections, records and their consistency checks.

Sections, in order: HEAD (frame size and model, as for an image), VIDH (frame count, frame rate, group size),
FELD (field config and one LEVEL record per level: the frame's grid geometry and the level's quantisation step;
no table indices), GOPS (per group of frames: a GOP record, then per frame a FRAME record and its
n_levels x n_features x 6 table indices), DATA (every frame's ANS stream, in frame order, FRAME.length bytes
each). The first frame of a group codes its grid; every later one the integer difference from the frame before.
HEAD, the field record and LEVEL are the v1 records of v1/header.py. See bitstream/SPEC-v1.md. Knows bytes only.
"""

from __future__ import annotations

from dataclasses import dataclass

from inrcodec.bitstream.container import MAGIC, PREAMBLE, READ_MAJORS, read_container, write_container
from inrcodec.bitstream.syntax import Field, Record
from inrcodec.errors import BitstreamError
from inrcodec.video.v1.header import (
    ALL_ZERO,
    FIELD_CONFIG,
    LEVEL,
    MAX_GRID_ENTRIES,
    MAX_PIXELS,
    N_TABLES,
    TABLE_INDEX,
    TABLES_PER_FEATURE,
    TAG_DATA,
    TAG_FIELD,
    TAG_HEAD,
    pack_head,
    parse_head,
)

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

TAG_VIDEO, TAG_GOPS = b"VIDH", b"GOPS"
VIDEO_TAGS = frozenset({TAG_HEAD, TAG_VIDEO, TAG_FIELD, TAG_GOPS, TAG_DATA})
VIDEO_MINOR = 2


def is_video(data: bytes) -> bool:
    """Whether well-formed container bytes hold a video (a VIDH section). Raises BitstreamError on bad bytes; a
    file of another major version that this version reads (2: images) is not a video, whatever its sections."""
    if len(data) >= PREAMBLE.size and data[:4] == MAGIC and data[4] in READ_MAJORS and data[4] != 1:
        return False
    _, sections = read_container(data, VIDEO_TAGS)
    return TAG_VIDEO in sections


@dataclass
class VideoFile:
    """Everything in a video file. levels: LEVEL records (no tables); gops: per group {first_frame, n_frames,
    frames: [{length, tables}]}; frame k's stream is payload[offset_k : offset_k + length_k]. There is no
    modulation record: every frame uses the model's V0."""

    image: dict
    model_id: str
    model_sha256: bytes
    video: dict
    field_config: dict
    levels: list[dict]
    gops: list[dict]
    payload: bytes
    version: tuple[int, int] = (1, VIDEO_MINOR)

    def to_bytes(self) -> bytes:
        if not self.model_id:
            raise ValueError("a video file names its model: id and a 32-byte sha256")
        head = pack_head(self.image, self.model_id, self.model_sha256)
        feld = FIELD_CONFIG.pack(self.field_config) + b"".join(LEVEL.pack(level) for level in self.levels)
        gops = bytearray()
        for gop in self.gops:
            gops += GOP.pack(gop)
            for frame in gop["frames"]:
                gops += FRAME.pack(frame)
                gops += b"".join(TABLE_INDEX.pack({"table_index": t}) for t in frame["tables"])
        sections = [
            (TAG_HEAD, head),
            (TAG_VIDEO, VIDEO_HEADER.pack(self.video)),
            (TAG_FIELD, feld),
            (TAG_GOPS, bytes(gops)),
            (TAG_DATA, self.payload),
        ]
        return write_container(sections, minor=VIDEO_MINOR)

    @classmethod
    def from_bytes(cls, data: bytes) -> "VideoFile":
        preamble, sections = read_container(data, VIDEO_TAGS)
        for tag in (TAG_HEAD, TAG_VIDEO, TAG_FIELD, TAG_GOPS, TAG_DATA):
            if tag not in sections:
                raise BitstreamError(f"missing section {tag.decode()!r}")
        if preamble["minor"] < VIDEO_MINOR:
            raise BitstreamError(f"a format 1.{preamble['minor']} file cannot hold a video")
        image, model_id, sha = parse_head(sections[TAG_HEAD])
        if not model_id:
            raise BitstreamError("HEAD section of a video must name its model (id and sha256)")
        video, offset = VIDEO_HEADER.unpack(sections[TAG_VIDEO])
        if offset != len(sections[TAG_VIDEO]):
            raise BitstreamError("VIDH section has the wrong length")
        feld = sections[TAG_FIELD]
        config, offset = FIELD_CONFIG.unpack(feld)
        levels = []
        for _ in range(config["n_levels"]):
            level, offset = LEVEL.unpack(feld, offset)
            levels.append(level)
        if offset != len(feld):
            raise BitstreamError("FELD section has the wrong length")
        gops = _parse_gops(sections[TAG_GOPS], video, config)
        parsed = cls(image, model_id, sha, video, config, levels, gops, sections[TAG_DATA])
        parsed.version = (preamble["major"], preamble["minor"])
        parsed.check_consistency()
        return parsed

    def check_consistency(self) -> None:
        """Refuse headers whose groups do not tile the clip or whose sizes are absurd."""
        width, height = self.image["width"], self.image["height"]
        if width * height > MAX_PIXELS:
            raise BitstreamError(f"header claims an absurd frame size ({width}x{height})")
        entries = sum(level["extent_x"] * level["extent_y"] for level in self.levels)
        if entries * self.field_config["n_features"] > MAX_GRID_ENTRIES:
            raise BitstreamError("header claims an absurdly large grid")
        expected_first = 0
        for index, gop in enumerate(self.gops):
            if gop["first_frame"] != expected_first or gop["n_frames"] > self.video["gop_size"]:
                raise BitstreamError(f"group {index} does not follow the group before it")
            expected_first += gop["n_frames"]
        if expected_first != self.video["frame_count"]:
            raise BitstreamError(f"groups hold {expected_first} frames, the header says {self.video['frame_count']}")
        if sum(frame["length"] for gop in self.gops for frame in gop["frames"]) != len(self.payload):
            raise BitstreamError("frame lengths do not add up to the DATA section")

    def frame_location(self, index: int) -> tuple[int, int]:
        """Frame `index` (0-based) -> (group number, position in its group)."""
        for number, gop in enumerate(self.gops):
            if gop["first_frame"] <= index < gop["first_frame"] + gop["n_frames"]:
                return number, index - gop["first_frame"]
        raise IndexError(index)

    def frame_streams(self, gop_number: int) -> list[bytes]:
        """The ANS streams of a group's frames, in order."""
        offset = sum(f["length"] for gop in self.gops[:gop_number] for f in gop["frames"])
        streams = []
        for frame in self.gops[gop_number]["frames"]:
            streams.append(self.payload[offset : offset + frame["length"]])
            offset += frame["length"]
        return streams


def _parse_gops(buf: bytes, video: dict, config: dict) -> list[dict]:
    n_tables = config["n_features"] * TABLES_PER_FEATURE
    gops, offset, frames_seen = [], 0, 0
    while offset < len(buf):
        if frames_seen >= video["frame_count"]:
            raise BitstreamError("GOPS section describes more frames than the header")
        gop, offset = GOP.unpack(buf, offset)
        gop["frames"] = []
        for _ in range(gop["n_frames"]):
            frame, offset = FRAME.unpack(buf, offset)
            tables = []
            for _ in range(config["n_levels"] * n_tables):
                table, offset = TABLE_INDEX.unpack(buf, offset)
                if not (table["table_index"] < N_TABLES or table["table_index"] == ALL_ZERO):
                    raise BitstreamError("frame record: entropy table index out of range")
                tables.append(table["table_index"])
            gop["frames"].append({**frame, "tables": tables})
        frames_seen += gop["n_frames"]
        gops.append(gop)
    return gops


def describe_video(data: bytes) -> dict:
    """The header of a video file as plain data (what `info --json` prints)."""
    from inrcodec.video.v1.header import quant_step

    file = VideoFile.from_bytes(data)
    count = file.video["frame_count"]
    image = file.image
    frames = [
        {"index": gop["first_frame"] + i, "kind": "grid" if i == 0 else "residual", "bytes": f["length"]}
        for gop in file.gops
        for i, f in enumerate(gop["frames"])
    ]
    return {
        "format_version": f"{file.version[0]}.{file.version[1]}",
        "kind": "video",
        "image": image,
        "video": file.video,
        "model_id": file.model_id,
        "model_sha256": file.model_sha256.hex(),
        "field_config": file.field_config,
        "levels": [
            {**level, "index": i, "quant_step_value": quant_step(level["quant_step"])} for i, level in enumerate(file.levels)
        ],
        "groups": len(file.gops),
        "frames": frames,
        "file_bytes": len(data),
        "payload_bytes": len(file.payload),
        "bpp": len(data) * 8 / (image["width"] * image["height"] * count),
    }
