"""Rate control's search (inrcodec.encoder.ratecontrol) on a fake encoder whose size follows a known curve, and once on
a real encode."""

import math

import numpy as np
import pytest

from inrcodec.encoder import ratecontrol
from inrcodec.encoder.ratecontrol import LAMBDA_HIGH, LAMBDA_LOW, search_lambda

# encode with a small random v2 model (tests/conftest.py), not whatever model is shipped
pytestmark = pytest.mark.usefixtures("v2_model")


def power_law(scale: float = 0.05, slope: float = -0.45, calls: list | None = None):
    """A fake encode_at: bpp = scale * lambda^slope, bytes naming the lambda."""

    def encode_at(lam: float):
        if calls is not None:
            calls.append(lam)
        bpp = scale * lam**slope
        return f"{lam:.6g}".encode(), {"bpp": bpp, "psnr_rgb": 30.0}

    return encode_at


@pytest.mark.parametrize("target", [0.25, 0.5, 1.0, 2.5])
def test_reaches_the_target_within_tolerance(target):
    calls = []
    search = search_lambda(power_law(calls=calls), target, start_lambda=1.25e-3)
    assert search.reached
    assert abs(search.stats["bpp"] / target - 1) <= 0.05
    assert search.data == f"{calls[-1]:.6g}".encode()  # the file of the trial that hit
    assert len(search.trials) == len(calls) <= 4


def test_unreachable_target_returns_the_nearest_trial():
    search = search_lambda(power_law(), 1000.0, start_lambda=1.25e-3)
    assert not search.reached
    best = max(search.trials, key=lambda t: t["bpp"])
    assert search.stats["bpp"] == best["bpp"]
    assert min(t["lambda"] for t in search.trials) == pytest.approx(LAMBDA_LOW)


def test_a_noisy_flat_curve_stops_inside_the_range():
    def flat(lam: float):
        return b"x", {"bpp": 0.3 + 0.001 * math.sin(1e4 * lam), "psnr_rgb": 30.0}

    search = search_lambda(flat, 1.0, start_lambda=1e-3, max_trials=6)
    assert not search.reached and len(search.trials) <= 6
    assert all(LAMBDA_LOW <= t["lambda"] <= LAMBDA_HIGH for t in search.trials)


@pytest.mark.parametrize("target", [0.0, -1.0, float("nan"), float("inf")])
def test_bad_targets_are_refused(target):
    with pytest.raises(ValueError, match="target bpp"):
        search_lambda(power_law(), target, start_lambda=1e-3)


def test_real_encode_lands_near_the_target():
    from inrcodec.api import encode_to_bpp

    y, x = np.mgrid[0:24, 0:32]
    rgb = np.stack([x * 7, y * 9, (x * y) % 255], axis=-1).astype(np.uint8)
    trials = []
    result = encode_to_bpp(rgb, 3.0, steps=10, on_trial=trials.append)
    stats = result.stats
    assert stats["bpp"] == len(result.data) * 8 / (32 * 24)
    assert stats["trials"] == trials and len(trials) >= 1
    assert stats["target_reached"] == (abs(stats["bpp"] / 3.0 - 1) <= 0.05)
    nearest = min(abs(math.log(t["bpp"] / 3.0)) for t in trials)
    assert abs(math.log(stats["bpp"] / 3.0)) == pytest.approx(nearest)
    assert ratecontrol.TYPICAL_SLOPE < 0
