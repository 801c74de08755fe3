"""The tiled encoder (inrcodec/encoder/tiled.py, tile_workers.py): its tile-by-tile cost is the whole image's
(distortion and gradients), its prediction sees a margin around each tile, tile workers give the same file, and
its memory follows the tile, not the image."""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

import inrcodec
from inrcodec import decoder
from inrcodec.bitstream.image_v2 import parse_image
from inrcodec.encoder.image import as_target, encode_image, predict
from inrcodec.encoder.model_torch import load_codec_model
from inrcodec.encoder.refine import whole_image_cost
from inrcodec.encoder.tiled import elementwise, predict_tiled, tiled_cost
from inrcodec.errors import InrCodecError
from inrcodec.metrics import psnr
from inrcodec.recode import tile_grid_for

HEIGHT, WIDTH = 150, 200


@pytest.fixture()
def pixels():
    rng = np.random.default_rng(3)
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
    image = np.stack([x, y, (x + y) // 2], axis=-1) + rng.integers(0, 40, size=(HEIGHT, WIDTH, 3))
    return np.clip(image, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("proxy, temperature", [("soft", 0.2), ("noise", 0.2), ("mixed", 0.2), ("soft", None)])
def test_the_tiled_distortion_and_its_gradients_are_the_whole_images(v2_model, pixels, proxy, temperature):
    model = load_codec_model(v2_model)
    target, _ = as_target(pixels)
    latents = predict(v2_model, target, 120)
    grid = tile_grid_for(WIDTH, HEIGHT, model.shared.config.n_levels, 6)
    # lambda 0: the distortion alone (the rates differ on purpose: a tile's contexts stop at its border)
    whole, tiled = whole_image_cost(model, target, 120, 0.0, False, proxy), tiled_cost(model, pixels, grid, 120, 0.0,
                                                                                       proxy)  # fmt: skip
    ours = [y.detach().clone().requires_grad_() for y in latents]
    theirs = [y[0, 0].detach().clone().requires_grad_() for y in latents]
    torch.manual_seed(0)
    expected = whole(ours, None, temperature, True)
    torch.manual_seed(0)
    got = tiled(theirs, None, temperature, True)
    assert got[1] == pytest.approx(expected[1], rel=1e-5)
    for level, (a, b) in enumerate(zip(ours, theirs)):
        scale = float(a.grad.abs().max())
        assert scale > 0, level
        np.testing.assert_allclose(b.grad.numpy(), a.grad[0, 0].numpy(), atol=1e-4 * scale, err_msg=str(level))


def test_the_tiled_rate_is_what_the_tiled_file_codes(v2_model, pixels):
    model = load_codec_model(v2_model)
    grid = tile_grid_for(WIDTH, HEIGHT, model.shared.config.n_levels, 6)
    latents = predict_tiled(model, pixels, 120, grid)
    _, _, bpp = tiled_cost(model, pixels, grid, 120, 1e-3, "soft")(latents, None, None, False)
    result = encode_image(pixels, v2_model, rate_code=120, steps=0, tile_log2=6)
    payload = len(parse_image(result.data).payload)
    # the file's payload (entropy-coded streams only) against the model's estimate: close, not equal
    assert payload * 8 / (HEIGHT * WIDTH) == pytest.approx(bpp, rel=0.1)


def test_the_prediction_is_made_tile_by_tile_from_the_tile_and_a_margin(v2_model, pixels):
    model = load_codec_model(v2_model)
    grid = tile_grid_for(WIDTH, HEIGHT, model.shared.config.n_levels, 6)
    tiled = predict_tiled(model, pixels, 120, grid)
    whole = predict(v2_model, as_target(pixels)[0], 120)
    assert [tuple(t.shape) for t in tiled] == [tuple(w.shape[-2:]) for w in whole]
    # the fine levels see everything they read within the margin; the coarsest see less than the whole image
    np.testing.assert_allclose(tiled[0].numpy(), whole[0][0, 0].numpy(), atol=1e-4)
    changed = pixels.copy()
    changed[:, -8:] = 255 - changed[:, -8:]  # far from tile 0 (beyond its margin)
    again = predict_tiled(model, changed, 120, grid)
    rows, cols = grid.vertices(0, 0)
    np.testing.assert_array_equal(again[0][rows, cols].numpy(), tiled[0][rows, cols].numpy())


def test_a_tiled_encode_decodes_and_costs_about_what_an_untiled_one_does(v2_model, pixels):
    untiled = encode_image(pixels, v2_model, rate_code=150, steps=3)
    tiled = encode_image(pixels, v2_model, rate_code=150, steps=3, tile_log2=6)
    assert parse_image(tiled.data).tiling.tile_log2 == 6
    assert tiled.stats["psnr_rgb"] == pytest.approx(untiled.stats["psnr_rgb"], abs=0.3)
    assert tiled.stats["bytes"] == pytest.approx(untiled.stats["bytes"], rel=0.15)
    assert tiled.stats["psnr_rgb"] == pytest.approx(psnr(pixels, decoder.decode_image(tiled.data).pixels))


def test_a_grey_image_encodes_tiled(v2_model, pixels):
    grey = pixels[..., 0]
    result = encode_image(grey, v2_model, rate_code=150, steps=2, tile_log2=6)
    assert decoder.decode_image(result.data).pixels.shape == (HEIGHT, WIDTH)


def test_elementwise_applies_a_function_in_chunks(monkeypatch):
    from inrcodec.encoder import tiled

    monkeypatch.setattr(tiled, "ELEMENTWISE_CHUNK", 7)
    a, b = torch.randn(5, 9), torch.randn(5, 9)
    np.testing.assert_array_equal(elementwise(lambda x, y: x * y + 1, a, b).numpy(), (a * b + 1).numpy())


def test_untiled_encodes_keep_their_pixel_limit(v2_model, monkeypatch):
    from inrcodec.encoder import image

    monkeypatch.setattr(image, "DEFAULT_MAX_PIXELS", 100)
    with pytest.raises(InrCodecError, match="over the limit of 100 pixels for an untiled encode"):
        encode_image(np.zeros((20, 20, 3), np.uint8), v2_model, rate_code=100)


def test_jobs_must_be_a_positive_integer(v2_model, pixels):
    with pytest.raises(InrCodecError, match="jobs must be a positive integer"):
        inrcodec.encode(pixels, jobs=0)


@pytest.mark.slow
def test_tile_workers_give_the_same_file(v2_model, pixels):
    one = inrcodec.encode(pixels, quality=5, steps=3, tile=64)
    two = inrcodec.encode(pixels, quality=5, steps=3, tile=64, jobs=2)
    assert one.data == two.data


PEAK_SCRIPT = textwrap.dedent("""
    import json, resource, sys
    import numpy as np
    from inrcodec.runtime import tune_process
    tune_process()
    import inrcodec
    side = int(sys.argv[1])
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(side, side, 3), dtype=np.uint8)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    inrcodec.encode(pixels, quality=3, steps=2, tile=128)
    print(json.dumps({"before": before, "peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
""")


@pytest.mark.slow
def test_tiled_encoding_memory_grows_with_the_tile_not_the_image(tiny_model):
    """Peak RSS over the process's start, at 512^2 and 2048^2 pixels (16x): the per-pixel part (the canvas'
    latents and optimiser state, the image itself) stays small; an untiled fit would render the whole image."""
    growth = {}
    for side in (512, 2048):
        done = subprocess.run([sys.executable, "-c", PEAK_SCRIPT, str(side)], capture_output=True, text=True,
                              check=True)  # fmt: skip
        numbers = json.loads(done.stdout.strip().splitlines()[-1])
        growth[side] = (numbers["peak"] - numbers["before"]) * 1024
    per_pixel = (growth[2048] - growth[512]) / (2048**2 - 512**2)
    assert per_pixel < 120, growth  # bytes per extra pixel
