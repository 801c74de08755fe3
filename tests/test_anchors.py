"""Tests of inrcodec.rd.anchors: the shipped published Kodak curves, their provenance, and load_curve's errors."""

import json
import re
from pathlib import Path

import pytest

from inrcodec.rd import anchors
from inrcodec.rd.anchors import Curve, anchors_dir, load_curve, published_anchors
from inrcodec.errors import InrCodecError

SHARED = Path(__file__).resolve().parents[2] / "shared"
LABELS = {
    "coinpp": "COIN++",
    "coin": "COIN",
    "bpg444": "BPG 4:4:4",
    "vtm": "VTM",
    "coolchic": "Cool-chic v3.4",
}


@pytest.fixture(autouse=True)
def _no_env_override(monkeypatch):
    # A developer's own INRCODEC_ANCHORS_DIR must not change what the shipped-anchor tests see.
    monkeypatch.delenv(anchors.ENV_VAR, raising=False)


def test_shipped_anchors_load_in_order():
    curves = published_anchors()
    assert [c.name for c in curves] == ["coinpp", "coin", "bpg444", "coolchic", "vtm"]
    for curve in curves:
        assert curve.label == LABELS[curve.name]
        assert curve.kind == "published"
        assert len(curve.bpp) == len(curve.psnr) >= 5
        assert list(curve.bpp) == sorted(curve.bpp) and len(set(curve.bpp)) == len(curve.bpp)
        assert 0.01 < curve.bpp[0] and curve.bpp[-1] < 5.0
        # 50 dB, not 45: BPG and VTM's highest-rate points reach 47.6 and 46.6 dB at 4.7 and 3.6 bpp.
        assert all(20.0 < p < 50.0 for p in curve.psnr)
        if curve.ms_ssim is not None:
            assert len(curve.ms_ssim) == len(curve.bpp)
            assert all(0.5 < s < 1.0 for s in curve.ms_ssim)
    with_ms_ssim = {c.name for c in curves if c.ms_ssim is not None}
    assert with_ms_ssim == {"bpg444", "vtm"}


def test_each_anchor_names_its_source():
    for path in sorted((anchors_dir() / "kodak").glob("*.json")):
        meta = json.loads(path.read_text(encoding="utf-8"))["meta"]
        assert re.fullmatch(r"[\w.-]+/[\w.-]+", meta["source_repo"]), path
        assert re.fullmatch(r"[0-9a-f]{40}", meta["source_commit"]), path
        assert meta["source_path"] and meta["shared_copy"] and meta["conversion"], path
        assert meta["dataset"] == "kodak" and meta["psnr_convention"] == "mean of per-image PSNR"


def test_coinpp_matches_shared_copy():
    source = SHARED / "anchors" / "kodak" / "coinpp_repo_coinpp.json"
    if not source.is_file():
        pytest.skip("../shared/anchors/kodak is not present")
    # Parsed here independently of build_anchors.py: drop the trailing commas, then strict JSON.
    upstream = json.loads(re.sub(r",\s*([\]}])", r"\1", source.read_text(encoding="utf-8")))["results"]
    pairs = sorted(zip(upstream["bpp"], upstream["psnr"]))
    curve = next(c for c in published_anchors() if c.name == "coinpp")
    assert list(zip(curve.bpp, curve.psnr)) == pairs  # exact: the values must be copied unchanged


def test_malformed_file_raises_one_line_error(tmp_path):
    cases = {
        "trailing.json": '{"name": "x", "results": {"bpp": [0.1,], "psnr-rgb": [30.0,]}}',
        "no_results.json": '{"name": "x"}',
        "lengths.json": '{"name": "x", "results": {"bpp": [0.1, 0.2], "psnr-rgb": [30.0]}}',
        "text.json": '{"name": "x", "results": {"bpp": ["a"], "psnr-rgb": [30.0]}}',
    }
    for file_name, text in cases.items():
        path = tmp_path / file_name
        path.write_text(text, encoding="utf-8")
        with pytest.raises(InrCodecError) as info:
            load_curve(path)
        message = str(info.value)
        assert "\n" not in message and file_name in message
    with pytest.raises(InrCodecError):
        load_curve(tmp_path / "missing.json")


def test_load_curve_nulls_kind_and_missing_ms_ssim(tmp_path):
    path = tmp_path / "live.json"
    doc = {"name": "ours", "results": {"bpp": [0.2, 0.5], "psnr-rgb": [28.0, 31.0], "ms-ssim-rgb": [0.9, None]}}
    path.write_text(json.dumps(doc), encoding="utf-8")
    curve = load_curve(path, kind="live")
    assert curve == Curve("live", "ours", "live", (0.2, 0.5), (28.0, 31.0), None, meta={"ignored": True})
    assert load_curve(path).kind == "unknown"


def test_env_var_overrides_anchors_dir(tmp_path, monkeypatch):
    folder = tmp_path / "kodak"
    folder.mkdir()
    doc = {"name": "Mine", "meta": {"kind": "published"}, "results": {"bpp": [0.3], "psnr-rgb": [29.0]}}
    (folder / "mine.json").write_text(json.dumps(doc), encoding="utf-8")
    monkeypatch.setenv(anchors.ENV_VAR, str(tmp_path))
    assert anchors_dir() == tmp_path
    assert [c.label for c in published_anchors()] == ["Mine"]
    assert published_anchors("clic") == []
