"""The temporal mix of a predicted frame's intra levels (format 2.5, SPEC 10.6): the moved means and tables against
the SPEC's formulas, the encoder's fit, streams coded with a mix round-tripping through real bytes (and not
decoding to the same grids without it), and TMIX sections that the SPEC makes invalid refused with one line."""

from pathlib import Path

import numpy as np
import pytest

from inrcodec.bitstream.container import read_container, write_container
from inrcodec.bitstream.video_v2 import KNOWN_TAGS, MIX_COUNT, MIX_WEIGHT_LIMIT, OFFSET_LIMIT, parse_video
from inrcodec.encoder.temporal import fit_temporal_mix, vertex_tables
from inrcodec.entropy.context_model import padded_grid
from inrcodec.entropy.inter import MIX_BUCKETS, mix_buckets, mixed_tables, table_mean16, temporal_mix_retable
from inrcodec.entropy.planes import decode_latents, encode_latents
from inrcodec.entropy.tables import ALPHABET_HALF, N_FRACTIONS, N_TABLES, table_bits
from inrcodec.errors import BitstreamError

VECTOR = Path(__file__).resolve().parent.parent / "bitstream" / "vectors" / "video-v2" / "synthetic_mix_56x40.inr"


def _spec_mixed(m, table, p, d, weights, offsets):
    """SPEC 10.6 for one vertex, written out with Python's integers."""
    s, f = divmod(table, 8)
    mu = 16 * m + 2 * f - 7
    e = abs(16 * p - mu)
    b = 4 * sum(e >= t for t in (4, 8, 16, 24, 40)) + min(d, 3)
    moved = mu + (weights[b] * (16 * p - mu)) // 8
    return (moved + 8) // 16, 8 * min(max(s + offsets[b], 0), 63) + ((moved + 8) % 16) // 2


def test_mixed_tables_follow_the_spec_vertex_by_vertex():
    rng = np.random.default_rng(3)
    n = 4000
    means, table = rng.integers(-300, 300, n), rng.integers(0, N_TABLES, n)
    prediction, disagreement = means + rng.integers(-6, 7, n), rng.integers(0, 9, n)
    weights, offsets = rng.integers(0, 9, MIX_BUCKETS), rng.integers(-16, 17, MIX_BUCKETS)
    moved_means, moved_table = mixed_tables(means, table, prediction, disagreement, weights, offsets)
    expected = [_spec_mixed(*map(int, v), weights.tolist(), offsets.tolist())
                for v in zip(means, table, prediction, disagreement)]  # fmt: skip
    assert list(zip(moved_means.tolist(), moved_table.tolist())) == expected
    buckets = mix_buckets(table_mean16(means, table), prediction, disagreement)
    assert buckets.min() >= 0 and buckets.max() < MIX_BUCKETS and len(np.unique(buckets)) == MIX_BUCKETS


