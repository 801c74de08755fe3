"""Latent grids <-> one ANS stream (SPEC.md sections 6.1 and 6.4): one traversal, shared by encoder and decoder.

Levels go from the coarsest to the finest; each level in two checkerboard passes (A: i + j even, B: odd); each
pass in chunks of CHUNK_LATENTS vertices in raster order. For a chunk, the fixed-point context model gives every
vertex an integer mean m and a table; the residuals q - m are coded grouped by table (ascending), in raster
order within a table. Everything a chunk's contexts read (the coarser level, and in pass B this level's pass A)
is decoded before it, so the decoder computes the same tables from integers alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np

from inrcodec.entropy.ans import ChunkDecoder, ChunkEncoder
from inrcodec.entropy.context_model import IntegerMlp, context_matrix, padded_grid, pass_positions, table_choice
from inrcodec.entropy.tables import ALPHABET_HALF, LATENTS_PER_STREAM_BIT

CHUNK_LATENTS = 1 << 16


@dataclass(frozen=True)
class ContextNetworks:
    """The fixed-point context MLPs of every level (finest first), for pass A and pass B."""

    first: tuple[IntegerMlp, ...]
    second: tuple[IntegerMlp, ...]


def traversal(shapes: list[tuple[int, int]]) -> Iterator[tuple[int, bool, np.ndarray, np.ndarray]]:
    """(level, pass B?, rows, cols) of every chunk in coding order; shapes finest first."""
    for level in reversed(range(len(shapes))):
        height, width = shapes[level]
        for second in (False, True):
            rows, cols = pass_positions(height, width, second)
            for start in range(0, rows.size, CHUNK_LATENTS):
                yield level, second, rows[start : start + CHUNK_LATENTS], cols[start : start + CHUNK_LATENTS]


class _Neighbourhood:
    """The padded grids a chunk's contexts read, rebuilt when a level or a pass starts."""

    def __init__(self) -> None:
        self.key: tuple[int, bool] | None = None
        self.coarse: np.ndarray | None = None
        self.same: np.ndarray | None = None

    def update(self, latents: list[np.ndarray], level: int, second: bool, coarser: np.ndarray | None) -> None:
        if self.key == (level, second):
            return
        if self.key is None or self.key[0] != level:
            self.coarse = padded_grid(latents[level + 1], 1) if level + 1 < len(latents) else coarser
        self.same = padded_grid(latents[level], 2) if second else None
        self.key = (level, second)


def chunk_tables(
    nets: ContextNetworks, around: _Neighbourhood, level: int, second: bool, rows: np.ndarray, cols: np.ndarray,
    rate_code: int,
) -> tuple[np.ndarray, np.ndarray]:
    """-> (integer means, table indices) int64 [N] of a chunk of `level` (the model's level number), from the
    already decoded integers."""
    net = (nets.second if second else nets.first)[level]
    return table_choice(net(context_matrix(around.coarse, around.same, rows, cols, rate_code)))


def encode_latents(
    latents: list[np.ndarray], nets: ContextNetworks, rate_code: int, first_level: int = 0,
    coarser: np.ndarray | None = None,
) -> tuple[bytes, list[np.ndarray]]:
    """Integer grids (finest first) of the model's levels first_level.. -> (stream, the grids as coded). coarser:
    the padded grid (padded_grid's layout) that the coarsest of them reads as its coarser level, None for the
    model's coarsest level. A latent further than 255 from its predicted mean is clamped to that range (it would
    have no symbol); the returned grids say what was coded."""
    coded = [np.asarray(q, dtype=np.int64).copy() for q in latents]
    encoder = ChunkEncoder()
    around = _Neighbourhood()
    for level, second, rows, cols in traversal([q.shape for q in coded]):
        around.update(coded, level, second, coarser)
        means, table = chunk_tables(nets, around, first_level + level, second, rows, cols, rate_code)
        values = np.clip(coded[level][rows, cols], means - ALPHABET_HALF, means + ALPHABET_HALF)
        coded[level][rows, cols] = values
        order = np.argsort(table, kind="stable")
        residuals, table = (values - means)[order], table[order]
        starts = np.flatnonzero(np.r_[True, table[1:] != table[:-1]])
        for start, end in zip(starts, np.r_[starts[1:], table.size]):
            encoder.add(residuals[start:end], int(table[start]))
    return encoder.to_bytes(), coded


def max_latents(stream_bytes: int) -> int:
    """The most latents that a valid stream of this many bytes can code (tables.LATENTS_PER_STREAM_BIT)."""
    return LATENTS_PER_STREAM_BIT * (8 * stream_bytes + 64)


def decode_latents(
    data: bytes, shapes: list[tuple[int, int]], nets: ContextNetworks, rate_code: int, first_level: int = 0,
    coarser: np.ndarray | None = None,
) -> list[np.ndarray]:
    """Stream -> integer grids int64 (finest first) of the model's levels first_level.. (coarser: as for
    encode_latents). ValueError on a stream too short for its grids, or one that is corrupted or truncated
    (wrong terminator, bytes left over)."""
    total = sum(h * w for h, w in shapes)
    if total > max_latents(len(data)):
        raise ValueError(f"entropy-coded data of {len(data)} bytes is too short for {total} latents")
    latents = [np.zeros(shape, dtype=np.int64) for shape in shapes]
    decoder = ChunkDecoder(data)
    around = _Neighbourhood()
    for level, second, rows, cols in traversal(shapes):
        around.update(latents, level, second, coarser)
        means, table = chunk_tables(nets, around, first_level + level, second, rows, cols, rate_code)
        order = np.argsort(table, kind="stable")
        tables_used, counts = np.unique(table[order], return_counts=True)
        residuals = np.concatenate([decoder.decode(c, t) for t, c in zip(tables_used, counts)])
        latents[level][rows[order], cols[order]] = residuals + means[order]
    decoder.finish()
    return latents
