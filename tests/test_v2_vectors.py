"""Format 2.x conformance vectors (bitstream/vectors/v2/): the reference decoder reproduces their latents
bit for bit and their images within SPEC.md section 8's tolerance.

Regenerate (after a change of the format or of the vectors' model) with

    INRCODEC_REGEN_VECTORS=1 python -m pytest tests/test_v2_vectors.py
"""

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from inrcodec import decoder
from inrcodec.bitstream.image_v2 import parse_image
from inrcodec.model.config import level_shape

ROOT = Path(__file__).resolve().parent.parent / "bitstream" / "vectors" / "v2"
MODELS = ROOT / "models"
EXPECTED = ROOT / "expected.json"
REGEN = os.environ.get("INRCODEC_REGEN_VECTORS") == "1"
# "tiled": (re)make only the tiled vectors, from chunks_400x340_q1's latents (entropy coding only, no encoder)
REGEN_TILED = os.environ.get("INRCODEC_REGEN_VECTORS") in ("1", "tiled")
TILED = {"tiled_400x340": "chunks_400x340_q1.inr re-coded in tiles of 128 pixels (recode.code_latents), 4 x 3 tiles, "
                          "levels 0-2 tiled",
         "cropped_156x196": "inrcodec.crop(tiled_400x340.inr, (100, 60, 156, 196)): absent tiles, and a HALO section (the box ends on tile borders)"}


def latents_sha256(latents) -> str:
    return hashlib.sha256(b"".join(np.ascontiguousarray(q, dtype="<i4").tobytes() for q in latents)).hexdigest()


def pixels_sha256(pixels) -> str:
    return hashlib.sha256(np.ascontiguousarray(pixels).tobytes()).hexdigest()


