"""Fuzz the v2 decoders: mutants of real files (tiled and cropped images, format 2.3 - 2.5 videos) and hand-made
hostile headers, tile indexes, halos and frame indexes, in bounded time and memory.

    python eval/fuzz_decoder.py --mutants 10000 --out eval/results/fuzz_v2.json

Seeds are the conformance vectors of bitstream/vectors/v2 and video-v2 (decoded with their own model); a video
is decoded whole (every frame). Each mutant is
decoded in this process under a 10 s alarm and an address-space limit; the outcome is counted as decoded,
refused (an InrCodecError: the one-line errors users see), uncaught (any other exception: a bug) or a hang
(the alarm fired: a bug). Half the mutants get their CRC32 recomputed, so the checks behind the CRC
(header ranges, the stream bound, entropy decoding, the terminator) are exercised too.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import resource
import signal
import struct
import sys
import time
import traceback
import zlib
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
VECTORS = ROOT / "bitstream" / "vectors" / "v2"
VIDEO_VECTORS = ROOT / "bitstream" / "vectors" / "video-v2"
HANG_SECONDS = 10
MEMORY_LIMIT = 4 << 30


class Hang(Exception):
    pass


def _alarm(signum, frame):
    raise Hang()


def with_crc(data: bytes) -> bytes:
    """Recompute the trailing CRC32 of a (possibly edited) file."""
    if len(data) < 12:
        return data
    body = data[:-4]
    return body + struct.pack("<I", zlib.crc32(body))


def head_offset(data: bytes) -> int | None:
    """Offset of HEAD's payload (after the 8-byte preamble and the 8-byte section header), if it is there."""
    return 16 if data[8:12] == b"HEAD" else None


def mutate(data: bytes, rng: np.random.Generator) -> tuple[str, bytes]:
    """One random mutant of a file -> (kind, bytes)."""
    kind = rng.choice(["bitflip", "bytes", "truncate", "insert", "delete", "header", "garbage", "splice"])
    buf = bytearray(data)
    if kind == "bitflip":
        for _ in range(int(rng.integers(1, 9))):
            i = int(rng.integers(len(buf)))
            buf[i] ^= 1 << int(rng.integers(8))
    elif kind == "bytes":
        for _ in range(int(rng.integers(1, 5))):
            buf[int(rng.integers(len(buf)))] = int(rng.integers(256))
    elif kind == "truncate":
        buf = buf[: int(rng.integers(len(buf)))]
    elif kind == "insert":
        i = int(rng.integers(len(buf) + 1))
        buf[i:i] = rng.integers(0, 256, int(rng.integers(1, 64)), dtype=np.uint8).tobytes()
    elif kind == "delete":
        i = int(rng.integers(len(buf)))
        del buf[i : i + int(rng.integers(1, 64))]
    elif kind == "header":
        start = head_offset(data)
        if start is not None:
            field = rng.choice(["width", "height", "channels", "depth", "rate", "levels", "idlen", "section"])
            where = {"width": (start, "<I"), "height": (start + 4, "<I"), "channels": (start + 8, "B"),
                     "depth": (start + 9, "B"), "rate": (start + 10, "B"), "levels": (start + 11, "B"),
                     "idlen": (start + 12, "B"), "section": (12, "<I")}[field]  # fmt: skip
            offset, fmt = where
            size = struct.calcsize(fmt)
            limit = 1 << (8 * size)
            value = int(rng.choice([0, 1, 2, 3, 7, 8, 255, 256, 4096, 16384, 16385, limit - 1, int(rng.integers(limit))]))
            buf[offset : offset + size] = struct.pack(fmt, value % limit)
    elif kind == "garbage":
        buf = bytearray(rng.integers(0, 256, int(rng.integers(0, 2048)), dtype=np.uint8).tobytes())
        if rng.random() < 0.5:
            buf[:8] = data[:8]
    elif kind == "splice":
        i = int(rng.integers(len(buf)))
        buf[i:] = rng.integers(0, 256, len(buf) - i, dtype=np.uint8).tobytes()
    out = bytes(buf)
    return str(kind), with_crc(out) if rng.random() < 0.5 else out


