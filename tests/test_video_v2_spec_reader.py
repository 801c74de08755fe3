"""An independent reading of bitstream/SPEC.md section 10 (format 2.3 - 2.5 video): decode the video vectors of
bitstream/vectors/video-v2/ from the text alone and check them against expected.json and the reference PNGs.

The container, HEAD, the latents' streams, the rANS decoder and the rendering come from the independent image
reader (tests/test_v2_spec_reader.py, which uses nothing of inrcodec); CLIP, FRMS, the motion stream, the
integer warp, the block modes, the intra levels, the scale offsets and the temporal mix are written out here
from section 10.
Nothing here comes from inrcodec's decoder, entropy or motion code.
"""

import hashlib
import json
import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from test_v2_spec_reader import (  # noqa: F401 (cdfs and model are fixtures: the video vectors share the model)
    AnsDecoder, CdfCache, Invalid, cdfs, decode_stream, grid_sizes, model, no_modulation, parse_container,
    parse_head, render,
)  # fmt: skip

VECTORS = Path(__file__).resolve().parent.parent / "bitstream" / "vectors" / "video-v2"
EXPECTED = json.loads((VECTORS / "expected.json").read_text())
PAST, BOTH, FUTURE, INTRA = -1, 0, 1, 2


def parse_frames(sections: dict, n_levels: int) -> tuple[dict, list[dict]]:
    """Section 10.1."""
    if len(sections[b"CLIP"]) != 14:
        raise Invalid("CLIP length")
    count, fps_num, fps_den, group = struct.unpack("<IIIH", sections[b"CLIP"])
    if not (1 <= count <= 1 << 20 and 0 <= fps_num <= 1 << 20 and 1 <= fps_den <= 1 << 20 and 1 <= group <= 1024):
        raise Invalid("CLIP field out of range")
    if len(sections[b"FRMS"]) != 27 * count:
        raise Invalid("FRMS length")
    frames, seen = [], set()
    for n in range(count):
        index, kind, past, future, t_r, k, motion, latents, intra = struct.unpack_from(
            "<IBIIBBIII", sections[b"FRMS"], 27 * n)
        references = [past, future][:kind] if kind in (0, 1, 2) else None
        ok = references is not None and index < count and index not in seen and [past, future][kind:] == [0, 0][kind:]
        ok = ok and all(r in seen for r in references) and motion % 4 == latents % 4 == intra % 4 == 0 and latents > 0
        if kind == 0:
            ok = ok and motion == intra == k == t_r == 0
        else:
            ok = ok and motion > 0 and k <= n_levels - 1 and (intra > 0) == (k > 0)
        if kind == 2:
            ok = ok and past < index < future
        if not ok:
            raise Invalid(f"FRAME record {n}")
        seen.add(index)
        frames.append({"index": index, "kind": kind, "references": references, "t_r": t_r, "K": k,
                       "lengths": (motion, latents, intra)})  # fmt: skip
    if sum(sum(f["lengths"]) for f in frames) != len(sections[b"DATA"]):
        raise Invalid("the streams do not add up to DATA")
    return {"count": count, "fps": (fps_num, fps_den), "group": group}, frames


def bitlength(n: int) -> int:
    return 0 if n == 0 else int(np.floor(np.log2(n))) + 1


def T(n: int) -> int:
    return 8 * min(63, 8 + 6 * bitlength(n)) + 4


