"""A predicted frame's integer latent grids <-> its two ANS streams: the coarse levels as a residual against
the motion-compensated prediction, the finest `intra_levels` levels intra.

The image context model codes a fine level far better when it reads the frame's own coarser level than a
residual does against a warped reference (the coarse level says where the texture is; a residual's coarser
level, mostly 0, says nothing), while the coarse levels, few latents that motion predicts well, are cheapest
as a residual. So levels intra_levels.. are residuals r = q - prediction, coded by the context networks at
`residual_code` reading the residuals (encode_latents with first_level); levels 0..intra_levels-1 are the
latents q themselves, coded at the frame's `rate_code` reading q, the coarsest of them reading the decoded
q of level intra_levels as its coarser level. intra_levels 0: the whole frame is a residual. The residual of a
skipped motion block (inrcodec.entropy.motion) is 0 at every residual level and codes no symbol.

The temporal context (SPEC 10.5, 10.6) moves what the context model chose with what it cannot see: a residual's
scale by how far the references disagree (2.4), an intra level's mean towards the prediction and its scale, by
how far the prediction is from the mean (2.5); both with numbers the encoder fits per frame.
"""

from __future__ import annotations

import numpy as np

from inrcodec.entropy.context_model import padded_grid
from inrcodec.entropy.motion import BLOCK, BOTH, vertex_blocks
from inrcodec.entropy.planes import (
    ContextNetworks, Retable, Traversals, decode_latents, encode_latents, shifted_scales,
)  # fmt: skip
from inrcodec.entropy.tables import N_FRACTIONS, N_SCALES


def skipped_vertices(shapes: list[tuple[int, int]], first_level: int, skip: np.ndarray | None) -> list[np.ndarray] | None:
    """Per level first_level.. of these shapes (finest first, the model's levels first_level..), bool [h, w]: the
    vertices whose motion block is skipped (None: no block is)."""
    if skip is None or not skip.any():
        return None
    out = []
    for level, shape in enumerate(shapes, start=first_level):
        by, bx, _, _ = vertex_blocks(shape, level, BLOCK, skip.shape)
        out.append(skip[by, bx])
    return out


def block_magnitudes(residuals: list[np.ndarray], first_level: int, blocks: tuple[int, int]) -> np.ndarray:
    """int64 [By, Bx]: per motion block, the sum of |residual| over its vertices at levels first_level.. (residuals
    finest first); 0 where a block could be skipped without changing the frame."""
    total = np.zeros(blocks, np.int64)
    for level, residual in enumerate(residuals, start=first_level):
        by, bx, _, _ = vertex_blocks(residual.shape, level, BLOCK, blocks)
        np.add.at(total, (by, bx), np.abs(residual))
    return total


TEMPORAL_BUCKETS = 20
_CAPPED_BIT_LENGTH = np.array([0, 1, 2, 2, 3, 3, 3, 3, 4])  # min(bit_length(d), 4) for d = 0..8 (8: 8 and above)


def temporal_buckets(disagreement: list[np.ndarray], modes: np.ndarray, first_level: int) -> list[np.ndarray]:
    """Per residual level (the model's levels first_level.., finest first), int [h, w] in 0..TEMPORAL_BUCKETS-1:
    min(bit_length(|w0 - w1|), 4), + 5 where the block predicts from one reference, + 10 above level 0.
    disagreement: |w0 - w1| int grids of those levels (inrcodec.entropy.motion.reference_disagreement)."""
    out = []
    for level, d in enumerate(disagreement, start=first_level):
        by, bx, _, _ = vertex_blocks(d.shape, level, BLOCK, modes.shape)
        out.append(_CAPPED_BIT_LENGTH[np.minimum(d, 8)] + 5 * (modes[by, bx] != BOTH) + 10 * (level > 0))
    return out


def scale_offset_retable(buckets: list[np.ndarray], offsets: np.ndarray | None) -> Retable | None:
    """The residual levels' tables with each vertex's scale bin moved by its bucket's offset: offsets int
    [TEMPORAL_BUCKETS] (None: none), buckets per level (temporal_buckets)."""
    if offsets is None:
        return None
    by_bucket = np.asarray(offsets, np.int64)

    def retable(level, rows, cols, means, table):
        return means, shifted_scales(table, by_bucket[buckets[level][rows, cols]])

    return retable


MIX_BUCKETS = 24
MIX_WEIGHT_ONE = 8  # a weight of 8 moves a mean onto the prediction
MIX_DISTANCES = (4, 8, 16, 24, 40)  # |16 P - mu| thresholds of the buckets, in sixteenths


def table_mean16(means: np.ndarray, table: np.ndarray) -> np.ndarray:
    """A table's mean m + (f + 1/2) / 8 - 1/2 in sixteenths of a latent, 16 m + 2 f - 7: int64 [N] from the
    integer means and table indices int64 [N]."""
    return 16 * means + 2 * (table % N_FRACTIONS) - (N_FRACTIONS - 1)


def mix_buckets(mean16: np.ndarray, prediction: np.ndarray, disagreement: np.ndarray) -> np.ndarray:
    """int [N] in 0..MIX_BUCKETS-1: 4 x (how many of MIX_DISTANCES |16 p - mean16| reaches) + min(|w0 - w1|, 3).
    mean16: a table's mean in sixteenths of a latent, int [N]; prediction, disagreement: int [N]."""
    distance = np.abs(16 * prediction - mean16)
    return 4 * np.searchsorted(MIX_DISTANCES, distance, side="right") + np.minimum(disagreement, 3)


