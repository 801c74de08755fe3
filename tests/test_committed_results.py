"""Checks of the committed Kodak results of inrcodec 0.1 (eval/results/v1/kodak/, the v1 image codec, whose code
is gone: its rows are history): complete, consistent with their own per-image rows, and their live baselines
reproducible: a JPEG row re-measured here gives the same bytes and PSNR. The v2 results are checked in
test_committed_v2_results.py."""

import json
from pathlib import Path

import numpy as np
import pytest

from inrcodec import rdcodecs, rdcurve
from inrcodec.datasets import resolve_dataset
from inrcodec.metrics import psnr_from_mse

RESULTS = Path(__file__).resolve().parents[1] / "eval" / "results" / "v1" / "kodak"
SHARED_KODAK = Path(__file__).resolve().parents[2] / "shared" / "data" / "kodak"
KODAK = [f"kodim{i:02d}" for i in range(1, 25)]
CODECS = ["inrcodec-fast", "inrcodec-medium", "jpeg", "webp", "avif", "jpeg2000"]


def load(name: str) -> tuple[dict, list[dict]]:
    return json.loads((RESULTS / f"{name}.json").read_text()), rdcurve.read_rows(RESULTS / f"{name}.csv")


@pytest.mark.parametrize("name", CODECS)
def test_results_cover_all_24_images_and_match_their_rows(name):
    summary, rows = load(name)
    assert summary["meta"]["dataset"]["name"] == "kodak" and summary["meta"]["dataset"]["images"] == 24
    assert summary["meta"]["images_averaged"] == 24
    results = summary["results"]
    qualities = results["quality"]
    assert len(qualities) >= 4
    assert {row["image"] for row in rows} == set(KODAK)
    for index, quality in enumerate(qualities):
        at = [row for row in rows if row["quality"] == float(quality)]
        assert sorted(row["image"] for row in at) == KODAK
        assert results["bpp"][index] == pytest.approx(np.mean([row["bytes"] * 8 / (row["width"] * row["height"])
                                                               for row in at]), rel=1e-12)
        assert results["psnr-rgb"][index] == pytest.approx(np.mean([row["psnr_rgb"] for row in at]), rel=1e-12)
        assert results["psnr-rgb-of-mean-mse"][index] == pytest.approx(
            psnr_from_mse(np.mean([row["mse"] for row in at])), rel=1e-12)
        assert results["ms-ssim-rgb"][index] == pytest.approx(np.mean([row["ms_ssim_rgb"] for row in at]), rel=1e-12)


def test_bd_table_and_plot_are_committed():
    table = json.loads((RESULTS / "bd_rates.json").read_text())
    pairs = {(row["test"], row["reference"]) for row in table["rows"]}
    for test in ("inrcodec-fast", "inrcodec-medium"):
        for reference in ("jpeg", "webp", "avif", "jpeg2000", "coinpp", "coin"):
            assert (test, reference) in pairs
    assert (RESULTS / "rd.png").is_file() and (RESULTS / "rd.svg").is_file()


def test_a_committed_jpeg_row_is_reproduced():
    if not SHARED_KODAK.is_dir():
        pytest.skip("../shared/data/kodak is not beside the repo")
    _, rows = load("jpeg")
    committed = next(row for row in rows if row["image"] == "kodim19" and row["quality"] == 40)
    row = rdcurve.measure(rdcodecs.BASELINES["jpeg"], "kodim19", resolve_dataset("kodak", SHARED_KODAK).load("kodim19"), 40)
    assert (row["sha256"], row["psnr_rgb"]) == (committed["sha256"], committed["psnr_rgb"])
