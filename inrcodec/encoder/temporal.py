"""The encoder's choice of a predicted frame's residual scale offsets (inrcodec.entropy.inter.temporal_buckets):
per bucket of vertices, the offset of the scale bin that codes the frame's residuals in the fewest bits.

The context model sees only the residual's own neighbourhood; where the two references disagree, or a block has
one reference, or at the finest level, the residual is wider than it predicts (and narrower elsewhere). The
offsets are fitted to the residuals the frame codes, exactly: the tables a vertex's context chooses do not
depend on the offsets, so each bucket's bits are a sum over its vertices of the committed tables' code lengths.
"""

from __future__ import annotations

import numpy as np

from inrcodec.bitstream.video_v2 import OFFSET_LIMIT  # scale bins of e^(1/8) each way: a factor of 7.4
from inrcodec.entropy.inter import TEMPORAL_BUCKETS
from inrcodec.entropy.planes import ContextNetworks, _Neighbourhood, chunk_tables, shifted_scales, traversal
from inrcodec.entropy.tables import ALPHABET_HALF, table_bits



def vertex_tables(grids: list[np.ndarray], nets: ContextNetworks, rate_code: int, first_level: int,
                  skipped: list[np.ndarray] | None, coarser: np.ndarray | None = None,
                  ) -> list[tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:  # fmt: skip
    """The coding traversal's (level, rows, cols, q - mean, table) of each chunk's coded vertices (grids as
    coded, finest first, of the model's levels first_level..; coarser as for
    inrcodec.entropy.planes.encode_latents)."""
    around, out = _Neighbourhood(), []
    for level, second, rows, cols in traversal([g.shape for g in grids]):
        around.update(grids, level, second, coarser)
        if skipped is not None:
            keep = ~skipped[level][rows, cols]
            rows, cols = rows[keep], cols[keep]
        if rows.size:
            means, table = chunk_tables(nets, around, first_level + level, second, rows, cols, rate_code)
            out.append((level, rows, cols, grids[level][rows, cols] - means, table))
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
