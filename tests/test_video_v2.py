"""Format 2.3 - 2.5 video: a clip round-trips through real bytes, any frame decodes alone from its reference chain and
equals the whole clip's decode, and damaged or inconsistent files are refused with one line."""

import struct

import numpy as np
import pytest

from inrcodec.bitstream.container import read_container, write_container
from inrcodec.bitstream.video_v2 import CLIP, FRAME, KNOWN_TAGS, TAG_FRAMES, FrameEntry, parse_video
from inrcodec.errors import BitstreamError, InrCodecError


def _clip(count=6, height=40, width=56):
    rng = np.random.default_rng(11)
    small = rng.integers(0, 256, size=(height // 4 + 8, width // 4 + 8, 3)).astype(np.float32)
    base = np.kron(small, np.ones((4, 4, 1), np.float32))
    return [base[t : t + height, 2 * t : 2 * t + width].astype(np.uint8) for t in range(count)]  # a diagonal pan


@pytest.fixture
def coded_clip(v2_model):
    from inrcodec.encoder.clip import ClipSettings, clip_file, encode_clip

    settings = ClipSettings(lam=2e-3, intra_steps=1, inter_steps=1, group=4, residual_offset=40)
    coded = encode_clip(_clip(), v2_model, settings)
    return coded, clip_file(coded, v2_model, (25, 1), settings.group)


def _sections(data):
    return read_container(data, KNOWN_TAGS)[1]


def _rebuilt(data, frames=None, payload=None):
    """The file with its FRMS records (and DATA) replaced, written without any consistency check."""
    sections = _sections(data)
    if frames is not None:
        sections[TAG_FRAMES] = b"".join(FRAME.pack(f) for f in frames)
    if payload is not None:
        sections[b"DATA"] = payload
    return write_container(list(sections.items()), major=2, minor=data[5])


def _records(data):
    payload = _sections(data)[TAG_FRAMES]
    return [FRAME.unpack(payload, offset)[0] for offset in range(0, len(payload), FRAME.size)]


def test_a_clip_round_trips_and_any_frame_decodes_alone(coded_clip):
    from inrcodec.video_decoder import VideoDecoder

    coded, data = coded_clip
    decoder = VideoDecoder(data)
    assert decoder.frame_count == 6 and decoder.file.fps == (25, 1) and decoder.file.group == 4
    expected = {f.plan.index: f for f in coded}
    whole = dict(decoder.frames())
    assert sorted(whole) == list(range(6))
    for index, frame in expected.items():
        assert np.array_equal(whole[index], frame.pixels)  # the encoder's reconstruction, exactly
        assert np.array_equal(decoder.frame(index), frame.pixels)  # alone, from its chain
        assert all(np.array_equal(a, b) for a, b in zip(decoder.latents(index), frame.latents))
    assert decoder.chain(3) == [0, 4, 2, 3]  # B3 reads B2 and I4, B2 reads I0 and I4
    assert decoder.chain(5) == [4, 5]
    # preamble, sections, CRC; TOFS and TMIX: a flag per frame (their values are in the frames' sizes)
    optional = [tag for tag in (b"TOFS", b"TMIX") if tag in _sections(data)]
    framing = 8 + 8 * (5 + len(optional)) + 4 + len(_sections(data)[b"HEAD"]) + CLIP.size + 6 * FRAME.size
    assert len(data) == sum(f.size for f in coded) + framing + 6 * len(optional)  # the streams and nothing else
    with pytest.raises(InrCodecError, match="frame 6 is not in the clip"):
        decoder.frame(6)


def _offsets_vector() -> bytes:
    from pathlib import Path

    vectors = Path(__file__).resolve().parent.parent / "bitstream" / "vectors" / "video-v2"
    return (vectors / "synthetic_offsets_56x40.inr").read_bytes()


def test_scale_offsets_round_trip_through_the_file():
    data = _offsets_vector()
    file = parse_video(data)
    assert [f.scale_offsets is not None for f in file.frames] == [False, True, True, False, True]
    assert file.to_bytes() == data and data[4:6] == bytes([2, 4])  # written back as read, as 2.4
    plain = file.__class__(**{**file.__dict__, "frames": tuple(FrameEntry(**{**f.__dict__, "scale_offsets": None})
                                                               for f in file.frames)})  # fmt: skip
    assert plain.to_bytes()[4:6] == bytes([2, 3]) and b"TOFS" not in plain.to_bytes()  # the lowest minor


def _with_tofs(data, tofs, minor=4):
    sections = _sections(data)
    sections[b"TOFS"] = tofs
    return write_container(list(sections.items()), major=2, minor=minor)


@pytest.mark.parametrize("edit, message", [
    (lambda t: bytes([2]) + t[1:], "a TOFS flag of 2"),  # the I-frame's flag
    (lambda t: bytes([1]) + bytes(20) + t[1:], "a TOFS flag of 1"),  # offsets for the I-frame
    (lambda t: t[:2] + bytes([17]) + t[3:], "beyond"),  # P4's first offset
    (lambda t: t[:2] + bytes([256 - 17]) + t[3:], "beyond"),
    (lambda t: t[:-1], "ends inside"),
    (lambda t: t[:1], "ends before"),
    (lambda t: t + b"\0", "after the last frame"),
])  # fmt: skip
def test_bad_scale_offsets_are_refused_with_one_line(edit, message):
    data = _offsets_vector()
    damaged = _with_tofs(data, edit(_sections(data)[b"TOFS"]))
    with pytest.raises(BitstreamError, match=message) as error:
        parse_video(damaged)
    assert "\n" not in str(error.value)


def test_scale_offsets_in_a_2_3_file_are_refused():
    data = _offsets_vector()
    with pytest.raises(BitstreamError, match="minor version below 4"):
        parse_video(_with_tofs(data, _sections(data)[b"TOFS"], minor=3))


def test_intra_levels_round_trip_through_the_file(v2_model):
    from inrcodec.encoder.clip import ClipSettings, clip_file, encode_clip
    from inrcodec.video_decoder import VideoDecoder

    settings = ClipSettings(lam=2e-3, intra_steps=1, inter_steps=1, group=2, intra_levels=(2,))
    coded = encode_clip(_clip(count=3), v2_model, settings)
    assert [f.intra_levels for f in coded] == [0, 0, 2]  # I0 I2 B1
    decoder = VideoDecoder(clip_file(coded, v2_model, (25, 1), 2))
    assert all(np.array_equal(decoder.frame(f.plan.index), f.pixels) for f in coded)


def test_the_image_decoder_refuses_a_video_with_one_line(coded_clip):
    from inrcodec import decoder

    with pytest.raises(BitstreamError, match="is a video"):
        decoder.decode_image(coded_clip[1])


def _mutations():
    def swap_order(records):  # I4 moved before I0 is fine, but B2 before I4 is not
        records[1], records[2] = records[2], records[1]

    def repeated(records):
        records[3]["index"] = records[2]["index"]

    def future_reference_not_after(records):
        records[2]["future"] = 0

    def intra_with_motion(records):
        records[0]["motion_length"], records[0]["latents_length"] = 4, records[0]["latents_length"] - 4

    def lengths_off_by_four(records):
        records[-1]["latents_length"] += 4

    def unused_reference_set(records):
        records[-1]["future"] = 1

    def intra_levels_without_stream(records):
        records[2]["intra_levels"] = 1 - min(1, records[2]["intra_levels"])

    return [swap_order, repeated, future_reference_not_after, intra_with_motion, lengths_off_by_four,
            unused_reference_set, intra_levels_without_stream]  # fmt: skip


@pytest.mark.parametrize("mutate", _mutations(), ids=lambda f: f.__name__)
def test_an_inconsistent_frame_index_is_refused_with_one_line(coded_clip, mutate):
    data = coded_clip[1]
    records = _records(data)
    mutate(records)
    with pytest.raises(BitstreamError) as error:
        parse_video(_rebuilt(data, records))
    assert "\n" not in str(error.value)


def test_damaged_streams_fail_on_their_frame_with_one_line(coded_clip):
    from inrcodec.video_decoder import VideoDecoder

    coded, data = coded_clip
    records = _records(data)
    position = next(i for i, r in enumerate(records) if r["kind"] == 2)
    start = sum(r["motion_length"] + r["latents_length"] + r["intra_length"] for r in records[:position])
    payload = bytearray(_sections(data)[b"DATA"])
    payload[start : start + records[position]["motion_length"]] = b"\xff" * records[position]["motion_length"]
    decoder = VideoDecoder(_rebuilt(data, payload=bytes(payload)))
    index = records[position]["index"]
    with pytest.raises(BitstreamError, match=f"frame {index} \\(B\\)") as error:
        decoder.frame(index)
    assert "\n" not in str(error.value)
    assert np.array_equal(decoder.frame(0), next(f.pixels for f in coded if f.plan.index == 0))  # others decode


def test_a_tiny_motion_stream_cannot_claim_many_blocks():
    from inrcodec.entropy.motion import decode_motion

    with pytest.raises(ValueError, match="too short"):
        decode_motion(struct.pack("<I", 1), (1024, 1024))


def test_frame_entries_write_what_they_parse():
    entry = FrameEntry(3, 2, (2, 4), 60, 1, (8, 12, 16))
    values, end = FRAME.unpack(entry.to_bytes())
    assert end == FRAME.size and (values["past"], values["future"], values["intra_levels"]) == (2, 4, 1)


def test_a_clip_without_motion_codes_zero_vectors_and_decodes(v2_model):
    from inrcodec.encoder.clip import ClipSettings, clip_file, encode_clip
    from inrcodec.entropy.motion import decode_motion
    from inrcodec.video_decoder import VideoDecoder

    settings = ClipSettings(lam=2e-3, intra_steps=1, inter_steps=1, group=4, motion=False)
    coded = encode_clip(_clip(count=3), v2_model, settings)
    for frame in coded[1:]:
        fields, _, _ = decode_motion(frame.motion, (3, 4), count=len(frame.plan.references))
        assert not any(f.any() for f in fields)
    decoder = VideoDecoder(clip_file(coded, v2_model, (25, 1), 4))
    assert all(np.array_equal(decoder.frame(f.plan.index), f.pixels) for f in coded)


@pytest.mark.slow  # spawns two processes that import torch
def test_frames_coded_in_worker_processes_make_the_same_file(v2_model):
    """--jobs 2 codes frames of one layer at once, each worker with one torch thread: the file equals one
    process's with one thread, byte for byte."""
    import torch

    from inrcodec.encoder.clip import ClipSettings, clip_file, encode_clip

    settings = ClipSettings(lam=2e-3, intra_steps=1, inter_steps=1, group=4, residual_offset=40)
    frames, threads = _clip(count=7), torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        alone = encode_clip(frames, v2_model, settings)
    finally:
        torch.set_num_threads(threads)
    seen = []
    together = encode_clip(frames, v2_model, settings, progress=lambda done, total: seen.append((done, total)), jobs=2)
    assert [f.plan for f in together] == [f.plan for f in alone]
    assert clip_file(together, v2_model, (25, 1), 4) == clip_file(alone, v2_model, (25, 1), 4)
    assert seen == [(done, 7) for done in range(1, 8)]


@pytest.mark.parametrize("bad, message", [({"jobs": 0}, "jobs must be at least 1"), ({"group": 0}, "group must be")])
def test_bad_clip_settings_are_refused_before_reading(bad, message, tmp_path):
    from inrcodec.video.clip_v2 import encode_clip_v2

    with pytest.raises(InrCodecError, match=message):
        encode_clip_v2(tmp_path / "no such clip", **bad)
