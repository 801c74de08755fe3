"""Tests of the rate-distortion harness: rows measured from real bytes, resume, config checks, parallel jobs,
summaries, BD tables and plots. Tiny images and few fit steps keep it fast."""

import csv
import hashlib
import io
import json

import numpy as np
import pytest
from PIL import Image

from inrcodec.rd import codecs as rdcodecs

from inrcodec.rd import curve as rdcurve

from inrcodec.rd import report as rdreport
from inrcodec.rd.anchors import Curve
from inrcodec.rd.datasets import folder_dataset
from inrcodec.errors import InrCodecError
from inrcodec.metrics import psnr

# encode with a small random v2 model (tests/conftest.py), not whatever model is shipped
pytestmark = pytest.mark.usefixtures("v2_model")

STEPS = 12


def textured(seed: int, height: int = 32, width: int = 48) -> np.ndarray:
    """uint8 [height, width, 3]: smooth ramps plus noise, so codecs have something to trade."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 4, y * 6, (x + y) * 2], axis=-1) + rng.normal(0, 12, (height, width, 3))
    return np.clip(base, 0, 255).astype(np.uint8)


@pytest.fixture()
def dataset(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    for seed, name in enumerate(("alpha", "beta")):
        Image.fromarray(textured(seed)).save(folder / f"{name}.png")
    return folder_dataset(folder)


def inr_codec():
    return rdcodecs.inrcodec_codec("fast", "default", steps=STEPS)


def test_measure_uses_the_bytes_and_the_decoded_image():
    rgb = textured(3)
    row = rdcurve.measure(rdcodecs.BASELINES["jpeg"], "x", rgb, 50)
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "JPEG", quality=50, optimize=True, subsampling=2)
    data = buffer.getvalue()
    decoded = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    assert row["bytes"] == len(data) and row["sha256"] == hashlib.sha256(data).hexdigest()
    assert row["bpp"] == len(data) * 8 / (32 * 48)
    assert row["psnr_rgb"] == pytest.approx(psnr(rgb, decoded), abs=1e-12)
    assert row["ms_ssim_rgb"] is None  # too small for five scales


def test_ms_ssim_is_one_for_identical_images_and_lower_for_distorted_ones():
    rgb = textured(0, 192, 192)
    assert rdcurve.ms_ssim_rgb(rgb, rgb) == pytest.approx(1.0, abs=1e-6)
    noisy = np.clip(rgb.astype(int) + np.random.default_rng(1).integers(-30, 31, rgb.shape), 0, 255).astype(np.uint8)
    assert 0.5 < rdcurve.ms_ssim_rgb(rgb, noisy) < 0.99


@pytest.mark.parametrize("codec", list(rdcodecs.BASELINES.values()), ids=list(rdcodecs.BASELINES))
def test_each_baseline_round_trips_and_rate_grows_with_quality(codec):
    rgb = textured(5, 64, 64)
    low, high = codec.qualities[1], codec.qualities[-2]
    small, large = codec.encode(rgb, low), codec.encode(rgb, high)
    assert len(small) < len(large)
    assert psnr(rgb, codec.decode(small)) < psnr(rgb, codec.decode(large))


def test_unknown_baseline_is_a_one_line_error():
    with pytest.raises(InrCodecError, match="unknown baseline codec 'bpg'"):
        rdcodecs.baseline_codecs(["jpeg", "bpg"])


def test_run_writes_csv_and_compressai_json_then_resumes_without_measuring(dataset, tmp_path):
    out = tmp_path / "out"
    codecs = [rdcodecs.BASELINES["jpeg"], inr_codec()]
    qualities = {"jpeg": (20, 60, 90), codecs[1].name: (2, 6)}
    measured = []
    summaries = rdcurve.run(dataset, codecs, out, qualities, command="test", on_row=lambda n, r: measured.append(n))
    assert len(measured) == 2 * 3 + 2 * 2
    jpeg = json.loads((out / "jpeg.json").read_text())
    assert set(jpeg) == {"name", "description", "meta", "results"}
    for key in ("bpp", "psnr-rgb", "ms-ssim-rgb", "encoding_time", "decoding_time", "psnr-rgb-of-mean-mse"):
        assert len(jpeg["results"][key]) == 3, key
    assert jpeg["meta"]["threads"] >= 1 and jpeg["meta"]["command"] == "test" and jpeg["meta"]["kind"] == "live"
    rows = list(csv.DictReader(open(out / "jpeg.csv")))
    assert [(r["image"], float(r["quality"])) for r in rows] == [
        (image, q) for image in ("alpha", "beta") for q in (20.0, 60.0, 90.0)]
    mean_bpp = np.mean([float(r["bpp"]) for r in rows if float(r["quality"]) == 60.0])
    assert jpeg["results"]["bpp"][1] == pytest.approx(mean_bpp, rel=1e-12)
    inr = summaries[codecs[1].name]
    assert inr["meta"]["config"]["model"]["id"] and inr["meta"]["config"]["steps"] == STEPS
    assert inr["results"]["bpp"][0] < inr["results"]["bpp"][1]

    again = []
    second = rdcurve.run(dataset, codecs, out, qualities, command="test", on_row=lambda n, r: again.append(n))
    assert again == []
    assert second["jpeg"]["results"] == jpeg["results"]
    assert [run["rows_measured"] for run in second["jpeg"]["meta"]["runs"]] == [6]


def test_an_interrupted_append_is_dropped_and_measured_again(dataset, tmp_path):
    out = tmp_path / "out"
    qualities = {"jpeg": (30, 70)}
    rdcurve.run(dataset, [rdcodecs.BASELINES["jpeg"]], out, qualities)
    lines = (out / "jpeg.csv").read_text().splitlines()
    (out / "jpeg.csv").write_text("\n".join(lines[:-1] + [lines[-1][: len(lines[-1]) // 2]]) + "\n")
    measured = []
    rdcurve.run(dataset, [rdcodecs.BASELINES["jpeg"]], out, qualities, on_row=lambda n, r: measured.append(r))
    assert [(r["image"], r["quality"]) for r in measured] == [("beta", 70)]
    assert len(rdcurve.read_rows(out / "jpeg.csv")) == 4
    runs = json.loads((out / "jpeg.json").read_text())["meta"]["runs"]
    assert [run["rows_measured"] for run in runs] == [4, 1]


def test_resume_refuses_results_of_another_configuration(dataset, tmp_path):
    out = tmp_path / "out"
    rdcurve.run(dataset, [rdcodecs.BASELINES["jpeg"]], out, {"jpeg": (50,)}, threads=1)
    with pytest.raises(InrCodecError, match="another config.*--fresh"):
        rdcurve.run(dataset, [rdcodecs.BASELINES["jpeg"]], out, {"jpeg": (50,)}, threads=2)
    measured = []
    rdcurve.run(dataset, [rdcodecs.BASELINES["jpeg"]], out, {"jpeg": (50,)}, threads=2, fresh=True,
                on_row=lambda n, r: measured.append(r))
    assert len(measured) == 2


def test_unknown_image_subset_is_an_error(dataset, tmp_path):
    with pytest.raises(InrCodecError, match="no image 'gamma'"):
        rdcurve.run(dataset, [rdcodecs.BASELINES["jpeg"]], tmp_path, {"jpeg": (50,)}, images=["gamma"])


@pytest.mark.slow
def test_parallel_jobs_give_the_same_bytes_as_one_process(dataset, tmp_path):
    codecs = [rdcodecs.BASELINES["jpeg"], inr_codec()]
    qualities = {"jpeg": (40,), codecs[1].name: (4,)}
    rdcurve.run(dataset, codecs, tmp_path / "one", qualities, jobs=1, threads=1)
    rdcurve.run(dataset, codecs, tmp_path / "two", qualities, jobs=2, threads=1)
    for codec in codecs:
        one, two = (sorted((r["image"], r["sha256"], r["psnr_rgb"]) for r in rdcurve.read_rows(
            tmp_path / folder / f"{codec.name}.csv")) for folder in ("one", "two"))
        assert one == two


def test_summarise_keeps_only_qualities_every_image_has():
    rows = [{"image": i, "quality": q, "bpp": b, "psnr_rgb": p, "mse": m, "ms_ssim_rgb": s, "encoding_time": 1.0,
             "decoding_time": 0.5} for i, q, b, p, m, s in [
        ("a", 1, 1.0, 30.0, 65.025, 0.9), ("b", 1, 3.0, 40.0, 6.5025, None), ("a", 2, 2.0, 35.0, 20.0, 0.95)]]
    results = rdcurve.summarise(rows, ["a", "b"], [1, 2])
    assert results["quality"] == [1] and results["bpp"] == [2.0] and results["psnr-rgb"] == [35.0]
    assert results["ms-ssim-rgb"] == [None]
    assert results["psnr-rgb-of-mean-mse"][0] == pytest.approx(10 * np.log10(255 ** 2 / ((65.025 + 6.5025) / 2)))


def _curve(name, kind, bpp, psnr_db):
    return Curve(name, name.upper(), kind, tuple(bpp), tuple(psnr_db), None)


def test_bd_table_compares_each_inrcodec_curve_with_every_other_curve():
    ours = _curve("ours", "inrcodec", [0.1, 0.2, 0.4, 0.8], [25, 28, 31, 34])
    twice = _curve("twice", "live", [0.2, 0.4, 0.8, 1.6], [25, 28, 31, 34])
    apart = _curve("apart", "published", [0.1, 0.2], [10, 12])
    rows = rdreport.bd_table([ours, twice, apart])
    assert [(r["test"], r["reference"]) for r in rows] == [("ours", "twice"), ("ours", "apart")]
    assert rows[0]["bd_rate_percent"] == pytest.approx(-50.0, abs=1e-9)
    assert rows[1]["bd_rate_percent"] is None and "do not overlap" in rows[1]["note"]
    text = rdreport.markdown(rows, "toy")
    assert "| OURS | TWICE | live | -50.0 % |" in text and "n/a" in text


def test_report_files_from_a_run_folder(dataset, tmp_path):
    out = tmp_path / "out"
    codecs = [rdcodecs.BASELINES["jpeg"], inr_codec()]
    rdcurve.run(dataset, codecs, out, {"jpeg": (10, 30, 50, 70, 90), codecs[1].name: (1, 4, 8)})
    curves = rdreport.curves_in(out, dataset.name)
    assert [c.kind for c in curves] == ["inrcodec", "live"]
    assert rdreport.curves_in(out, "another-dataset") == []
    paths = rdreport.write_bd_files(rdreport.bd_table(curves), out, dataset.name, {}) + rdreport.plot(
        curves, out, "test")
    assert {p.name for p in paths} == {"bd_rates.md", "bd_rates.json", "curves.md", "rd.png", "rd.svg"}
    assert "| 4 |" in (out / "curves.md").read_text()
    assert (out / "rd.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((out / "bd_rates.json").read_text())["rows"][0]["reference"] == "jpeg"


def test_bd_table_reports_the_rate_on_ms_ssim_too():
    ours = Curve("ours", "OURS", "inrcodec", (0.1, 0.2, 0.4, 0.8), (25, 28, 31, 34), (0.90, 0.95, 0.975, 0.9875))
    twice = Curve("twice", "TWICE", "live", (0.2, 0.4, 0.8, 1.6), (25, 28, 31, 34), (0.90, 0.95, 0.975, 0.9875))
    flat = _curve("flat", "live", [0.2, 0.4, 0.8, 1.6], [25, 28, 31, 34])
    rows = rdreport.bd_table([ours, twice, flat])
    assert rows[0]["bd_rate_ms_ssim_percent"] == pytest.approx(-50.0, abs=1e-9)
    assert rows[1]["bd_rate_ms_ssim_percent"] is None  # no MS-SSIM on that curve
    assert rdreport.ms_ssim_db((0.9,)) == pytest.approx((10.0,))