def hostile_headers(seed_file: bytes) -> list[tuple[str, bytes]]:
    """Hand-made hostile files: valid CRC, values that pass the range checks, claims the bytes cannot back."""
    from inrcodec.bitstream.container import write_container
    from inrcodec.bitstream.image_v2 import HEADER, TAG_DATA, TAG_HEAD, TAG_MODU, parse_image
    from inrcodec.decoder import model_for

    file = parse_image(seed_file)
    model = file.model_id.encode()

    def build(payload: bytes = file.payload, model_id: bytes = model, sha: bytes = file.model_sha256,
              modu: bytes | None = None, minor: int = 1, **fields):  # fmt: skip
        values = {**file.header(), **fields, "model_id_length": len(model_id)}
        head = HEADER.pack(values) + model_id + sha
        sections = [(TAG_HEAD, head)] + ([] if modu is None else [(TAG_MODU, modu)]) + [(TAG_DATA, payload)]
        return write_container(sections, major=2, minor=minor)

    def modu(values: np.ndarray, count: int | None = None) -> bytes:
        return struct.pack("<H", len(values) if count is None else count) + values.astype("<f2").tobytes()

    zeros_payload = b"\0\0\0\0" * 2
    fitting = np.full(model_for(file).synthesis.modulation_size, 0.01)  # a count the model takes
    return [
        ("huge image, 8-byte stream", build(zeros_payload, width=16384, height=16384)),
        ("limit-sized image, seed stream", build(width=8192, height=4096)),
        ("4096x4096, seed stream", build(width=4096, height=4096)),
        ("wide 16384x1", build(width=16384, height=1)),
        ("terminal escapes in model id", build(model_id=b"\x1b]0;owned\x07\x1b[2J")),
        ("model id of 64 letters", build(model_id=b"a" * 64)),
        ("wrong model hash", build(sha=bytes(32))),
        ("n_levels 12", build(n_levels=12)),
        ("n_levels 1", build(n_levels=1)),
        ("channels 2", with_crc(seed_file[:24] + bytes([2]) + seed_file[25:])),
        ("empty stream", build(b"")),
        ("stream of 3 bytes", build(b"abc")),
        ("stream of ones", build(b"\xff" * 4096)),
        ("MODU in a 2.0 file", build(modu=modu(fitting), minor=0)),
        ("MODU of 1024 numbers", build(modu=modu(np.zeros(1024)))),
        ("MODU count 0", build(modu=modu(np.zeros(0)))),
        ("MODU of 1 byte", build(modu=b"\x01")),
        ("MODU count past its bytes", build(modu=modu(fitting, count=len(fitting) + 1))),
        ("MODU holding NaN", build(modu=modu(np.full(len(fitting), np.nan)))),
        ("MODU holding infinity", build(modu=modu(np.full(len(fitting), np.inf)))),
    ]


