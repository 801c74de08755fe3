"""Conformance vector of a video file (bitstream/SPEC-v1.md section 12): bitstream/vectors/video/.

The symbols are decoded by a re-implementation of the SPEC (row contexts of a group's first frame, inter contexts
of a residual, chunk order) that does not use inrcodec's decoder, and must hash to the recorded value exactly; the
decoded frames must match the reference output within the tolerance of SPEC section 9. Only the ANS coder itself
comes from inrcodec (video/v1/groups.py, constriction); the SPEC's description of that coder is checked against
constriction in tests/test_entropy.py. Format 1.2 is frozen and its encoder was removed (the vector was made by
commit f47f12d's), so the vector is not regenerated.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from inrcodec.video.file import VideoFile
from inrcodec.video.v1 import groups as entropy

VIDEO_DIR = Path(__file__).resolve().parent.parent / "bitstream" / "vectors" / "video"
EXPECTED = VIDEO_DIR / "expected.json"
NAME = "video_24x16_q4"
MAX_DIFFERING_FRACTION = 1e-3  # of the H * W * 3 samples; each may differ by at most 1
N_CONTEXTS = 6


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def symbols_sha256(arrays: list[np.ndarray]) -> str:
    digest = hashlib.sha256()
    for array in arrays:
        digest.update(np.ascontiguousarray(array, dtype="<i4").tobytes())
    return digest.hexdigest()


def spec_decode_plane(decode, height: int, width: int, parent: np.ndarray | None) -> np.ndarray:
    """SPEC 7.2: rows top to bottom; in a row, the entries of context 0, 1, ... 5, each in order of x."""
    plane = np.zeros((height, width), dtype=np.int32)
    if parent is None:
        parent_nonzero = np.zeros((height, width), dtype=bool)
    else:
        rows = np.minimum(np.arange(height) // 2, parent.shape[0] - 1)
        cols = np.minimum(np.arange(width) // 2, parent.shape[1] - 1)
        parent_nonzero = parent[rows][:, cols] != 0
    for y in range(height):
        activity = np.zeros(width, dtype=np.int64)
        if y > 0:
            above = np.abs(plane[y - 1].astype(np.int64))
            padded = np.concatenate([[0], above, [0]])
            activity = padded[:-2] + padded[1:-1] + padded[2:]
        contexts = np.minimum(activity, 2) + 3 * parent_nonzero[y]
        for c in range(N_CONTEXTS):
            where = np.flatnonzero(contexts == c)
            if where.size:
                plane[y, where] = decode(where.size, c)
    return plane


def spec_decode_frames(file: VideoFile) -> list[list[np.ndarray]]:
    """Per frame, its coded planes (grid or residual) in canonical order, decoded as SPEC 12.1 says."""
    fc = file.field_config
    n_levels, n_features = fc["n_levels"], fc["n_features"]
    frames = []
    for number, gop in enumerate(file.gops):
        previous = None  # R_{t-1} per level and feature
        for position, stream in enumerate(file.frame_streams(number)):
            tables = gop["frames"][position]["tables"]
            decoder = entropy.SymbolDecoder(stream)
            planes, parent = [], None
            for level_index, level in enumerate(file.levels):
                shape = (level["extent_y"], level["extent_x"])
                level_planes = []
                for feature in range(n_features):
                    start = (level_index * n_features + feature) * N_CONTEXTS
                    chosen = tables[start : start + N_CONTEXTS]
                    above = None if parent is None else parent[feature]
                    decode = lambda n, c: decoder.decode(n, chosen[c])  # noqa: E731
                    if position == 0:
                        plane = spec_decode_plane(decode, *shape, above)
                    else:
                        before = None if previous is None else previous[level_index][feature]
                        plane = spec_decode_inter_plane(decode, shape, above, before)
                    level_planes.append(plane)
                parent = level_planes
                planes.append(level_planes)
            decoder.finish()
            previous = planes if position > 0 else None
            frames.append([p.ravel() for level_planes in planes for p in level_planes])
    assert len(frames) == file.video["frame_count"] and n_levels == len(file.levels)
    return frames


def spec_decode_inter_plane(decode, shape, parent, previous) -> np.ndarray:
    height, width = shape
    contexts = np.zeros(shape, dtype=np.int64)
    if previous is not None:
        contexts += np.minimum(np.abs(previous.astype(np.int64)), 2)
    if parent is not None:
        rows = np.minimum(np.arange(height) // 2, parent.shape[0] - 1)
        cols = np.minimum(np.arange(width) // 2, parent.shape[1] - 1)
        contexts += 3 * (parent[rows][:, cols] != 0)
    plane = np.zeros(shape, dtype=np.int32)
    for c in range(N_CONTEXTS):
        where = contexts == c
        if where.any():
            plane[where] = decode(int(where.sum()), c)
    return plane


@pytest.fixture(scope="module")
def vector() -> tuple[dict, bytes]:
    entry = json.loads(EXPECTED.read_text())["vectors"][0]
    return entry, (VIDEO_DIR / entry["file"]).read_bytes()


def test_file_and_symbols_follow_the_spec(vector):
    entry, data = vector
    assert sha256(data) == entry["sha256"] and len(data) == entry["bytes"]
    file = VideoFile.from_bytes(data)
    assert file.version == (1, 2) and file.to_bytes() == data
    frames = spec_decode_frames(file)
    assert symbols_sha256([a for frame in frames for a in frame]) == entry["symbols_sha256"]


def test_decoder_symbols_equal_the_spec_reimplementation(vector):
    from inrcodec.video.decoder_v1 import _Decoder

    _, data = vector
    decoder = _Decoder.open(data)
    file = decoder.file
    spec_frames = spec_decode_frames(file)
    index = 0
    for number in range(len(file.gops)):
        grids = list(decoder.group_symbols(number))
        for position, grid in enumerate(grids):
            if position == 0:
                planes = [g[..., f].ravel() for g in grid for f in range(g.shape[-1])]
            else:
                residual = [a - b for a, b in zip(grid, grids[position - 1])]
                planes = [r[..., f].ravel() for r in residual for f in range(r.shape[-1])]
            for ours, theirs in zip(planes, spec_frames[index]):
                np.testing.assert_array_equal(ours.astype(np.int64), theirs.astype(np.int64))
            index += 1


def test_decoded_frames_match_the_reference_output(vector):
    from inrcodec.video.decoder_v1 import decode_frame, decode_video

    entry, data = vector
    reference = np.asarray(Image.open(VIDEO_DIR / f"{NAME}.png").convert("RGB")).astype(np.int16)
    decoded = np.concatenate(list(decode_video(data)), axis=0).astype(np.int16)
    difference = np.abs(decoded - reference)
    assert difference.max() <= 1 and (difference > 0).mean() <= MAX_DIFFERING_FRACTION
    height = entry["made_by"]["height"]
    last = entry["made_by"]["frames"] - 1
    np.testing.assert_array_equal(decode_frame(data, last), decoded[last * height :].astype(np.uint8))
