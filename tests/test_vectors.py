"""Conformance vectors: bitstream/vectors/*.inr with their expected decoder output (bitstream/SPEC.md section 9).

For each vector: the file hash, the header, the entropy-decoded integer symbols (bit-exact, compared by hash)
and the decoded 8-bit RGB (float rendering: at most 1 code value off in at most 0.1 % of the samples).

The group list (symbol count and table of every group) is built here from the header alone, following the SPEC,
and cross-checked against the decoder's own geometry, so the SPEC text and the code cannot drift apart silently.

Regenerate the vectors and expected.json (after an intended change of the format or of the encoder):

    INRCODEC_REGEN_VECTORS=1 python -m pytest tests/test_vectors.py
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from pathlib import Path

import numpy as np
import pytest

from inrcodec.entropy import groups as entropy
from inrcodec.bitstream.image_file import InrFile

VECTOR_DIR = Path(__file__).resolve().parent.parent / "bitstream" / "vectors"
EXPECTED = VECTOR_DIR / "expected.json"
REGEN = os.environ.get("INRCODEC_REGEN_VECTORS") == "1"
MAX_DIFFERING_FRACTION = 1e-3  # of the H * W * 3 samples; each may differ by at most 1

# name -> how the vector is made. "encode": encode_image on a seeded numpy image; "synthetic": symbols drawn from
# a seeded Laplace and written with the bitstream layer only (no fit), for shapes the encoder cannot produce yet.
VECTORS = {
    "gradient_32x24_q2": {
        "kind": "encode",
        "width": 32,
        "height": 24,
        "seed": 1,
        "quality": 2,
        "steps": 20,
        "config": "default",
        "description": "gradient + noise, the default field config, quality 2",
    },
    "texture_40x30_q7_hashed": {
        "kind": "encode",
        "width": 40,
        "height": 30,
        "seed": 2,
        "quality": 7,
        "steps": 20,
        "config": "hashed",
        "description": "texture + noise, 6 levels with F=3 and T=2^12 (levels 3-5 hashed), 1 hidden layer, quality 7",
    },
    "odd_17x9_q5": {
        "kind": "encode",
        "width": 17,
        "height": 9,
        "seed": 3,
        "quality": 5,
        "steps": 20,
        "config": "default",
        "description": "odd width and height, the default field config, quality 5",
    },
    "edge_1024x4_q1": {
        "kind": "encode",
        "width": 1024,
        "height": 4,
        "seed": 4,
        "quality": 1,
        "steps": 20,
        "config": "default",
        "description": "width == pixels_per_unit: the last pixels read one vertex past res (clamped, SPEC 6.2), "
        "quality 1",
    },
    "synthetic_17x9": {
        "kind": "synthetic",
        "width": 17,
        "height": 9,
        "seed": 5,
        "description": "syntax the encoder does not produce: 5 dense levels with F=2 (one plane all zero), grid steps "
        "1 and 1/2, no hidden layer (a linear MLP); seeded Laplace symbols written without a fit",
    },
    "model_40x30_q4": {
        "kind": "model",
        "width": 40,
        "height": 30,
        "seed": 6,
        "quality": 4,
        "steps": 12,
        "description": "format 1.1: coded with the shipped default model (per-level steps from the model, modulation "
        "symbols, no MLP symbols), quality 4",
    },
}


# ---------------------------------------------------------------------------------------------------------------
# The bit-exact part of the SPEC (sections 6-8), re-implemented from its text, independent of inrcodec.context,
# inrcodec.field and inrcodec.codec. Only the ANS coder itself comes from inrcodec.entropy (constriction); the SPEC's
# description of that coder is checked against constriction in tests/test_entropy.py.

N_CONTEXTS = 6


def spec_level_is_dense(res: int, log2_table: int) -> bool:
    return res * res <= (1 << log2_table)


def spec_needed_extent(scale: float, n_pixels: int, pixels_per_unit: int) -> int:
    """Vertices along one axis that the pixel centres read: floor(pos(x_last)) + 2 (SPEC 6.3)."""
    f32 = np.float32
    x_last = f32(f32(n_pixels - 1) + f32(0.5)) / f32(pixels_per_unit)
    pos = f32(f32(scale) * x_last) + f32(0.5)
    return int(math.floor(pos)) + 2


def spec_mlp_shapes(fc: dict, inr: InrFile | None = None) -> list[tuple[int, ...]]:
    """Shapes of the symbols after the grid: the MLP tensors, or the modulation M of a file that names a model."""
    if inr is not None and inr.model_id:
        return [(inr.modulation["rank"], inr.modulation["n_inputs"])]
    widths = [fc["n_levels"] * fc["n_features"]] + [fc["mlp_hidden_width"]] * fc["mlp_hidden_layers"]
    widths.append(fc["out_channels"])
    shapes = []
    for k in range(len(widths) - 1):
        shapes += [(widths[k + 1], widths[k]), (widths[k + 1],)]
    return shapes


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


def spec_decode_symbols(inr: InrFile) -> list[np.ndarray]:
    """All symbols, bit-exact, in canonical order: per level, per feature, the plane row-major ([extent_y,
    extent_x] dense, [T] hashed); then W_0, b_0, W_1, ... row-major, or M (SPEC 11) in a file that names a model.
    Raises ValueError on a bad stream."""
    fc = inr.field_config
    n_features, table_size = fc["n_features"], 1 << fc["log2_hashmap_size"]
    decoder = entropy.SymbolDecoder(inr.payload)
    out = []
    parent = None  # the previous level's planes, when it is dense
    for level in inr.levels:
        dense = spec_level_is_dense(level["res"], fc["log2_hashmap_size"])
        height, width = (level["extent_y"], level["extent_x"]) if dense else (1, table_size)
        planes = []
        for f in range(n_features):
            tables = level["tables"][f * N_CONTEXTS : (f + 1) * N_CONTEXTS]
            plane_parent = parent[f] if dense and parent is not None else None
            planes.append(spec_decode_plane(lambda n, c: decoder.decode(n, tables[c]), height, width, plane_parent))
        out += [plane.ravel() for plane in planes]
        parent = planes if dense else None
    if inr.model_id:
        out.append(decoder.decode(inr.modulation["rank"] * inr.modulation["n_inputs"], inr.modulation["table"]))
    else:
        for index, shape in enumerate(spec_mlp_shapes(fc)):
            layer = inr.layers[index // 2]
            out.append(decoder.decode(int(np.prod(shape)), layer["weight_table" if index % 2 == 0 else "bias_table"]))
    decoder.finish()
    return out


def symbols_sha256(arrays: list[np.ndarray]) -> str:
    digest = hashlib.sha256()
    for array in arrays:
        digest.update(np.ascontiguousarray(array, dtype="<i4").tobytes())
    return digest.hexdigest()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------------------------------------------------------
# Generation (only with INRCODEC_REGEN_VECTORS=1).


def _test_image(width: int, height: int, seed: int, texture: bool) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    u, v = x / max(1, width - 1), y / max(1, height - 1)
    rgb = np.stack([20 + 200 * u, 40 + 180 * v, 60 + 150 * (u + v) / 2], axis=-1)
    if texture:
        waves = [np.sin(2 * np.pi * 3 * u), np.sin(2 * np.pi * 2 * v), np.sin(2 * np.pi * 4 * (u - v))]
        rgb += 40 * np.stack(waves, axis=-1)
    rgb += rng.normal(0.0, 12.0, rgb.shape)
    return np.clip(np.round(rgb), 0, 255).astype(np.uint8)


def _encode_vector(spec: dict) -> bytes:
    import torch

    from inrcodec.codec import encode_image
    from inrcodec.field.grid import GridConfig
    from inrcodec.field.inr import FieldConfig
    from inrcodec.field.mlp import MlpConfig

    config = None
    if spec.get("config") == "hashed":
        config = FieldConfig(
            grid=GridConfig(n_levels=6, n_features=3, log2_hashmap_size=12),
            mlp=MlpConfig(n_hidden_layers=1, hidden_width=16),
        )
    if spec["kind"] == "model":
        rgb = _test_image(spec["width"], spec["height"], spec["seed"], texture=True)
        return encode_image(rgb, quality=spec["quality"], steps=spec["steps"], model="default").data
    rgb = _test_image(spec["width"], spec["height"], spec["seed"], texture=spec["config"] == "hashed")
    torch.manual_seed(spec["seed"])
    return encode_image(rgb, quality=spec["quality"], steps=spec["steps"], config=config, model=None).data


def _synthetic_vector(spec: dict) -> bytes:
    """A file written without a fit: seeded Laplace planes, coded with the encoder's plane coder."""
    from inrcodec.codec import code_plane
    from inrcodec.field.grid import GridConfig, image_geometry

    rng = np.random.default_rng(spec["seed"])
    width, height = spec["width"], spec["height"]
    grid = GridConfig(n_levels=5, n_features=2, log2_hashmap_size=16)
    ppu = 1 << (max(width, height) - 1).bit_length()
    encoder = entropy.SymbolEncoder()
    levels, parent = [], None
    for index, level in enumerate(image_geometry(grid, width, height, ppu)):
        planes, tables = [], []
        for feature in range(grid.n_features):
            shape = (level.extent[1], level.extent[0])
            if (index, feature) == (3, 1):
                plane = np.zeros(shape, dtype=np.int32)  # a plane with every context ALL_ZERO
            else:
                plane = np.round(rng.laplace(0.0, 2.0 / (1 + index) ** 1.5, shape)).astype(np.int32)
            tables += code_plane(encoder, plane, parent[feature] if parent is not None else None)
            planes.append(plane)
        parent = planes
        levels.append(
            {
                "scale": level.scale,
                "res": level.res,
                "extent_x": level.extent[0],
                "extent_y": level.extent[1],
                "quant_step": 128 - 8 * (index % 2),  # steps 1 and 1/2
                "tables": tables,
            }
        )
    n_inputs = grid.n_levels * grid.n_features
    weight = entropy.best_group(np.round(rng.normal(0.0, 0.05, (3, n_inputs)) / 2.0**-5).astype(np.int32))
    bias = entropy.best_group(np.round(np.array([0.5, 0.45, 0.55]) / 2.0**-4).astype(np.int32))
    for group in (weight, bias):
        encoder.add(group.symbols, group.table_index)
    inr = InrFile(
        image={"width": width, "height": height, "channels": 3, "bit_depth": 8},
        model_id="",
        model_sha256=b"",
        field_config={
            "n_dims": 2,
            "n_levels": grid.n_levels,
            "n_features": grid.n_features,
            "log2_hashmap_size": grid.log2_hashmap_size,
            "pixels_per_unit": ppu,
            "base_resolution": grid.base_resolution,
            "per_level_scale": grid.per_level_scale,
            "mlp_hidden_layers": 0,
            "mlp_hidden_width": 16,
            "mlp_activation": 0,
            "out_channels": 3,
        },
        levels=levels,
        layers=[
            {"weight_step": 88, "weight_table": weight.table_index, "bias_step": 96, "bias_table": bias.table_index}
        ],
        payload=encoder.to_bytes(),
    )
    return inr.to_bytes()


