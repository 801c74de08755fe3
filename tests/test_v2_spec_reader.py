"""An independent reading of bitstream/SPEC.md (format 2.0): decode the conformance vectors of
bitstream/vectors/v2/ from the text alone and check them against expected.json and the reference PNGs.

Nothing here comes from inrcodec's decoder, entropy coder, field or model code, and constriction is not used:
the container, HEAD, the fixed-point context networks, the contexts, the tables' CDFs, the rANS decoder, the
chunk order and the rendering are written out from the SPEC (and SPEC-v1.md sections 2, 8.2 and 8.3 where the
SPEC refers to them). Only numpy, zlib, hashlib, safetensors (to read the model's weights) and Pillow (to read
the reference PNGs) are used. If this test fails while tests/test_v2_vectors.py passes, the SPEC and the
reference decoder disagree: one of them is wrong.
"""

import hashlib
import json
import struct
import zlib
from bisect import bisect_right
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from safetensors.numpy import load_file

REPO = Path(__file__).resolve().parent.parent
VECTORS = REPO / "bitstream" / "vectors" / "v2"
MODELS = VECTORS / "models"
EXPECTED = json.loads((VECTORS / "expected.json").read_text())
LAPLACE_V2 = REPO / "inrcodec" / "entropy" / "laplace_v2.npy"
LAPLACE_V2_SHA256 = "ba7251640592cfd27f9061b4b5fad17b70eae3e03e6799140a744e93bcfc6640"


class Invalid(Exception):
    """The file violates a 'must' of the SPEC."""


# ---------------------------------------------------------------------------------------------------------------
# Section 2 (and SPEC-v1.md section 2): the container.


def parse_container(data: bytes) -> dict:
    if len(data) < 8 or data[:4] != b"INRC":
        raise Invalid("not an .inr file")
    major, minor, flags = data[4], data[5], data[6]
    if major != 2:
        raise Invalid(f"unsupported version {major}.{minor}")
    end = len(data)
    if flags & 1:
        if len(data) < 20:
            raise Invalid("truncated")
        (crc,) = struct.unpack("<I", data[-4:])
        if zlib.crc32(data[:-4]) != crc:
            raise Invalid("CRC mismatch")
        end -= 4
    sections = {}
    pos = 8
    while True:
        if pos + 8 > end:
            raise Invalid("truncated")
        tag = data[pos:pos + 4]
        (length,) = struct.unpack("<I", data[pos + 4:pos + 8])
        pos += 8
        if tag == b"END ":
            break  # written as length 0; SPEC-v1.md section 2: readers do not check it
        if pos + length > end:
            raise Invalid("truncated")
        if tag in sections:
            raise Invalid(f"duplicate section {tag!r}")
        sections[tag] = data[pos:pos + length]
        pos += length
    if pos != end:
        raise Invalid("trailing bytes")
    video = b"CLIP" in sections  # section 10: a video's critical sections
    if video and minor < 3:
        raise Invalid("a video before 2.3")
    for tag in list(sections):
        if 0x61 <= tag[0] <= 0x7A:
            del sections[tag]  # ancillary
        elif tag not in ((b"HEAD", b"DATA", b"CLIP", b"FRMS", b"TOFS", b"TMIX") if video else
                         (b"HEAD", b"DATA", b"MODU", b"TILE", b"HALO")):  # fmt: skip
            raise Invalid(f"unknown critical section {tag!r}")
    if b"MODU" in sections and minor < 1:
        raise Invalid("MODU in a 2.0 file")
    if (b"TILE" in sections or b"HALO" in sections) and minor < 2:
        raise Invalid("TILE or HALO before 2.2")
    if b"HALO" in sections and b"TILE" not in sections:
        raise Invalid("HALO without TILE")
    for tag in (b"HEAD", b"DATA", b"CLIP", b"FRMS") if video else (b"HEAD", b"DATA"):
        if tag not in sections:
            raise Invalid(f"missing {tag!r}")
    return {"major": major, "minor": minor, "flags": flags, "sections": sections}


# ---------------------------------------------------------------------------------------------------------------
# Section 3: HEAD and the latent grids.


