"""Residual scale offsets by temporal bucket: the bucket of each vertex, the encoder's fit, and streams coded with
offsets round-tripping through real bytes (and not decoding to the same grids without them)."""

import numpy as np
import pytest

from inrcodec.encoder.temporal import OFFSET_LIMIT, fit_scale_offsets, vertex_tables
from inrcodec.entropy.inter import TEMPORAL_BUCKETS, scale_offset_retable, temporal_buckets
from inrcodec.entropy.motion import BOTH, FUTURE, PAST, reference_disagreement
from inrcodec.entropy.planes import decode_latents, encode_latents, shifted_scales
from inrcodec.entropy.tables import ALPHABET_HALF, N_FRACTIONS, N_SCALES, table_bits


def test_shifted_scales_move_the_scale_bin_and_keep_the_fraction():
    table = np.array([0 * N_FRACTIONS + 3, 10 * N_FRACTIONS + 5, (N_SCALES - 1) * N_FRACTIONS + 7])
    assert shifted_scales(table, np.array([-2, 4, 3])).tolist() == [3, 14 * N_FRACTIONS + 5, table[2]]  # clamped


def test_buckets_read_the_disagreement_the_mode_and_the_level():
    modes = np.array([[BOTH, PAST], [FUTURE, BOTH]])
    disagreement = [np.array([[0, 1, 2, 3], [4, 7, 8, 100], [0, 0, 0, 0], [1, 1, 1, 1]]), np.array([[0, 9], [3, 0]])]
    fine, coarse = temporal_buckets(disagreement, modes, first_level=0)
    # at level 0 each vertex is a pixel, so with 16-pixel blocks all of these lie in block (0, 0): BOTH
    assert fine[:2].tolist() == [[0, 1, 2, 2], [3, 3, 4, 4]]
    assert coarse.tolist() == [[10, 14], [12, 10]]  # level 1 vertices 0, 1 still in block 0
    assert max(b.max() for b in temporal_buckets(disagreement, np.full((2, 2), PAST), 0)) < TEMPORAL_BUCKETS


def test_a_frame_with_one_reference_has_no_disagreement():
    grids = [np.arange(12).reshape(3, 4), np.arange(2).reshape(1, 2)]
    out = reference_disagreement([grids], [np.zeros((1, 1, 2), np.int64)], block=16)
    assert all(not d.any() for d in out) and [d.shape for d in out] == [(3, 4), (1, 2)]


def _wide_residuals(shape=(24, 32), seed=0):
    """Residual grids whose left half is much wider than their right: a bucket each."""
    rng = np.random.default_rng(seed)
    fine = np.round(rng.laplace(0, 0.3, size=shape)).astype(np.int64)
    fine[:, : shape[1] // 2] = np.round(rng.laplace(0, 6.0, size=(shape[0], shape[1] // 2)))
    coarse = np.round(rng.laplace(0, 0.3, size=(shape[0] // 2, shape[1] // 2))).astype(np.int64)
    buckets = [np.where(np.arange(shape[1]) < shape[1] // 2, 3, 0)[None, :].repeat(shape[0], 0),
               np.full(coarse.shape, 10)]  # fmt: skip
    return [fine, coarse], buckets


def _ideal_bits(grids, v2_shared, code, offsets, buckets):
    total = 0.0
    for level, rows, cols, value, table in vertex_tables(grids, v2_shared.contexts, code, 0, None):
        moved = shifted_scales(table, np.asarray(offsets)[buckets[level][rows, cols]])
        total += table_bits()[moved, value + ALPHABET_HALF].sum()
    return total


def test_the_fit_widens_the_wide_bucket_and_never_costs_bits(v2_shared):
    grids, buckets = _wide_residuals()
    zero = np.zeros(TEMPORAL_BUCKETS, np.int64)
    offsets = fit_scale_offsets(grids, v2_shared.contexts, 60, 0, None, buckets)
    assert offsets.shape == (TEMPORAL_BUCKETS,) and np.abs(offsets).max() <= OFFSET_LIMIT
    assert offsets[3] > offsets[0] and not offsets[[1, 2, 4, 5]].any()  # empty buckets stay 0
    assert _ideal_bits(grids, v2_shared, 60, offsets, buckets) < _ideal_bits(grids, v2_shared, 60, zero, buckets)


def test_a_stream_with_offsets_round_trips_and_needs_them(v2_shared):
    grids, buckets = _wide_residuals(seed=1)
    offsets = fit_scale_offsets(grids, v2_shared.contexts, 60, 0, None, buckets)
    moved = scale_offset_retable(buckets, offsets)
    plain, _ = encode_latents(grids, v2_shared.contexts, 60)
    stream, coded = encode_latents(grids, v2_shared.contexts, 60, 0, None, None, moved)
    assert len(stream) < len(plain)
    shapes = [g.shape for g in grids]
    assert all(np.array_equal(a, b) for a, b in zip(decode_latents(stream, shapes, v2_shared.contexts, 60, 0, None,
                                                                   None, moved), grids))  # fmt: skip
    try:
        wrong = decode_latents(stream, shapes, v2_shared.contexts, 60)
    except ValueError:
        return  # a stream read with the wrong tables may also be refused as malformed
    assert not all(np.array_equal(a, b) for a, b in zip(wrong, grids))
