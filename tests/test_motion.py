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


def test_rate_constrained_search_trades_vector_bits_for_sad():
    rng = np.random.default_rng(5)
    flat = rng.normal(128, 6, size=(64, 96, 3)).clip(0, 255).astype(np.uint8)  # noise: every vector matches alike
    noisy = rng.normal(128, 6, size=(64, 96, 3)).clip(0, 255).astype(np.uint8)
    plain = block_motion(noisy, flat, block=16, search=8)
    smooth = block_motion(noisy, flat, block=16, search=8, rate_weight=50.0)
    assert len(encode_motion(smooth)) < len(encode_motion(plain))
    assert len(np.unique(smooth.reshape(-1, 2), axis=0)) < len(np.unique(plain.reshape(-1, 2), axis=0))
    frame = textured(96, 128)  # a real shift of clear texture survives a moderate weight
    reference, current = frame[8:88, 16:112].astype(np.uint8), frame[11:91, 11:107].astype(np.uint8)
    motion = block_motion(current, reference, block=16, search=16, rate_weight=10.0)
    assert (motion[1:-1, 1:-1] == np.array([6, -10])).all()


def test_motion_round_trips_through_bytes():
    rng = np.random.default_rng(1)
    motion = rng.integers(-40, 41, size=(7, 9, 2))
    motion[2:5, 3:6] = (6, -2)  # a coherent area, as real motion has
    data = encode_motion(motion)
    fields, modes, skip = decode_motion(data, (7, 9))
    assert np.array_equal(fields[0], motion) and (modes == -1).all() and not skip.any()  # every block PAST
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