def tiled_seeds(seed_file: bytes) -> list[bytes]:
    """A tiled file (tiles of 64 pixels) and a crop of it, from a vector's latents: seeds for the TILE and HALO
    sections."""
    from inrcodec import decoder
    from inrcodec.bitstream.image_v2 import parse_image
    from inrcodec.recode import code_latents, crop

    file = parse_image(seed_file)
    shared = decoder.model_for(file)
    tiled, _ = code_latents(file, decoder.decode_file_latents(file, shared), shared.contexts, 6, 3)
    data = tiled.to_bytes()
    return [data, crop(data, (file.width // 4, file.height // 4, file.width // 2, file.height // 2))]


def hostile_tiles(tiled: bytes, cropped: bytes) -> list[tuple[str, bytes]]:
    """Hand-made hostile TILE and HALO sections (valid CRC): tile indexes past DATA's end, streams that overlap
    or leave a gap, counts the canvas cannot hold, a box outside the canvas, a decompression bomb."""
    from inrcodec.bitstream.container import read_container, write_container

    def sections(data):
        _, found = read_container(data, {b"HEAD", b"MODU", b"TILE", b"HALO", b"DATA"})
        return found

    def build(base: bytes, **changes) -> bytes:
        found = sections(base)
        order = [tag for tag in (b"HEAD", b"MODU", b"TILE", b"HALO", b"DATA") if tag in found]
        return write_container([(tag, changes.get(tag.decode(), found[tag])) for tag in order], major=2, minor=2)

    tile, data = sections(tiled)[b"TILE"], sections(tiled)[b"DATA"]
    head, lengths = tile[:26], list(struct.unpack(f"<{(len(tile) - 26) // 4}I", tile[26:]))
    halo = sections(cropped)[b"HALO"]

    def with_lengths(values, count=None):
        count = len(values) if count is None else count
        return head[:22] + struct.pack("<I", count) + struct.pack(f"<{len(values)}I", *values)

    return [
        ("tile stream past DATA's end", build(tiled, TILE=with_lengths([lengths[0] + 4096] + lengths[1:]))),
        ("tile streams overlapping (one short, next long)", build(tiled, TILE=with_lengths(
            [max(4, lengths[0] - 4), *lengths[1:-1], lengths[-1] + 4] if len(lengths) > 1 else [lengths[0]]))),
        ("tile count 2^32-1", build(tiled, TILE=with_lengths(lengths, count=(1 << 32) - 1))),
        ("coarse stream past DATA's end", build(tiled, TILE=head[:18] + struct.pack("<I", len(data) + 4) + tile[22:])),
        ("box outside the canvas", build(tiled, TILE=tile[:2] + struct.pack("<IIII", 1 << 31, 0, 1 << 31, 1) + tile[18:])),
        ("tile_log2 14", build(tiled, TILE=bytes([14]) + tile[1:])),
        ("tiled_levels 0", build(tiled, TILE=tile[:1] + bytes([0]) + tile[2:])),
        ("every tile absent", build(tiled, TILE=with_lengths([0] * len(lengths)))),
        ("HALO bomb", build(cropped, HALO=halo[:5] + zlib.compress(bytes(1 << 26), 9))),
        ("HALO count 2^32-1", build(cropped, HALO=halo[:1] + struct.pack("<I", (1 << 32) - 1) + halo[5:])),
        ("HALO margin 0", build(cropped, HALO=bytes([0]) + halo[1:])),
        ("HALO without TILE", write_container([(b"HEAD", sections(cropped)[b"HEAD"]), (b"HALO", halo),
                                               (b"DATA", sections(cropped)[b"DATA"])], major=2, minor=2)),
        ("TILE in a 2.1 file", write_container([(b"HEAD", sections(tiled)[b"HEAD"]), (b"TILE", tile),
                                                (b"DATA", data)], major=2, minor=1)),
    ]


def video_seeds() -> list[bytes]:
    return [path.read_bytes() for path in sorted(VIDEO_VECTORS.glob("*.inr"))]


def frame_index_seed() -> bytes:
    """The video that hostile_frames edits: I0 P4 B2 B1 B3 with residual scale offsets (TOFS) and a temporal mix
    (TMIX)."""
    return (VIDEO_VECTORS / "synthetic_mix_56x40.inr").read_bytes()


def hostile_frames(video: bytes) -> list[tuple[str, bytes]]:
    """A video's FRMS, CLIP and TMIX sections edited into what no writer writes (the CRC recomputed)."""
    from inrcodec.bitstream.container import read_container, write_container
    from inrcodec.bitstream.video_v2 import FRAME, KNOWN_TAGS

    sections = read_container(video, KNOWN_TAGS)[1]
    records = [FRAME.unpack(sections[b"FRMS"], offset)[0] for offset in range(0, len(sections[b"FRMS"]), FRAME.size)]

    def build(edit=None, clip: bytes | None = None, frames: bytes | None = None, mix: bytes | None = None,
              minor: int | None = None) -> bytes:  # fmt: skip
        edited = [dict(r) for r in records]
        if edit:
            edit(edited)
        changed = {**sections, b"FRMS": b"".join(struct.pack("<IBIIBBIII", *r.values()) for r in edited)}
        changed[b"CLIP"] = sections[b"CLIP"] if clip is None else clip
        changed[b"FRMS"] = changed[b"FRMS"] if frames is None else frames
        if mix is not None:
            changed[b"TMIX"] = mix
        tags = [tag for tag in (b"HEAD", b"CLIP", b"FRMS", b"TOFS", b"TMIX", b"DATA") if tag in changed]
        return write_container([(tag, changed[tag]) for tag in tags], major=2, minor=video[5] if minor is None else minor)

    def field(position, name, value):
        return lambda rs: rs[position].__setitem__(name, value)

    def wrapped(rs):  # two lengths whose sum is DATA's length modulo 2^32
        rs[0]["latents_length"] += 1 << 31
        rs[1]["motion_length"] += 1 << 31

    count = struct.unpack_from("<I", sections[b"CLIP"])[0]
    mix = sections.get(b"TMIX", b"")
    return [
        ("frame_refers_to_itself", build(field(1, "past", records[1]["index"]))),
        ("frame_refers_past_the_clip", build(field(1, "past", 1 << 19))),
        ("b_frame_refers_to_a_later_frame", build(field(2, "future", records[-1]["index"]))),
        ("huge_frame_count", build(clip=struct.pack("<IIIH", 1 << 20, 25, 1, 4))),
        ("frame_count_over_records", build(clip=struct.pack("<IIIH", count + 1, 25, 1, 4))),
        ("lengths_past_data", build(field(0, "latents_length", 0xFFFFFFFC))),
        ("lengths_wrap_around", build(wrapped)),
        ("intra_levels_past_the_model", build(field(1, "intra_levels", 11))),
        ("kind_unknown", build(field(1, "kind", 3))),
        ("truncated_frames", build(frames=sections[b"FRMS"][:-5])),
        ("video_in_a_2_2_file", write_container(list(sections.items()), major=2, minor=2)),
        ("mix_in_a_2_4_file", build(minor=4)),
        ("mix_weight_255", build(mix=mix[:2] + b"\xff" + mix[3:])),
        ("mix_for_every_frame", build(mix=b"".join(b"\x01" + bytes(48) for _ in records))),
        ("mix_truncated", build(mix=mix[:40])),
    ]  # fmt: skip


def decode_outcome(data: bytes) -> tuple[str, str]:
    """-> (outcome, detail) of decoding one file."""
    from inrcodec.decoder import decode_image
    from inrcodec.errors import InrCodecError
    from inrcodec.video_decoder import VideoDecoder, is_video_v2

    signal.alarm(HANG_SECONDS)
    try:
        if is_video_v2(data):
            for _ in VideoDecoder(data).frames():
                pass
        else:
            decode_image(data)
        return "decoded", ""
    except InrCodecError as exc:
        return "refused", str(exc)
    except Hang:
        return "hang", ""
    except Exception as exc:  # noqa: BLE001: an uncaught exception is what this script looks for
        return "uncaught", f"{type(exc).__name__}: {exc} | {traceback.format_exc(limit=3)[-400:]}"
    finally:
        signal.alarm(0)


def run(mutants: int, seed: int, seeds: list[bytes]) -> dict:
    rng = np.random.default_rng(seed)
    counts, by_kind, examples, slowest = Counter(), {}, [], (0.0, "")
    started = time.perf_counter()
    cases = [(name, data) for seed_file in seeds[:1] for name, data in hostile_headers(seed_file)]
    tiled = tiled_seeds(seeds[0])
    cases += hostile_tiles(*tiled)
    videos = video_seeds()
    cases += hostile_frames(frame_index_seed())
    seeds = seeds + tiled + videos
    cases += [mutate(seeds[int(rng.integers(len(seeds)))], rng) for _ in range(mutants)]
    for kind, data in cases:
        t0 = time.perf_counter()
        outcome, detail = decode_outcome(data)
        elapsed = time.perf_counter() - t0
        if elapsed > slowest[0]:
            slowest = (elapsed, kind)
        counts[outcome] += 1
        by_kind.setdefault(kind, Counter())[outcome] += 1
        if outcome in ("uncaught", "hang") and len(examples) < 20:
            examples.append({"kind": kind, "outcome": outcome, "detail": detail,
                             "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)})  # fmt: skip
    return {
        "cases": len(cases), "hand_made": len(cases) - mutants, "mutants": mutants, "seed": seed,
        "outcomes": dict(counts), "by_kind": {k: dict(v) for k, v in sorted(by_kind.items())},
        "uncaught": counts["uncaught"], "hangs": counts["hang"],
        "slowest_seconds": round(slowest[0], 3), "slowest_kind": slowest[1],
        "seconds": round(time.perf_counter() - started, 1),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "examples": examples,
    }  # fmt: skip


def seed_files() -> list[bytes]:
    return [path.read_bytes() for path in sorted(VECTORS.glob("*.inr")) if path.stat().st_size < 4096
            and path.read_bytes()[5] < 2]  # untiled; tiled_seeds adds tiled ones


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mutants", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    os.environ["INRCODEC_MODELS_DIR"] = str(VECTORS / "models")
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    signal.signal(signal.SIGALRM, _alarm)
    report = run(args.mutants, args.seed, seed_files())
    import inrcodec

    report["meta"] = {"command": " ".join(["python", *sys.argv]), "inrcodec": inrcodec.__version__,
                      "machine": platform.processor() or platform.machine(), "python": platform.python_version(),
                      "address_space_limit_gib": MEMORY_LIMIT >> 30, "hang_seconds": HANG_SECONDS,
                      "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}  # fmt: skip
    text = json.dumps(report, indent=2)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    print(text)
    sys.exit(1 if report["uncaught"] or report["hangs"] else 0)


if __name__ == "__main__":
    main()