def test_no_mix_leaves_the_context_models_choice_and_a_full_weight_moves_onto_the_prediction():
    rng = np.random.default_rng(4)
    means, table = rng.integers(-50, 50, 500), rng.integers(0, N_TABLES, 500)
    prediction, disagreement = rng.integers(-60, 60, 500), rng.integers(0, 5, 500)
    zero = np.zeros(MIX_BUCKETS, np.int64)
    same_means, same_table = mixed_tables(means, table, prediction, disagreement, zero, zero)
    assert np.array_equal(same_means, means) and np.array_equal(same_table, table)
    full = np.full(MIX_BUCKETS, MIX_WEIGHT_LIMIT)
    moved_means, moved_table = mixed_tables(means, table, prediction, disagreement, full, zero)
    assert np.array_equal(moved_means, prediction) and (moved_table % N_FRACTIONS == 4).all()  # mean p + 1/16
    assert np.array_equal(moved_table // N_FRACTIONS, table // N_FRACTIONS)


def _predicted_level(shape=(24, 32), seed=0):
    """A fine level, its coarser level, and a prediction that matches the fine level in most vertices."""
    rng = np.random.default_rng(seed)
    fine = np.round(rng.laplace(0, 4.0, size=shape)).astype(np.int64)
    coarse = np.round(rng.laplace(0, 2.0, size=(shape[0] // 2, shape[1] // 2))).astype(np.int64)
    prediction = fine + (rng.random(shape) < 0.2) * rng.integers(-3, 4, size=shape)
    return fine, padded_grid(coarse, 1), prediction, np.zeros(shape, np.int64)


def _ideal_bits(fine, coarser, prediction, disagreement, v2_shared, mix):
    weights, offsets = np.asarray(mix[:MIX_BUCKETS]), np.asarray(mix[MIX_BUCKETS:])
    total = 0.0
    for level, rows, cols, value, table in vertex_tables([fine], v2_shared.contexts, 150, 0, None, coarser):
        q = fine[rows, cols]
        means, moved = mixed_tables(q - value, table, prediction[rows, cols], disagreement[rows, cols], weights,
                                    offsets)  # fmt: skip
        total += table_bits()[moved, np.clip(q - means + ALPHABET_HALF, 0, 2 * ALPHABET_HALF)].sum()
    return total


def test_the_fit_moves_towards_a_good_prediction_and_never_costs_bits(v2_shared):
    fine, coarser, prediction, disagreement = _predicted_level()
    mix = fit_temporal_mix([fine], [prediction], [disagreement], v2_shared.contexts, 150, coarser)
    assert len(mix) == 2 * MIX_BUCKETS and all(0 <= w <= MIX_WEIGHT_LIMIT for w in mix[:MIX_BUCKETS])
    assert all(abs(o) <= OFFSET_LIMIT for o in mix[MIX_BUCKETS:])
    assert max(mix[:MIX_BUCKETS]) > 0  # the prediction is right in 80 % of the vertices
    unused = [b for b in range(MIX_BUCKETS) if b % 4]  # buckets of a disagreement of 1..3: it is always 0 here
    assert all(mix[b] == 0 and mix[MIX_BUCKETS + b] == 0 for b in unused)  # empty buckets stay 0
    none = (0,) * (2 * MIX_BUCKETS)
    fitted = _ideal_bits(fine, coarser, prediction, disagreement, v2_shared, mix)
    assert fitted < 0.8 * _ideal_bits(fine, coarser, prediction, disagreement, v2_shared, none)


def test_a_stream_with_a_mix_round_trips_and_needs_it(v2_shared):
    fine, coarser, prediction, disagreement = _predicted_level(seed=1)
    mix = fit_temporal_mix([fine], [prediction], [disagreement], v2_shared.contexts, 150, coarser)
    retable = temporal_mix_retable([prediction], [disagreement], mix)
    plain, _ = encode_latents([fine], v2_shared.contexts, 150, 0, coarser)
    stream, coded = encode_latents([fine], v2_shared.contexts, 150, 0, coarser, None, retable)
    assert len(stream) < len(plain) and np.array_equal(coded[0], fine)
    back = decode_latents(stream, [fine.shape], v2_shared.contexts, 150, 0, coarser, None, retable)
    assert np.array_equal(back[0], fine)
    try:
        wrong = decode_latents(stream, [fine.shape], v2_shared.contexts, 150, 0, coarser)
    except ValueError:
        return  # a stream read with the wrong tables may also be refused as malformed
    assert not np.array_equal(wrong[0], fine)


def _with_tmix(data, tmix, minor=5):
    sections = read_container(data, KNOWN_TAGS)[1]
    sections[b"TMIX"] = tmix
    return write_container(list(sections.items()), major=2, minor=minor)


# the vector's frames in coding order: I0 (K 0), P4 (K 1, mix), B2 (K 0), B1 (K 2, mix), B3 (K 0)
P4 = 2  # where P4's values start in TMIX: after I0's flag and its own


@pytest.mark.parametrize("edit, message", [
    (lambda t: bytes([2]) + t[1:], "a TMIX flag of 2"),  # the I-frame's flag
    (lambda t: bytes([1]) + bytes(2 * MIX_COUNT) + t[1:], "a TMIX flag of 1"),  # a mix for the I-frame
    (lambda t: t[:P4 + 2 * MIX_COUNT] + bytes([1]) + bytes(2 * MIX_COUNT) + t[P4 + 2 * MIX_COUNT + 1:],
     "a TMIX flag of 1"),  # a mix for B2, which has no intra levels
    (lambda t: t[:P4] + bytes([MIX_WEIGHT_LIMIT + 1]) + t[P4 + 1:], "beyond"),
    (lambda t: t[:P4 + MIX_COUNT] + bytes([17]) + t[P4 + MIX_COUNT + 1:], "beyond"),
    (lambda t: t[:P4 + MIX_COUNT] + bytes([256 - 17]) + t[P4 + MIX_COUNT + 1:], "beyond"),
    (lambda t: t[:-2], "ends inside"),  # B3's flag and B1's last value cut
    (lambda t: t[:1], "ends before"),
    (lambda t: t + b"\0", "after the last frame"),
])  # fmt: skip
def test_bad_mixes_are_refused_with_one_line(edit, message):
    data = VECTOR.read_bytes()
    tmix = read_container(data, KNOWN_TAGS)[1][b"TMIX"]
    with pytest.raises(BitstreamError, match=message) as error:
        parse_video(_with_tmix(data, edit(tmix)))
    assert "\n" not in str(error.value)


def test_a_mix_in_a_2_4_file_is_refused_and_the_image_decoder_calls_it_a_video():
    from inrcodec import decoder

    data = VECTOR.read_bytes()
    assert parse_video(data).to_bytes() == data  # written back as read
    with pytest.raises(BitstreamError, match="minor version below 5"):
        parse_video(_with_tmix(data, read_container(data, KNOWN_TAGS)[1][b"TMIX"], minor=4))
    with pytest.raises(BitstreamError, match="is a video"):
        decoder.decode_image(data)


def test_the_refinements_float_mix_moves_as_the_coders_tables_do():
    import torch

    from inrcodec.encoder.predicted import _mixed
    from inrcodec.entropy.tables import LOG_SCALE_MIN, LOG_SCALE_STEP

    rng = np.random.default_rng(5)
    n = 2000
    means, table = rng.integers(-40, 40, n), rng.integers(8 * 8, 8 * 56, n)  # scale bins clear of the clamps
    prediction, disagreement = means + rng.integers(-4, 5, n), rng.integers(0, 6, n)
    mix = tuple(int(v) for v in (*rng.integers(0, 9, MIX_BUCKETS), *rng.integers(-4, 5, MIX_BUCKETS)))
    mean16 = table_mean16(means, table)
    float_mean = torch.tensor(mean16 / 16.0)
    log_scale = torch.tensor(LOG_SCALE_MIN + (table // N_FRACTIONS) * LOG_SCALE_STEP)
    moved, moved_log_scale = _mixed(float_mean, log_scale, torch.tensor(prediction, dtype=torch.float64),
                                    torch.tensor(disagreement), mix)  # fmt: skip
    moved_means, moved_table = mixed_tables(means, table, prediction, disagreement, np.array(mix[:MIX_BUCKETS]),
                                            np.array(mix[MIX_BUCKETS:]))  # fmt: skip
    # the coder's mean is the moved one floored to a sixteenth and then put on its fraction bin's centre
    coded_mean = moved_means + ((moved_table % N_FRACTIONS) + 0.5) / N_FRACTIONS - 0.5
    assert np.abs(moved.numpy() - coded_mean).max() <= 2 / 16 + 1e-9
    expected_log_scale = LOG_SCALE_MIN + (moved_table // N_FRACTIONS) * LOG_SCALE_STEP
    assert np.allclose(moved_log_scale.numpy(), expected_log_scale)


def test_info_shows_each_frames_temporal_context():
    import json

    from typer.testing import CliRunner

    from inrcodec.cli import app

    runner = CliRunner()
    table = runner.invoke(app, ["info", str(VECTOR)], env={"COLUMNS": "160"})
    assert table.exit_code == 0 and "offsets+mix" in table.output
    frames = json.loads(runner.invoke(app, ["info", str(VECTOR), "--json"]).stdout)["frames"]
    assert [f["temporal_mix"] is not None for f in frames] == [False, True, False, True, False]
    assert len(frames[1]["temporal_mix"]) == 2 * MIX_COUNT
