"""The v2 image codec end to end: synthesis numpy vs torch, the format 2.0 header, encode -> bytes -> decode."""

import subprocess
import sys

import numpy as np
import pytest
import torch

from inrcodec import api, decoder
from inrcodec.bitstream.container import write_container
from inrcodec.bitstream.image_v2 import parse_image
from inrcodec.encoder.model_torch import load_codec_model
from inrcodec.errors import BitstreamError, InrCodecError
from inrcodec.field.synthesis import render
from inrcodec.metrics import psnr
from inrcodec.model.config import level_shape
from inrcodec.model.shared import load_shared


def test_numpy_synthesis_equals_torch(v2_model):
    model, shared = load_codec_model(v2_model), load_shared(v2_model)
    rng = np.random.default_rng(0)
    height, width = 37, 29
    latents = [rng.integers(-6, 7, size=level_shape(height, width, l)) for l in range(shared.config.n_levels)]
    with torch.no_grad():
        code = torch.tensor([123.0])
        reference = model.shared.render([torch.tensor(q, dtype=torch.float32)[None, None] for q in latents], code,
                                        height, width)[0].permute(1, 2, 0).numpy()
    for strip in (4, 64):
        ours = render(latents, shared.gains(123), shared.synthesis, height, width, strip_rows=strip)
        np.testing.assert_allclose(ours, reference, atol=1e-5)
    strips = [render(latents, shared.gains(123), shared.synthesis, height, width, strip_rows=s) for s in (3, 5, 37)]
    assert all(np.array_equal(strips[0], other) for other in strips[1:])


def sample_image(height=24, width=40, seed=0):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 6, y * 9, (x + y) * 3], axis=-1) + rng.integers(0, 20, size=(height, width, 3))
    return np.clip(base, 0, 255).astype(np.uint8)


def test_encode_reports_what_the_decoder_gives(v2_model):
    pixels = sample_image()
    result = api.encode_image(pixels, quality=4, steps=3)
    decoded = api.decode_image(result.data)
    assert decoded.shape == pixels.shape and decoded.dtype == np.uint8
    assert result.stats["bytes"] == len(result.data)
    assert result.stats["bpp"] == pytest.approx(len(result.data) * 8 / pixels.shape[0] / pixels.shape[1])
    assert result.stats["psnr_rgb"] == pytest.approx(psnr(pixels, decoded))
    assert parse_image(result.data).model_id == v2_model.id


def test_encoding_is_deterministic(v2_model):
    pixels = sample_image(seed=1)
    assert api.encode_image(pixels, steps=2).data == api.encode_image(pixels, steps=2).data


def test_refinement_never_ends_worse_than_the_prediction(v2_model):
    """The refined latents are kept only where their (rounded, estimated) cost beats the prediction's, so the
    coded files' costs come out no higher, up to the coder's overhead."""
    pixels = sample_image(48, 48, seed=2)
    for quality in (1, 8):
        costs = []
        for steps in (0, 30):
            stats = api.encode_image(pixels, quality=quality, steps=steps).stats
            mse = (255 / 10 ** (stats["psnr_rgb"] / 20)) ** 2 / 255**2
            costs.append(mse + stats["lambda"] * stats["bpp"])
        assert costs[1] <= costs[0] * 1.02, quality


def test_grey_stays_grey(v2_model):
    grey = sample_image()[..., 0]
    result = api.encode_image(grey, steps=1)
    assert parse_image(result.data).channels == 1
    decoded = api.decode_image(result.data)
    assert decoded.shape == grey.shape and decoded.ndim == 2


def test_odd_and_tiny_sizes(v2_model):
    for shape in [(1, 1, 3), (1, 70, 3), (65, 3, 3)]:
        pixels = np.full(shape, 128, np.uint8)
        assert api.decode_image(api.encode_image(pixels, steps=0).data).shape == shape


def test_bad_arguments_are_one_line_errors(v2_model):
    with pytest.raises(InrCodecError, match="quality"):
        api.encode_image(sample_image(), quality=9)
    with pytest.raises(InrCodecError, match="preset"):
        api.encode_image(sample_image(), preset="turbo")
    with pytest.raises(InrCodecError, match="uint8"):
        api.encode_image(sample_image().astype(np.float32))
    with pytest.raises(InrCodecError, match="shape"):
        api.encode_image(np.zeros((4, 4, 4), np.uint8))
    with pytest.raises(InrCodecError, match="not installed"):
        api.encode_image(sample_image(), model="nope")


def encoded(v2_model):
    return parse_image(api.encode_image(sample_image(), steps=0).data)


