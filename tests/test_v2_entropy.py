"""The v2 entropy layer: normative tables, the fixed-point context model, and plane coding through real bytes."""

import numpy as np
import pytest
import torch

from inrcodec.encoder.shared_torch import context_inputs, padded_coarser
from inrcodec.entropy import tables
from inrcodec.entropy.context_model import (
    ACTIVATION_LIMIT,
    MLP_COLUMNS,
    IntegerMlp,
    context_indices,
    context_matrix,
    padded_grid,
    pass_positions,
    table_choice,
)
from inrcodec.entropy.planes import (
    CHUNK_LATENTS,
    ContextNetworks,
    StreamError,
    Traversals,
    decode_latents,
    decode_streams,
    encode_latents,
    max_latents,
)
from inrcodec.model.config import SAME_LEVEL_OFFSETS, level_shape


def test_committed_tables_follow_their_formula():
    committed = tables.tables()
    assert committed.shape == (tables.N_TABLES, tables.ALPHABET)
    np.testing.assert_array_equal(committed, tables.build_tables())
    assert committed.min() >= tables.FREQ_FLOOR


def test_stream_bound_holds_for_every_table():
    freq = tables.tables().astype(np.float64)
    min_bits = (-np.log2(freq / freq.sum(axis=1, keepdims=True))).min()
    assert tables.LATENTS_PER_STREAM_BIT * min_bits >= 1.0


def random_mlp(rng, widths, scale=0.3):
    layers = [(np.clip(rng.normal(0, scale, (b, a)), -7.9, 7.9).astype(np.float32), rng.normal(0, scale, b).astype(np.float32))
              for a, b in zip(widths[:-1], widths[1:])]
    return IntegerMlp.from_float(layers, "test")


def test_float64_path_equals_int64_definition_even_at_the_extremes():
    rng = np.random.default_rng(0)
    mlp = random_mlp(rng, (22, 16, 16, 2), scale=2.0)
    x = rng.integers(-255, 256, size=(22, 2 * MLP_COLUMNS + 17)) * 256  # column blocks, the last one partial
    x[:, :10] = 255 * 256  # saturated inputs push activations to the clamp
    out = mlp(x.astype(np.float64))
    np.testing.assert_array_equal(out.astype(np.int64), mlp.mlp_int64(x))
    assert np.abs(out).max() < 2**53


def test_hidden_activations_are_clamped():
    zeros = lambda n: np.zeros(n, np.float32)  # noqa: E731
    big = [(np.full((16, 22), 7.99, np.float32), zeros(16)), (np.full((16, 16), 7.99, np.float32), zeros(16)),
           (np.ones((2, 16), np.float32), zeros(2))]
    mlp = IntegerMlp.from_float(big, "big")
    x = np.full((22, 1), 255 * 256, dtype=np.float64)
    w = round(7.99 * 4096)
    first = (22 * w * 255 * 256) >> 12
    assert (16 * w * first) >> 12 > ACTIVATION_LIMIT  # the second layer saturates
    assert mlp(x)[0, 0] == (16 * 4096 * ACTIVATION_LIMIT) >> 12 == mlp.mlp_int64(x)[0, 0]


def test_out_of_range_weights_are_refused():
    with pytest.raises(ValueError, match="fixed-point range"):
        IntegerMlp.from_float([(np.full((2, 2), 9.0, np.float32), np.zeros(2, np.float32))], "x")


def test_table_choice_rounds_mean_and_scale():
    params = np.array([[0, -768], [128, 0], [-129, 10_000], [300, -10_000]], dtype=np.float64).T
    means, table = table_choice(params)
    assert means.tolist() == [0, 1, -1, 1]
    scales, fractions = table // tables.N_FRACTIONS, table % tables.N_FRACTIONS
    assert scales.tolist() == [0, 24, 63, 0]
    assert fractions.tolist() == [4, 0, 7, 5]  # -129/256 = -1 + 0.496 -> bin 7; 300/256 = 1 + 0.17 -> bin 5


def test_same_level_neighbours_lie_on_pass_a():
    assert all((dy + dx) % 2 == 1 for dy, dx in SAME_LEVEL_OFFSETS)


def test_contexts_equal_the_torch_model():
    rng = np.random.default_rng(1)
    fine, coarse = rng.integers(-300, 300, size=(9, 13)), rng.integers(-300, 300, size=(5, 7))
    t = lambda a: torch.tensor(a, dtype=torch.float32)[None, None]  # noqa: E731
    theirs = context_inputs(t(fine), padded_coarser(t(coarse)), torch.tensor([200.0]))
    for second, inputs in zip((False, True), theirs):
        rows, cols = pass_positions(9, 13, second)
        ours = context_matrix(padded_grid(coarse, 1), padded_grid(fine, 2) if second else None, rows, cols, 200)
        np.testing.assert_array_equal(ours.T / 256, inputs[0].numpy())  # t / 64 at 2^-8 is 4 t
    coarsest = context_inputs(t(coarse), None, torch.tensor([0.0]))
    assert (coarsest[0][..., :9] == 0).all() and (coarsest[1][..., :9] == 0).all()


def random_networks(seed=0, levels=4, hidden=8):
    rng = np.random.default_rng(seed)
    return ContextNetworks(
        tuple(random_mlp(rng, (10, hidden, 2)) for _ in range(levels)),
        tuple(random_mlp(rng, (22, hidden, 2)) for _ in range(levels)),
    )


def random_latents(seed, height, width, levels, spread=4):
    rng = np.random.default_rng(seed)
    return [rng.integers(-spread, spread + 1, size=level_shape(height, width, l)) for l in range(levels)]