def vector_images():
    """name -> (uint8 image, quality, refinement steps): small seeded images that exercise the format."""
    rng = np.random.default_rng(20261201)
    y, x = np.mgrid[0:24, 0:32]
    gradient = np.stack([x * 8, y * 10, 255 - x * 4], -1).astype(np.uint8)
    grey = rng.integers(0, 256, size=(9, 17)).astype(np.uint8)
    big_y, big_x = np.mgrid[0:340, 0:400]
    wide = np.stack([(big_x // 3) % 256, (big_y // 2) % 256, ((big_x + big_y) // 5) % 256], -1).astype(np.uint8)
    return {
        "gradient_32x24_q2": (gradient, 2, 4),
        "grey_17x9_q5": (grey, 5, 2),
        "chunks_400x340_q1": (wide, 1, 0),  # pass A of level 0 holds 68 000 vertices: two chunks
        "pixel_1x1_q8": (np.array([[[200, 10, 90]]], np.uint8), 8, 0),
    }


def synthetic_latents(shapes):
    """Latents no encoder writes: Laplace values up to several hundred (clamped by the coder to m +- 255),
    so that the context clamp, the mean clamp and the tables at both ends of the scale range are exercised."""
    rng = np.random.default_rng(99)
    latents = [np.round(rng.laplace(0, 2.0 * 4**level, size=shape)).astype(np.int64) for level, shape in
               enumerate(shapes)]  # fmt: skip
    latents[0][:4, :4] = 0  # a quiet corner: the smallest scales
    latents[1][0, :3] = (900, -900, 400)
    return latents


def synthetic_modulation(count: int) -> bytes:
    """A MODU section's numbers (binary16 bytes), large enough to change the image visibly."""
    return np.random.default_rng(5).normal(0, 0.1, size=count).astype("<f2").tobytes()


def regenerate():
    import shutil
    from dataclasses import replace

    from inrcodec import api
    from inrcodec.model.registry import resolve

    from conftest import make_v2_model

    shutil.rmtree(MODELS, ignore_errors=True)
    MODELS.mkdir(parents=True)
    make_v2_model(MODELS, "vectors-v2", seed=7)
    os.environ["INRCODEC_MODELS_DIR"] = str(MODELS)
    entry = resolve("vectors-v2")
    expected = {"model": {"id": entry.id, "sha256": entry.sha256}, "vectors": {}}
    for name, (pixels, quality, steps) in vector_images().items():
        data = api.encode_image(pixels, quality=quality, steps=steps, model=entry.id).data
        (ROOT / f"{name}.inr").write_bytes(data)
        file = parse_image(data)
        latents = decoder.decode_file_latents(file, decoder.model_for(file))
        decoded = decoder.decode_image(data).pixels
        Image.fromarray(decoded).save(ROOT / f"{name}.png")
        expected["vectors"][name] = {
            "made_by": f"inrcodec.api.encode_image(seeded image, quality={quality}, steps={steps}, model='vectors-v2')",
            "file_sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data),
            "width": file.width, "height": file.height, "channels": file.channels, "rate_code": file.rate_code,
            "latents": int(sum(q.size for q in latents)), "latents_sha256": latents_sha256(latents),
            "decoded_sha256": pixels_sha256(decoded), "modulated": bool(file.modulation),
        }  # fmt: skip
    from inrcodec.bitstream.image_v2 import ImageFile
    from inrcodec.entropy.planes import encode_latents
    from inrcodec.model.shared import load_shared

    shared = load_shared(entry)
    shapes = [level_shape(24, 40, level) for level in range(shared.config.n_levels)]
    payload, coded = encode_latents(synthetic_latents(shapes), shared.contexts, 255)
    data = ImageFile(40, 24, 3, 255, len(shapes), entry.id, bytes.fromhex(entry.sha256), payload).to_bytes()
    (ROOT / "synthetic_40x24.inr").write_bytes(data)
    decoded = decoder.decode_image(data).pixels
    Image.fromarray(decoded).save(ROOT / "synthetic_40x24.png")
    expected["vectors"]["synthetic_40x24"] = {
        "made_by": "seeded Laplace latents (synthetic_latents) coded at rate code 255, without an encoder",
        "file_sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data), "width": 40, "height": 24,
        "channels": 3, "rate_code": 255, "latents": int(sum(q.size for q in coded)),
        "latents_sha256": latents_sha256(coded), "decoded_sha256": pixels_sha256(decoded), "modulated": False,
    }  # fmt: skip
    # the gradient vector's file with a seeded MODU section (an encoder writes one only where it pays)
    plain = parse_image((ROOT / "gradient_32x24_q2.inr").read_bytes())
    data = replace(plain, modulation=synthetic_modulation(shared.config.modulation_size)).to_bytes()
    (ROOT / "modulated_32x24.inr").write_bytes(data)
    decoded = decoder.decode_image(data).pixels
    Image.fromarray(decoded).save(ROOT / "modulated_32x24.png")
    expected["vectors"]["modulated_32x24"] = {
        **expected["vectors"]["gradient_32x24_q2"],
        "made_by": "gradient_32x24_q2.inr with a MODU section of seeded numbers (synthetic_modulation)",
        "file_sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data),
        "decoded_sha256": pixels_sha256(decoded), "modulated": True,
    }  # fmt: skip
    EXPECTED.write_text(json.dumps(expected, indent=2) + "\n")


def regenerate_tiled():
    """The tiled vectors, from the committed chunks_400x340_q1 (its latents are bit-exact on any machine)."""
    import inrcodec
    from inrcodec.recode import code_latents

    os.environ["INRCODEC_MODELS_DIR"] = str(MODELS)
    expected = json.loads(EXPECTED.read_text())
    source = parse_image((ROOT / "chunks_400x340_q1.inr").read_bytes())
    shared = decoder.model_for(source)
    tiled, _ = code_latents(source, decoder.decode_file_latents(source, shared), shared.contexts, 7, 3)
    files = {"tiled_400x340": tiled.to_bytes()}
    files["cropped_156x196"] = inrcodec.crop(files["tiled_400x340"], (100, 60, 156, 196))
    for name, data in files.items():
        (ROOT / f"{name}.inr").write_bytes(data)
        file = parse_image(data)
        latents = decoder.decode_file_latents(file, shared)
        decoded = decoder.decode_image(data).pixels
        Image.fromarray(decoded).save(ROOT / f"{name}.png")
        expected["vectors"][name] = {
            "made_by": TILED[name], "file_sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data),
            "width": int(decoded.shape[1]), "height": int(decoded.shape[0]), "channels": file.channels,
            "rate_code": file.rate_code, "latents": int(sum(q.size for q in latents)),
            "latents_sha256": latents_sha256(latents), "decoded_sha256": pixels_sha256(decoded), "modulated": False,
        }  # fmt: skip
    EXPECTED.write_text(json.dumps(expected, indent=2) + "\n")


@pytest.fixture(scope="module")
def expected():
    if REGEN:
        regenerate()
    if REGEN_TILED:
        regenerate_tiled()
    if not EXPECTED.exists():
        pytest.fail(f"{EXPECTED} is missing: run INRCODEC_REGEN_VECTORS=1 python -m pytest tests/test_v2_vectors.py")
    return json.loads(EXPECTED.read_text())


@pytest.fixture()
def vector_models(monkeypatch):
    monkeypatch.setenv("INRCODEC_MODELS_DIR", str(MODELS))


def test_every_vector_decodes_as_recorded(expected, vector_models):
    assert set(expected["vectors"]) == set(vector_images()) | {"synthetic_40x24", "modulated_32x24", *TILED}
    for name, record in expected["vectors"].items():
        data = (ROOT / f"{name}.inr").read_bytes()
        assert hashlib.sha256(data).hexdigest() == record["file_sha256"], name
        file = parse_image(data)
        latents = decoder.decode_file_latents(file, decoder.model_for(file))
        assert latents_sha256(latents) == record["latents_sha256"], name
        decoded = decoder.decode_image(data).pixels.astype(int)
        reference = np.asarray(Image.open(ROOT / f"{name}.png")).astype(int)
        assert decoded.shape == reference.shape, name
        difference = np.abs(decoded - reference)
        assert difference.max() <= 1 and (difference > 0).mean() <= 0.001, name


def test_the_vectors_exercise_what_they_claim(expected):
    records = expected["vectors"]
    assert records["grey_17x9_q5"]["channels"] == 1
    assert records["chunks_400x340_q1"]["width"] * records["chunks_400x340_q1"]["height"] // 2 > 65536
    assert records["pixel_1x1_q8"]["latents"] == 7
    assert records["modulated_32x24"]["modulated"]
    assert records["modulated_32x24"]["latents_sha256"] == records["gradient_32x24_q2"]["latents_sha256"]
    assert not any(record["modulated"] for name, record in records.items() if name != "modulated_32x24")
    tiled, cropped = (parse_image((ROOT / f"{name}.inr").read_bytes()) for name in TILED)
    assert len(tiled.tiling.lengths) == 12 and all(tiled.tiling.lengths) and tiled.tiling.tiled_levels == 3
    assert 0 in cropped.tiling.lengths and cropped.halo is not None and cropped.halo.values.size > 0
    assert cropped.tiling.box[2:] == (156, 196)


def test_the_cropped_vector_is_the_box_of_the_tiled_one(expected, vector_models):
    whole = np.asarray(Image.open(ROOT / "tiled_400x340.png"))
    cropped = np.asarray(Image.open(ROOT / "cropped_156x196.png"))
    assert np.array_equal(cropped, whole[60:256, 100:256])


def test_the_modulation_changes_the_image(expected, vector_models):
    """The modulated vector holds the gradient vector's latents, and decodes to another image: MODU is applied."""
    modulated = np.asarray(Image.open(ROOT / "modulated_32x24.png")).astype(int)
    plain = np.asarray(Image.open(ROOT / "gradient_32x24_q2.png")).astype(int)
    assert np.abs(modulated - plain).mean() > 2


def test_the_synthetic_vector_reaches_the_ends_of_the_tables(expected, vector_models):
    from inrcodec.entropy.planes import _Neighbourhood, chunk_tables, chunks

    data = (ROOT / "synthetic_40x24.inr").read_bytes()
    file = parse_image(data)
    shared = decoder.model_for(file)
    latents = decoder.decode_file_latents(file, shared)
    assert max(int(np.abs(q).max()) for q in latents) > 255
    used, around = set(), _Neighbourhood()
    for chunk in chunks([q.shape for q in latents], None):
        around.update(latents, chunk, None)
        used |= set(chunk_tables(shared.contexts, around, chunk.level, chunk, file.rate_code)[1].tolist())
    scales = {t // 8 for t in used}
    assert len(used) > 40 and max(scales) - min(scales) > 20