def parse_head(payload: bytes) -> dict:
    if len(payload) < 13:
        raise Invalid("HEAD too short")
    width, height, channels, bit_depth, rate_code, n_levels, n = struct.unpack("<IIBBBBB", payload[:13])
    if len(payload) != 13 + n + 32:
        raise Invalid("HEAD length")
    if not (1 <= width <= 16384 and 1 <= height <= 16384):
        raise Invalid("image size")
    if channels not in (1, 3) or bit_depth != 8 or not (1 <= n_levels <= 12) or not (1 <= n <= 64):
        raise Invalid("HEAD field out of range")
    model_id = payload[13:13 + n].decode("ascii")
    ok = model_id[0].isascii() and model_id[0].isalnum()
    ok = ok and all(ch.isascii() and (ch.isalnum() or ch in "._-") for ch in model_id)
    if not ok:
        raise Invalid("model id")
    return {
        "width": width,
        "height": height,
        "channels": channels,
        "rate_code": rate_code,
        "n_levels": n_levels,
        "model_id": model_id,
        "model_sha256": payload[13 + n:].hex(),
    }


def parse_modu(payload: bytes, model: dict) -> dict:
    """Section 3.1: count u16 = 3 C + 3 + h_1, then binary16 values: dW_out [3, C], db_out [3], db_0 [h_1]."""
    if len(payload) < 2:
        raise Invalid("MODU too short")
    (count,) = struct.unpack("<H", payload[:2])
    if not 1 <= count <= 1024 or len(payload) != 2 + 2 * count:
        raise Invalid("MODU length")
    channels, first = model["out"][0].shape[1], model["mlp"][0][1].size
    if count != 3 * channels + 3 + first:
        raise Invalid("MODU count does not fit the model")
    values = np.frombuffer(payload[2:], dtype="<f2").astype(np.float32)
    if not np.all(np.isfinite(values)):
        raise Invalid("MODU value not finite")
    return {"out_weight": values[: 3 * channels].reshape(3, channels), "out_bias": values[3 * channels: 3 * channels + 3],
            "first_bias": values[3 * channels + 3:]}


def no_modulation(model: dict) -> dict:
    channels, first = model["out"][0].shape[1], model["mlp"][0][1].size
    return {"out_weight": np.zeros((3, channels), np.float32), "out_bias": np.zeros(3, np.float32),
            "first_bias": np.zeros(first, np.float32)}