def _regenerate() -> None:
    import constriction
    import torch
    from PIL import Image

    import inrcodec
    from inrcodec.codec import decode_bytes

    VECTOR_DIR.mkdir(parents=True, exist_ok=True)
    for stale in list(VECTOR_DIR.glob("*.inr")) + list(VECTOR_DIR.glob("*.png")):
        stale.unlink()
    entries = []
    for name, spec in VECTORS.items():
        data = _synthetic_vector(spec) if spec["kind"] == "synthetic" else _encode_vector(spec)
        inr = InrFile.from_bytes(data)
        arrays = spec_decode_symbols(inr)
        rgb = decode_bytes(data)
        (VECTOR_DIR / f"{name}.inr").write_bytes(data)
        Image.fromarray(rgb, "RGB").save(VECTOR_DIR / f"{name}.png")
        entries.append(
            {
                "name": name,
                "file": f"{name}.inr",
                "description": spec["description"],
                "made_by": {k: v for k, v in spec.items() if k != "description"},
                "sha256": sha256(data),
                "bytes": len(data),
                "width": inr.image["width"],
                "height": inr.image["height"],
                "n_symbols": int(sum(a.size for a in arrays)),
                "symbols_sha256": symbols_sha256(arrays),
                "decoded_png": f"{name}.png",
                "decoded_rgb_sha256": sha256(np.ascontiguousarray(rgb).tobytes()),
            }
        )
    document = {
        "format": "inr 1.0 and 1.1",
        "regenerate": "INRCODEC_REGEN_VECTORS=1 python -m pytest tests/test_vectors.py",
        "symbols_sha256": "sha256 of all decoded symbols as little-endian int32, in canonical order (SPEC 8.3)",
        "decoded_rgb_sha256": "sha256 of the reference decoder's uint8 RGB output, [height, width, 3] row-major",
        "generated_with": {
            "inrcodec": inrcodec.__version__,
            "torch": torch.__version__,
            "numpy": np.__version__,
            "constriction": getattr(constriction, "__version__", "0.5"),
        },
        "vectors": entries,
    }
    EXPECTED.write_text(json.dumps(document, indent=2) + "\n")


