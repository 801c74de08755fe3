"""The encoder's choice of a predicted frame's temporal context (SPEC 10.5, 10.6): per bucket of vertices, the
residual's scale offset, and the intra levels' mix weight and scale offset, that code the frame in the fewest
bits.

The context model sees only the residual's own neighbourhood; where the two references disagree, or a block has
one reference, or at the finest level, the residual is wider than it predicts (and narrower elsewhere). The
offsets are fitted to the residuals the frame codes, exactly: the tables a vertex's context chooses do not
depend on the offsets, so each bucket's bits are a sum over its vertices of the committed tables' code lengths.
The same holds for an intra level's mix (its context reads the frame's own latents, which the mix does not
change): where the prediction is close, the mean moves towards it and the scale narrows.
"""

from __future__ import annotations

import numpy as np

from inrcodec.bitstream.video_v2 import MIX_WEIGHT_LIMIT, OFFSET_LIMIT  # scale bins of e^(1/8): 7.4x each way
from inrcodec.entropy.inter import MIX_BUCKETS, TEMPORAL_BUCKETS, mix_buckets, mixed_tables, table_mean16
from inrcodec.entropy.planes import ContextNetworks, _Neighbourhood, chunk_tables, coded_chunks, shifted_scales
from inrcodec.entropy.tables import ALPHABET_HALF, table_bits



def vertex_tables(grids: list[np.ndarray], nets: ContextNetworks, rate_code: int, first_level: int,
                  skipped: list[np.ndarray] | None, coarser: np.ndarray | None = None,
                  ) -> list[tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:  # fmt: skip
    """The coding traversal's (level, rows, cols, q - mean, table) of each chunk's coded vertices (grids as
    coded, finest first, of the model's levels first_level..; coarser as for
    inrcodec.entropy.planes.encode_latents)."""
    around, out = _Neighbourhood(), []
    for chunk in coded_chunks([g.shape for g in grids], coarser, skipped):
        around.update(grids, chunk, coarser)
        means, table = chunk_tables(nets, around, first_level + chunk.level, chunk, rate_code)
        out.append((chunk.level, chunk.rows, chunk.cols, grids[chunk.level][chunk.rows, chunk.cols] - means, table))
    return out


def fit_scale_offsets(residuals: list[np.ndarray], nets: ContextNetworks, residual_code: int, first_level: int,
                      skipped: list[np.ndarray] | None, buckets: list[np.ndarray]) -> np.ndarray:  # fmt: skip
    """-> int64 [TEMPORAL_BUCKETS]: per bucket, the offset in -OFFSET_LIMIT..OFFSET_LIMIT with the fewest ideal
    bits of the coded residuals (0 for an empty bucket, and on ties)."""
    values, tables, labels = [], [], []
    for level, rows, cols, value, table in vertex_tables(residuals, nets, residual_code, first_level, skipped):
        values.append(value)
        tables.append(table)
        labels.append(buckets[level][rows, cols])
    offsets = np.zeros(TEMPORAL_BUCKETS, np.int64)
    if not values:
        return offsets
    value, table, label = np.concatenate(values), np.concatenate(tables), np.concatenate(labels)
    symbol = np.clip(value + ALPHABET_HALF, 0, 2 * ALPHABET_HALF)
    bits = table_bits()
    for bucket in np.unique(label):
        where = label == bucket
        costs = {o: bits[shifted_scales(table[where], o), symbol[where]].sum()
                 for o in range(-OFFSET_LIMIT, OFFSET_LIMIT + 1)}  # fmt: skip
        offsets[bucket] = min(costs, key=lambda o: (costs[o], abs(o)))
    return offsets


def fit_temporal_mix(latents: list[np.ndarray], prediction: list[np.ndarray], disagreement: list[np.ndarray],
                     nets: ContextNetworks, rate_code: int, coarser: np.ndarray) -> tuple[int, ...]:  # fmt: skip
    """The intra levels' grids as coded, their prediction and |w0 - w1| (finest first), the padded coarser grid
    they read -> the mix (MIX_BUCKETS weights in 0..MIX_WEIGHT_LIMIT, then MIX_BUCKETS scale offsets) with the
    fewest ideal bits: per bucket, the weight and then the offset each best given the other, twice (0 for an
    empty bucket, and on ties the smaller)."""
    columns = {"q": [], "means": [], "table": [], "p": [], "d": []}
    for level, rows, cols, value, table in vertex_tables(latents, nets, rate_code, 0, None, coarser):
        q = latents[level][rows, cols]
        for name, column in zip(columns, (q, q - value, table, prediction[level][rows, cols],
                                          disagreement[level][rows, cols])):  # fmt: skip
            columns[name].append(column)
    q, means, table, p, d = (np.concatenate(c) for c in columns.values())
    bucket = mix_buckets(table_mean16(means, table), p, d)
    weights, offsets = np.zeros(MIX_BUCKETS, np.int64), np.zeros(MIX_BUCKETS, np.int64)
    bits = table_bits()
    for b in np.unique(bucket):
        where = bucket == b
        args = (means[where], table[where], p[where], d[where])

        def cost(weight: int, offset: int) -> float:
            moved_means, moved_table = mixed_tables(*args, np.full(MIX_BUCKETS, weight), np.full(MIX_BUCKETS, offset))
            return bits[moved_table, np.clip(q[where] - moved_means + ALPHABET_HALF, 0, 2 * ALPHABET_HALF)].sum()

        weight = offset = 0
        for _ in range(2):
            weight = min(range(MIX_WEIGHT_LIMIT + 1), key=lambda w: (cost(w, offset), w))
            offset = min(range(-OFFSET_LIMIT, OFFSET_LIMIT + 1), key=lambda o: (cost(weight, o), abs(o)))
        weights[b], offsets[b] = weight, offset
    return tuple(int(v) for v in (*weights, *offsets))
