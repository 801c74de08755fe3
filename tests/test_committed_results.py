"""Checks of the committed Kodak results: complete, consistent with their own per-image rows, and
reproducible (a JPEG row and, on a machine like the one that measured them, an inrcodec row re-measured here
give the same bytes and PSNR).

- eval/results/kodak-v2/: the v2 codec with the shipped default model, all 24 images.
- eval/results/v1/kodak/: inrcodec 0.1 (the v1 image codec, whose code is gone: its rows are history), all 24
  images; only its baselines can still be re-measured.
"""

import json
import os
from pathlib import Path

import numpy as np
import pytest

from inrcodec.rd import codecs as rdcodecs

from inrcodec.rd import curve as rdcurve
from inrcodec.rd.datasets import resolve_dataset
from inrcodec.hardware import cpu_name
from inrcodec.metrics import psnr_from_mse

RESULTS = Path(__file__).resolve().parents[1] / "eval" / "results"
V2, V1 = RESULTS / "kodak-v2", RESULTS / "v1" / "kodak"
SHARED_KODAK = Path(__file__).resolve().parents[2] / "shared" / "data" / "kodak"
KODAK = [f"kodim{i:02d}" for i in range(1, 25)]
IMAGES = {V2: KODAK, V1: KODAK}
CODECS = ["inrcodec-fast", "inrcodec-medium", "jpeg", "webp", "avif", "jpeg2000"]
ANCHORS = {V2: ("coinpp", "coin"), V1: ("coinpp", "coin")}


def load(folder: Path, name: str) -> tuple[dict, list[dict]]:
    return json.loads((folder / f"{name}.json").read_text()), rdcurve.read_rows(folder / f"{name}.csv")


def kodak(name: str) -> np.ndarray:
    if not SHARED_KODAK.is_dir():
        pytest.skip("../shared/data/kodak is not beside the repo")
    return resolve_dataset("kodak", SHARED_KODAK).load(name)


@pytest.mark.parametrize("folder", [V2, V1], ids=["v2", "v1"])
@pytest.mark.parametrize("name", CODECS)
def test_results_cover_their_images_and_match_their_rows(folder, name):
    summary, rows = load(folder, name)
    images = IMAGES[folder]
    assert summary["meta"]["dataset"]["name"] == "kodak" and summary["meta"]["images_averaged"] == len(images)
    results = summary["results"]
    assert len(results["quality"]) >= 4
    assert {row["image"] for row in rows} == set(images)
    for index, quality in enumerate(results["quality"]):
        at = [row for row in rows if row["quality"] == float(quality)]
        assert sorted(row["image"] for row in at) == images
        assert results["bpp"][index] == pytest.approx(np.mean([row["bytes"] * 8 / (row["width"] * row["height"])
                                                               for row in at]), rel=1e-12)
        assert results["psnr-rgb"][index] == pytest.approx(np.mean([row["psnr_rgb"] for row in at]), rel=1e-12)
        assert results["psnr-rgb-of-mean-mse"][index] == pytest.approx(
            psnr_from_mse(np.mean([row["mse"] for row in at])), rel=1e-12)
        assert results["ms-ssim-rgb"][index] == pytest.approx(np.mean([row["ms_ssim_rgb"] for row in at]), rel=1e-12)


@pytest.mark.parametrize("folder", [V2, V1], ids=["v2", "v1"])
def test_bd_table_and_plot_are_committed(folder):
    table = json.loads((folder / "bd_rates.json").read_text())
    pairs = {(row["test"], row["reference"]) for row in table["rows"]}
    for test in ("inrcodec-fast", "inrcodec-medium"):
        for reference in ("jpeg", "webp", "avif", "jpeg2000", *ANCHORS[folder]):
            assert (test, reference) in pairs
    assert (folder / "rd.png").is_file() and (folder / "rd.svg").is_file()


def test_v2_results_name_the_shipped_default_model():
    from inrcodec.api import resolve_model

    entry = resolve_model(None)
    for name in ("inrcodec-fast", "inrcodec-medium"):
        assert load(V2, name)[0]["meta"]["config"]["model"] == {"id": entry.id, "sha256": entry.sha256}, name


@pytest.mark.parametrize("folder, image", [(V2, "kodim05"), (V1, "kodim19")], ids=["v2", "v1"])
def test_a_committed_jpeg_row_is_reproduced(folder, image):
    pixels = kodak(image)
    committed = next(row for row in load(folder, "jpeg")[1] if row["image"] == image and row["quality"] == 40)
    row = rdcurve.measure(rdcodecs.BASELINES["jpeg"], image, pixels, 40)
    assert (row["sha256"], row["psnr_rgb"]) == (committed["sha256"], committed["psnr_rgb"])


@pytest.mark.slow
def test_a_committed_v2_row_is_reproduced():
    """Re-encodes one committed row: same size and PSNR everywhere, the same bytes on the same kind of CPU.

    Float rounding, and so some of the bytes, depends on torch's version, the thread count and the CPU's kernel
    level: on AVX2 and AVX-512 the same encode measured the same size, PSNR 2e-4 dB apart, and other bytes."""
    import torch

    summary, rows = load(V2, "inrcodec-fast")
    meta = summary["meta"]
    if meta["torch"] != torch.__version__:
        pytest.skip(f"results measured with torch {meta['torch']}; this is {torch.__version__}")
    committed = next(row for row in rows if row["image"] == "kodim20" and row["quality"] == 1)
    threads = torch.get_num_threads()
    torch.set_num_threads(meta["threads"])
    try:
        row = rdcurve.measure(rdcodecs.inrcodec_codec("fast", "default"), "kodim20", kodak("kodim20"), 1)
    finally:
        torch.set_num_threads(threads)
    assert row["bytes"] == pytest.approx(committed["bytes"], rel=0.01)
    # rendering is float too (SPEC 8 allows +-1 in 0.1 % of samples), and numpy's BLAS build changes its
    # summation order (one more numpy release moved this PSNR by 1e-6 dB with the same bytes)
    assert row["psnr_rgb"] == pytest.approx(committed["psnr_rgb"], abs=0.01)
    same_machine = (meta["hardware"].split(" (")[0], meta.get("cpu_capability")) == (
        cpu_name(), torch.backends.cpu.get_cpu_capability())
    if same_machine and (os.cpu_count() or 1) >= meta["threads"]:
        assert row["sha256"] == committed["sha256"]