# ---------------------------------------------------------------------------------------------------------------
# Checks.


@pytest.fixture(scope="module")
def expected() -> dict:
    if REGEN:
        _regenerate()
    if not EXPECTED.exists():
        pytest.fail(f"{EXPECTED} is missing: run INRCODEC_REGEN_VECTORS=1 python -m pytest tests/test_vectors.py")
    document = json.loads(EXPECTED.read_text())
    return {entry["name"]: entry for entry in document["vectors"]}


def test_expected_lists_exactly_the_vectors(expected):
    assert set(expected) == set(VECTORS)
    on_disk = {p.stem for p in VECTOR_DIR.glob("*.inr")}
    assert on_disk == set(VECTORS), "stray or missing .inr files in bitstream/vectors"


@pytest.fixture(params=list(VECTORS), scope="module")
def vector(request, expected) -> tuple[dict, bytes, InrFile]:
    entry = expected[request.param]
    data = (VECTOR_DIR / entry["file"]).read_bytes()
    return entry, data, InrFile.from_bytes(data)


def test_file_hash_and_header(vector):
    entry, data, inr = vector
    assert sha256(data) == entry["sha256"]
    assert len(data) == entry["bytes"]
    assert (inr.image["width"], inr.image["height"]) == (entry["width"], entry["height"])
    assert inr.version == ((1, 1) if entry["made_by"]["kind"] == "model" else (1, 0))
    assert InrFile.from_bytes(data).to_bytes() == data


