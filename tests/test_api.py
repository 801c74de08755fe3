"""Tests of the package-level API (inrcodec.encode / decode / decode_frame / info) and the Pillow plugin, on a
tiny image with a small random model: every input kind, typed results, errors, and decoding without torch."""

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import inrcodec
from inrcodec.metrics import psnr

STEPS = 2


pytestmark = pytest.mark.usefixtures("tiny_model")  # the small random model, conftest.py


def tiny_image() -> np.ndarray:
    y, x = np.mgrid[0:12, 0:20]
    return np.stack([x * 12, y * 20, (x + y) * 7], axis=-1).astype(np.uint8)


@pytest.fixture(scope="module")
def result():
    return inrcodec.encode(tiny_image(), quality=3, steps=STEPS)


def test_encode_returns_the_bytes_and_what_was_measured_on_them(result):
    assert isinstance(result, inrcodec.EncodeResult) and bytes(result) == result.data
    assert result.data[:4] == b"INRC" and (result.width, result.height) == (20, 12)
    assert result.bpp == len(result.data) * 8 / (20 * 12)
    decoded = inrcodec.decode(result.data)
    assert decoded.shape == (12, 20, 3) and decoded.dtype == np.uint8
    assert result.psnr == pytest.approx(psnr(tiny_image(), decoded))
    assert result.seconds > 0 and result.stats["steps"] == STEPS


def test_a_path_a_pil_image_and_an_array_encode_alike(result, tmp_path):
    path = tmp_path / "in.png"
    Image.fromarray(tiny_image()).save(path)
    from_path = inrcodec.encode(path, quality=3, steps=STEPS)
    from_pil = inrcodec.encode(Image.open(path), quality=3, steps=STEPS)
    assert from_path.data == from_pil.data == result.data
    grey = inrcodec.encode(Image.fromarray(tiny_image()[..., 0]), steps=STEPS)
    assert inrcodec.decode(grey.data).shape == (12, 20)


def test_decode_and_info_take_bytes_or_a_path(result, tmp_path):
    path = tmp_path / "x.inr"
    result.save(path)
    assert (inrcodec.decode(path) == inrcodec.decode(result.data)).all()
    header = inrcodec.info(str(path))
    assert header == inrcodec.info(result.data)
    assert header["image"]["width"] == 20 and header["file_bytes"] == len(result.data)
    json.dumps(header)  # plain data
    with pytest.raises(inrcodec.InrCodecError, match="exists"):
        result.save(path)
    result.save(path, overwrite=True)


@pytest.mark.parametrize(
    "call, words",
    [
        (lambda: inrcodec.encode(np.zeros((4, 4, 4), np.uint8)), "H x W x 3"),
        (lambda: inrcodec.encode(np.zeros((4, 4, 3), np.float32)), "uint8"),
        (lambda: inrcodec.encode(tiny_image(), quality=9), "quality"),
        (lambda: inrcodec.encode(tiny_image(), preset="fastest"), "preset"),
        (lambda: inrcodec.encode(tiny_image(), target_bpp=-1), "target-bpp"),
        (lambda: inrcodec.encode(Image.new("RGBA", (4, 4))), "alpha"),
        (lambda: inrcodec.encode(42), "expected a path"),
        (lambda: inrcodec.encode("/nonexistent/a.png"), "does not exist"),
        (lambda: inrcodec.decode(b"INRC\x09\x00\x01\x00"), "version"),
        (lambda: inrcodec.decode(b"not an inr file"), "not an .inr file"),
        (lambda: inrcodec.decode(12), "expected .inr bytes or a path"),
        (lambda: inrcodec.decode_frame(inrcodec.encode(tiny_image(), steps=0).data, 0), "image file"),
    ],
)
def test_mistakes_raise_one_inrcodec_error(call, words):
    with pytest.raises(inrcodec.InrCodecError, match=words):
        call()


def test_the_pillow_plugin_opens_and_saves(result, tmp_path):
    import inrcodec.pillow  # noqa: F401  (registers the format)

    path = tmp_path / "p.inr"
    path.write_bytes(result.data)
    with Image.open(path) as image:
        assert (image.format, image.mode, image.size) == ("INR", "RGB", (20, 12))
        assert image.info["inr"]["model_id"] == "tiny-v2"
        assert (np.asarray(image) == inrcodec.decode(result.data)).all()
    saved = tmp_path / "s.inr"
    Image.fromarray(tiny_image()).save(saved, quality=3, steps=STEPS)
    assert saved.read_bytes() == result.data
    truncated = tmp_path / "bad.inr"
    truncated.write_bytes(result.data[:12])
    with pytest.raises(Image.UnidentifiedImageError):
        Image.open(truncated)


def test_import_is_lazy_and_decoding_never_imports_torch(result, tmp_path, tiny_model):
    path = tmp_path / "x.inr"
    path.write_bytes(result.data)
    script = (
        "import sys, inrcodec\n"
        "assert 'inrcodec.api' not in sys.modules and 'numpy' not in sys.modules, sorted(sys.modules)\n"
        "import inrcodec.pillow\n"
        "from PIL import Image\n"
        f"pixels = inrcodec.decode({str(path)!r})\n"
        f"assert (pixels == __import__('numpy').asarray(Image.open({str(path)!r}))).all()\n"
        "inrcodec.info(sys.argv[1])\n"
        "print(sorted(m for m in ('torch', 'scipy', 'matplotlib', 'av') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


@pytest.mark.slow
def test_the_readme_example_runs(tiny_model):
    """The README's Python example, as written, from the repository root (with the small model, for speed)."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    text = (root / "README.md").read_text()
    example = text.split("## Python", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    (root / "out").mkdir(exist_ok=True)
    target = root / "out" / "parrots_api.inr"
    target.unlink(missing_ok=True)
    done = subprocess.run([sys.executable, "-c", example], cwd=root, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "bpp, PSNR" in done.stdout and target.read_bytes()[:4] == b"INRC"
    target.unlink()
