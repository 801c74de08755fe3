"""The command line's conventions, as cwebp, avifenc and ffmpeg users expect them: '-' for stdin and stdout,
several inputs with --out-dir (and --jobs), --quiet and --verbose, people's lines on stderr, --version, and
refusals of names that would mislead. Real pipes between real processes, tiny images, a small random model."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from inrcodec import cli

STEPS = "2"
runner = CliRunner()


pytestmark = pytest.mark.usefixtures("tiny_model")  # the small random model, conftest.py


def invoke(*args, input=None):
    return runner.invoke(cli.app, [str(a) for a in args], input=input)


def command(*args) -> list[str]:
    return [sys.executable, "-m", "inrcodec", *map(str, args)]


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    folder = tmp_path_factory.mktemp("images")
    paths = []
    for i in range(3):
        y, x = np.mgrid[0:10, 0:14]
        pixels = np.stack([x * 15 + i * 20, y * 20, (x + y) * 8], axis=-1).astype(np.uint8)
        paths.append(folder / f"image{i}.png")
        Image.fromarray(pixels).save(paths[-1])
    return paths


def test_stdin_and_stdout_give_the_bytes_and_pixels_of_the_file_commands(images, tmp_path):
    inr, png = tmp_path / "file.inr", tmp_path / "file.png"
    assert invoke("encode", images[0], "-o", inr, "--steps", STEPS).exit_code == 0
    assert invoke("decode", inr, "-o", png).exit_code == 0
    encoded = invoke("encode", "-", "-o", "-", "--steps", STEPS, input=images[0].read_bytes())
    assert encoded.exit_code == 0, encoded.output
    assert encoded.stdout_bytes == inr.read_bytes() and "stdout" in encoded.stderr  # the summary is on stderr
    decoded = invoke("decode", "-", "-o", "-", input=encoded.stdout_bytes)
    assert decoded.exit_code == 0, decoded.output
    assert decoded.stdout_bytes == png.read_bytes()
    empty = invoke("decode", "-", "-o", "-", input=b"")
    assert empty.exit_code == 1 and "stdin is empty" in empty.stderr


@pytest.mark.slow
def test_a_pipeline_of_real_processes(images, tmp_path):
    """cat a.png | inrcodec encode - -o - | inrcodec decode - -o - > b.png, as the README shows it."""
    source = images[0]
    with open(source, "rb") as stdin:
        encoder = subprocess.Popen(command("encode", "-", "-o", "-", "--steps", STEPS), stdin=stdin,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
        decoder = subprocess.run(command("decode", "-", "-o", "-"), stdin=encoder.stdout, capture_output=True)
        encoder.stdout.close()
        encoder_err = encoder.stderr.read().decode()
        assert encoder.wait() == 0, encoder_err
    assert decoder.returncode == 0, decoder.stderr
    assert "PSNR" in encoder_err and "stdout" in encoder_err
    inr, png = tmp_path / "file.inr", tmp_path / "file.png"
    assert invoke("encode", source, "-o", inr, "--steps", STEPS).exit_code == 0
    assert invoke("decode", inr, "-o", png).exit_code == 0
    assert decoder.stdout == png.read_bytes()


def test_stdout_format_comes_from_format(images, tmp_path):
    inr = tmp_path / "a.inr"
    assert invoke("encode", images[0], "-o", inr, "--steps", STEPS).exit_code == 0
    done = subprocess.run(command("decode", inr, "-o", "-", "--format", "tiff"), capture_output=True)
    assert done.returncode == 0 and done.stdout[:2] in (b"II", b"MM")
    bad = invoke("decode", inr, "-o", "-", "--format", "nope")
    assert bad.exit_code == 1 and "unknown image format 'nope'" in bad.stderr


def test_several_inputs_with_out_dir(images, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    result = invoke("encode", *images, "-d", out, "--steps", STEPS, "--json")
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [Path(line["output"]).name for line in lines] == ["image0.inr", "image1.inr", "image2.inr"]
    assert "3 of 3 files encoded" in result.stderr
    decoded = tmp_path / "decoded"
    decoded.mkdir()
    result = invoke("decode", *sorted(out.glob("*.inr")), "-d", decoded)
    assert result.exit_code == 0 and "3 of 3 files decoded" in result.stderr
    assert sorted(p.name for p in decoded.iterdir()) == ["image0.png", "image1.png", "image2.png"]


@pytest.mark.slow
def test_jobs_encode_every_file_in_worker_processes(images, tmp_path):
    result = invoke("encode", *images, "-d", tmp_path, "--steps", STEPS, "--jobs", "2", "--json")
    assert result.exit_code == 0, result.output
    for line, image in zip(result.stdout.splitlines(), images):
        stats = json.loads(line)
        written = (tmp_path / f"{image.stem}.inr").read_bytes()
        assert stats["input"] == str(image) and stats["bytes"] == len(written)
        assert invoke("decode", tmp_path / f"{image.stem}.inr", "-o", tmp_path / f"{image.stem}.png").exit_code == 0


def test_a_failing_file_of_several_is_reported_and_the_others_go_on(images, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    missing = tmp_path / "missing.png"
    result = invoke("encode", images[0], missing, "-d", out, "--steps", STEPS)
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "missing.png" in errors[0] and "does not exist" in errors[0]
    assert "1 of 2 files encoded, 1 failed" in result.stderr and (out / "image0.inr").is_file()
    assert not (out / "missing.inr").exists()


@pytest.mark.parametrize(
    "args, words",
    [
        (["encode", "IMG", "IMG"], "--out-dir"),
        (["encode", "IMG"], "--output"),
        (["encode", "IMG", "-o", "x.inr", "-d", "."], "not both"),
        (["encode", "IMG", "-o", "OUT/photo.png"], "name it photo.inr"),
        (["encode", "-", "-d", "OUT"], "stdin"),
        (["encode", "IMG", "-d", "OUT/nowhere"], "does not exist"),
    ],
)
def test_misleading_or_incomplete_outputs_are_refused(images, tmp_path, args, words):
    args = [str(images[0]) if a == "IMG" else a.replace("OUT", str(tmp_path)) for a in args]
    result = invoke(*args, "--steps", STEPS)
    assert result.exit_code == 1 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], result.stderr
    assert not (tmp_path / "photo.png").exists()


def test_quiet_verbose_and_the_lossy_note(images, tmp_path):
    inr = tmp_path / "a.inr"
    verbose = invoke("encode", images[0], "-o", inr, "--steps", STEPS, "-v")
    assert verbose.exit_code == 0 and "preset" in verbose.stderr and "lambda" in verbose.stderr
    jpeg = invoke("decode", inr, "-o", tmp_path / "a.jpg")
    assert jpeg.exit_code == 0 and "note: JPEG is lossy" in jpeg.stderr
    quiet = invoke("decode", inr, "-o", tmp_path / "b.jpg", "-q")
    assert quiet.exit_code == 0 and quiet.stderr == "" and quiet.stdout == ""


def test_version_names_every_format_the_decoder_reads():
    from inrcodec.bitstream.image_v2 import FORMAT

    result = invoke("--version")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].startswith("inrcodec ") and f"{FORMAT[0]}.{FORMAT[1]} (images)" in lines[1]
    assert ", ".join(f"2.{minor}" for minor in range(FORMAT[1] + 1)) in lines[2] and "1.2 (video)" in lines[2]


def test_help_is_never_cut_at_80_columns():
    for args in (["--help"], ["encode", "--help"], ["decode", "--help"], ["rd-curve", "--help"]):
        done = subprocess.run(command(*args), capture_output=True, text=True, env={**os.environ, "COLUMNS": "80"})
        assert done.returncode == 0
        assert "…" not in done.stdout and not re.search(r"\w\.\.\.$", done.stdout, re.M), done.stdout
        assert "<bool>" not in done.stdout
        assert max(len(line) for line in done.stdout.splitlines()) <= 80


def test_a_missing_extra_is_one_line_naming_the_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "scipy", None)  # as if scipy were not installed
    result = invoke("rd-curve", "--preset", "none", "--codecs", "jpeg")
    assert result.exit_code == 1
    assert result.stderr.strip() == ("error: rd-curve needs the package scipy, which is not installed: "
                                     "pip install 'inrcodec[eval]'")  # fmt: skip



def test_a_clip_without_pyav_is_one_line_naming_the_video_extra(tmp_path, monkeypatch):
    clip = tmp_path / "clip.y4m"
    clip.write_bytes(b"YUV4MPEG2 W4 H4 F25:1 C420jpeg\nFRAME\n" + bytes(24))
    monkeypatch.setitem(sys.modules, "av", None)  # as if PyAV were not installed
    for module in ("inrcodec.media.video", "inrcodec.video.clip_v2"):
        monkeypatch.delitem(sys.modules, module, raising=False)
    result = invoke("encode", clip, "-o", tmp_path / "clip.inr")
    assert result.exit_code == 1 and not (tmp_path / "clip.inr").exists()
    assert result.stderr.strip() == ("error: reading and writing clips needs the package av, which is not "
                                     "installed: pip install 'inrcodec[video]'")  # fmt: skip
