"""Tests of the .inr container and header syntax: framing, integrity and version checks, declarative records, and
the format 1.2 video file (inrcodec.video.file) on its conformance vector. Every malformed file must raise
BitstreamError, nothing else."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest

from inrcodec.bitstream import container
from inrcodec.bitstream.container import END_TAG, FLAG_CRC32, MAGIC, read_container, write_container
from inrcodec.bitstream.syntax import Field, Record
from inrcodec.errors import BitstreamError
from inrcodec.video.file import FRAME, GOP, VIDEO_HEADER, VIDEO_TAGS, VideoFile, is_video
from inrcodec.video.v1.header import FIELD_CONFIG, IMAGE_HEADER, LEVEL, TABLE_INDEX, TABLES_PER_FEATURE, quant_step

SECTIONS = [(b"HEAD", b"\x01\x02\x03"), (b"FELD", b""), (b"DATA", bytes(range(40)))]
KNOWN = frozenset({b"HEAD", b"FELD", b"DATA"})
VECTOR = Path(__file__).resolve().parent.parent / "bitstream" / "vectors" / "video" / "video_24x16_q4.inr"


def with_crc(body: bytes) -> bytes:
    """`body` (everything before the CRC) followed by its CRC32."""
    return body + struct.pack("<I", zlib.crc32(body))


def patched(data: bytes, offset: int, new: bytes) -> bytes:
    """Replace bytes at `offset` and recompute the CRC, so that the check after the CRC fires."""
    body = bytearray(data[:-4])
    body[offset : offset + len(new)] = new
    return with_crc(bytes(body))


@pytest.fixture(scope="module")
def encoded() -> bytes:
    """A real file: the video conformance vector (5 frames of 24 x 16 in groups of 3)."""
    return VECTOR.read_bytes()


# --- container -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("crc", [True, False])
def test_container_round_trip(crc):
    data = write_container(SECTIONS, crc=crc)
    assert data[:4] == MAGIC and data[4:6] == bytes([1, 0]) and data[6] == (FLAG_CRC32 if crc else 0) and data[7] == 0
    preamble, sections = read_container(data, KNOWN)
    assert preamble == {"major": 1, "minor": 0, "flags": FLAG_CRC32 if crc else 0}
    assert sections == dict(SECTIONS)
    assert list(sections) == [tag for tag, _ in SECTIONS]
    expected_size = 8 + sum(8 + len(p) for _, p in SECTIONS) + 8 + (4 if crc else 0)
    assert len(data) == expected_size


def test_container_layout_is_as_specified():
    data = write_container([(b"HEAD", b"xy")])
    assert data == with_crc(b"INRC\x01\x00\x01\x00" + b"HEAD\x02\x00\x00\x00xy" + b"END \x00\x00\x00\x00")


def test_writer_refuses_bad_tags():
    for tag in (END_TAG, b"ABC", b"ABCDE"):
        with pytest.raises(ValueError):
            write_container([(tag, b"")])


def test_crc_detects_every_flipped_bit(encoded):
    for offset in range(len(encoded)):
        for bit in range(8):
            corrupted = bytearray(encoded)
            corrupted[offset] ^= 1 << bit
            with pytest.raises(BitstreamError):
                VideoFile.from_bytes(bytes(corrupted))


@pytest.mark.parametrize("crc", [True, False])
def test_truncation_at_every_length_is_a_bitstream_error(encoded, crc):
    file = VideoFile.from_bytes(encoded)
    data = encoded
    if not crc:  # the same sections without a CRC: only the framing can notice
        _, sections = read_container(encoded, VIDEO_TAGS)
        data = write_container(list(sections.items()), crc=False, minor=2)
        assert VideoFile.from_bytes(data).payload == file.payload
    for length in range(len(data)):
        with pytest.raises(BitstreamError):
            VideoFile.from_bytes(data[:length])


def test_wrong_magic():
    data = write_container(SECTIONS)
    for bad in (b"PNG\x89" + data[4:], b"inrc" + data[4:], b"", b"\x00" * 64):
        with pytest.raises(BitstreamError, match="magic"):
            read_container(bad, KNOWN)
    for prefix in (b"INR", data[:7]):  # a cut-off start of a real file says so
        with pytest.raises(BitstreamError, match="truncated"):
            read_container(prefix, KNOWN)


@pytest.mark.parametrize("major", [0, 3, 255])  # 1 (video) and 2 (images) are read
def test_unknown_major_version_is_refused(major):
    data = patched(write_container(SECTIONS), 4, bytes([major]))
    with pytest.raises(BitstreamError, match=f"version {major}\\.0"):
        read_container(data, KNOWN)


def test_higher_minor_version_is_read(encoded):
    """Minor versions are backward compatible: a 1.x reader reads a 1.7 file whose sections it knows."""
    data = patched(encoded, 5, bytes([7]))
    preamble, _ = read_container(data, VIDEO_TAGS)
    assert (preamble["major"], preamble["minor"]) == (1, 7)
    assert VideoFile.from_bytes(data).version == (1, 7)


def test_unknown_critical_section_is_refused():
    for tag in (b"XTRA", b"Meta", b"1abc", b"_abc"):  # anything not starting with a lower-case letter is critical
        data = write_container(SECTIONS + [(tag, b"?")])
        with pytest.raises(BitstreamError, match="unknown critical section"):
            read_container(data, KNOWN)


def test_unknown_ancillary_section_is_skipped(encoded):
    _, sections = read_container(encoded, VIDEO_TAGS)
    items = list(sections.items())
    data = write_container([(b"meta", b"note")] + items[:2] + [(b"zzzz", b"\xff" * 9)] + items[2:], minor=2)
    parsed = VideoFile.from_bytes(data)
    assert parsed.to_bytes() == encoded  # the ancillary sections are dropped on rewrite


def test_duplicate_section_is_refused():
    for extra in ([(b"HEAD", b"again")], [(b"meta", b"1"), (b"meta", b"2")]):  # critical and ancillary alike
        data = write_container(SECTIONS + extra)
        with pytest.raises(BitstreamError, match="twice"):
            read_container(data, KNOWN)


@pytest.mark.parametrize("crc", [True, False])
def test_trailing_bytes_are_refused(crc):
    data = write_container(SECTIONS, crc=crc)
    body = data[:-4] if crc else data
    bad = with_crc(body + b"\x00") if crc else body + b"\x00"
    with pytest.raises(BitstreamError):
        read_container(bad, KNOWN)


def test_section_running_past_the_end():
    data = bytearray(write_container(SECTIONS, crc=False))
    data[12:16] = struct.pack("<I", 1 << 31)  # HEAD's length
    with pytest.raises(BitstreamError, match="truncated"):
        read_container(bytes(data), KNOWN)


def test_missing_section_is_refused(encoded):
    _, sections = read_container(encoded, VIDEO_TAGS)
    for missing in VIDEO_TAGS:
        data = write_container([(t, p) for t, p in sections.items() if t != missing], minor=2)
        with pytest.raises(BitstreamError, match="missing section"):
            VideoFile.from_bytes(data)


# --- records -------------------------------------------------------------------------------------------------------

GOOD_VALUES = {
    IMAGE_HEADER: {"width": 768, "height": 512, "channels": 3, "bit_depth": 8, "model_id_length": 0},
    FIELD_CONFIG: {
        "n_dims": 2,
        "n_levels": 7,
        "n_features": 3,
        "log2_hashmap_size": 20,
        "pixels_per_unit": 1024,
        "base_resolution": 16.0,
        "per_level_scale": 2.0,
        "mlp_hidden_layers": 2,
        "mlp_hidden_width": 16,
        "mlp_activation": 0,
        "out_channels": 3,
    },
    LEVEL: {"scale": 63.0, "res": 64, "extent_x": 49, "extent_y": 33, "quant_step": 128},
    TABLE_INDEX: {"table_index": 255},
    VIDEO_HEADER: {"frame_count": 300, "fps_num": 30000, "fps_den": 1001, "gop_size": 16},
    GOP: {"first_frame": 16, "n_frames": 16},
    FRAME: {"length": 4096},
}
RECORD_SIZES = {IMAGE_HEADER: 11, FIELD_CONFIG: 21, LEVEL: 13, TABLE_INDEX: 1, VIDEO_HEADER: 14, GOP: 6, FRAME: 4}


@pytest.mark.parametrize("record", list(GOOD_VALUES), ids=lambda r: r.name)
def test_record_round_trip(record):
    values = GOOD_VALUES[record]
    packed = record.pack(values)
    assert len(packed) == record.size == RECORD_SIZES[record]
    unpacked, offset = record.unpack(b"pre" + packed + b"post", 3)
    assert offset == 3 + record.size
    assert unpacked == values
    with pytest.raises(BitstreamError, match="truncated"):
        record.unpack(packed[:-1])


@pytest.mark.parametrize("record", list(GOOD_VALUES), ids=lambda r: r.name)
def test_record_range_checks(record):
    for field in record.fields:
        below = field.low - 1 if field.low is not None else None
        above = field.high + 1 if field.high is not None else None
        for bad in (below, above):
            if bad is None or (field.fmt != "f" and not 0 <= bad < 256 ** field.size):
                continue  # not representable in the field's width: pack must still refuse it
            values = dict(GOOD_VALUES[record], **{field.name: bad})
            with pytest.raises((ValueError, BitstreamError)):
                record.pack(values)
            raw = bytearray(record.pack(GOOD_VALUES[record]))
            offset = sum(f.size for f in record.fields[: record.fields.index(field)])
            raw[offset : offset + field.size] = struct.pack("<" + field.fmt, bad)
            with pytest.raises(BitstreamError, match=field.name):
                record.unpack(bytes(raw))


def test_record_values_not_representable_are_refused_on_pack():
    record = Record("r", (Field("small", "B"), Field("ranged", "H", 0, 10)))
    with pytest.raises((ValueError, BitstreamError, struct.error)):
        record.pack({"small": 256, "ranged": 0})
    with pytest.raises((ValueError, BitstreamError)):
        record.pack({"small": 0, "ranged": -1})


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_floats_are_refused(value):
    raw = bytearray(LEVEL.pack(GOOD_VALUES[LEVEL]))
    raw[0:4] = struct.pack("<f", value)
    with pytest.raises(BitstreamError, match="finite"):
        LEVEL.unpack(bytes(raw))
    with pytest.raises(BitstreamError):
        LEVEL.pack(dict(GOOD_VALUES[LEVEL], scale=value))


# --- VideoFile -----------------------------------------------------------------------------------------------------


def test_video_file_round_trip_and_section_sizes(encoded):
    file = VideoFile.from_bytes(encoded)
    assert file.to_bytes() == encoded
    assert file.version == (1, 2) and is_video(encoded)
    assert file.image == {"width": 24, "height": 16, "channels": 3, "bit_depth": 8}
    assert len(file.model_sha256) == 32 and file.model_id
    config = file.field_config
    n_tables = config["n_levels"] * config["n_features"] * TABLES_PER_FEATURE
    assert len(file.levels) == config["n_levels"] and TABLES_PER_FEATURE == 6
    assert all(len(frame["tables"]) == n_tables for gop in file.gops for frame in gop["frames"])
    assert all(len(stream) % 4 == 0 for number in range(len(file.gops)) for stream in file.frame_streams(number))
    # the section sizes are exactly those of SPEC-v1 sections 3, 4 and 12
    _, sections = read_container(encoded, VIDEO_TAGS)
    assert len(sections[b"HEAD"]) == 11 + len(file.model_id) + 32
    assert len(sections[b"VIDH"]) == 14
    assert len(sections[b"FELD"]) == 21 + 13 * config["n_levels"]
    n_frames = file.video["frame_count"]
    assert len(sections[b"GOPS"]) == 6 * len(file.gops) + n_frames * (4 + n_tables)


def test_an_image_container_is_not_a_video():
    assert not is_video(write_container([(b"HEAD", b""), (b"DATA", b"")], major=2))
    assert not is_video(write_container([(b"HEAD", b""), (b"LATS", b""), (b"DATA", b"")], major=2))
    assert not is_video(write_container(SECTIONS))
    for bad in (b"", b"INRC\x01", b"PNG\x89" + bytes(20), write_container(SECTIONS, major=9)):
        with pytest.raises(BitstreamError):
            is_video(bad)


def test_head_with_a_bad_model_part_is_refused(encoded):
    _, sections = read_container(encoded, VIDEO_TAGS)

    def with_head(head: bytes) -> bytes:
        return write_container([(t, head if t == b"HEAD" else p) for t, p in sections.items()], minor=2)

    for head in (sections[b"HEAD"][:-1], sections[b"HEAD"] + b"\x00"):
        with pytest.raises(BitstreamError, match="HEAD"):
            VideoFile.from_bytes(with_head(head))
    head = bytearray(sections[b"HEAD"])
    head[11] = 0xC3
    with pytest.raises(BitstreamError, match="ASCII"):
        VideoFile.from_bytes(with_head(bytes(head)))
    no_model = IMAGE_HEADER.pack({"width": 24, "height": 16, "channels": 3, "bit_depth": 8, "model_id_length": 0})
    with pytest.raises(BitstreamError, match="must name its model"):
        VideoFile.from_bytes(with_head(no_model))
    file = VideoFile.from_bytes(encoded)
    file.model_id, file.model_sha256 = "", b""
    with pytest.raises(ValueError, match="names its model"):
        file.to_bytes()


def test_a_video_needs_format_1_2(encoded):
    with pytest.raises(BitstreamError, match="1.1 file cannot hold a video"):
        VideoFile.from_bytes(patched(encoded, 5, bytes([1])))


def test_section_lengths_must_be_exact(encoded):
    _, sections = read_container(encoded, VIDEO_TAGS)
    for tag in (b"HEAD", b"VIDH", b"FELD"):
        changed = {t: (p + b"\x00" if t == tag else p) for t, p in sections.items()}
        with pytest.raises(BitstreamError, match="wrong length"):
            VideoFile.from_bytes(write_container(list(changed.items()), minor=2))


def _rewritten(encoded: bytes, edit) -> bytes:
    file = VideoFile.from_bytes(encoded)
    edit(file)
    return file.to_bytes()


def _huge_grid(file):
    file.field_config.update(n_features=8, n_levels=16, log2_hashmap_size=24)
    level = {"scale": 1e6, "res": 1_000_001, "extent_x": 65535, "extent_y": 65535, "quant_step": 128}
    file.levels = [level] * 16
    for gop in file.gops:
        for frame in gop["frames"]:
            frame["tables"] = [255] * (16 * 8 * TABLES_PER_FEATURE)


def _bad_table(file):
    file.gops[0]["frames"][1]["tables"][0] = 100


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda f: f.image.update(width=16384, height=16384), "absurd frame size"),
        (_huge_grid, "absurdly large grid"),
        (_bad_table, "table index out of range"),
        (lambda f: f.gops[1]["frames"][0].update(length=f.gops[1]["frames"][0]["length"] + 4), "do not add up"),
        (lambda f: f.gops[1].update(first_frame=2), "does not follow"),
        (lambda f: f.video.update(gop_size=2), "does not follow"),
    ],
    ids=["frame-size", "grid", "table", "lengths", "first-frame", "gop-size"],
)
def test_consistency_checks(encoded, edit, message):
    with pytest.raises(BitstreamError, match=message):
        VideoFile.from_bytes(_rewritten(encoded, edit))


def test_quant_step_formula():
    assert quant_step(128) == 1.0
    assert quant_step(136) == 2.0 and quant_step(120) == 0.5 and quant_step(0) == 2.0**-16
    assert quant_step(132) == pytest.approx(2**0.5, rel=1e-15)


def test_container_module_constants():
    assert container.PREAMBLE.size == 8 and container.SECTION.size == 8
    assert VIDEO_TAGS == KNOWN | {b"VIDH", b"GOPS"}
