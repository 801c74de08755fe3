"""Tests of the .inr container and header syntax (inrcodec.bitstream): framing, integrity and version checks,
declarative records, and the InrFile round trip. Every malformed file must raise BitstreamError, nothing else."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest

from inrcodec.bitstream import container
from inrcodec.bitstream.container import END_TAG, FLAG_CRC32, MAGIC, read_container, write_container
from inrcodec.bitstream.image_file import KNOWN_TAGS, InrFile
from inrcodec.bitstream.syntax import (
    FIELD_CONFIG,
    IMAGE_HEADER,
    LAYER,
    LEVEL,
    TABLE_INDEX,
    TABLES_PER_FEATURE,
    Field,
    Record,
    quant_step,
)
from inrcodec.errors import BitstreamError, InrCodecError

SECTIONS = [(b"HEAD", b"\x01\x02\x03"), (b"FELD", b""), (b"DATA", bytes(range(40)))]
KNOWN = frozenset({b"HEAD", b"FELD", b"DATA"})


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
    """A real file: a 24 x 16 image, quality 5, 5 fitting steps."""
    import torch

    from inrcodec.codec import encode_image

    torch.manual_seed(0)
    rgb = np.random.default_rng(0).integers(0, 256, size=(16, 24, 3), dtype=np.uint8)
    return encode_image(rgb, quality=5, steps=5, model=None).data


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
                InrFile.from_bytes(bytes(corrupted))


@pytest.mark.parametrize("crc", [True, False])
def test_truncation_at_every_length_is_a_bitstream_error(encoded, crc):
    inr = InrFile.from_bytes(encoded)
    data = encoded
    if not crc:  # the same sections without a CRC: only the framing can notice
        _, sections = read_container(encoded, KNOWN_TAGS)
        data = write_container(list(sections.items()), crc=False)
        assert InrFile.from_bytes(data).payload == inr.payload
    for length in range(len(data)):
        with pytest.raises(BitstreamError):
            InrFile.from_bytes(data[:length])


def test_wrong_magic():
    data = write_container(SECTIONS)
    for bad in (b"PNG\x89" + data[4:], b"inrc" + data[4:], b"", b"\x00" * 64):
        with pytest.raises(BitstreamError, match="magic"):
            read_container(bad, KNOWN)
    for prefix in (b"INR", data[:7]):  # a cut-off start of a real file says so
        with pytest.raises(BitstreamError, match="truncated"):
            read_container(prefix, KNOWN)


@pytest.mark.parametrize("major", [0, 3, 255])
def test_unknown_major_version_is_refused(major):
    data = patched(write_container(SECTIONS), 4, bytes([major]))
    with pytest.raises(BitstreamError, match=f"version {major}\\.0"):
        read_container(data, KNOWN)


def test_higher_minor_version_is_read(encoded):
    """Minor versions are backward compatible: a 1.x reader reads a 1.7 file whose sections it knows."""
    data = patched(encoded, 5, bytes([7]))
    preamble, _ = read_container(data, KNOWN_TAGS)
    assert (preamble["major"], preamble["minor"]) == (1, 7)
    assert InrFile.from_bytes(data).version == (1, 7)


def test_unknown_critical_section_is_refused():
    for tag in (b"XTRA", b"Meta", b"1abc", b"_abc"):  # anything not starting with a lower-case letter is critical
        data = write_container(SECTIONS + [(tag, b"?")])
        with pytest.raises(BitstreamError, match="unknown critical section"):
            read_container(data, KNOWN)


def test_unknown_ancillary_section_is_skipped(encoded):
    _, sections = read_container(encoded, KNOWN_TAGS)
    items = list(sections.items())
    data = write_container([(b"meta", b"note")] + items[:2] + [(b"zzzz", b"\xff" * 9)] + items[2:])
    parsed = InrFile.from_bytes(data)
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
    _, sections = read_container(encoded, KNOWN_TAGS)
    for missing in KNOWN_TAGS:
        data = write_container([(t, p) for t, p in sections.items() if t != missing])
        with pytest.raises(BitstreamError, match="missing section"):
            InrFile.from_bytes(data)


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
    LAYER: {"weight_step": 100, "weight_table": 20, "bias_step": 96, "bias_table": 255},
}
RECORD_SIZES = {IMAGE_HEADER: 11, FIELD_CONFIG: 21, LEVEL: 13, TABLE_INDEX: 1, LAYER: 4}


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


def test_quant_step_formula():
    assert quant_step(128) == 1.0
    assert quant_step(136) == 2.0 and quant_step(120) == 0.5 and quant_step(0) == 2.0**-16
    assert quant_step(132) == pytest.approx(2**0.5, rel=1e-15)


# --- InrFile -------------------------------------------------------------------------------------------------------


def test_inr_file_round_trip_of_a_real_encode(encoded):
    inr = InrFile.from_bytes(encoded)
    assert inr.to_bytes() == encoded
    assert inr.version == (1, 0)
    assert inr.image == {"width": 24, "height": 16, "channels": 3, "bit_depth": 8}
    assert inr.model_id == "" and inr.model_sha256 == b""
    config = inr.field_config
    assert len(inr.levels) == config["n_levels"]
    assert TABLES_PER_FEATURE == 6
    assert all(len(level["tables"]) == 6 * config["n_features"] for level in inr.levels)
    assert len(inr.layers) == config["mlp_hidden_layers"] + 1
    assert len(inr.payload) % 4 == 0
    # the section sizes are exactly those of SPEC section 5
    _, sections = read_container(encoded, KNOWN_TAGS)
    assert len(sections[b"HEAD"]) == 11
    assert len(sections[b"FELD"]) == 21 + config["n_levels"] * (13 + 6 * config["n_features"]) + 4 * len(inr.layers)


def test_decoding_the_real_encode(encoded):
    from inrcodec.codec import decode_bytes

    rgb = decode_bytes(encoded)
    assert rgb.shape == (16, 24, 3) and rgb.dtype == np.uint8


def test_model_id_round_trip_and_refusal(encoded):
    from inrcodec.codec import decode_bytes

    inr = InrFile.from_bytes(encoded)
    inr.model_id, inr.model_sha256 = "meta-image-v1", bytes(range(32))
    inr.modulation = {"rank": 0, "n_inputs": inr.field_config["n_levels"] * inr.field_config["n_features"], "table": 255}
    data = inr.to_bytes()
    parsed = InrFile.from_bytes(data)
    assert (parsed.model_id, parsed.model_sha256) == ("meta-image-v1", bytes(range(32)))
    assert parsed.version == (1, 1) and parsed.layers == [] and parsed.modulation == inr.modulation
    assert parsed.to_bytes() == data
    with pytest.raises(InrCodecError, match="needs model 'meta-image-v1'.*not installed"):
        decode_bytes(data)
    # HEAD whose model part has the wrong length
    _, sections = read_container(data, KNOWN_TAGS)
    for head in (sections[b"HEAD"][:-1], sections[b"HEAD"] + b"\x00"):
        bad = write_container([(b"HEAD", head), (b"FELD", sections[b"FELD"]), (b"DATA", sections[b"DATA"])])
        with pytest.raises(BitstreamError, match="HEAD"):
            InrFile.from_bytes(bad)
    # a model id that is not ASCII
    head = bytearray(sections[b"HEAD"])
    head[11] = 0xC3
    bad = write_container([(b"HEAD", bytes(head)), (b"FELD", sections[b"FELD"]), (b"DATA", sections[b"DATA"])])
    with pytest.raises(BitstreamError, match="ASCII"):
        InrFile.from_bytes(bad)


def test_section_lengths_must_be_exact(encoded):
    _, sections = read_container(encoded, KNOWN_TAGS)
    for tag in (b"HEAD", b"FELD"):
        changed = {t: (p + b"\x00" if t == tag else p) for t, p in sections.items()}
        with pytest.raises(BitstreamError, match="wrong length"):
            InrFile.from_bytes(write_container(list(changed.items())))


def _rewritten(encoded: bytes, edit) -> bytes:
    inr = InrFile.from_bytes(encoded)
    edit(inr)
    return inr.to_bytes()


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda f: f.levels[0].update(res=f.levels[0]["res"] + 1), "res does not match scale"),
        (lambda f: f.levels[0].update(scale=f.levels[0]["scale"] + 1.5), "res does not match scale"),
        (lambda f: f.levels[1].update(extent_x=f.levels[1]["res"] + 1), "extent is outside"),
        (lambda f: f.levels[1].update(extent_y=0), "extent is outside"),
        (lambda f: f.field_config.update(log2_hashmap_size=8), "hashed level has no extent"),
    ],
)
def test_consistency_checks(encoded, edit, message):
    with pytest.raises(BitstreamError, match=message):
        InrFile.from_bytes(_rewritten(encoded, edit))


def test_absurd_grid_is_refused(encoded):
    def huge(f):
        f.field_config.update(n_features=8, n_levels=16, log2_hashmap_size=24)
        scale = 1e6
        level = {"scale": scale, "res": 1_000_001, "extent_x": 0, "extent_y": 0, "quant_step": 128}
        level["tables"] = [255] * 48
        f.levels = [level] * 16

    with pytest.raises(BitstreamError, match="absurdly large"):
        InrFile.from_bytes(_rewritten(encoded, huge))


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda f: f.field_config.update(pixels_per_unit=20), "pixels_per_unit"),  # < the longer side
        (lambda f: f.field_config.update(pixels_per_unit=4 * 1024 + 1), "pixels_per_unit"),
        (lambda f: f.image.update(width=16384, height=16384), "image size"),
    ],
)
def test_image_size_checks(encoded, edit, message):
    with pytest.raises(BitstreamError, match=message):
        InrFile.from_bytes(_rewritten(encoded, edit))


@pytest.mark.parametrize(
    "edit",
    [
        lambda f: f.image.update(width=f.image["width"] + 40),  # pixels beyond the coded extents
        lambda f: f.field_config.update(pixels_per_unit=24),  # coordinates beyond the coded extents
        lambda f: f.levels[3].update(extent_x=f.levels[3]["extent_x"] - 2),  # extent smaller than the pixels need
        lambda f: f.levels[3].update(extent_y=f.levels[3]["extent_y"] + 2),  # larger
    ],
    ids=["width", "pixels_per_unit", "extent-smaller", "extent-larger"],
)
def test_extents_must_match_the_image_geometry(encoded, edit):
    """SPEC 6.3: a dense level's extent is within one vertex of what the pixels read."""
    from inrcodec.codec import decode_bytes

    with pytest.raises(BitstreamError):
        decode_bytes(_rewritten(encoded, edit))


