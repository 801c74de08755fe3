"""Tests of the `inrcodec` command line: a tiny encode/decode round trip, `info`, and every way a user's input
can be wrong, each of which must end in one `error:` line, a non-zero exit, no traceback and no output file."""

import json
import os
import re
import struct
import subprocess
import sys
import zlib

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from inrcodec import cli
from inrcodec.metrics import psnr

WIDTH, HEIGHT = 24, 16
STEPS = "3"
runner = CliRunner()


# every test here encodes with the small random model of conftest.py (the subprocesses see it too)
pytestmark = pytest.mark.usefixtures("tiny_model")


def invoke(*args: str):
    return runner.invoke(cli.app, [str(a) for a in args])


def gradient_image() -> np.ndarray:
    """uint8 [HEIGHT, WIDTH, 3]: smooth ramps, so a 5-step fit gets somewhere."""
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
    return np.stack([x * 10, y * 15, (x + y) * 5], axis=-1).astype(np.uint8)


@pytest.fixture(scope="module")
def encoded(tmp_path_factory):
    """(input png, .inr, encode JSON) from one real encode, shared by the tests that only read them."""
    folder = tmp_path_factory.mktemp("encoded")
    png, inr = folder / "input.png", folder / "image.inr"
    Image.fromarray(gradient_image()).save(png)
    result = invoke("encode", png, "-o", inr, "--steps", STEPS, "--json")
    assert result.exit_code == 0, result.output
    return png, inr, json.loads(result.stdout)


@pytest.fixture()
def inr_bytes(encoded) -> bytes:
    return encoded[1].read_bytes()


def with_crc(data: bytes) -> bytes:
    """Replace the trailing CRC32 so that a deliberate edit is judged by the check it targets."""
    body = data[:-4]
    return body + struct.pack("<I", zlib.crc32(body))


def assert_clean_failure(result, *words: str, absent=()) -> None:
    """Non-zero exit, one `error:` line naming the problem on stderr, no traceback, no file left behind."""
    assert result.exit_code != 0
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for word in words:
        assert word.lower() in lines[0].lower(), lines[0]
    assert "Traceback" not in result.output
    assert result.stdout == ""
    for path in absent:
        assert not os.path.exists(path), path


# ---- round trip and info ----


def test_encode_json_reports_the_file_written(encoded):
    _, inr, stats = encoded
    assert stats["bytes"] == inr.stat().st_size
    assert stats["bpp"] == pytest.approx(stats["bytes"] * 8 / (WIDTH * HEIGHT), rel=1e-12)
    assert (stats["width"], stats["height"], stats["steps"]) == (WIDTH, HEIGHT, int(STEPS))
    assert stats["output"] == str(inr)
    for key in ("psnr_rgb", "encode_seconds", "quality", "preset", "lambda", "rate_code"):
        assert key in stats


def test_decode_reproduces_the_encoder_psnr(encoded, tmp_path):
    png, inr, stats = encoded
    out = tmp_path / "decoded.png"
    result = invoke("decode", inr, "-o", out, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["width"], report["height"], report["output"]) == (WIDTH, HEIGHT, str(out))
    assert report["decode_seconds"] >= 0
    decoded = np.asarray(Image.open(out).convert("RGB"))
    original = np.asarray(Image.open(png).convert("RGB"))
    assert psnr(original, decoded) == pytest.approx(stats["psnr_rgb"], abs=1e-6)


def test_info_json_dumps_the_header(encoded):
    _, inr, _ = encoded
    result = invoke("info", inr, "--json")
    assert result.exit_code == 0, result.output
    header = json.loads(result.stdout)
    assert header["format_version"] == "2.1"
    assert header["modulation_numbers"] == 0  # a 24x16 image is refined without a modulation
    assert header["image"] == {"width": WIDTH, "height": HEIGHT, "channels": 3, "bit_depth": 8, "rate_code": 148,
                               "n_levels": 7}
    assert header["file_bytes"] == inr.stat().st_size
    assert 0 < header["payload_bytes"] < header["file_bytes"]
    from inrcodec.model.registry import resolve

    assert header["model_id"] == resolve().id and header["model_sha256"] == resolve().sha256
    assert [(g["height"], g["width"]) for g in header["latent_grids"][:3]] == [(16, 24), (8, 12), (4, 6)]
    assert header["latents"] == sum(g["height"] * g["width"] for g in header["latent_grids"])


def test_info_prints_tables(encoded):
    result = invoke("info", encoded[1])
    assert result.exit_code == 0, result.output
    for title in ("format version", "rate code", "latent grids", f"{WIDTH}x{HEIGHT}"):
        assert title in result.stdout


def test_grey_input_stays_grey(tmp_path):
    png, inr, out = tmp_path / "grey.png", tmp_path / "grey.inr", tmp_path / "grey_dec.png"
    Image.fromarray(gradient_image()[..., 1]).save(png)
    assert invoke("encode", png, "-o", inr, "--steps", STEPS).exit_code == 0
    assert json.loads(invoke("info", inr, "--json").stdout)["image"]["channels"] == 1
    assert invoke("decode", inr, "-o", out).exit_code == 0
    assert Image.open(out).mode == "L"