def test_header_layout_follows_the_spec(vector):
    from inrcodec.bitstream.container import read_container
    from inrcodec.bitstream.image_file import KNOWN_TAGS
    from inrcodec.bitstream.syntax import TABLES_PER_FEATURE

    _, data, inr = vector
    assert TABLES_PER_FEATURE == N_CONTEXTS
    fc = inr.field_config
    _, sections = read_container(data, KNOWN_TAGS)
    levels = 21 + fc["n_levels"] * (13 + N_CONTEXTS * fc["n_features"])
    if inr.model_id:
        assert len(sections[b"HEAD"]) == 11 + len(inr.model_id) + 32
        expected = levels + 4  # the modulation record (SPEC 11)
    else:
        assert len(sections[b"HEAD"]) == 11
        expected = levels + 4 * (fc["mlp_hidden_layers"] + 1)
    assert len(sections[b"FELD"]) == expected
    assert len(sections[b"DATA"]) == len(inr.payload) and len(inr.payload) % 4 == 0


def test_geometry_follows_the_spec(vector):
    """Stored scales, resolutions and extents agree with SPEC section 6 (and the coded extents cover the pixels)."""
    from inrcodec.codec import field_config_from_header
    from inrcodec.field.grid import level_scales

    entry, _, inr = vector
    fc = inr.field_config
    config = field_config_from_header(fc).grid
    assert [level["scale"] for level in inr.levels] == level_scales(config)
    beyond_res = False
    for level in inr.levels:
        assert level["res"] == math.ceil(level["scale"]) + 1
        if spec_level_is_dense(level["res"], fc["log2_hashmap_size"]):
            for axis, n_pixels in (("extent_x", entry["width"]), ("extent_y", entry["height"])):
                need = spec_needed_extent(level["scale"], n_pixels, fc["pixels_per_unit"])
                beyond_res |= need > level["res"]
                assert level[axis] == min(level["res"], need)  # what the reference encoder writes
        else:
            assert level["extent_x"] == level["extent_y"] == 0
    assert beyond_res == entry["name"].startswith("edge_")


