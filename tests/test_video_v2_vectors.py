"""Format 2.3 - 2.5 video conformance vectors (bitstream/vectors/video-v2/): the reference decoder reproduces their
latents bit for bit and their frames within SPEC.md section 8's tolerance, and they exercise every frame kind,
block mode and intra level count they claim.

Regenerate (after a change of the format or of the vectors' model) with

    INRCODEC_REGEN_VECTORS=video-v2 python -m pytest tests/test_video_v2_vectors.py
"""

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from inrcodec.bitstream.video_v2 import parse_video

ROOT = Path(__file__).resolve().parent.parent / "bitstream" / "vectors" / "video-v2"
MODELS = ROOT.parent / "v2" / "models"  # the image vectors' model, vectors-v2
EXPECTED = ROOT / "expected.json"
REGEN = os.environ.get("INRCODEC_REGEN_VECTORS") in ("1", "video-v2")


def latents_sha256(frames) -> str:
    """sha256 of every frame's latents, frames in display order, levels 0..L-1, raster order, int32 LE."""
    return hashlib.sha256(b"".join(np.ascontiguousarray(q, dtype="<i4").tobytes()
                                   for latents in frames for q in latents)).hexdigest()  # fmt: skip


def _pan(count, height, width, seed):
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, size=(height // 4 + 10, width // 4 + 10, 3)).astype(np.float32)
    base = np.kron(small, np.ones((4, 4, 1), np.float32))
    return [base[2 * t : 2 * t + height, 3 * t : 3 * t + width].astype(np.uint8) for t in range(count)]


def synthetic_clip(entry, offsets: bool = False, mix: bool = False) -> bytes:
    """Five 56x40 frames coded without an encoder, to reach what an encoder rarely writes: I0, P4 (intra blocks,
    one intra level), B2 (every block mode, odd half-pel vectors), B1 (two intra levels), B3, skipped blocks in
    each; seeded latents, motion and residuals coded with the entropy functions. offsets: P4, B2 and B3 code
    seeded residual scale offsets (format 2.4, SPEC 10.5; -16 and 16 among them), B1 none. mix: P4 (one intra
    level) and B1 (two) code a seeded temporal mix of their intra levels (format 2.5, SPEC 10.6; weights 0 and 8
    and offsets -16 and 16 among them)."""
    from inrcodec.bitstream.video_v2 import FrameEntry, VideoFile
    from inrcodec.entropy.inter import encode_inter, scale_offset_retable, temporal_buckets, temporal_mix_retable
    from inrcodec.entropy.motion import (
        BOTH, FUTURE, INTRA, PAST, decode_motion, encode_motion, predict_grids, reference_disagreement,
    )  # fmt: skip
    from inrcodec.entropy.planes import encode_latents
    from inrcodec.model.config import level_shape
    from inrcodec.model.shared import load_shared

    rng = np.random.default_rng(2026)
    offsets_rng = np.random.default_rng(24)  # apart, so that the 2.3 vector's draws stay what they were
    mix_rng = np.random.default_rng(25)
    nets = load_shared(entry).contexts
    shapes = [level_shape(40, 56, level) for level in range(7)]
    rate_code, blocks = 150, (3, 4)
    latents, frames, payload = {}, [], b""

    def random_grids(spread):
        return [np.round(rng.laplace(0, spread, size=shape)).astype(np.int64) for shape in shapes]

    for index in (0, 4, 2, 1, 3):
        references = {0: (), 4: (0,), 2: (0, 4), 1: (0, 2), 3: (2, 4)}[index]
        if index == 0:
            stream, coded = encode_latents(random_grids(6.0), nets, rate_code)
            frames.append(FrameEntry(0, 0, (), 0, 0, (0, len(stream), 0)))
            latents[0], payload = coded, payload + stream
            continue
        fields = [rng.integers(-21, 22, size=(*blocks, 2)) for _ in references]
        if len(references) == 1:
            modes = np.where(rng.random(blocks) < 0.25, INTRA, PAST)
        else:
            modes = rng.choice([PAST, BOTH, FUTURE, INTRA], size=blocks)
            modes.flat[:4] = (PAST, BOTH, FUTURE, INTRA)
        prediction = predict_grids([latents[r] for r in references], fields, modes, 16)
        intra_levels = {4: 1, 2: 0, 1: 2, 3: 0}[index]
        target = [p + np.round(rng.laplace(0, 1.5, size=p.shape)).astype(np.int64) for p in prediction]
        target[:intra_levels] = random_grids(6.0)[:intra_levels]
        skip = (rng.random(blocks) < 0.3) & (modes != INTRA)
        skip.flat[np.flatnonzero(modes != INTRA)[-1]] = True  # at least one skipped block in every frame
        motion = encode_motion(*fields, modes=modes, skip=skip)
        residual_code = rate_code - 40
        chosen, residual_retable, chosen_mix, intra_retable = None, None, None, None
        decoded_fields = decode_motion(motion, blocks, len(references))[0]  # unread vectors: their prediction
        disagreement = reference_disagreement([latents[r] for r in references], decoded_fields, 16, 0)
        if offsets and index != 1:
            chosen = offsets_rng.integers(-16, 17, size=20)
            chosen[:2] = (-16, 16)
            residual_retable = scale_offset_retable(temporal_buckets(disagreement[intra_levels:], modes, intra_levels),
                                                    chosen)  # fmt: skip
        if mix and intra_levels:
            chosen_mix = tuple(int(v) for v in (0, 8, *mix_rng.integers(0, 9, size=22), -16, 16,
                                                *mix_rng.integers(-16, 17, size=22)))  # fmt: skip
            intra_retable = temporal_mix_retable(prediction[:intra_levels], disagreement[:intra_levels], chosen_mix)
        residual, intra, coded = encode_inter(target, prediction, nets, rate_code, residual_code, intra_levels, skip,
                                              residual_retable, intra_retable)  # fmt: skip
        kind = len(references)
        frames.append(FrameEntry(index, kind, references, residual_code, intra_levels,
                                 (len(motion), len(residual), len(intra)),
                                 None if chosen is None else tuple(int(o) for o in chosen), chosen_mix))  # fmt: skip
        latents[index], payload = coded, payload + motion + residual + intra
    return VideoFile(56, 40, rate_code, 7, entry.id, bytes.fromhex(entry.sha256), (25, 1), 4, tuple(frames),
                     payload).to_bytes()  # fmt: skip


def encoded_clip(entry) -> bytes:
    """Six 48x32 frames of a pan through inrcodec's clip encoder (groups of 4: I0 I4 B2 B1 B3 P5)."""
    from inrcodec.encoder.clip import ClipSettings, clip_file, encode_clip

    settings = ClipSettings(lam=3e-3, intra_steps=2, inter_steps=2, group=4, residual_offset=40, intra_levels=(0, 1))
    return clip_file(encode_clip(_pan(6, 32, 48, seed=5), entry, settings), entry, (30, 1), settings.group)


VECTORS = {
    "synthetic_56x40": (synthetic_clip, "seeded latents, motion and residuals coded with the entropy functions "
                                        "(synthetic_clip in this file), without an encoder"),
    "synthetic_offsets_56x40": (lambda entry: synthetic_clip(entry, offsets=True),
                                "synthetic_56x40 with seeded residual scale offsets in P4, B2 and B3 (format 2.4)"),
    "synthetic_mix_56x40": (lambda entry: synthetic_clip(entry, offsets=True, mix=True),
                            "synthetic_offsets_56x40 with a seeded temporal mix of the intra levels in P4 and B1 "
                            "(format 2.5)"),
    "encoded_48x32": (encoded_clip, "inrcodec.encoder.clip.encode_clip of a seeded 6-frame pan, groups of 4, "
                                    "2 steps, model vectors-v2 (encoded_clip in this file)"),
}


def decoded(data: bytes):
    """-> (latents of every frame, display order; the frames stacked top to bottom, uint8 [F H, W, 3])."""
    from inrcodec.video_decoder import VideoDecoder

    decoder = VideoDecoder(data)
    frames = dict(decoder.frames())
    latents = [decoder.latents(k) for k in range(decoder.frame_count)]
    return latents, np.concatenate([frames[k] for k in range(decoder.frame_count)], axis=0)


def regenerate():
    from inrcodec.model.registry import resolve

    os.environ["INRCODEC_MODELS_DIR"] = str(MODELS)
    entry = resolve("vectors-v2")
    ROOT.mkdir(exist_ok=True)
    for stale in [*ROOT.glob("*.inr"), *ROOT.glob("*.png")]:
        stale.unlink()
    expected = {"model": {"id": entry.id, "sha256": entry.sha256}, "vectors": {}}
    for name, (make, how) in VECTORS.items():
        data = make(entry)
        (ROOT / f"{name}.inr").write_bytes(data)
        latents, pixels = decoded(data)
        Image.fromarray(pixels).save(ROOT / f"{name}.png")
        file = parse_video(data)
        expected["vectors"][name] = {
            "made_by": how, "file_sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data),
            "width": file.width, "height": file.height, "frames": len(file.frames), "rate_code": file.rate_code,
            "coding_order": [f"{'IPB'[f.kind]}{f.index}" for f in file.frames],
            "intra_levels": [f.intra_levels for f in file.frames],
            "scale_offsets": [f.scale_offsets is not None for f in file.frames],
            "temporal_mix": [f.temporal_mix is not None for f in file.frames],
            "latents_sha256": latents_sha256(latents),
            "decoded_sha256": hashlib.sha256(pixels.tobytes()).hexdigest(),
        }  # fmt: skip
    EXPECTED.write_text(json.dumps(expected, indent=2) + "\n")


@pytest.fixture(scope="module")
def expected():
    if REGEN:
        regenerate()
    if not EXPECTED.exists():
        pytest.fail(f"{EXPECTED} is missing: run INRCODEC_REGEN_VECTORS=video-v2 python -m pytest {__file__}")
    return json.loads(EXPECTED.read_text())


@pytest.fixture()
def vector_models(monkeypatch):
    monkeypatch.setenv("INRCODEC_MODELS_DIR", str(MODELS))


def test_every_video_vector_decodes_as_recorded(expected, vector_models):
    assert set(expected["vectors"]) == set(VECTORS)
    for name, record in expected["vectors"].items():
        data = (ROOT / f"{name}.inr").read_bytes()
        assert hashlib.sha256(data).hexdigest() == record["file_sha256"], name
        latents, pixels = decoded(data)
        assert latents_sha256(latents) == record["latents_sha256"], name
        reference = np.asarray(Image.open(ROOT / f"{name}.png")).astype(int)
        difference = np.abs(pixels.astype(int) - reference)
        assert pixels.shape == reference.shape and difference.max() <= 1 and (difference > 0).mean() <= 0.001, name


def test_the_video_vectors_exercise_what_they_claim(expected, vector_models):
    from inrcodec.entropy.motion import decode_motion
    from inrcodec.video_decoder import VideoDecoder

    synthetic = VideoDecoder((ROOT / "synthetic_56x40.inr").read_bytes())
    assert [f"{'IPB'[f.kind]}{f.index}" for f in synthetic.file.frames] == ["I0", "P4", "B2", "B1", "B3"]
    assert {f.intra_levels for f in synthetic.file.frames} == {0, 1, 2}
    seen = set()
    for position, frame in enumerate(synthetic.file.frames[1:], start=1):
        fields, modes, skip = decode_motion(synthetic.file.streams(position)[0], synthetic.blocks,
                                            len(frame.references))  # fmt: skip
        seen |= set(modes.flat)
        assert skip.any() and not skip.all()
        assert any((f % 2).any() and (f < 0).any() for f in fields)  # half-pel and negative vectors
    assert seen == {-1, 0, 1, 2}  # PAST, BOTH, FUTURE, INTRA
    data = (ROOT / "synthetic_offsets_56x40.inr").read_bytes()
    offsets = parse_video(data)
    assert data[4:6] == bytes([2, 4]) and (ROOT / "synthetic_56x40.inr").read_bytes()[4:6] == bytes([2, 3])
    assert [f.scale_offsets is not None for f in offsets.frames] == [False, True, True, False, True]
    assert {-16, 16} <= {o for f in offsets.frames if f.scale_offsets for o in f.scale_offsets}
    assert offsets.frames[1].lengths != synthetic.file.frames[1].lengths  # the offsets changed the stream
    data = (ROOT / "synthetic_mix_56x40.inr").read_bytes()
    mixed = parse_video(data)
    assert data[4:6] == bytes([2, 5]) and [f.temporal_mix is not None for f in mixed.frames] == [False, True, False,
                                                                                                True, False]  # fmt: skip
    assert [f.intra_levels for f in mixed.frames] == [0, 1, 0, 2, 0]
    assert {0, 8} <= set(mixed.frames[1].temporal_mix[:24]) and {-16, 16} <= set(mixed.frames[1].temporal_mix[24:])
    assert [f.scale_offsets for f in mixed.frames] == [f.scale_offsets for f in offsets.frames]
    assert [f.lengths[2] for f in mixed.frames] != [f.lengths[2] for f in offsets.frames]  # the mix moved the tables
    encoded = expected["vectors"]["encoded_48x32"]
    assert encoded["coding_order"] == ["I0", "I4", "B2", "B1", "B3", "P5"]


def test_the_encoder_writes_offsets_and_mixes_that_decode_to_its_latents(vector_models):
    from inrcodec.encoder.clip import ClipSettings, clip_file, encode_clip
    from inrcodec.model.registry import resolve
    from inrcodec.video_decoder import VideoDecoder

    entry = resolve("vectors-v2")
    settings = ClipSettings(lam=3e-3, intra_steps=2, inter_steps=2, group=4, residual_offset=40, intra_levels=(0, 1))
    coded = encode_clip(_pan(6, 32, 48, seed=5), entry, settings)
    decoder = VideoDecoder(clip_file(coded, entry, (30, 1), settings.group))
    assert any(f.scale_offsets is not None for f in coded) and any(f.temporal_mix is not None for f in coded)
    for frame in coded:
        assert all(np.array_equal(a, b) for a, b in zip(decoder.latents(frame.plan.index), frame.latents))
    # the offsets and a mix fitted after the refinement change the bytes, not the latents
    post_hoc = {**settings.__dict__, "context_in_refinement": ()}
    coded = encode_clip(_pan(6, 32, 48, seed=5), entry, ClipSettings(**post_hoc))
    assert any(f.temporal_mix is not None for f in coded)
    for off in ("scale_offsets", "temporal_mix"):
        plain = encode_clip(_pan(6, 32, 48, seed=5), entry, ClipSettings(**{**post_hoc, off: False}))
        assert all(np.array_equal(a, b) for f, g in zip(coded, plain) for a, b in zip(f.latents, g.latents))
        assert sum(f.size for f in coded) < sum(f.size for f in plain)  # the same latents in fewer bytes