def test_header_round_trip(v2_model):
    file = encoded(v2_model)
    assert parse_image(file.to_bytes()) == file


@pytest.mark.parametrize(
    "change, message",
    [
        ({"channels": 2}, "neither 1 nor 3"),
        ({"model_id": "\x1b]0;owned\x07"}, "characters other than"),
        ({"width": 16384, "height": 16384}, "over the limit"),
    ],
)
def test_hostile_headers_are_refused(v2_model, change, message):
    import dataclasses

    file = encoded(v2_model)
    hostile = dataclasses.replace(file, **change)
    if "model_id" in change:  # to_bytes refuses to write it, so build the bytes by hand
        from inrcodec.bitstream.image_v2 import HEADER, TAG_DATA, TAG_HEAD

        model = change["model_id"].encode("latin-1")
        head = HEADER.pack({**file.header(), "model_id_length": len(model)}) + model + file.model_sha256
        data = write_container([(TAG_HEAD, head), (TAG_DATA, file.payload)], major=2)
    elif "channels" in change:
        from inrcodec.bitstream.image_v2 import HEADER, TAG_DATA, TAG_HEAD

        model = file.model_id.encode()
        head = HEADER.pack({**file.header(), "channels": 2, "model_id_length": len(model)}) + model + file.model_sha256
        data = write_container([(TAG_HEAD, head), (TAG_DATA, file.payload)], major=2)
    else:
        data = hostile.to_bytes()
    with pytest.raises(BitstreamError, match=message):
        decoder.decode_image(data)


def test_a_huge_claim_with_few_bytes_is_refused_before_work(v2_model):
    import dataclasses

    file = dataclasses.replace(encoded(v2_model), width=4096, height=4096)
    with pytest.raises(BitstreamError, match="too short"):
        decoder.decode_image(file.to_bytes())


def test_corrupted_payload_is_refused(v2_model):
    import dataclasses

    file = encoded(v2_model)
    flipped = bytes([file.payload[0] ^ 0x40]) + file.payload[1:]
    with pytest.raises(BitstreamError):
        decoder.decode_image(dataclasses.replace(file, payload=flipped).to_bytes())


def test_format_1_images_are_refused_with_advice(v2_model):
    data = write_container([(b"HEAD", b""), (b"FELD", b""), (b"DATA", b"")], minor=1)
    with pytest.raises(BitstreamError, match=r"format 1\.1 .*inrcodec 0\.1"):
        decoder.decode_image(data)


def test_file_for_another_model_names_it(v2_model):
    import dataclasses

    file = dataclasses.replace(encoded(v2_model), model_sha256=bytes(32))
    with pytest.raises(InrCodecError, match="tiny-v2"):
        decoder.decode_image(file.to_bytes())


def test_decoding_never_imports_torch(v2_model, tmp_path):
    path = tmp_path / "x.inr"
    path.write_bytes(api.encode_image(sample_image(), steps=0).data)
    probe = (
        "import sys; from inrcodec import api; "
        f"api.decode_image(open({str(path)!r}, 'rb').read()); sys.exit('torch' in sys.modules)"
    )
    env = {"INRCODEC_MODELS_DIR": str(v2_model.path.parent.parent), "PATH": "/usr/bin:/bin"}
    assert subprocess.run([sys.executable, "-c", probe], env=env, timeout=60).returncode == 0


def test_a_model_that_is_not_v2_is_refused_for_images(v2_model, monkeypatch):
    import dataclasses

    from inrcodec.model import registry as models

    video_like = dataclasses.replace(v2_model, id="base-v1", config={"n_levels": 7, "n_features": 3})
    monkeypatch.setattr(models, "resolve", lambda model_id=None: video_like)
    with pytest.raises(InrCodecError, match="base-v1.*v2"):
        api.encode_image(sample_image(), model="base-v1")


def test_the_refinement_step_shrinks_for_short_runs(v2_model):
    from inrcodec.encoder.image import encode_image
    from inrcodec.encoder.refine import LEARNING_RATE, learning_rate_for

    assert learning_rate_for(60) == learning_rate_for(300) == LEARNING_RATE
    assert learning_rate_for(10) == pytest.approx(LEARNING_RATE * (10 / 60) ** 0.5)
    pixels = sample_image(seed=3)
    rule = encode_image(pixels, v2_model, lam=0.01, steps=3).data
    assert encode_image(pixels, v2_model, lam=0.01, steps=3, learning_rate=learning_rate_for(3)).data == rule
    assert encode_image(pixels, v2_model, lam=0.01, steps=3, learning_rate=0.5).data != rule
