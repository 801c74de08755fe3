"""Tests of `inrcodec rd-curve` from the command line: a tiny run with its files and JSON, a resumed run, and the
user's mistakes, each ending in one `error:` line."""

import json
import sys

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from inrcodec import cli

# encode with a small random v2 model (tests/conftest.py), not whatever model is shipped
pytestmark = pytest.mark.usefixtures("v2_model")

runner = CliRunner()


def invoke(*args):
    return runner.invoke(cli.app, ["rd-curve", *map(str, args)])


@pytest.fixture()
def images(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name in ("one", "two"):
        y, x = np.mgrid[0:24, 0:32]
        rgb = np.stack([x * 6, y * 8, (x + y) * 3], -1) + rng.normal(0, 10, (24, 32, 3))
        Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)).save(folder / f"{name}.png")
    return folder


def test_tiny_run_writes_results_report_and_plot_and_resumes(images, tmp_path, monkeypatch):
    out = tmp_path / "results"
    args = ("--dataset", images, "--preset", "fast", "--qualities", "1,8", "--codecs", "jpeg,webp", "--out", out)
    monkeypatch.setattr(sys, "argv", ["/usr/bin/inrcodec", "rd-curve", *map(str, args), "--json"])
    result = invoke(*args, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["images"] == 2 and set(report["curves"]) == {"jpeg", "webp", "inrcodec-fast"}
    assert len(report["curves"]["inrcodec-fast"]["bpp"]) == 2
    assert {row["reference"] for row in report["bd_rates"]} == {"jpeg", "webp"}
    for name in ("inrcodec-fast.json", "inrcodec-fast.csv", "jpeg.csv", "bd_rates.md", "rd.png", "rd.svg"):
        assert (out / name).is_file(), name
    meta = json.loads((out / "inrcodec-fast.json").read_text())["meta"]
    assert meta["command"] == " ".join(["inrcodec", "rd-curve", *map(str, args), "--json"])
    assert meta["config"]["preset"] == "fast" and meta["hardware"] and meta["date"]
    assert meta["images_averaged"] == 2

    again = invoke(*args)
    assert again.exit_code == 0, again.output
    assert "BD-rate" in again.stdout and "results in" in again.stdout
    assert "already measured" in again.stderr


@pytest.mark.parametrize(
    "args, words",
    [
        (("--preset", "turbo"), ("unknown preset 'turbo'",)),
        (("--qualities", "2,9"), ("quality '9'",)),
        (("--codecs", "jpeg,bpg"), ("unknown baseline codec 'bpg'",)),
        (("--model", "no-such-model"), ("no-such-model", "not installed")),
        (("--images", "three"), ("no image 'three'",)),
    ],
)
def test_mistakes_end_in_one_error_line(images, tmp_path, args, words):
    result = invoke("--dataset", images, "--out", tmp_path / "out", "--codecs", "none", *args)
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for word in words:
        assert word in lines[0]
    assert "Traceback" not in result.output


def test_missing_dataset_folder(tmp_path):
    result = invoke("--dataset", tmp_path / "nowhere", "--out", tmp_path / "out")
    assert result.exit_code == 1 and "neither a named dataset" in result.stderr
    assert not (tmp_path / "out").exists()


def test_kodak_offline_without_a_copy_says_how_to_point_at_one(tmp_path, offline_datasets):
    result = invoke("--dataset", "kodak", "--out", tmp_path / "out")
    assert result.exit_code == 1
    line = result.stderr.strip()
    assert line.startswith("error: Kodak is not in") and "--data-dir" in line and "\n" not in line


def test_preset_none_measures_the_baselines_only_and_a_later_run_resumes_them(images, tmp_path):
    out = tmp_path / "results"
    first = invoke("--dataset", images, "--preset", "none", "--codecs", "jpeg", "--out", out, "--json")
    assert first.exit_code == 0, first.output
    assert set(json.loads(first.stdout)["curves"]) == {"jpeg"}
    assert not (out / "inrcodec-fast.csv").exists() and not (out / "rd.png").exists()
    second = invoke("--dataset", images, "--preset", "fast", "--qualities", "1,8", "--codecs", "jpeg", "--out", out,
                    "--json")
    assert second.exit_code == 0, second.output
    assert set(json.loads(second.stdout)["curves"]) == {"jpeg", "inrcodec-fast"}
    assert "already measured" in second.stderr