def decode_motion(data: bytes, rows: int, cols: int, bidirectional: bool, cdfs: CdfCache):
    """Section 10.3 -> (modes [rows][cols], skip flags [rows][cols], fields: one or two [rows][cols] lists of
    (dy, dx))."""
    if len(data) == 0 or len(data) % 4 or rows * cols > 3405 * (8 * len(data) + 64):
        raise Invalid("motion stream length")
    ans = AnsDecoder(data)

    def symbol(table):
        return ans.decode(cdfs[table]) - 255

    flags = [[0] * cols for _ in range(rows)]
    for y in range(rows):
        for x in range(cols):
            flags[y][x] = symbol(T((flags[y][x - 1] if x else 0) + (flags[y - 1][x] if y else 0)))
            if flags[y][x] not in (0, 1):
                raise Invalid("intra flag")
    skips = [[0] * cols for _ in range(rows)]
    for y in range(rows):
        for x in range(cols):
            if flags[y][x]:
                continue  # an intra block has no skip flag and counts as 0
            skips[y][x] = symbol(T((skips[y][x - 1] if x else 0) + (skips[y - 1][x] if y else 0)))
            if skips[y][x] not in (0, 1):
                raise Invalid("skip flag")
    modes = [[INTRA if flags[y][x] else PAST for x in range(cols)] for y in range(rows)]
    if bidirectional:
        counted = [[0] * cols for _ in range(rows)]  # an intra block counts as 0
        for y in range(rows):
            for x in range(cols):
                if flags[y][x]:
                    continue
                a, b = (counted[y][x - 1] if x else 0), (counted[y - 1][x] if y else 0)
                modes[y][x] = counted[y][x] = symbol(T(abs(a) + abs(b)))
                if modes[y][x] not in (PAST, BOTH, FUTURE):
                    raise Invalid("block mode")
    fields = []
    for readers in [(PAST, BOTH), (FUTURE, BOTH)][: 2 if bidirectional else 1]:
        field = [[(0, 0)] * cols for _ in range(rows)]
        errors = [[(0, 0)] * cols for _ in range(rows)]
        for y in range(rows):
            for x in range(cols):
                if y == 0:
                    p = (0, 0) if x == 0 else field[0][x - 1]
                elif x == 0:
                    p = field[y - 1][0]
                else:
                    right = x + 1 if x + 1 < cols else x - 1
                    trio = (field[y][x - 1], field[y - 1][x], field[y - 1][right])
                    p = tuple(sorted(v[c] for v in trio)[1] for c in range(2))
                if modes[y][x] not in readers:
                    field[y][x] = p
                    continue
                e = []
                for c in range(2):
                    left, top = (errors[y][x - 1][c] if x else 0), (errors[y - 1][x][c] if y else 0)
                    e.append(symbol(T(abs(left) + abs(top))))
                errors[y][x] = tuple(e)
                field[y][x] = (p[0] + e[0], p[1] + e[1])
        fields.append(field)
    if ans.decode_uniform16() != 0x494E or ans.decode_uniform16() != 0x5232 or ans.state != 0 or ans.stack:
        raise Invalid("motion stream terminator")
    return modes, skips, fields