@pytest.mark.parametrize("size", [(1, 1), (3, 5), (17, 9), (40, 64)])
def test_planes_round_trip_through_bytes(size):
    nets = random_networks()
    latents = random_latents(2, *size, levels=4)
    data, coded = encode_latents(latents, nets, 77)
    assert all((a == b).all() for a, b in zip(latents, coded))
    decoded = decode_latents(data, [q.shape for q in latents], nets, 77)
    assert all((a == b).all() for a, b in zip(latents, decoded))


def test_planes_with_several_chunks():
    nets = random_networks(levels=1)
    latents = random_latents(3, 300, 500, levels=1, spread=1)
    assert latents[0].size // 2 > CHUNK_LATENTS
    data, _ = encode_latents(latents, nets, 3)
    assert (decode_latents(data, [latents[0].shape], nets, 3)[0] == latents[0]).all()


def test_latents_beyond_the_alphabet_are_clamped_and_reported():
    nets = random_networks(levels=2)
    latents = random_latents(4, 8, 8, levels=2)
    latents[0][3, 3] = 100_000
    data, coded = encode_latents(latents, nets, 10)
    assert coded[0][3, 3] < 1000
    assert (decode_latents(data, [q.shape for q in latents], nets, 10)[0] == coded[0]).all()


def test_damaged_streams_are_refused():
    nets = random_networks(levels=3)
    latents = random_latents(5, 20, 30, levels=3)
    data, _ = encode_latents(latents, nets, 50)
    shapes = [q.shape for q in latents]
    with pytest.raises(ValueError):
        decode_latents(data[:-4], shapes, nets, 50)
    with pytest.raises(ValueError):
        decode_latents(data + b"\0\0\0\1", shapes, nets, 50)
    with pytest.raises(ValueError):
        decode_latents(data[:3], shapes, nets, 50)


def test_streams_decoded_in_lockstep_equal_each_decoded_alone():
    nets = random_networks(levels=3)
    rng = np.random.default_rng(6)
    coarsers = [padded_grid(rng.integers(-3, 4, size=level_shape(17, 30, 2)), 1) for _ in range(3)]
    grids = [random_latents(seed, 17, 30, levels=2) for seed in (7, 8, 9)]
    streams = [encode_latents(g, nets, 40, coarser=c)[0] for g, c in zip(grids, coarsers)]
    together = decode_streams(streams, [q.shape for q in grids[0]], nets, 40, 0, coarsers)
    for g, c, stream, decoded in zip(grids, coarsers, streams, together):
        alone = decode_latents(stream, [q.shape for q in g], nets, 40, coarser=c)
        assert all((a == b).all() and (a == d).all() for a, b, d in zip(g, alone, decoded))
    with pytest.raises(StreamError) as error:  # the damaged one is named, whatever its neighbours
        decode_streams([streams[0], streams[1][:-4], streams[2]], [q.shape for q in grids[0]], nets, 40, 0, coarsers)
    assert error.value.position == 1


def test_context_indices_widen_for_grids_beyond_int32():
    rows, cols = np.array([0, 3, 70_000]), np.array([5, 0, 40_000])
    small, same = context_indices(rows[:2], cols[:2], 40, 80)
    assert small.dtype == same.dtype == np.int32
    coarse, same = context_indices(rows, cols, 40_000, 80_004)  # a 70,000 x 80,000 level
    assert coarse.dtype == same.dtype == np.int64
    assert same[0, 2] == (70_000 + 2 + SAME_LEVEL_OFFSETS[0][0]) * 80_004 + 40_000 + 2 + SAME_LEVEL_OFFSETS[0][1]


def test_kept_traversals_decode_what_fresh_ones_do():
    nets = random_networks(levels=3)
    grids = [random_latents(seed, 40, 70, levels=3) for seed in (10, 11)]
    skipped = [np.random.default_rng(12).random(q.shape) < 0.3 for q in grids[1]]
    streams = [encode_latents(grids[0], nets, 40)[0], encode_latents(grids[1], nets, 40, skipped=skipped)[0]]
    shapes = [q.shape for q in grids[0]]
    kept, none_kept = Traversals(), Traversals(max_bytes=0)
    for traversals in (kept, none_kept, kept):  # the second use of `kept` reads what the first worked out
        first = decode_latents(streams[0], shapes, nets, 40, traversals=traversals)
        second = decode_latents(streams[1], shapes, nets, 40, skipped=skipped, traversals=traversals)
        assert all((a == b).all() for a, b in zip(grids[0], first))
        expected = [np.where(skip, 0, q) for q, skip in zip(grids[1], skipped)]
        assert all((a == b).all() for a, b in zip(expected, second))
    assert kept(shapes, None) is kept(shapes, None)
    assert not isinstance(none_kept(shapes, None), list)  # over its budget: worked out afresh, chunk by chunk


def test_a_tiny_stream_claiming_many_latents_is_refused_before_decoding():
    nets = random_networks(levels=1)
    n = max_latents(8) + 1
    with pytest.raises(ValueError, match="too short"):
        decode_latents(b"\0" * 8, [(1, n)], nets, 0)


def test_pass_positions_partition_the_grid():
    a, b = pass_positions(5, 4, False), pass_positions(5, 4, True)
    grid = np.zeros((5, 4), int)
    grid[a] += 1
    grid[b] += 2
    assert set(np.unique(grid)) == {1, 2} and (grid[0, 0], grid[0, 1]) == (1, 2)
