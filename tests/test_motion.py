"""Block motion for predicted frames: the search finds known shifts, the motion stream round-trips through real
bytes (and refuses damage), and the integer grid warp is exact where it must be."""

import numpy as np
import pytest

from inrcodec.encoder.motion import block_motion, warp_pixels
from inrcodec.entropy.motion import decode_motion, encode_motion, predicted_vector, warp_grid


def textured(height, width, seed=0):
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, size=(height // 4 + 2, width // 4 + 2, 3)).astype(np.float32)
    big = np.kron(small, np.ones((4, 4, 1), np.float32))  # blocky texture: a shift has a clear best match
    return big


@pytest.mark.parametrize("shift", [(0, 0), (3, -5), (-7, 11)])
def test_the_search_finds_a_whole_pixel_shift(shift):
    frame = textured(96, 128)
    dy, dx = shift
    reference = frame[8:88, 16:112].astype(np.uint8)
    current = frame[8 + dy : 88 + dy, 16 + dx : 112 + dx].astype(np.uint8)  # current(p) = reference(p + shift)
    motion = block_motion(current, reference, block=16, search=16)
    inner = motion[1:-1, 1:-1]  # edge blocks may see past the reference's border
    assert (inner == np.array([2 * dy, 2 * dx])).all()
    predicted = warp_pixels(reference.astype(np.float32), motion, 16)
    assert np.abs(predicted[16:-16, 16:-16] - current[16:-16, 16:-16]).max() == 0


def test_motion_round_trips_through_bytes():
    rng = np.random.default_rng(1)
    motion = rng.integers(-40, 41, size=(7, 9, 2))
    motion[2:5, 3:6] = (6, -2)  # a coherent area, as real motion has
    data = encode_motion(motion)
    assert np.array_equal(decode_motion(data, (7, 9)), motion)
    still = np.zeros((7, 9, 2), np.int64)
    assert len(encode_motion(still)) < len(data) / 4  # a still frame's motion costs almost nothing
    with pytest.raises(ValueError):
        decode_motion(data[:-4], (7, 9))
    with pytest.raises(ValueError):
        decode_motion(data + b"\0\0\0\1", (7, 9))


def test_the_median_predictor_reads_only_decoded_neighbours():
    motion = np.zeros((3, 3, 2), np.int64)
    motion[0, 0], motion[0, 1], motion[0, 2], motion[1, 0] = (2, 2), (4, 0), (6, -2), (8, 8)
    assert predicted_vector(motion, 0, 0) == (0, 0)
    assert predicted_vector(motion, 0, 1) == (2, 2)
    assert predicted_vector(motion, 1, 0) == (2, 2)
    assert predicted_vector(motion, 1, 1) == (6, 0)  # componentwise median of (8, 8), (4, 0), (6, -2)


def test_the_grid_warp_is_exact_for_whole_vertex_shifts_and_averages_half_ones():
    rng = np.random.default_rng(2)
    grid = rng.integers(-50, 51, size=(12, 16))
    for level in range(3):
        d = 2 << level  # half pixels per vertex at this level
        motion = np.full((4, 4, 2), (d, -2 * d))
        warped = warp_grid(grid, motion, level, block=64)
        assert np.array_equal(warped[:-1, 2:], grid[1:, :-2])  # one vertex down, two left
    half = warp_grid(grid, np.full((1, 1, 2), (0, 1)), level=0, block=64)  # half a pixel right at level 0
    assert np.array_equal(half[:, :-1], (grid[:, :-1] + grid[:, 1:] + 1) >> 1)
    assert np.array_equal(warp_grid(grid, np.zeros((1, 1, 2), np.int64), 2, 64), grid)


def test_a_predicted_frame_decodes_from_its_residual_and_a_still_frame_has_none(v2_model):
    from inrcodec import decoder
    from inrcodec.bitstream.image_v2 import parse_image
    from inrcodec.encoder.image import encode_image
    from inrcodec.encoder.predicted import encode_predicted, predicted_latents
    from inrcodec.entropy.planes import decode_latents
    from inrcodec.metrics import psnr

    frame = textured(48, 64, seed=3)[:48, :64].astype(np.uint8)
    moved = np.roll(frame, 4, axis=1)  # a pan of four pixels
    intra = encode_image(frame, v2_model, rate_code=120, steps=2)
    file = parse_image(intra.data)
    shared = decoder.model_for(file)
    reference = decoder.decode_file_latents(file, shared)
    motion = block_motion(moved, frame, block=16, search=8)
    prediction = predicted_latents(reference, motion, 16)
    coded = encode_predicted(moved, prediction, v2_model, 120, 1e-3, steps=2)
    residuals = decode_latents(coded.residual_stream, [q.shape for q in prediction], shared.contexts, 120)
    assert all(np.array_equal(p + r, q) for p, r, q in zip(prediction, residuals, coded.latents))
    rendered = decoder.render_latents(file, shared, coded.latents, finish=lambda rgb: decoder.pixels_of(rgb, 3))
    assert rendered.shape == moved.shape and np.isfinite(psnr(moved, rendered))
    still = encode_predicted(frame, reference, v2_model, 120, 1e-3, steps=0, start="zero")  # the prediction as it is
    residuals = decode_latents(still.residual_stream, [q.shape for q in reference], shared.contexts, 120)
    assert not any(r.any() for r in residuals)
    assert all(np.array_equal(q, r) for q, r in zip(still.latents, reference))