def test_unknown_model_is_one_line(encoded, tmp_path):
    out = tmp_path / "x.inr"
    result = invoke("encode", encoded[0], "-o", out, "--steps", STEPS, "--model", "no-such-model")
    assert_clean_failure(result, "no-such-model", "not installed", absent=[out])


def test_decoding_without_its_model_is_one_line(encoded, tmp_path, monkeypatch):
    empty = tmp_path / "models"
    empty.mkdir()
    (empty / "MANIFEST.json").write_text('{"format": 1, "default": null, "models": []}')
    monkeypatch.setenv("INRCODEC_MODELS_DIR", str(empty))
    out = tmp_path / "out.png"
    assert_clean_failure(invoke("decode", encoded[1], "-o", out), "needs model", "not installed", absent=[out])


def test_target_bpp(encoded, tmp_path):
    out = tmp_path / "target.inr"
    result = invoke("encode", encoded[0], "-o", out, "--steps", STEPS, "--target-bpp", "4", "--json")
    assert result.exit_code == 0, result.output
    stats = json.loads(result.stdout)
    assert stats["target_bpp"] == 4.0 and stats["bytes"] == out.stat().st_size
    assert len(stats["trials"]) >= 1 and stats["rate_control_seconds"] >= stats["encode_seconds"]
    assert stats["target_reached"] == (abs(stats["bpp"] / 4 - 1) <= 0.05)
    assert result.stderr.count("trial:") == len(stats["trials"])
    bad = invoke("encode", encoded[0], "-o", tmp_path / "bad.inr", "--target-bpp", "-1")
    assert_clean_failure(bad, "target-bpp", absent=[tmp_path / "bad.inr"])


def test_encode_human_summary_and_force(encoded, tmp_path):
    out = tmp_path / "again.inr"
    out.write_bytes(b"old")
    refused = invoke("encode", encoded[0], "-o", out, "--steps", STEPS)
    assert_clean_failure(refused, "exists", "--force")
    assert out.read_bytes() == b"old"
    result = invoke("encode", encoded[0], "-o", out, "--steps", STEPS, "--force")
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:4] == b"INRC"
    # the summary is for people, so it goes to stderr; stdout stays empty for pipes and --json
    assert result.stdout == "" and all(word in result.stderr for word in ("bytes", "bpp", "PSNR"))
    quiet = invoke("encode", encoded[0], "-o", out, "--steps", STEPS, "--force", "--quiet")
    assert quiet.exit_code == 0 and quiet.stdout == "" and quiet.stderr == ""


def test_cli_import_stays_torch_free_and_presets_match():
    import subprocess
    import sys

    from inrcodec.presets import IMAGE_PRESET_STEPS

    probe = "import sys, inrcodec.cli; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True).stdout.strip() == "False"
    assert [p.value for p in cli.Preset] == list(IMAGE_PRESET_STEPS)


def test_encode_help_documents_quality_and_presets():
    result = invoke("encode", "--help")
    assert result.exit_code == 0
    text = " ".join(re.sub("[│╭╮╰╯─]", " ", result.stdout).split())  # rich boxes wrap the help in borders
    assert "lambda" in text and "0.00125" in text
    assert "medium: 90" in text and "fast: 16" in text and "README" in text


def test_odd_sized_image_encodes(tmp_path):
    png, out = tmp_path / "odd.png", tmp_path / "odd.inr"
    Image.fromarray(gradient_image()[:15, :23]).save(png)
    result = invoke("encode", png, "-o", out, "--steps", STEPS)
    assert result.exit_code == 0, repr(result.exception)


# ---- bad inputs to encode ----


@pytest.mark.parametrize("quality", ["0", "9"])
def test_quality_out_of_range_is_a_usage_error(encoded, tmp_path, quality):
    out = tmp_path / "q.inr"
    result = invoke("encode", encoded[0], "-o", out, "--quality", quality)
    assert result.exit_code == 2
    assert "Traceback" not in result.output and not out.exists()


def test_missing_input(tmp_path):
    out = tmp_path / "out.inr"
    result = invoke("encode", tmp_path / "nope.png", "-o", out)
    assert_clean_failure(result, "nope.png", "does not exist", absent=[out])


def test_directory_as_input(tmp_path):
    out = tmp_path / "out.inr"
    result = invoke("encode", tmp_path, "-o", out)
    assert_clean_failure(result, "directory", absent=[out])


def test_text_file_named_png(tmp_path):
    fake, out = tmp_path / "fake.png", tmp_path / "out.inr"
    fake.write_text("not a picture\n")
    result = invoke("encode", fake, "-o", out)
    assert_clean_failure(result, "fake.png", "not an image", absent=[out])