def test_entropy_decoded_symbols_are_bit_exact(vector):
    entry, _, inr = vector
    fc = inr.field_config
    arrays = spec_decode_symbols(inr)
    sizes = []
    for level in inr.levels:
        dense = spec_level_is_dense(level["res"], fc["log2_hashmap_size"])
        count = level["extent_x"] * level["extent_y"] if dense else 1 << fc["log2_hashmap_size"]
        sizes += [count] * fc["n_features"]
    sizes += [int(np.prod(shape)) for shape in spec_mlp_shapes(fc, inr)]
    assert [a.size for a in arrays] == sizes
    assert sum(sizes) == entry["n_symbols"]
    assert all(np.abs(a).max(initial=0) <= entropy.MAX_SYMBOL for a in arrays)
    assert symbols_sha256(arrays) == entry["symbols_sha256"]


def test_spec_decoder_agrees_with_the_reference_decoder(vector):
    """The grid symbols of the SPEC re-implementation equal those inrcodec's decoder dequantises."""
    from inrcodec.bitstream.syntax import quant_step
    from inrcodec.codec import decode_grid, levels_from_file

    _, _, inr = vector
    n_features = inr.field_config["n_features"]
    arrays = spec_decode_symbols(inr)
    values = decode_grid(entropy.SymbolDecoder(inr.payload), levels_from_file(inr), n_features, inr.levels)
    for index, (level, level_values) in enumerate(zip(inr.levels, values)):
        symbols = np.rint(level_values.numpy() / np.float32(quant_step(level["quant_step"]))).astype(np.int32)
        for f in range(n_features):
            np.testing.assert_array_equal(symbols[..., f].ravel(), arrays[index * n_features + f])


def test_vectors_exercise_the_grid(vector):
    """A conformance vector whose grid groups are all ALL_ZERO would leave the interpolation untested."""
    entry, _, inr = vector
    assert any(t != entropy.ALL_ZERO for level in inr.levels for t in level["tables"])
    if "hashed" in entry["name"]:
        log2_table = inr.field_config["log2_hashmap_size"]
        hashed = [level for level in inr.levels if not spec_level_is_dense(level["res"], log2_table)]
        assert any(t != entropy.ALL_ZERO for level in hashed for t in level["tables"])


def test_decoded_pixels_match_the_reference_png(vector):
    from PIL import Image

    from inrcodec.codec import decode_bytes

    entry, data, _ = vector
    with Image.open(VECTOR_DIR / entry["decoded_png"]) as png:
        reference = np.asarray(png.convert("RGB"))
    assert sha256(np.ascontiguousarray(reference).tobytes()) == entry["decoded_rgb_sha256"], "PNG was altered"
    decoded = decode_bytes(data)
    assert decoded.shape == reference.shape == (entry["height"], entry["width"], 3)
    diff = np.abs(decoded.astype(np.int16) - reference.astype(np.int16))
    assert diff.max() <= 1
    assert np.count_nonzero(diff) <= MAX_DIFFERING_FRACTION * diff.size