def warp(grid: np.ndarray, field, level: int, rows: int, cols: int) -> np.ndarray:
    """Section 10.4, vertex by vertex."""
    h, w = grid.shape
    d = 2 ** (level + 1)
    out = np.zeros_like(grid)
    for i in range(h):
        for j in range(w):
            by, bx = block_of(level, i, j, rows, cols)
            dy, dx = field[by][bx]
            y0, fy = divmod(i * d + dy, d)
            x0, fx = divmod(j * d + dx, d)

            def q(r, c):
                return int(grid[min(max(r, 0), h - 1), min(max(c, 0), w - 1)])

            top = (d - fx) * q(y0, x0) + fx * q(y0, x0 + 1)
            bottom = (d - fx) * q(y0 + 1, x0) + fx * q(y0 + 1, x0 + 1)
            out[i, j] = ((d - fy) * top + fy * bottom + d * d // 2) >> (2 * level + 2)
    return out


def block_of(level: int, i: int, j: int, rows: int, cols: int) -> tuple[int, int]:
    by = min(max((((2 * i + 1) * 2**level - 1) >> 5), 0), rows - 1)
    bx = min(max((((2 * j + 1) * 2**level - 1) >> 5), 0), cols - 1)
    return by, bx


def parse_per_frame(payload: bytes, frames: list[dict], tag: str, size: int, allowed, read) -> list:
    """Sections 10.5 and 10.6: per frame a flag, and after a 1 (for a frame that `allowed` accepts) `size`
    bytes that `read` turns into its values (None without)."""
    pos, out = 0, []
    for frame in frames:
        if pos >= len(payload):
            raise Invalid(f"{tag} too short")
        flag, pos = payload[pos], pos + 1
        if flag == 1 and allowed(frame) and pos + size <= len(payload):
            out.append(read(payload[pos : pos + size]))
            pos += size
        elif flag == 0:
            out.append(None)
        else:
            raise Invalid(f"{tag} flag")
    if pos != len(payload):
        raise Invalid(f"{tag} length")
    return out


def read_offsets(raw: bytes):
    offsets = struct.unpack("<20b", raw)
    if any(abs(o) > 16 for o in offsets):
        raise Invalid("offset out of range")
    return offsets


def read_mix(raw: bytes):
    weights, offsets = struct.unpack("<24B", raw[:24]), struct.unpack("<24b", raw[24:])
    if max(weights) > 8 or any(abs(o) > 16 for o in offsets):
        raise Invalid("mix out of range")
    return weights, offsets


def decode_video(data: bytes, model: dict, cdfs: CdfCache):
    container = parse_container(data)
    sections = container["sections"]
    assert (container["major"], container["minor"]) in ((2, 3), (2, 4), (2, 5))
    head = parse_head(sections[b"HEAD"])
    if head["channels"] != 3:
        raise Invalid("a video is RGB")
    clip, frames = parse_frames(sections, head["n_levels"])
    for frame in frames:
        frame["offsets"], frame["mix"] = None, None
    if b"TOFS" in sections:
        if container["minor"] < 4:
            raise Invalid("TOFS before 2.4")
        for frame, offsets in zip(frames, parse_per_frame(sections[b"TOFS"], frames, "TOFS", 20,
                                                          lambda f: f["kind"] != 0, read_offsets)):  # fmt: skip
            frame["offsets"] = offsets
    if b"TMIX" in sections:
        if container["minor"] < 5:
            raise Invalid("TMIX before 2.5")
        for frame, mix in zip(frames, parse_per_frame(sections[b"TMIX"], frames, "TMIX", 48, lambda f: f["K"] > 0,
                                                      read_mix)):  # fmt: skip
            frame["mix"] = mix
    sizes = grid_sizes(head["height"], head["width"], head["n_levels"])
    rows, cols = -(-head["height"] // 16), -(-head["width"] // 16)
    t, levels = head["rate_code"], head["n_levels"]
    decoded, offset = {}, 0
    for frame in frames:
        motion, latents, intra = (sections[b"DATA"][offset + a : offset + a + n] for a, n in zip(
            (0, frame["lengths"][0], frame["lengths"][0] + frame["lengths"][1]), frame["lengths"]))  # fmt: skip
        offset += sum(frame["lengths"])
        if frame["kind"] == 0:
            decoded[frame["index"]] = decode_stream(latents, dict(enumerate(sizes)), model, cdfs, t)
            continue
        modes, skips, fields = decode_motion(motion, rows, cols, frame["kind"] == 2, cdfs)
        references = [decoded[r] for r in frame["references"]]
        k = frame["K"]
        prediction, moved, apart_below_k = [], {}, {}
        for level in range(levels):
            warped = [warp(ref[level], f, level, rows, cols) for ref, f in zip(references, fields)]
            if level < k:
                apart_below_k[level] = np.abs(warped[0] - warped[-1])
            p = np.zeros(sizes[level], np.int64)
            if frame["offsets"] is not None and level >= frame["K"]:
                apart = np.abs(warped[0] - warped[-1])  # 0 in a P-frame
                moved[level] = np.zeros(sizes[level], np.int64)
                for i in range(sizes[level][0]):
                    for j in range(sizes[level][1]):
                        by, bx = block_of(level, i, j, rows, cols)
                        b = min(bitlength(int(apart[i, j])), 4) + 5 * (modes[by][bx] != BOTH) + 10 * (level > 0)
                        moved[level][i, j] = frame["offsets"][b]
            for i in range(sizes[level][0]):
                for j in range(sizes[level][1]):
                    by, bx = block_of(level, i, j, rows, cols)
                    mode = modes[by][bx]
                    if mode == PAST:
                        p[i, j] = warped[0][i, j]
                    elif mode == FUTURE:
                        p[i, j] = warped[1][i, j]
                    elif mode == BOTH:
                        p[i, j] = (warped[0][i, j] + warped[1][i, j] + 1) >> 1
            prediction.append(p)
        skipped = {}
        for level in range(k, levels):
            grid = np.zeros(sizes[level], bool)
            for i in range(sizes[level][0]):
                for j in range(sizes[level][1]):
                    by, bx = block_of(level, i, j, rows, cols)
                    grid[i, j] = skips[by][bx] == 1
            skipped[level] = grid
        residuals = decode_stream(latents, {level: sizes[level] for level in range(k, levels)}, model, cdfs,
                                  frame["t_r"], skipped=skipped, moved=moved or None)  # fmt: skip
        q = [None] * k + [prediction[level] + r for level, r in zip(range(k, levels), residuals)]
        if k:
            mixed = None if frame["mix"] is None else {
                level: (prediction[level], apart_below_k[level], *frame["mix"]) for level in range(k)}
            fine = decode_stream(intra, {level: sizes[level] for level in range(k)}, model, cdfs, t,
                                 outer=np.pad(q[k], 1), mixed=mixed)  # fmt: skip
            q[:k] = fine
        decoded[frame["index"]] = q
    return head, clip, frames, [decoded[index] for index in range(clip["count"])]


@pytest.mark.parametrize("name", sorted(EXPECTED["vectors"]))
def test_video_vector_decodes_from_the_spec_alone(name, model, cdfs):
    expected = EXPECTED["vectors"][name]
    data = (VECTORS / f"{name}.inr").read_bytes()
    assert hashlib.sha256(data).hexdigest() == expected["file_sha256"]
    head, clip, frames, latents = decode_video(data, model, cdfs)
    assert head["model_id"] == EXPECTED["model"]["id"]
    assert head["model_sha256"] == model["sha256"] == EXPECTED["model"]["sha256"]
    assert [f"{'IPB'[f['kind']]}{f['index']}" for f in frames] == expected["coding_order"]
    digest = hashlib.sha256(b"".join(np.ascontiguousarray(q, dtype="<i4").tobytes() for frame in latents
                                     for q in frame)).hexdigest()  # fmt: skip
    assert digest == expected["latents_sha256"]
    pixels = np.concatenate([render({**head}, frame, model, no_modulation(model)) for frame in latents], axis=0)
    reference = np.asarray(Image.open(VECTORS / f"{name}.png"))
    assert reference.shape == pixels.shape
    difference = np.abs(pixels.astype(np.int64) - reference.astype(np.int64))
    assert difference.max() <= 1 and np.count_nonzero(difference) <= 0.001 * difference.size


def test_damaged_video_files_are_refused_by_the_spec_reading(model, cdfs):
    data = (VECTORS / "synthetic_56x40.inr").read_bytes()
    with pytest.raises(Invalid):
        decode_video(data[:-40], model, cdfs)
    container = parse_container(data)["sections"]
    frames = bytearray(container[b"FRMS"])
    frames[27 + 4] = 3  # the second frame's kind
    with pytest.raises(Invalid, match="FRAME record 1"):
        parse_frames({**container, b"FRMS": bytes(frames)}, 7)