def _warp_by_the_formula(grid, motion, level, block):
    """SPEC's per-vertex formula in Python integers (no overflow), the reference for warp_grid."""
    height, width = grid.shape
    d = 2 << level
    out = np.zeros(grid.shape, dtype=object)
    for i in range(height):
        for j in range(width):
            by = min(max(((2 * i + 1) * (1 << level) - 1) // (2 * block), 0), motion.shape[0] - 1)
            bx = min(max(((2 * j + 1) * (1 << level) - 1) // (2 * block), 0), motion.shape[1] - 1)
            y0, fy = divmod(i * d + int(motion[by, bx, 0]), d)
            x0, fx = divmod(j * d + int(motion[by, bx, 1]), d)

            def q(r, c):
                return int(grid[min(max(r, 0), height - 1), min(max(c, 0), width - 1)])

            total = (d - fy) * ((d - fx) * q(y0, x0) + fx * q(y0, x0 + 1)) + fy * (
                (d - fx) * q(y0 + 1, x0) + fx * q(y0 + 1, x0 + 1))
            out[i, j] = (total + d * d // 2) // (d * d)
    return out


@pytest.mark.parametrize("magnitude", [300, 1 << 40])  # latents of a real frame, and hostile ones past int32
def test_the_grid_warp_is_the_specs_formula_at_any_magnitude(magnitude):
    rng = np.random.default_rng(4)
    motion = rng.integers(-9, 10, size=(3, 4, 2))
    for level, shape in enumerate([(11, 15), (6, 8), (3, 4)]):
        grid = rng.integers(-magnitude, magnitude + 1, size=shape)
        expected = _warp_by_the_formula(grid, motion, level, block=4)
        assert warp_grid(grid, motion, level, block=4).tolist() == expected.tolist()


def test_a_predicted_frame_decodes_from_its_residual_and_a_still_frame_has_none(v2_model):
    from inrcodec import decoder
    from inrcodec.bitstream.image_v2 import parse_image
    from inrcodec.encoder.image import encode_image
    from inrcodec.encoder.predicted import encode_predicted
    from inrcodec.entropy.inter import decode_inter
    from inrcodec.entropy.motion import predict_grids
    from inrcodec.entropy.planes import decode_latents
    from inrcodec.metrics import psnr

    frame = textured(48, 64, seed=3)[:48, :64].astype(np.uint8)
    moved = np.roll(frame, 4, axis=1)  # a pan of four pixels
    intra = encode_image(frame, v2_model, rate_code=120, steps=2)
    file = parse_image(intra.data)
    shared = decoder.model_for(file)
    reference = decoder.decode_file_latents(file, shared)
    motion = block_motion(moved, frame, block=16, search=8)
    prediction = predict_grids([reference], [motion], None, 16)
    for levels in (0, 1, 2):
        coded = encode_predicted(moved, prediction, v2_model, 120, 1e-3, steps=2, intra_levels=(levels,))
        assert coded.intra_levels == levels and bool(coded.intra_stream) == bool(levels)
        decoded = decode_inter(coded.residual_stream, coded.intra_stream, prediction, shared.contexts, 120, 120, levels)
        assert all(np.array_equal(d, q) for d, q in zip(decoded, coded.latents))
    chosen = encode_predicted(moved, prediction, v2_model, 120, 1e-3, steps=0, intra_levels=(0, 1, 2), choose="start")
    each = [encode_predicted(moved, prediction, v2_model, 120, 1e-3, steps=0, intra_levels=(n,)) for n in (0, 1, 2)]
    sizes = [len(c.residual_stream) + len(c.intra_stream) for c in each]
    assert len(chosen.residual_stream) + len(chosen.intra_stream) == min(sizes)  # no steps: the start is coded
    with pytest.raises(ValueError, match="intra level choice"):
        encode_predicted(moved, prediction, v2_model, 120, 1e-3, steps=0, choose="guess")
    rendered = decoder.render_latents(file, shared, coded.latents, finish=lambda rgb: decoder.pixels_of(rgb, 3))
    assert rendered.shape == moved.shape and np.isfinite(psnr(moved, rendered))
    still = encode_predicted(frame, reference, v2_model, 120, 1e-3, steps=0, start="zero", intra_levels=(0,))
    residuals = decode_latents(still.residual_stream, [q.shape for q in reference], shared.contexts, 120)
    assert not any(r.any() for r in residuals)
    assert all(np.array_equal(q, r) for q, r in zip(still.latents, reference))


def test_b_frame_motion_round_trips_and_codes_only_the_vectors_its_blocks_read():
    from inrcodec.entropy.motion import BOTH, FUTURE, INTRA, PAST

    rng = np.random.default_rng(4)
    past, future = rng.integers(-30, 31, size=(5, 6, 2)), rng.integers(-30, 31, size=(5, 6, 2))
    modes = rng.choice([PAST, BOTH, FUTURE, INTRA], size=(5, 6))
    skip = (rng.random((5, 6)) < 0.4) & (modes != INTRA)
    data = encode_motion(past, future, modes=modes, skip=skip)
    (got_past, got_future), got_modes, got_skip = decode_motion(data, (5, 6), count=2)
    assert np.array_equal(got_modes, modes) and np.array_equal(got_skip, skip)
    assert np.array_equal(got_past[np.isin(modes, (PAST, BOTH))], past[np.isin(modes, (PAST, BOTH))])
    assert np.array_equal(got_future[np.isin(modes, (FUTURE, BOTH))], future[np.isin(modes, (FUTURE, BOTH))])
    intra = np.where(modes == INTRA, INTRA, PAST)  # the vectors of intra blocks are not coded
    assert len(encode_motion(past, future, modes=intra)) < len(encode_motion(past, future, modes=np.full((5, 6), PAST)))
    one_way = np.full((5, 6), PAST)
    assert len(encode_motion(past, future, modes=one_way)) < len(encode_motion(past, future, modes=np.full((5, 6), BOTH)))
    with pytest.raises(ValueError):
        encode_motion(past, future)  # two fields need their modes
    with pytest.raises(ValueError):
        encode_motion(past, future, modes=np.full((5, 6), 3))
    with pytest.raises(ValueError):
        encode_motion(past, modes=np.full((5, 6), BOTH))  # a P-frame has one reference
    with pytest.raises(ValueError, match="intra block cannot be skipped"):
        encode_motion(past, modes=np.full((5, 6), INTRA), skip=np.ones((5, 6), bool))
    with pytest.raises(ValueError):
        decode_motion(data[:-4], (5, 6), count=2)


def test_a_b_frame_prediction_takes_each_blocks_mode():
    from inrcodec.entropy.motion import BOTH, FUTURE, INTRA, PAST, predict_grids

    rng = np.random.default_rng(5)
    first = [rng.integers(-9, 10, size=(32 >> level, 48 >> level)) for level in range(3)]
    second = [rng.integers(-9, 10, size=g.shape) for g in first]
    still = [np.zeros((2, 3, 2), np.int64)] * 2
    modes = np.array([[PAST, BOTH, FUTURE], [FUTURE, PAST, INTRA]])
    predicted = predict_grids([first, second], still, modes, block=16)
    level0 = predicted[0]
    assert np.array_equal(level0[:16, :16], first[0][:16, :16])
    assert np.array_equal(level0[:16, 16:32], (first[0][:16, 16:32] + second[0][:16, 16:32] + 1) >> 1)
    assert np.array_equal(level0[16:, :16], second[0][16:, :16])
    assert (level0[16:, 32:] == 0).all() and (predicted[1][8:, 16:] == 0).all()  # intra: no prediction
    assert np.array_equal(predict_grids([first], still[:1], None, 16)[2], first[2])  # a still P-frame: its reference


def test_latent_modes_pick_the_reference_that_the_latents_match():
    from inrcodec.encoder.motion import latent_modes
    from inrcodec.entropy.motion import BOTH, FUTURE, INTRA, PAST

    rng = np.random.default_rng(6)
    past = [rng.integers(-20, 21, size=(32 >> level, 32 >> level)) for level in range(2)]
    future = [rng.integers(-20, 21, size=g.shape) for g in past]
    both = [(a + b + 1) >> 1 for a, b in zip(past, future)]
    analysis = [g.copy() for g in past]
    analysis[0][:16, 16:], analysis[1][:8, 8:] = future[0][:16, 16:], future[1][:8, 8:]  # top right: the future
    analysis[0][16:, 16:], analysis[1][8:, 8:] = both[0][16:, 16:], both[1][8:, 8:]  # bottom right: the mean
    candidates = {PAST: past, BOTH: both, FUTURE: future}
    assert np.array_equal(latent_modes(analysis, candidates, (2, 2), 16), [[PAST, FUTURE], [PAST, BOTH]])
    analysis[0][:16, :16], analysis[1][:8, :8] = 0, 0  # top left: nothing any reference predicts
    analysis[0][:16, :16] += 1 - 2 * (past[0][:16, :16] > 0)
    assert latent_modes(analysis, candidates, (2, 2), 16)[0, 0] == INTRA
    assert latent_modes(analysis, candidates, (2, 2), 16, intra_bias=None)[0, 0] != INTRA
    assert latent_modes(analysis, {PAST: past}, (2, 2), 16)[1, 0] == PAST  # a P-frame's predicted block


@pytest.mark.parametrize("count,group", [(1, 16), (9, 8), (17, 16), (47, 16), (20, 8)])
def test_the_coding_order_codes_each_frame_once_after_its_references(count, group):
    from inrcodec.encoder.clip import BIDIRECTIONAL, INTRA, PREDICTED, coding_order

    for structure in ("hierarchical", "ippp"):
        plans = coding_order(count, group, structure)
        assert sorted(p.index for p in plans) == list(range(count))
        done = set()
        for plan in plans:
            assert set(plan.references) <= done
            assert len(plan.references) == {INTRA: 0, PREDICTED: 1, BIDIRECTIONAL: 2}[plan.kind]
            done.add(plan.index)
        intra = sorted(p.index for p in plans if p.kind == INTRA)
        assert intra == list(range(0, count, group))

        def chain(index):  # the frames decoding `index` entropy-decodes
            plan = next(p for p in plans if p.index == index)
            return {index}.union(*(chain(r) for r in plan.references))

        longest = max(len(chain(p.index)) for p in plans)
        if structure == "hierarchical":
            assert longest <= group.bit_length() + 1  # O(log group), not the group
    middle = next(p for p in coding_order(17, 16) if p.index == 8)
    assert (middle.kind, middle.references, middle.layer) == (BIDIRECTIONAL, (0, 16), 1)


def test_a_clip_decodes_from_its_streams_in_coding_order(v2_model):
    from inrcodec.encoder.clip import INTRA, ClipSettings, encode_clip
    from inrcodec.entropy.inter import decode_inter
    from inrcodec.entropy.motion import predict_grids
    from inrcodec.entropy.planes import decode_latents
    from inrcodec.field.synthesis import render, to_uint8
    from inrcodec.model.shared import load_shared

    base = textured(64, 96, seed=7)
    frames = [base[t : t + 48, 2 * t : 2 * t + 64].astype(np.uint8) for t in range(6)]  # a diagonal pan
    # the streams alone, without the temporal context of formats 2.4 and 2.5 (tests/test_video_v2_vectors.py)
    settings = ClipSettings(lam=2e-3, intra_steps=1, inter_steps=1, group=4, residual_offset=40, scale_offsets=False,
                            temporal_mix=False)  # fmt: skip
    coded = encode_clip(frames, v2_model, settings)
    assert [(f.plan.kind, f.plan.index) for f in coded] == [("I", 0), ("I", 4), ("B", 2), ("B", 1), ("B", 3), ("P", 5)]
    shared = load_shared(v2_model)
    shapes = [q.shape for q in coded[0].latents]
    decoded = {}
    for frame in coded:
        if frame.plan.kind == INTRA:
            latents = decode_latents(frame.stream, shapes, shared.contexts, frame.rate_code)
        else:
            count = len(frame.plan.references)
            fields, modes, skip = decode_motion(frame.motion, (3, 4), count=count)
            prediction = predict_grids([decoded[r] for r in frame.plan.references], fields, modes, 16)
            latents = decode_inter(frame.stream, frame.intra_stream, prediction, shared.contexts, frame.rate_code,
                                   frame.residual_code, frame.intra_levels, skip)  # fmt: skip
        assert all(np.array_equal(a, b) for a, b in zip(latents, frame.latents))
        decoded[frame.plan.index] = latents
        pixels = render(latents, shared.gains(frame.rate_code), shared.synthesis, 48, 64, finish=to_uint8)
        assert np.array_equal(pixels, frame.pixels)
    assert frame.residual_code == max(0, frame.rate_code - 40)


def test_the_refined_intra_level_choice_keeps_the_cheaper_refinement(v2_model):
    import torch

    from inrcodec.encoder.image import as_target
    from inrcodec.encoder.predicted import encode_predicted, residual_cost

    frame = textured(48, 64, seed=8)[:48, :64].astype(np.uint8)
    prediction = [np.zeros((-(-48 >> level), -(-64 >> level)), np.int64) for level in range(7)]
    chosen = encode_predicted(frame, prediction, v2_model, 120, 1e-3, steps=2, intra_levels=(0, 1), choose="refined")
    costs = {}
    for levels in (0, 1):
        alone = encode_predicted(frame, prediction, v2_model, 120, 1e-3, steps=2, intra_levels=(levels,))
        cost = residual_cost(v2_model, as_target(frame)[0], prediction, 120, 1e-3, "soft", 120, levels)
        residuals = [torch.from_numpy((q - p).astype(np.float32))[None, None] for q, p in zip(alone.latents, prediction)]
        costs[levels] = (cost(residuals, None, None, False)[0], alone)
    best = min(costs, key=lambda n: costs[n][0])
    assert chosen.intra_levels == best
    assert all(np.array_equal(a, b) for a, b in zip(chosen.latents, costs[best][1].latents))


def test_skipped_blocks_code_no_residual_and_cost_less(v2_model):
    from inrcodec.entropy.inter import block_magnitudes, decode_inter, encode_inter, skipped_vertices
    from inrcodec.model.shared import load_shared

    nets = load_shared(v2_model).contexts
    rng = np.random.default_rng(12)
    shapes = [(-(-40 >> level), -(-56 >> level)) for level in range(7)]
    prediction = [rng.integers(-5, 6, size=shape) for shape in shapes]
    latents = [p + np.round(rng.laplace(0, 0.6, size=p.shape)).astype(np.int64) for p in prediction]
    latents[0][:16, :16] = prediction[0][:16, :16]  # block (0, 0) is predicted exactly at level 0 only
    skip = np.zeros((3, 4), bool)
    skip[1:, 2:] = True  # a residual there is dropped: skipped blocks code none
    full, _, _ = encode_inter(latents, prediction, nets, 120, 80, 0)
    stream, intra, coded = encode_inter(latents, prediction, nets, 120, 80, 0, skip)
    assert len(stream) < len(full) and intra == b""
    assert all(((q - p)[vertex] == 0).all() for q, p, vertex in zip(coded, prediction, skipped_vertices(shapes, 0, skip)))
    decoded = decode_inter(stream, b"", prediction, nets, 120, 80, 0, skip)
    assert all(np.array_equal(d, q) for d, q in zip(decoded, coded))
    with pytest.raises(ValueError):
        decode_inter(stream, b"", prediction, nets, 120, 80, 0)  # read without its skips, the stream is wrong
    residuals = [q - p for q, p in zip(coded, prediction)]
    magnitudes = block_magnitudes(residuals, 0, (3, 4))
    assert (magnitudes[1:, 2:] == 0).all() and magnitudes[0, 0] > 0  # block (0, 0) has residuals at coarser levels



def test_the_skip_choice_follows_the_rate_weight(v2_model):
    from inrcodec.encoder.predicted import encode_predicted
    from inrcodec.entropy.inter import block_magnitudes

    frame = textured(48, 64, seed=9)[:48, :64].astype(np.uint8)
    prediction = [np.zeros((-(-48 >> level), -(-64 >> level)), np.int64) for level in range(7)]
    skippable = np.ones((3, 4), bool)
    skippable[0, 0] = False  # an intra block, say
    costly = encode_predicted(frame, prediction, v2_model, 120, 1e3, steps=1, intra_levels=(0,), skippable=skippable)
    assert np.array_equal(costly.skip, skippable)  # bits dominate: every block that may be skipped is
    assert (block_magnitudes([q - p for q, p in zip(costly.latents, prediction)], 0, (3, 4))[skippable] == 0).all()
    cheap = encode_predicted(frame, prediction, v2_model, 120, 1e-9, steps=1, intra_levels=(0,), skippable=skippable)
    magnitudes = block_magnitudes([q - p for q, p in zip(cheap.latents, prediction)], 0, (3, 4))
    assert not cheap.skip[~skippable].any() and (magnitudes[cheap.skip] == 0).all()  # only what drops nothing