def test_extent_one_short_passes_the_header_check_but_not_the_stream(encoded):
    """SPEC 6.3 allows one vertex of slack in the header check, but the same payload read with a smaller extent
    decodes a different number of symbols, which the ANS terminator (SPEC 8.3) catches."""
    from inrcodec.codec import decode_bytes

    data = _rewritten(encoded, lambda f: f.levels[3].update(extent_x=f.levels[3]["extent_x"] - 1))
    with pytest.raises(BitstreamError, match="terminator"):
        decode_bytes(data)


def test_bad_entropy_table_index_is_a_bitstream_error(encoded):
    from inrcodec.codec import decode_bytes

    def bad_table(f):
        f.layers[0]["weight_table"] = 100

    with pytest.raises(BitstreamError, match="table index"):
        decode_bytes(_rewritten(encoded, bad_table))


def test_bad_table_byte_of_an_unused_context_is_refused(encoded):
    from inrcodec.codec import decode_bytes

    def bad_unused_table(f):
        f.levels[0]["tables"][4] = 100  # level 0 has no parent, so contexts 3-5 never occur

    with pytest.raises(BitstreamError):
        decode_bytes(_rewritten(encoded, bad_unused_table))


def test_container_module_constants():
    assert container.PREAMBLE.size == 8 and container.SECTION.size == 8
    assert KNOWN_TAGS == KNOWN
