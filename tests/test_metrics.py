"""Tests of inrcodec.metrics: PSNR/MSE on tiny uint8 images and Bjontegaard deltas on hand-computed curves."""

import math

import numpy as np
import pytest

from inrcodec.metrics import bd_psnr, bd_rate, mse, psnr, psnr_from_mse

# A concave, JPEG-like anchor curve: bpp [5] and PSNR [5] in dB.
ANCHOR_BPP = np.array([0.25, 0.5, 1.0, 2.0, 4.0])
ANCHOR_PSNR = np.array([27.0, 30.5, 33.5, 36.0, 38.0])


def test_psnr_identical_is_inf():
    image = np.random.default_rng(0).integers(0, 256, size=(4, 5, 3), dtype=np.uint8)
    assert psnr(image, image.copy()) == float("inf")
    assert mse(image, image) == 0.0


def test_psnr_known_value():
    reference = np.zeros((2, 3, 3), dtype=np.uint8)
    decoded = np.ones((2, 3, 3), dtype=np.uint8)
    assert mse(reference, decoded) == 1.0
    assert psnr(reference, decoded) == pytest.approx(10 * math.log10(255**2))


def test_uint8_differences_do_not_wrap():
    reference = np.zeros((1, 1, 3), dtype=np.uint8)
    decoded = np.full((1, 1, 3), 255, dtype=np.uint8)
    assert mse(decoded, reference) == 255.0**2
    assert psnr(reference, decoded) == pytest.approx(0.0)


def test_psnr_is_symmetric_and_uses_mean_over_channels():
    reference = np.zeros((2, 2, 3), dtype=np.uint8)
    decoded = reference.copy()
    decoded[0, 0, 0] = 12  # one sample of 12 samples off by 12 -> MSE 12
    assert mse(reference, decoded) == 12.0
    assert psnr(reference, decoded) == pytest.approx(psnr(decoded, reference))


def test_psnr_peak_argument():
    reference = np.zeros((2, 2, 3), dtype=np.uint16)
    decoded = reference + 4
    assert psnr(reference, decoded, peak=1023.0) == pytest.approx(10 * math.log10(1023.0**2 / 16))


def test_shape_mismatch_raises():
    with pytest.raises(ValueError, match="shape"):
        psnr(np.zeros((2, 2, 3), np.uint8), np.zeros((2, 3, 3), np.uint8))


def test_float_images_are_rejected():
    with pytest.raises(TypeError):
        psnr(np.zeros((2, 2, 3), np.float32), np.zeros((2, 2, 3), np.float32))


def test_psnr_from_mse():
    assert psnr_from_mse(0.0) == float("inf")
    assert psnr_from_mse(255.0**2) == pytest.approx(0.0)
    with pytest.raises(ValueError):
        psnr_from_mse(-1.0)


def test_bd_rate_identical_curves_is_zero():
    assert bd_rate(ANCHOR_BPP, ANCHOR_PSNR, ANCHOR_BPP, ANCHOR_PSNR) == pytest.approx(0.0, abs=1e-12)


def test_bd_rate_half_rate_is_minus_50_percent():
    assert bd_rate(ANCHOR_BPP, ANCHOR_PSNR, ANCHOR_BPP / 2, ANCHOR_PSNR) == pytest.approx(-50.0, abs=1e-9)


def test_bd_rate_double_rate_is_plus_100_percent():
    assert bd_rate(ANCHOR_BPP, ANCHOR_PSNR, ANCHOR_BPP * 2, ANCHOR_PSNR) == pytest.approx(100.0, abs=1e-9)


def test_bd_rate_partial_overlap_hand_computed():
    # Two points -> pchip is linear. log r rises by ln 4 over 10 dB on both curves; the test curve is 2 dB higher,
    # so over the overlap [32, 40] dB its log rate is lower by 0.2 * ln 4 everywhere: 4**-0.2 - 1.
    result = bd_rate([1.0, 4.0], [30.0, 40.0], [1.0, 4.0], [32.0, 42.0])
    assert result == pytest.approx((4**-0.2 - 1) * 100, abs=1e-9)


def test_bd_rate_ignores_point_order():
    order = [3, 0, 4, 1, 2]
    test_bpp, test_psnr = ANCHOR_BPP * 0.8, ANCHOR_PSNR + 0.3
    expected = bd_rate(ANCHOR_BPP, ANCHOR_PSNR, test_bpp, test_psnr)
    assert bd_rate(ANCHOR_BPP[order], ANCHOR_PSNR[order], test_bpp[order], test_psnr[order]) == pytest.approx(expected)


def test_bd_psnr_shift():
    assert bd_psnr(ANCHOR_BPP, ANCHOR_PSNR, ANCHOR_BPP, ANCHOR_PSNR + 1.5) == pytest.approx(1.5, abs=1e-12)
    assert bd_psnr(ANCHOR_BPP, ANCHOR_PSNR, ANCHOR_BPP, ANCHOR_PSNR - 0.7) == pytest.approx(-0.7, abs=1e-12)


def test_bd_psnr_of_half_rate_is_positive():
    assert bd_psnr(ANCHOR_BPP, ANCHOR_PSNR, ANCHOR_BPP / 2, ANCHOR_PSNR) > 0


def test_non_overlapping_psnr_ranges_raise():
    with pytest.raises(ValueError, match="do not overlap"):
        bd_rate([0.1, 0.2], [20.0, 22.0], [1.0, 2.0], [30.0, 32.0])


def test_non_overlapping_rate_ranges_raise():
    with pytest.raises(ValueError, match="do not overlap"):
        bd_psnr([0.1, 0.2], [20.0, 22.0], [1.0, 2.0], [30.0, 32.0])


def test_too_few_points_raise():
    with pytest.raises(ValueError, match="at least 2"):
        bd_rate([1.0], [30.0], [1.0, 2.0], [30.0, 33.0])
    with pytest.raises(ValueError, match="at least 2"):
        bd_psnr([1.0, 2.0], [30.0, 33.0], [1.0], [30.0])


@pytest.mark.parametrize(
    "bpp, psnr_db",
    [([1.0, 2.0], [30.0, 30.0]), ([0.0, 2.0], [30.0, 33.0]), ([1.0, 2.0], [30.0, float("inf")]), ([1.0], [30.0, 31.0])],
)
def test_invalid_curves_raise(bpp, psnr_db):
    with pytest.raises(ValueError):
        bd_rate(ANCHOR_BPP, ANCHOR_PSNR, bpp, psnr_db)


def test_agrees_with_bjontegaard_package():
    import bjontegaard  # an independent implementation, in the [dev] extra

    test_bpp = np.array([0.2, 0.45, 0.8, 1.9, 3.0])
    test_psnr = np.array([27.5, 31.0, 33.0, 36.5, 37.2])
    options = dict(method="pchip", require_matching_points=False, min_overlap=0)
    expected_rate = bjontegaard.bd_rate(ANCHOR_BPP, ANCHOR_PSNR, test_bpp, test_psnr, **options)
    expected_psnr = bjontegaard.bd_psnr(ANCHOR_BPP, ANCHOR_PSNR, test_bpp, test_psnr, **options)
    assert bd_rate(ANCHOR_BPP, ANCHOR_PSNR, test_bpp, test_psnr) == pytest.approx(expected_rate, rel=1e-9)
    assert bd_psnr(ANCHOR_BPP, ANCHOR_PSNR, test_bpp, test_psnr) == pytest.approx(expected_psnr, rel=1e-9)