def mixed_tables(means: np.ndarray, table: np.ndarray, prediction: np.ndarray, disagreement: np.ndarray,
                 weights: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """SPEC 10.6: an intra-coded vertex's (integer mean, table) int64 [N], moved towards its prediction int [N]
    by its bucket's weight (in eighths of the way, weights int [MIX_BUCKETS]) and its scale bin by its bucket's
    offset (int [MIX_BUCKETS]); disagreement |w0 - w1| int [N] picks the bucket with the distance."""
    mean16 = table_mean16(means, table)
    bucket = mix_buckets(mean16, prediction, disagreement)
    moved = mean16 + ((weights[bucket] * (16 * prediction - mean16)) >> 3)
    scale = np.clip(table // N_FRACTIONS + offsets[bucket], 0, N_SCALES - 1)
    return (moved + 8) >> 4, scale * N_FRACTIONS + (((moved + 8) & 15) >> 1)


def temporal_mix_retable(prediction: list[np.ndarray], disagreement: list[np.ndarray],
                         mix: tuple[int, ...] | None) -> Retable | None:  # fmt: skip
    """The intra levels' tables moved by the prediction (mixed_tables): prediction and |w0 - w1| int grids of
    those levels (finest first), mix: the MIX_BUCKETS weights then the MIX_BUCKETS scale offsets (None: none)."""
    if mix is None:
        return None
    weights, offsets = np.asarray(mix[:MIX_BUCKETS], np.int64), np.asarray(mix[MIX_BUCKETS:], np.int64)

    def retable(level, rows, cols, means, table):
        return mixed_tables(means, table, prediction[level][rows, cols], disagreement[level][rows, cols], weights,
                            offsets)  # fmt: skip

    return retable


def encode_inter(latents: list[np.ndarray], prediction: list[np.ndarray], nets: ContextNetworks, rate_code: int,
                 residual_code: int, intra_levels: int, skip: np.ndarray | None = None,
                 residual_retable: Retable | None = None,
                 intra_retable: Retable | None = None) -> tuple[bytes, bytes, list[np.ndarray]]:  # fmt: skip
    """Integer grids of the frame and their prediction (finest first), and the skipped motion blocks bool
    [By, Bx] (None: none) -> (the residual stream, the intra stream, the grids as coded: a value beyond the
    alphabet is clamped, a skipped block's residual is 0). residual_retable, intra_retable: the temporal
    context's moves of the residual levels' and the intra levels' tables (scale_offset_retable,
    temporal_mix_retable; None: none)."""
    if not 0 <= intra_levels < len(latents):
        raise ValueError(f"intra levels {intra_levels} is not in 0..{len(latents) - 1}")
    residuals = [np.asarray(q, np.int64) - p for q, p in zip(latents[intra_levels:], prediction[intra_levels:])]
    skipped = skipped_vertices([r.shape for r in residuals], intra_levels, skip)
    residual_stream, residuals = encode_latents(residuals, nets, residual_code, intra_levels, None, skipped,
                                                residual_retable)  # fmt: skip
    coarse = [p + r for p, r in zip(prediction[intra_levels:], residuals)]
    if intra_levels == 0:
        return residual_stream, b"", coarse
    intra_stream, fine = encode_latents(latents[:intra_levels], nets, rate_code, 0, padded_grid(coarse[0], 1), None,
                                        intra_retable)  # fmt: skip
    return residual_stream, intra_stream, [*fine, *coarse]


def decode_inter(residual_stream: bytes, intra_stream: bytes, prediction: list[np.ndarray], nets: ContextNetworks,
                 rate_code: int, residual_code: int, intra_levels: int, skip: np.ndarray | None = None,
                 residual_retable: Retable | None = None, intra_retable: Retable | None = None,
                 traversals: Traversals | None = None) -> list[np.ndarray]:  # fmt: skip
    """The two streams, the prediction (finest first), the skipped motion blocks and the temporal context's
    retables (as for encode_inter) -> the frame's integer grids int64; ValueError on a malformed stream or an
    intra level count the grids do not have. traversals: as for inrcodec.entropy.planes.decode_latents."""
    if not 0 <= intra_levels < len(prediction):
        raise ValueError(f"intra levels {intra_levels} is not in 0..{len(prediction) - 1}")
    shapes = [p.shape for p in prediction]
    skipped = skipped_vertices(shapes[intra_levels:], intra_levels, skip)
    residuals = decode_latents(residual_stream, shapes[intra_levels:], nets, residual_code, intra_levels, None,
                               skipped, residual_retable, traversals)  # fmt: skip
    coarse = [p + r for p, r in zip(prediction[intra_levels:], residuals)]
    if intra_levels == 0:
        if intra_stream:
            raise ValueError("a predicted frame without intra levels has intra data")
        return coarse
    fine = decode_latents(intra_stream, shapes[:intra_levels], nets, rate_code, 0, padded_grid(coarse[0], 1), None,
                          intra_retable, traversals)  # fmt: skip
    return [*fine, *coarse]
