"""Syntax of a format 2.3 - 2.5 video file (SPEC.md section 10): sections HEAD, CLIP, FRMS, DATA and, from 2.4,
TOFS, from 2.5 TMIX.

HEAD: as an image's (frame width and height, channels 3, the clip's rate code, the model).
CLIP: frame_count u32, fps_num u32, fps_den u32, group u16 (frames per group, informative).
FRMS: frame_count FRAME records in coding order: the frame's display index, its kind (0 I, 1 P, 2 B), its
references (display indices of frames coded before it; unused ones 0), the residual's context rate code (0 for
an intra frame), the
count of finest levels coded intra, and the byte lengths of its three streams (motion, latents or residual,
intra levels). DATA: every frame's streams in coding order, each frame's in that order. TOFS (optional, minor
4): per frame in coding order a flag, and after a 1 the frame's residual scale offsets (SPEC 10.5). TMIX
(optional, minor 5): the same for the intra levels' temporal mix (SPEC 10.6). Knows bytes only.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

from inrcodec.bitstream.container import read_container, write_container
from inrcodec.bitstream.image_v2 import (
    DEFAULT_MAX_PIXELS, FRAMES_TAG, HEADER, TAG_DATA, TAG_HEAD, VIDEO_TAG, parse_head,
)
from inrcodec.bitstream.syntax import Field, Record
from inrcodec.errors import BitstreamError

FORMAT = (2, 3)
OFFSETS_FORMAT = (2, 4)  # the minor version that TOFS needs
MIX_FORMAT = (2, 5)  # and TMIX
TAG_CLIP, TAG_FRAMES, TAG_OFFSETS, TAG_MIX = VIDEO_TAG, FRAMES_TAG, b"TOFS", b"TMIX"
KNOWN_TAGS = frozenset({TAG_HEAD, TAG_CLIP, TAG_FRAMES, TAG_DATA, TAG_OFFSETS, TAG_MIX})
OFFSET_COUNT = 20  # buckets of a predicted frame's residual vertices (inrcodec.entropy.inter.temporal_buckets)
OFFSET_LIMIT = 16  # |offset| in scale bins
MIX_COUNT = 24  # buckets of an intra level's vertices (inrcodec.entropy.inter.mix_buckets)
MIX_WEIGHT_LIMIT = 8  # eighths of the way from the context's mean to the prediction
MAX_FRAMES = 1 << 20
KIND_INTRA, KIND_PREDICTED, KIND_BIDIRECTIONAL = 0, 1, 2
KIND_LETTERS = "IPB"

CLIP = Record(
    "clip",
    (
        Field("frame_count", "I", 1, MAX_FRAMES),
        Field("fps_num", "I", 0, 1 << 20),
        Field("fps_den", "I", 1, 1 << 20),
        Field("group", "H", 1, 1024),
    ),
)

FRAME = Record(
    "frame",
    (
        Field("index", "I", 0, MAX_FRAMES - 1),
        Field("kind", "B", 0, 2),
        Field("past", "I", 0, MAX_FRAMES - 1),
        Field("future", "I", 0, MAX_FRAMES - 1),
        Field("residual_code", "B", 0, 255),
        Field("intra_levels", "B", 0, 11),
        Field("motion_length", "I"),
        Field("latents_length", "I"),
        Field("intra_length", "I"),
    ),
)


@dataclass(frozen=True)
class FrameEntry:
    """One FRAME record: display `index`, `kind` (KIND_*), `references` (display indices: none for I, the past
    one for P, past and future for B), the residual's context rate code, the finest levels coded intra, and its
    streams' lengths (motion, latents or residual, intra levels); its residual's scale offsets (OFFSET_COUNT
    ints, in TOFS; None: none); and its intra levels' temporal mix (MIX_COUNT weights then MIX_COUNT scale
    offsets, in TMIX; None: none)."""

    index: int
    kind: int
    references: tuple[int, ...]
    residual_code: int
    intra_levels: int
    lengths: tuple[int, int, int]
    scale_offsets: tuple[int, ...] | None = None
    temporal_mix: tuple[int, ...] | None = None

    def to_bytes(self) -> bytes:
        past, future = (*self.references, 0, 0)[:2]
        return FRAME.pack({
            "index": self.index, "kind": self.kind, "past": past, "future": future,
            "residual_code": self.residual_code, "intra_levels": self.intra_levels,
            "motion_length": self.lengths[0], "latents_length": self.lengths[1], "intra_length": self.lengths[2],
        })  # fmt: skip


@dataclass(frozen=True)
class VideoFile:
    """Everything in a format 2.3 - 2.5 file: the frame size, rate code and model (HEAD), the clip's timing, the
    frames in coding order, and DATA."""

    width: int
    height: int
    rate_code: int
    n_levels: int
    model_id: str
    model_sha256: bytes
    fps: tuple[int, int]
    group: int
    frames: tuple[FrameEntry, ...]
    payload: bytes

    @property
    def channels(self) -> int:
        return 3

    def streams(self, position: int) -> tuple[bytes, bytes, bytes]:
        """The three streams of the frame at coding position `position`."""
        start = sum(sum(f.lengths) for f in self.frames[:position])
        motion, latents, intra = self.frames[position].lengths
        cut = (start, start + motion, start + motion + latents, start + motion + latents + intra)
        return tuple(self.payload[a:b] for a, b in zip(cut[:-1], cut[1:]))

    def to_bytes(self) -> bytes:
        head = HEADER.pack({
            "width": self.width, "height": self.height, "channels": 3, "bit_depth": 8, "rate_code": self.rate_code,
            "n_levels": self.n_levels, "model_id_length": len(self.model_id),
        }) + self.model_id.encode("ascii") + self.model_sha256  # fmt: skip
        clip = CLIP.pack({"frame_count": len(self.frames), "fps_num": self.fps[0], "fps_den": self.fps[1],
                          "group": self.group})  # fmt: skip
        check_frames(self.frames, self.n_levels, len(self.payload))
        frames = b"".join(f.to_bytes() for f in self.frames)
        sections = [(TAG_HEAD, head), (TAG_CLIP, clip), (TAG_FRAMES, frames), (TAG_DATA, self.payload)]
        version = FORMAT  # the lowest minor its sections need: 2.3 files decode with 2.3 readers
        if any(f.scale_offsets is not None for f in self.frames):
            sections.insert(3, (TAG_OFFSETS, per_frame_section([f.scale_offsets for f in self.frames])))
            version = OFFSETS_FORMAT
        if any(f.temporal_mix is not None for f in self.frames):
            sections.insert(len(sections) - 1, (TAG_MIX, per_frame_section([f.temporal_mix for f in self.frames])))
            version = MIX_FORMAT
        return write_container(sections, major=version[0], minor=version[1])


def per_frame_section(values: list[tuple[int, ...] | None]) -> bytes:
    """TOFS or TMIX: per frame a u8 flag, 1 followed by its values as bytes (i8 two's complement)."""
    out = bytearray()
    for frame_values in values:
        out.append(0 if frame_values is None else 1)
        if frame_values is not None:
            out += bytes(v & 0xFF for v in frame_values)
    return bytes(out)


def _with_per_frame(frames: tuple[FrameEntry, ...], payload: bytes, tag: str, count: int,
                    may_have: Callable[[FrameEntry], bool], who: str,
                    read: Callable[[FrameEntry, bytes], FrameEntry]) -> tuple[FrameEntry, ...]:  # fmt: skip
    """The frames with what section `tag` gives them: per frame a flag, after a 1 `count` bytes that `read` puts
    into the frame (checking their ranges); BitstreamError if the section is malformed or a frame that may not
    have values (`who` says which may) has them."""
    out, offset = [], 0
    for frame in frames:
        if offset >= len(payload):
            raise BitstreamError(f"{tag} section ends before frame {frame.index}'s flag")
        flag = payload[offset]
        offset += 1
        if flag == 0:
            out.append(frame)
            continue
        if flag != 1 or not may_have(frame):
            raise BitstreamError(f"frame {frame.index}: a {tag} flag of {flag} (0, or 1 for {who})")
        values = payload[offset : offset + count]
        if len(values) != count:
            raise BitstreamError(f"{tag} section ends inside frame {frame.index}'s values")
        out.append(read(frame, values))
        offset += count
    if offset != len(payload):
        raise BitstreamError(f"{tag} section has {len(payload) - offset} bytes after the last frame's")
    return tuple(out)


def _signed(values: bytes) -> tuple[int, ...]:
    return tuple(v - 256 if v > 127 else v for v in values)


def _read_offsets(frame: FrameEntry, values: bytes) -> FrameEntry:
    offsets = _signed(values)
    if max(abs(o) for o in offsets) > OFFSET_LIMIT:
        raise BitstreamError(f"frame {frame.index}: a scale offset beyond +-{OFFSET_LIMIT}")
    return replace(frame, scale_offsets=offsets)


def _read_mix(frame: FrameEntry, values: bytes) -> FrameEntry:
    weights, offsets = tuple(values[:MIX_COUNT]), _signed(values[MIX_COUNT:])
    if max(weights) > MIX_WEIGHT_LIMIT or max(abs(o) for o in offsets) > OFFSET_LIMIT:
        raise BitstreamError(f"frame {frame.index}: a mix weight beyond {MIX_WEIGHT_LIMIT} or a scale offset beyond "
                             f"+-{OFFSET_LIMIT}")  # fmt: skip
    return replace(frame, temporal_mix=weights + offsets)


def _with_offsets(frames: tuple[FrameEntry, ...], payload: bytes) -> tuple[FrameEntry, ...]:
    """The frames with the offsets TOFS gives them; BitstreamError if TOFS is malformed (SPEC 10.5)."""
    return _with_per_frame(frames, payload, "TOFS", OFFSET_COUNT, lambda f: f.kind != KIND_INTRA, "a P- or B-frame",
                           _read_offsets)  # fmt: skip


def _with_mix(frames: tuple[FrameEntry, ...], payload: bytes) -> tuple[FrameEntry, ...]:
    """The frames with the temporal mix TMIX gives them; BitstreamError if TMIX is malformed (SPEC 10.6)."""
    return _with_per_frame(frames, payload, "TMIX", 2 * MIX_COUNT, lambda f: f.intra_levels > 0,
                           "a frame with intra levels", _read_mix)  # fmt: skip


def check_frames(frames: tuple[FrameEntry, ...], n_levels: int, data_length: int) -> None:
    """BitstreamError unless the frames are a coding order (each display index once, references coded before,
    a B-frame's past reference before it and its future one after it in display order), each kind's streams are
    what it needs, and their lengths add up to DATA's."""
    coded: set[int] = set()
    for position, frame in enumerate(frames):
        name = f"frame {frame.index} (coding position {position})"
        if frame.index >= len(frames) or frame.index in coded:
            raise BitstreamError(f"{name}: display index out of range or repeated")
        motion, latents, intra = frame.lengths
        if any(length % 4 for length in frame.lengths) or latents == 0:
            raise BitstreamError(f"{name}: a stream length is not a multiple of 4, or its latents are empty")
        if frame.kind == KIND_INTRA:
            if frame.references or motion or intra or frame.intra_levels or frame.residual_code:
                raise BitstreamError(f"{name}: an intra frame has references, motion, intra levels or a residual code")
        else:
            if len(frame.references) != frame.kind or any(r not in coded for r in frame.references):
                raise BitstreamError(f"{name}: references a frame that is not coded before it")
            if frame.kind == KIND_BIDIRECTIONAL and not frame.references[0] < frame.index < frame.references[1]:
                raise BitstreamError(f"{name}: a B-frame's references are not one before and one after it")
            if motion == 0 or frame.intra_levels >= n_levels or (intra == 0) != (frame.intra_levels == 0):
                raise BitstreamError(f"{name}: its motion or intra levels do not match its streams")
        coded.add(frame.index)
    total = sum(sum(f.lengths) for f in frames)
    if total != data_length:
        raise BitstreamError(f"the frames' streams add up to {total} bytes, DATA has {data_length}")


def _frame_entries(payload: bytes, count: int) -> tuple[FrameEntry, ...]:
    if len(payload) != count * FRAME.size:
        raise BitstreamError(f"FRMS section has {len(payload)} bytes, {count * FRAME.size} for {count} frames")
    entries, offset = [], 0
    for _ in range(count):
        values, offset = FRAME.unpack(payload, offset)
        kind = values["kind"]
        references = (values["past"], values["future"])[:kind]
        if (values["past"], values["future"])[kind:] != (0, 0)[kind:]:
            raise BitstreamError(f"frame {values['index']}: an unused reference is not 0")
        lengths = (values["motion_length"], values["latents_length"], values["intra_length"])
        entries.append(FrameEntry(values["index"], kind, references, values["residual_code"], values["intra_levels"],
                                  lengths))  # fmt: skip
    return tuple(entries)


def parse_video(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> VideoFile:
    """Bytes of a format 2.3 - 2.5 video file -> VideoFile; BitstreamError naming the problem otherwise (max_pixels:
    a frame's)."""
    preamble, sections = read_container(data, KNOWN_TAGS)
    if (preamble["major"], preamble["minor"]) < FORMAT:
        raise BitstreamError(f"a video in a format {preamble['major']}.{preamble['minor']} file (it came with 2.3)")
    for tag in (TAG_HEAD, TAG_CLIP, TAG_FRAMES, TAG_DATA):
        if tag not in sections:
            raise BitstreamError(f"missing section {tag.decode()!r}")
    head = parse_head(sections[TAG_HEAD], max_pixels)
    if head["channels"] != 3:
        raise BitstreamError("a video's frames are RGB (HEAD.channels must be 3)")
    clip, end = CLIP.unpack(sections[TAG_CLIP])
    if end != len(sections[TAG_CLIP]):
        raise BitstreamError(f"CLIP section has {len(sections[TAG_CLIP])} bytes, {CLIP.size} expected")
    frames = _frame_entries(sections[TAG_FRAMES], clip["frame_count"])
    check_frames(frames, head["n_levels"], len(sections[TAG_DATA]))
    if TAG_OFFSETS in sections:
        if (preamble["major"], preamble["minor"]) < OFFSETS_FORMAT:
            raise BitstreamError("a TOFS section in a file of minor version below 4")
        frames = _with_offsets(frames, sections[TAG_OFFSETS])
    if TAG_MIX in sections:
        if (preamble["major"], preamble["minor"]) < MIX_FORMAT:
            raise BitstreamError("a TMIX section in a file of minor version below 5")
        frames = _with_mix(frames, sections[TAG_MIX])
    return VideoFile(head["width"], head["height"], head["rate_code"], head["n_levels"], head["model_id"],
                     head["model_sha256"], (clip["fps_num"], clip["fps_den"]), clip["group"], frames,
                     sections[TAG_DATA])  # fmt: skip
