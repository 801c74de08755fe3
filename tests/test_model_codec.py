"""Encoding and decoding with a meta-learned model (format 1.1): round trips through real bytes with the shipped
default model, and the failures a user can meet (model missing, another model under the same id, a file whose
config does not match its model)."""

import numpy as np
import pytest
import torch

from inrcodec import models
from inrcodec.bitstream.image_file import InrFile
from inrcodec.codec import decode_bytes, encode_image
from inrcodec.errors import BitstreamError, InrCodecError
from inrcodec.metamodel import MetaConfig, MetaModel
from inrcodec.metrics import psnr
from inrcodec.model_codec import analyse, encode_with_model, load_model


def make_image(width=32, height=24, seed=0) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width]
    noise = np.random.default_rng(seed).normal(0, 12, size=(height, width, 3))
    base = np.stack([x * 6, y * 8, 128 + 60 * np.sin(x / 3.0)], axis=-1)
    return np.clip(base + noise, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def encoded():
    rgb = make_image()
    result = encode_image(rgb, quality=6, steps=14)
    return rgb, result


def test_round_trip_names_the_default_model(encoded):
    rgb, result = encoded
    inr = InrFile.from_bytes(result.data)
    default = models.resolve()
    assert inr.version == (1, 1)
    assert inr.model_id == default.id and inr.model_sha256.hex() == default.sha256
    assert inr.layers == [] and inr.modulation["n_inputs"] == 21
    decoded = decode_bytes(result.data)
    assert decoded.shape == rgb.shape
    assert result.stats["psnr_rgb"] == pytest.approx(psnr(rgb, decoded))
    assert result.stats["psnr_rgb"] > 24
    assert result.stats["bpp"] == len(result.data) * 8 / rgb.shape[0] / rgb.shape[1]
    assert (result.stats["meta_steps"], result.stats["refine_steps"]) == (10, 4)


def test_encoding_is_reproducible(encoded):
    rgb, result = encoded
    assert encode_image(rgb, quality=6, steps=14).data == result.data


def test_more_quality_costs_more_bits():
    rgb = make_image(seed=1)
    low, high = (encode_image(rgb, quality=q, steps=10).stats for q in (2, 7))
    assert high["bpp"] > low["bpp"] and high["psnr_rgb"] > low["psnr_rgb"]


def test_without_modulation_the_file_has_rank_zero():
    loaded = load_model()
    rgb = make_image(seed=2)
    data, stats = encode_with_model(rgb, loaded, 1e-3, 10, 0, modulate=False)
    inr = InrFile.from_bytes(data)
    assert inr.modulation["rank"] == 0
    assert stats["psnr_rgb"] == pytest.approx(psnr(rgb, decode_bytes(data)))


def test_analysis_is_reusable_across_rates():
    loaded = load_model()
    rgb = make_image(seed=3)
    analysis = analyse(rgb, loaded.model.config)
    shared = encode_with_model(rgb, loaded, 2e-3, 10, 0, analysis=analysis)[0]
    assert shared == encode_with_model(rgb, loaded, 2e-3, 10, 0)[0]


def _install(root, model_id, seed):
    """A freshly initialised (untrained) model saved and registered under root."""
    torch.manual_seed(seed)
    model = MetaModel(MetaConfig())
    weights = models.save_model(root / model_id, model_id, model.to_tensors(), model.config.to_dict())
    models.register_model(root, model_id, weights, model.config.to_dict(), default=True)


def test_decoding_without_the_model_names_it(encoded, tmp_path, monkeypatch):
    _install(tmp_path, "other-model", seed=1)
    monkeypatch.setenv(models.MODELS_ENV, str(tmp_path))
    needed = InrFile.from_bytes(encoded[1].data).model_id
    with pytest.raises(InrCodecError, match=f"needs model '{needed}'.*not installed"):
        decode_bytes(encoded[1].data)


def test_decoding_with_another_model_of_the_same_id_is_refused(encoded, tmp_path, monkeypatch):
    needed = InrFile.from_bytes(encoded[1].data).model_id
    _install(tmp_path, needed, seed=1)
    monkeypatch.setenv(models.MODELS_ENV, str(tmp_path))
    with pytest.raises(InrCodecError, match="with sha256 .* but the installed"):
        decode_bytes(encoded[1].data)


def test_encoding_with_an_unknown_model_is_refused():
    with pytest.raises(InrCodecError, match="'no-such-model' is not installed"):
        encode_image(make_image(), steps=2, model="no-such-model")


def test_a_file_whose_config_differs_from_its_model_is_refused(encoded):
    inr = InrFile.from_bytes(encoded[1].data)
    inr.field_config = {**inr.field_config, "mlp_hidden_width": 32}
    with pytest.raises(BitstreamError, match="does not match model"):
        decode_bytes(inr.to_bytes())


def test_a_file_with_a_rank_above_the_model_is_refused(encoded):
    inr = InrFile.from_bytes(encoded[1].data)
    inr.modulation = {**inr.modulation, "rank": 16}
    with pytest.raises(BitstreamError, match="rank"):
        decode_bytes(inr.to_bytes())


def test_a_model_file_cannot_be_version_1_0(encoded):
    data = bytearray(encoded[1].data)
    data[5] = 0  # minor version
    import struct
    import zlib

    body = bytes(data[:-4])
    with pytest.raises(BitstreamError, match="1.0 file cannot name a model"):
        InrFile.from_bytes(body + struct.pack("<I", zlib.crc32(body)))