def test_rgba_input_is_refused(tmp_path):
    png, out = tmp_path / "rgba.png", tmp_path / "out.inr"
    Image.new("RGBA", (WIDTH, HEIGHT), (10, 20, 30, 128)).save(png)
    result = invoke("encode", png, "-o", out)
    assert_clean_failure(result, "alpha", "RGB", "flatten", absent=[out])


def test_16_bit_input_is_refused(tmp_path):
    png, out = tmp_path / "deep.png", tmp_path / "out.inr"
    Image.fromarray(np.full((HEIGHT, WIDTH), 40000, dtype=np.uint16)).save(png)
    assert Image.open(png).mode == "I;16"
    result = invoke("encode", png, "-o", out)
    assert_clean_failure(result, "16-bit", "8-bit", absent=[out])


def test_output_equal_to_input_is_refused(encoded):
    png = encoded[0]
    before = png.read_bytes()
    result = invoke("encode", png, "-o", png, "--force")
    assert_clean_failure(result, "input")
    assert png.read_bytes() == before


def test_missing_output_folder(encoded, tmp_path):
    out = tmp_path / "no" / "such" / "out.inr"
    result = invoke("encode", encoded[0], "-o", out)
    assert_clean_failure(result, "does not exist", absent=[out])


def test_interrupted_encode_leaves_no_file(encoded, tmp_path, monkeypatch):
    from inrcodec import api

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(api, "encode_image", interrupted)
    out = tmp_path / "out.inr"
    result = invoke("encode", encoded[0], "-o", out)
    assert_clean_failure(result, "interrupted", absent=[out])
    assert result.exit_code == cli.EXIT_INTERRUPTED
    assert os.listdir(tmp_path) == []


# ---- bad .inr files, for decode and info ----


def truncated(data: bytes) -> bytes:
    return data[: len(data) // 2]


def bit_flipped(data: bytes) -> bytes:
    middle = len(data) // 2
    return data[:middle] + bytes([data[middle] ^ 0x10]) + data[middle + 1 :]


def random_bytes(data: bytes) -> bytes:
    return np.random.default_rng(1).integers(0, 256, len(data), dtype=np.uint8).tobytes()


def wrong_magic(data: bytes) -> bytes:
    return b"JUNK" + data[4:]


def unknown_major_version(data: bytes) -> bytes:
    return with_crc(data[:4] + bytes([9]) + data[5:])


def absurd_width(data: bytes) -> bytes:
    # HEAD starts after the 8-byte preamble and its 8-byte section header; width is its first u32.
    assert data[8:12] == b"HEAD"
    return with_crc(data[:16] + struct.pack("<I", 10**9) + data[20:])


BAD_FILES = {
    truncated: "truncated",
    bit_flipped: "corrupted",
    random_bytes: "not an .inr file",
    wrong_magic: "not an .inr file",
    unknown_major_version: "version 9",
    absurd_width: "width",
}


@pytest.mark.parametrize("damage", list(BAD_FILES), ids=lambda f: f.__name__)
@pytest.mark.parametrize("command", ["decode", "info"])
def test_bad_inr_file(inr_bytes, tmp_path, damage, command):
    bad, out = tmp_path / "bad.inr", tmp_path / "out.png"
    bad.write_bytes(damage(inr_bytes))
    args = ["decode", bad, "-o", out] if command == "decode" else ["info", bad]
    assert_clean_failure(invoke(*args), "bad.inr", BAD_FILES[damage], absent=[out])


def test_decode_refuses_existing_output_and_unknown_extension(encoded, tmp_path):
    existing = tmp_path / "out.png"
    existing.write_bytes(b"keep")
    assert_clean_failure(invoke("decode", encoded[1], "-o", existing), "exists", "--force")
    assert existing.read_bytes() == b"keep"
    odd = tmp_path / "out.xyz"
    assert_clean_failure(invoke("decode", encoded[1], "-o", odd), "extension", absent=[odd])


# ---- the real console entry point ----


def run_module(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "inrcodec", *map(str, args)], capture_output=True, text=True, timeout=120
    )


def test_module_version_and_lazy_import():
    completed = run_module("--version")
    assert completed.returncode == 0
    assert completed.stdout.startswith("inrcodec ")
    probe = "import sys, inrcodec.cli; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", probe], timeout=60).returncode == 0, "importing the CLI imports torch"


def test_module_reports_a_bad_file_in_one_line(tmp_path):
    bad, out = tmp_path / "random.inr", tmp_path / "out.png"
    bad.write_bytes(random_bytes(bytes(300)))
    completed = run_module("decode", bad, "-o", out)
    assert completed.returncode == 1
    assert completed.stdout == ""
    assert completed.stderr.strip().splitlines() == [f"error: '{bad}': not an .inr file (wrong magic bytes)"]
    assert not out.exists()


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero here")
@pytest.mark.parametrize("command", ["decode", "info"])
def test_a_device_is_refused_without_reading_it(tmp_path, command):
    out = tmp_path / "out.png"
    args = ["decode", "/dev/zero", "-o", out] if command == "decode" else ["info", "/dev/zero"]
    assert_clean_failure(invoke(*args), "not a regular file", absent=[out])