def grid_sizes(height: int, width: int, n_levels: int) -> list[tuple[int, int]]:
    # H_l = ceil(H / 2^l), W_l = ceil(W / 2^l)
    return [(-(-height // (1 << level)), -(-width // (1 << level))) for level in range(n_levels)]


# ---------------------------------------------------------------------------------------------------------------
# Section 5: the model.


def load_model(model_id: str) -> dict:
    manifest = json.loads((MODELS / "MANIFEST.json").read_text())
    (entry,) = [m for m in manifest["models"] if m["id"] == model_id]
    path = MODELS / entry["file"]
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    assert sha == entry["sha256"]
    config = entry["config"]
    tensors = load_file(str(path))
    n_levels = config["n_levels"]
    hidden = list(config["synth_hidden"])
    channels = config["synth_channels"]
    resblocks = config["synth_resblocks"]
    ctx_hidden = list(config["ctx_hidden"])

    def get(name, shape):
        t = tensors[name]
        assert t.dtype == np.float32 and tuple(t.shape) == tuple(shape), name
        return t

    model = {"sha256": sha, "n_levels": n_levels}
    model["gain_base"] = get("shared.gain_base", [n_levels])
    model["gain_slope"] = get("shared.gain_slope", [n_levels])
    widths = [n_levels, *hidden, channels]
    model["mlp"] = [
        (get(f"shared.synthesis.mlp.{k}.weight", [widths[k + 1], widths[k]]),
         get(f"shared.synthesis.mlp.{k}.bias", [widths[k + 1]]))
        for k in range(len(widths) - 1)
    ]
    model["res"] = [
        (get(f"shared.synthesis.res.{r}.weight", [channels, channels, 3, 3]),
         get(f"shared.synthesis.res.{r}.bias", [channels]))
        for r in range(resblocks)
    ]
    model["out"] = (get("shared.synthesis.out.weight", [3, channels, 1, 1]), get("shared.synthesis.out.bias", [3]))

    # Section 5.1: Wq = round(w * 2^12), bq = round(b * 2^20), half to even, of the exact binary32 value (the
    # products by powers of two are exact in binary64, and np.round rounds half to even).
    def quantise(prefix, n_in):
        ws = [n_in, *ctx_hidden, 2]
        layers = []
        for j in range(len(ws) - 1):
            w = get(f"{prefix}.layers.{j}.weight", [ws[j + 1], ws[j]]).astype(np.float64)
            b = get(f"{prefix}.layers.{j}.bias", [ws[j + 1]]).astype(np.float64)
            wq = np.round(w * 2.0**12).astype(np.int64)
            bq = np.round(b * 2.0**20).astype(np.int64)
            assert np.all(np.abs(wq) < 2**15) and np.all(np.abs(bq) < 2**31)
            layers.append((wq, bq))
        return layers

    model["context_a"] = [quantise(f"shared.context_a.{level}", 10) for level in range(n_levels)]
    model["context_b"] = [quantise(f"shared.context_b.{level}", 22) for level in range(n_levels)]
    return model


def run_context_network(layers, x: np.ndarray) -> np.ndarray:
    """x: int64 [n, inputs] -> int64 [n, 2] (mu, s), exactly (every value stays far below 2^63)."""
    for index, (wq, bq) in enumerate(layers):
        x = (x @ wq.T + bq) >> 12  # numpy's >> on int64 is the arithmetic shift (floor)
        if index < len(layers) - 1:
            x = np.clip(x, 0, 2**24 - 1)
    return x


# ---------------------------------------------------------------------------------------------------------------
# Section 6.3 (and SPEC-v1.md section 8.2): the tables and their CDFs.


def load_tables() -> np.ndarray:
    table = np.load(LAPLACE_V2)
    assert table.dtype == np.uint32 and table.shape == (512, 511)
    raw = np.ascontiguousarray(table, dtype="<u4").tobytes()
    assert hashlib.sha256(raw).hexdigest() == LAPLACE_V2_SHA256
    return table


class CdfCache:
    """cdf[a] = a + floor(C_a * (2^24 - 511) / S) for a = 0..510, cdf[511] = 2^24, as Python lists (for bisect)."""

    def __init__(self, freqs: np.ndarray):
        self.freqs = freqs
        self.cache = {}

    def __getitem__(self, index: int) -> list[int]:
        cdf = self.cache.get(index)
        if cdf is None:
            freq = [int(v) for v in self.freqs[index]]
            total = sum(freq)
            cdf, c = [], 0
            for a in range(511):
                cdf.append(a + c * (2**24 - 511) // total)
                c += freq[a]
            cdf.append(2**24)
            self.cache[index] = cdf
        return cdf


# ---------------------------------------------------------------------------------------------------------------
# Section 6.4 (and SPEC-v1.md section 8.3): the rANS decoder.


class AnsDecoder:
    def __init__(self, payload: bytes):
        if len(payload) % 4:
            raise Invalid("DATA length is not a multiple of 4")
        words = list(struct.unpack(f"<{len(payload) // 4}I", payload))
        if words and words[-1] == 0:
            raise Invalid("top word is 0")
        if not words:
            self.state = 0
        elif len(words) == 1:
            self.state = words.pop()
        else:
            top = words.pop()
            self.state = (top << 32) | words.pop()
        self.stack = words  # top = last element

    def decode(self, cdf: list[int]) -> int:
        state = self.state
        q = state & 0xFFFFFF
        a = bisect_right(cdf, q) - 1  # cdf[a] <= q < cdf[a + 1]
        lo = cdf[a]
        state = (state >> 24) * (cdf[a + 1] - lo) + q - lo
        if state < 2**32 and self.stack:
            state = (state << 32) | self.stack.pop()
        self.state = state
        return a

    def decode_uniform16(self) -> int:
        q = self.state & 0xFFFFFF
        a = q >> 8
        state = (self.state >> 24) * 256 + (q - 256 * a)
        if state < 2**32 and self.stack:
            state = (state << 32) | self.stack.pop()
        self.state = state
        return a


# ---------------------------------------------------------------------------------------------------------------
# Section 6: entropy decoding of all latents.

CHUNK = 65536
PASS_B_OFFSETS = [(-1, 0), (1, 0), (0, -1), (0, 1), (-1, -2), (-1, 2), (1, -2), (1, 2),
                  (-2, -1), (-2, 1), (2, -1), (2, 1)]


def c(v):
    return np.clip(v, -255, 255).astype(np.int64) * 256


def decode_latents(head: dict, data: bytes, model: dict, cdfs: CdfCache) -> list[np.ndarray]:
    """Section 6 for an untiled file: all levels in one stream."""
    sizes = grid_sizes(head["height"], head["width"], head["n_levels"])
    return decode_stream(data, dict(enumerate(sizes)), model, cdfs, head["rate_code"])


def decode_stream(data: bytes, sizes: dict, model: dict, cdfs: CdfCache, t: int, outer=None, skipped=None,
                  moved=None, mixed=None) -> list:  # fmt: skip
    """One ANS stream coding the levels in `sizes` (level -> (h, w)), coarsest first. outer: the zero-padded
    coarser grid that the coarsest of them reads (section 6.2, a tile's level K-1), else None. skipped: level ->
    bool grid of vertices that are 0 and code nothing (a video's skipped blocks, section 10.2), else None.
    moved: level -> int grid added to each vertex's scale bin (a video's scale offsets, section 10.5), else None.
    mixed: level -> (prediction grid, |W0 - W1| grid, 24 weights, 24 offsets), a video's temporal mix of its
    intra levels (section 10.6), else None."""
    total = sum(h * w for h, w in sizes.values()) - sum(int(g.sum()) for g in (skipped or {}).values())
    if len(data) == 0 or len(data) % 4:
        raise Invalid("DATA length")
    if total > 3405 * (8 * len(data) + 64):
        raise Invalid("DATA too short for N latents")
    latents = {level: np.zeros(size, dtype=np.int64) for level, size in sizes.items()}
    ans = AnsDecoder(data)
    for level in sorted(sizes, reverse=True):
        h, w = sizes[level]
        grid = latents[level]
        ii, jj = np.mgrid[0:h, 0:w]
        ii, jj = ii.ravel(), jj.ravel()
        for parity, nets in ((0, model["context_a"]), (1, model["context_b"])):
            sel = (ii + jj) % 2 == parity  # raster order is kept
            pi, pj = ii[sel], jj[sel]
            for start in range(0, len(pi), CHUNK):
                ci, cj = pi[start:start + CHUNK], pj[start:start + CHUNK]
                n = len(ci)
                x = np.zeros((n, 10 if parity == 0 else 22), dtype=np.int64)
                coarse = np.pad(latents[level + 1], 1) if level + 1 in latents else outer  # index + 1
                if coarse is not None:
                    p, q = ci >> 1, cj >> 1
                    sy = np.where(ci % 2 == 1, -1, 1)
                    sx = np.where(cj % 2 == 1, -1, 1)
                    for dy in (-1, 0, 1):
                        for dx in (-1, 0, 1):
                            x[:, 3 * (dy + 1) + (dx + 1)] = c(coarse[p + sy * dy + 1, q + sx * dx + 1])
                x[:, 9] = 4 * t
                if parity == 1:
                    own = np.pad(grid, 2)
                    for index, (dy, dx) in enumerate(PASS_B_OFFSETS):
                        x[:, 10 + index] = c(own[ci + dy + 2, cj + dx + 2])
                out = run_context_network(nets[level], x)
                mu, s = out[:, 0], out[:, 1]
                mu = np.clip(mu, -(2**18), 2**18)
                m = (mu + 128) >> 8
                f = (mu + 128 - 256 * m) >> 5
                k = np.clip((s + 768 + 16) // 32, 0, 63)
                if moved is not None:
                    k = np.clip(k + moved[level][ci, cj], 0, 63)
                if mixed is not None:
                    prediction, apart, weights, offsets = mixed[level]
                    pv = prediction[ci, cj]
                    mu16 = 16 * m + 2 * f - 7  # the table's mean m + (f + 0.5) / 8 - 0.5, in sixteenths
                    distance = np.abs(16 * pv - mu16)
                    b = 4 * sum((distance >= d).astype(np.int64) for d in (4, 8, 16, 24, 40))
                    b = b + np.minimum(apart[ci, cj], 3)
                    mu16 = mu16 + np.floor_divide(np.asarray(weights)[b] * (16 * pv - mu16), 8)
                    m = np.floor_divide(mu16 + 8, 16)
                    f = np.floor_divide(np.mod(mu16 + 8, 16), 2)
                    k = np.clip(k + np.asarray(offsets)[b], 0, 63)
                table = 8 * k + f
                assert np.all((f >= 0) & (f <= 7))
                order = np.argsort(table, kind="stable")
                if skipped is not None:
                    order = order[~skipped[level][ci[order], cj[order]]]  # left out, raster order kept
                tables = table[order].tolist()
                means = m[order].tolist()
                values = []
                for tab, mean in zip(tables, means):
                    values.append(ans.decode(cdfs[tab]) - 255 + mean)
                grid[ci[order], cj[order]] = values
    if ans.decode_uniform16() != 0x494E or ans.decode_uniform16() != 0x5232:
        raise Invalid("bad terminator")
    if ans.state != 0 or ans.stack:
        raise Invalid("stream not exhausted")
    return [latents[level] for level in sorted(latents)]


def parse_tile(payload: bytes, head: dict) -> dict:
    """Section 3.2."""
    if len(payload) < 26:
        raise Invalid("TILE truncated")
    log2, k, bx, by, bw, bh, coarse_length, count = struct.unpack("<BBIIIIII", payload[:26])
    side = 1 << log2
    rows, cols = -(-head["height"] // side), -(-head["width"] // side)
    if not (max(6, head["n_levels"] - 1) <= log2 <= 14 and 1 <= k < head["n_levels"] and count == rows * cols
            and len(payload) == 26 + 4 * count and bw >= 1 and bh >= 1 and bx + bw <= head["width"]
            and by + bh <= head["height"]):
        raise Invalid("TILE fields")
    lengths = list(struct.unpack(f"<{count}I", payload[26:]))
    return {"side": side, "k": k, "box": (bx, by, bw, bh), "coarse_length": coarse_length, "lengths": lengths,
            "rows": rows, "cols": cols}


def decode_tiled(head: dict, tile: dict, halo: bytes | None, data: bytes, model: dict, cdfs: CdfCache) -> list:
    """Sections 3.2, 3.3, 4 and 6.1 for a tiled file: the coarse levels, the present tiles, the HALO values."""
    n_levels, k, side, t = head["n_levels"], tile["k"], tile["side"], head["rate_code"]
    sizes = grid_sizes(head["height"], head["width"], n_levels)
    if tile["coarse_length"] + sum(tile["lengths"]) != len(data):
        raise Invalid("TILE lengths and DATA")
    coarse = decode_stream(data[: tile["coarse_length"]], {l: sizes[l] for l in range(k, n_levels)}, model, cdfs, t)
    latents = [np.zeros(sizes[l], dtype=np.int64) for l in range(k)] + coarse
    pos = tile["coarse_length"]
    for index, length in enumerate(tile["lengths"]):
        ty, tx = divmod(index, tile["cols"])
        if length == 0:
            continue
        th, tw = min(head["height"], (ty + 1) * side) - ty * side, min(head["width"], (tx + 1) * side) - tx * side
        r0, c0 = ty * side >> k, tx * side >> k
        local = grid_sizes(th, tw, k + 1)
        outer = np.pad(latents[k], 1)[r0:r0 + local[k][0] + 2, c0:c0 + local[k][1] + 2]
        values = decode_stream(data[pos:pos + length], {l: local[l] for l in range(k)}, model, cdfs, t, outer)
        for level in range(k):
            r, cc = ty * side >> level, tx * side >> level
            latents[level][r:r + local[level][0], cc:cc + local[level][1]] = values[level]
        pos += length
    if halo is not None:
        margin, count = struct.unpack("<BI", halo[:5])
        raw = zlib.decompressobj().decompress(halo[5:], 2 * count + 1)
        if len(raw) != 2 * count or margin < len(model["res"]):
            raise Invalid("HALO")
        values = np.frombuffer(raw, dtype="<i2").astype(np.int64)
        bx, by, bw, bh = tile["box"]
        y0, y1 = max(0, by - margin), min(head["height"], by + bh + margin)
        x0, x1 = max(0, bx - margin), min(head["width"], bx + bw + margin)
        used = 0
        for level in range(k):
            step, (h, w) = 1 << level, sizes[level]
            first = lambda p: max(0, int(np.floor((p + 0.5) / step - 0.5)))  # noqa: E731
            r0, r1 = min(first(y0), h - 1), max(1, min(h, first(y1 - 1) + 2))
            c0, c1 = min(first(x0), w - 1), max(1, min(w, first(x1 - 1) + 2))
            for i in range(r0, r1):
                for j in range(c0, c1):
                    owner = (i // (side >> level)) * tile["cols"] + j // (side >> level)
                    if tile["lengths"][owner] == 0:
                        if used == count:
                            raise Invalid("HALO too short")
                        latents[level][i, j] = values[used]
                        used += 1
        if used != count:
            raise Invalid("HALO count")
    return latents


def latents_sha256(latents) -> str:
    return hashlib.sha256(b"".join(np.ascontiguousarray(q, dtype="<i4").tobytes() for q in latents)).hexdigest()


# ---------------------------------------------------------------------------------------------------------------
# Section 7: rendering, in binary32.


def bilinear_axis(n_out: int, n_in: int, level: int):
    scale = np.float64(1 << level)
    coord = np.maximum(0.0, (np.arange(n_out) + 0.5) / scale - 0.5)
    i0 = np.floor(coord).astype(np.int64)
    i1 = np.minimum(i0 + 1, n_in - 1)
    wgt = (coord - i0).astype(np.float32)
    return i0, i1, wgt


def render(head: dict, latents, model: dict, modulation: dict) -> np.ndarray:
    height, width = head["height"], head["width"]
    t = head["rate_code"]
    f32 = np.float32
    tt = f32(t) / f32(255)
    gains = np.exp((model["gain_base"] + (model["gain_slope"] * tt).astype(f32)).astype(f32)).astype(f32)
    features = []
    for level, q in enumerate(latents):
        q = q.astype(f32)
        h_l, w_l = q.shape
        y0, y1, wy = bilinear_axis(height, h_l, level)
        x0, x1, wx = bilinear_axis(width, w_l, level)
        wy, wx = wy[:, None], wx[None, :]
        one = f32(1)
        value = (one - wy) * ((one - wx) * q[y0][:, x0] + wx * q[y0][:, x1]) + wy * (
            (one - wx) * q[y1][:, x0] + wx * q[y1][:, x1])
        features.append(gains[level] * value)
    h = np.stack(features, -1).reshape(-1, len(latents)).astype(f32)  # [pixels, L]
    for index, (w, b) in enumerate(model["mlp"]):
        if index == 0:
            b = (b + modulation["first_bias"]).astype(f32)
        h = h @ w.T + b
        if index < len(model["mlp"]) - 1:
            h = np.maximum(h, f32(0))
    u = h.reshape(height, width, -1).transpose(2, 0, 1).astype(f32)  # [C, H, W]
    for r, (w, b) in enumerate(model["res"]):
        pad = np.pad(u, ((0, 0), (1, 1), (1, 1)), mode="edge")
        conv = np.zeros_like(u) + b[:, None, None]
        for dy in range(3):
            for dx in range(3):
                window = pad[:, dy:dy + height, dx:dx + width]  # [in, H, W]
                conv = conv + np.einsum("oi,ihw->ohw", w[:, :, dy, dx], window).astype(f32)
        if r < len(model["res"]) - 1:
            conv = np.maximum(conv, f32(0))
        u = (u + conv).astype(f32)
    w_out, b_out = model["out"]
    w_out = (w_out[:, :, 0, 0] + modulation["out_weight"]).astype(f32)
    b_out = (b_out + modulation["out_bias"]).astype(f32)
    rgb = np.einsum("oi,ihw->hwo", w_out, u).astype(f32) + b_out + f32(0.5)
    if head["channels"] == 1:
        rgb = rgb.mean(axis=-1, dtype=f32)
    v = np.clip(rgb, f32(0), f32(1)).astype(f32) * f32(255)
    return np.floor(v.astype(f32) + f32(0.5)).astype(np.uint8)


# ---------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def model():
    return load_model(EXPECTED["model"]["id"])


@pytest.fixture(scope="module")
def cdfs():
    return CdfCache(load_tables())


@pytest.mark.parametrize("name", sorted(EXPECTED["vectors"]))
def test_vector_decodes_from_the_spec_alone(name, model, cdfs):
    expected = EXPECTED["vectors"][name]
    data = (VECTORS / f"{name}.inr").read_bytes()
    assert hashlib.sha256(data).hexdigest() == expected["file_sha256"]
    assert len(data) == expected["bytes"]

    container = parse_container(data)
    sections = container["sections"]
    assert (container["major"], container["minor"]) == (2, 2 if b"TILE" in sections else 1)
    assert container["flags"] & 1
    head = parse_head(sections[b"HEAD"])
    tile = parse_tile(sections[b"TILE"], head) if b"TILE" in sections else None
    box = tile["box"] if tile else (0, 0, head["width"], head["height"])
    assert (box[2], box[3], head["channels"], head["rate_code"]) == (
        expected["width"], expected["height"], expected["channels"], expected["rate_code"])
    assert head["model_id"] == EXPECTED["model"]["id"]
    assert head["model_sha256"] == model["sha256"] == EXPECTED["model"]["sha256"]
    assert head["n_levels"] == model["n_levels"]

    if tile:
        latents = decode_tiled(head, tile, sections.get(b"HALO"), sections[b"DATA"], model, cdfs)
    else:
        latents = decode_latents(head, sections[b"DATA"], model, cdfs)
    assert sum(q.size for q in latents) == expected["latents"]
    assert latents_sha256(latents) == expected["latents_sha256"]

    modulation = parse_modu(sections[b"MODU"], model) if b"MODU" in sections else no_modulation(model)
    assert (b"MODU" in sections) == expected["modulated"]
    x, y, w, h = box
    pixels = render(head, latents, model, modulation)[y:y + h, x:x + w]  # section 3.2: the box of the canvas
    reference = np.asarray(Image.open(VECTORS / f"{name}.png"))
    assert reference.shape == pixels.shape
    diff = np.abs(pixels.astype(np.int64) - reference.astype(np.int64))
    assert diff.max() <= 1
    assert np.count_nonzero(diff) <= 0.001 * diff.size


def test_table_claims_of_sections_4_and_6_3():
    """Section 6.3: the integer CDF formula equals constriction's binary64 evaluation (SPEC-v1.md section 8.2)
    for all 512 rows, and every symbol keeps a non-zero probability; section 4: no symbol of any table has a
    probability above 2^(-1/3405)."""
    freq = load_tables().astype(np.int64)
    cum = np.concatenate([np.zeros((freq.shape[0], 1), np.int64), np.cumsum(freq, axis=1)], axis=1)
    total = cum[:, -1:]
    a = np.arange(512)
    exact = a + cum * (2**24 - 511) // total
    binary64 = a + np.trunc(cum.astype(np.float64) * ((2**24 - 511) / total.astype(np.float64))).astype(np.int64)
    assert np.array_equal(exact[:, :511], binary64[:, :511])
    exact[:, 511] = 2**24
    widths = np.diff(exact, axis=1)
    assert widths.min() >= 1
    assert widths.max() / 2**24 <= 2 ** (-1 / 3405)
    assert CdfCache(freq.astype(np.uint32))[137] == exact[137].tolist()


def test_damaged_files_are_refused(model, cdfs):
    """The 'must's of sections 2, 4 and 6.4 that a spec reader can check: CRC, framing, terminator."""
    data = bytearray((VECTORS / "gradient_32x24_q2.inr").read_bytes())
    with pytest.raises(Invalid, match="CRC"):
        broken = bytearray(data)
        broken[20] ^= 1
        parse_container(bytes(broken))
    with pytest.raises(Invalid, match="version"):
        parse_container(bytes(data[:4] + b"\x03" + data[5:]))
    container = parse_container(bytes(data))
    head = parse_head(container["sections"][b"HEAD"])
    payload = container["sections"][b"DATA"]
    with pytest.raises(Invalid):
        decode_latents(head, payload[:-4], model, cdfs)  # one word short
    with pytest.raises(Invalid):
        decode_latents(head, payload[:4] + payload, model, cdfs)  # one word too many
    with pytest.raises(Invalid, match="too short"):
        decode_latents({**head, "width": 16384, "height": 16384}, payload, model, cdfs)  # section 4's bound
