"""The models shipped in models/: the default is the v2 image model, its card says how it was made, and it
codes the bundled sample through real bytes (a few refinement steps, so the test stays short)."""

from pathlib import Path

import numpy as np
from PIL import Image

from inrcodec import api
from inrcodec.model import registry
from inrcodec.presets import VIDEO_MODEL

ROOT = Path(__file__).resolve().parents[1]


def test_the_default_model_is_a_v2_image_model_with_a_card(monkeypatch):
    monkeypatch.delenv(registry.MODELS_ENV, raising=False)
    entry = api.resolve_model(None)
    assert entry.config["codec"] == 2 and entry.sha256 == registry.file_sha256(entry.path)
    card = entry.card.read_text()
    assert "inrcodec meta-train" in card and "Wall time" in card and "../shared/data/train" in card
    assert registry.resolve(VIDEO_MODEL).config.get("codec") != 2  # video stays on the v1 field model


def test_the_default_model_codes_the_sample(monkeypatch):
    monkeypatch.delenv(registry.MODELS_ENV, raising=False)
    pixels = np.asarray(Image.open(ROOT / "samples" / "parrots.png").convert("RGB"))[:64, :96].copy()
    result = api.encode_image(pixels, quality=5, steps=2)
    decoded = api.decode_image(result.data)
    assert decoded.shape == pixels.shape
    assert result.stats["psnr_rgb"] > 20  # a trained model, not noise
