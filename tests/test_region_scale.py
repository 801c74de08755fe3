"""Region and scale decoding: a window of the render equals the same window of the whole render, a scaled
render samples the field at the scaled pixel centres, and bad boxes or scales end in one line."""

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import inrcodec
from inrcodec import cli
from inrcodec.field.synthesis import View, render, to_uint8
from inrcodec.model.config import level_shape
from inrcodec.model.shared import load_shared

HEIGHT, WIDTH = 45, 70


@pytest.fixture()
def field(v2_model):
    shared = load_shared(v2_model)
    rng = np.random.default_rng(3)
    latents = [rng.integers(-6, 7, size=level_shape(HEIGHT, WIDTH, l)) for l in range(shared.config.n_levels)]
    return latents, shared.gains(100), shared.synthesis


@pytest.mark.parametrize("box", [(0, 0, 70, 45), (0, 0, 1, 1), (69, 44, 1, 1), (13, 7, 30, 21), (50, 0, 20, 45),
                                 (0, 30, 70, 15)])  # fmt: skip
def test_a_window_equals_the_same_window_of_the_whole_render(field, box):
    latents, gains, synthesis = field
    whole = render(latents, gains, synthesis, HEIGHT, WIDTH)
    x, y, w, h = box
    window = render(latents, gains, synthesis, HEIGHT, WIDTH, strip_rows=8,
                    view=View(HEIGHT, WIDTH, y, x, y + h, x + w))  # fmt: skip
    np.testing.assert_allclose(window, whole[y : y + h, x : x + w], rtol=0, atol=1e-5)


def test_a_scaled_render_samples_the_field_at_the_scaled_pixel_centres(v2_model, field):
    """Without convolutions in the way, a 2x render's features are torch's bilinear upsampling of the 1x
    features' continuous field: compared through the torch model's feature function at 2x the size."""
    latents, gains, synthesis = field
    from inrcodec.field.synthesis import SynthesisWeights

    plain = SynthesisWeights(synthesis.mlp, (), synthesis.out)  # the MLP only: per-pixel in the features
    doubled = render(latents, gains, plain, HEIGHT, WIDTH, view=View(2 * HEIGHT, 2 * WIDTH, 0, 0, 2 * HEIGHT,
                                                                     2 * WIDTH))  # fmt: skip
    grids = [torch.tensor(q * np.float32(g), dtype=torch.float32)[None, None] for q, g in zip(latents, gains)]
    # level l at 2x is the same grid read with vertex spacing 2^(l+1) output pixels, cropped to 2x the image
    features = torch.cat([torch.nn.functional.interpolate(grid, scale_factor=2 ** (l + 1), mode="bilinear",
                                                          align_corners=False)[..., : 2 * HEIGHT, : 2 * WIDTH]
                          for l, grid in enumerate(grids)], dim=1)[0].permute(1, 2, 0).numpy()  # fmt: skip
    x = features
    for i, (w, b) in enumerate(plain.mlp):
        x = x @ w.T + b
        if i < len(plain.mlp) - 1:
            x = np.maximum(x, 0)
    expected = x @ plain.out[0].T + plain.out[1] + np.float32(0.5)
    np.testing.assert_allclose(doubled, expected, atol=1e-4)
    same = render(latents, gains, synthesis, HEIGHT, WIDTH, view=View.whole(HEIGHT, WIDTH))
    assert np.array_equal(same, render(latents, gains, synthesis, HEIGHT, WIDTH))


def test_finishing_each_strip_gives_the_finished_whole_render(field):
    latents, gains, synthesis = field
    whole = render(latents, gains, synthesis, HEIGHT, WIDTH)
    finished = render(latents, gains, synthesis, HEIGHT, WIDTH, strip_rows=7, finish=to_uint8)
    assert finished.dtype == np.uint8 and np.array_equal(finished, to_uint8(whole))


@pytest.fixture()
def coded(v2_model):
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
    pixels = np.stack([x * 3, y * 5, (x + y) * 2], axis=-1).astype(np.uint8)
    return inrcodec.encode(pixels, steps=1).data


def test_the_api_decodes_a_region_and_a_scale(coded):
    whole = inrcodec.decode(coded)
    region = inrcodec.decode(coded, region=(10, 5, 40, 30))
    difference = np.abs(region.astype(int) - whole[5:35, 10:50])
    assert region.shape == (30, 40, 3) and difference.max() <= 1 and (difference > 0).mean() <= 0.001
    assert inrcodec.decode(coded, scale=0.25).shape == (11, 18, 3)
    assert inrcodec.decode(coded, scale=2, region=(100, 60, 40, 30)).shape == (30, 40, 3)


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"region": (60, 0, 20, 10)}, "not inside the 70x45 image"),
        ({"region": (-1, 0, 5, 5)}, "not inside"),
        ({"region": (0, 0, 0, 5)}, "empty"),
        ({"scale": 0}, "positive"),
        ({"scale": float("nan")}, "positive"),
        ({"scale": 1000, "max_pixels": 1 << 20}, "over the limit"),
    ],
)
def test_bad_boxes_and_scales_are_one_error(coded, kwargs, words):
    with pytest.raises(inrcodec.InrCodecError, match=words):
        inrcodec.decode(coded, **kwargs)


@pytest.mark.parametrize(
    "args, words",
    [(["--region", "1,2"], "x,y,w,h"), (["--region", "0,0,71,10"], "not inside"), (["--scale", "-2"], "positive")],
)
def test_the_cli_refuses_bad_boxes_in_one_line(coded, tmp_path, args, words, v2_model):
    source = tmp_path / "a.inr"
    source.write_bytes(coded)
    result = CliRunner().invoke(cli.app, ["decode", str(source), "-o", str(tmp_path / "r.png"), *args])
    assert result.exit_code == 1 and not (tmp_path / "r.png").exists()
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], result.stderr
