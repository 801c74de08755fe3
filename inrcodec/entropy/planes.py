"""Latent grids <-> one ANS stream (SPEC.md sections 6.1 and 6.4): one traversal, shared by encoder and decoder.

Levels go from the coarsest to the finest; each level in two checkerboard passes (A: i + j even, B: odd); each
pass in chunks of CHUNK_LATENTS vertices in raster order. For a chunk, the fixed-point context model gives every
vertex an integer mean m and a table; the residuals q - m are coded grouped by table (ascending), in raster
order within a table. Everything a chunk's contexts read (the coarser level, and in pass B this level's pass A)
is decoded before it, so the decoder computes the same tables from integers alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

import numpy as np

from inrcodec.entropy.ans import ChunkDecoder, ChunkEncoder
from inrcodec.entropy.context_model import (
    IntegerMlp, context_indices, gather_context, padded_grid, pass_positions, table_choice,
)  # fmt: skip
from inrcodec.entropy.tables import ALPHABET_HALF, LATENTS_PER_STREAM_BIT, N_FRACTIONS, N_SCALES, N_TABLES

CHUNK_LATENTS = 1 << 16
# (level among the grids coded, rows, cols, means, tables) of a chunk's coded vertices -> (means, tables) moved
# by what the context model does not see (a video frame's temporal context, inrcodec.entropy.inter)
Retable = Callable[[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class ContextNetworks:
    """The fixed-point context MLPs of every level (finest first), for pass A and pass B."""

    first: tuple[IntegerMlp, ...]
    second: tuple[IntegerMlp, ...]


def shifted_scales(table: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Table indices int [N] with their scale bins moved by offsets int [N] (clamped to the tables' scales)."""
    return np.clip(table // N_FRACTIONS + offsets, 0, N_SCALES - 1) * N_FRACTIONS + table % N_FRACTIONS


def stable_order(keys: np.ndarray, bound: int) -> np.ndarray:
    """The stable argsort of int keys in [0, bound): as uint16 where they fit, which numpy radix-sorts (several
    times faster than a merge sort of int64)."""
    return np.argsort(keys.astype(np.uint16) if bound <= 1 << 16 else keys, kind="stable")


def traversal(shapes: list[tuple[int, int]]) -> Iterator[tuple[int, bool, np.ndarray, np.ndarray]]:
    """(level, pass B?, rows, cols) of every chunk in coding order; shapes finest first."""
    for level in reversed(range(len(shapes))):
        height, width = shapes[level]
        for second in (False, True):
            rows, cols = pass_positions(height, width, second)
            for start in range(0, rows.size, CHUNK_LATENTS):
                yield level, second, rows[start : start + CHUNK_LATENTS], cols[start : start + CHUNK_LATENTS]


@dataclass(frozen=True)
class Chunk:
    """A chunk of the traversal: its level (among the grids coded, finest first) and pass, its vertices int64 [N]
    in coding order, and where their contexts lie (context_indices: int32 [9, N] into the padded coarser grid,
    None at the model's coarsest level; int32 [12, N] into this level's padded grid in pass B, else None)."""

    level: int
    second: bool
    rows: np.ndarray
    cols: np.ndarray
    coarse_at: np.ndarray | None
    same_at: np.ndarray | None

    def keeping(self, keep: np.ndarray) -> "Chunk":
        """The chunk's vertices where keep (bool [N]), in the same order."""
        return Chunk(self.level, self.second, self.rows[keep], self.cols[keep],
                     None if self.coarse_at is None else self.coarse_at[:, keep],
                     None if self.same_at is None else self.same_at[:, keep])  # fmt: skip

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.rows, self.cols, self.coarse_at, self.same_at) if a is not None)


def chunks(shapes: list[tuple[int, int]], coarser_width: int | None) -> Iterator[Chunk]:
    """The Chunks of grids of these shapes (finest first) in coding order; coarser_width: the row length of the
    padded grid that the coarsest reads as its coarser level (None: it is the model's coarsest)."""
    for level, second, rows, cols in traversal(shapes):
        coarse_stride = shapes[level + 1][1] + 2 if level + 1 < len(shapes) else coarser_width
        coarse_at, same_at = context_indices(rows, cols, coarse_stride, shapes[level][1] + 4 if second else None)
        yield Chunk(level, second, rows, cols, coarse_at, same_at)


class Traversals:
    """The Chunks of each set of grid shapes (and coarser width) once worked out, kept up to max_bytes: a video
    decodes frame after frame of the same shapes, a tiled image tile after tile; their context indices then
    cost nothing after the first."""

    def __init__(self, max_bytes: int = 1 << 28) -> None:
        self.max_bytes = max_bytes
        self._kept: dict[tuple, list[Chunk]] = {}
        self._bytes = 0

    def __call__(self, shapes: list[tuple[int, int]], coarser_width: int | None) -> Iterable[Chunk]:
        key = (tuple(map(tuple, shapes)), coarser_width)
        if key in self._kept:
            return self._kept[key]
        # about 60 bytes per vertex: rows, cols and 9 coarse indices for all, 12 same-level ones for half
        if self._bytes + 60 * sum(h * w for h, w in shapes) > self.max_bytes:
            return chunks(shapes, coarser_width)
        kept = list(chunks(shapes, coarser_width))
        self._kept[key] = kept
        self._bytes += sum(chunk.nbytes for chunk in kept)
        return kept


def coded_chunks(shapes: list[tuple[int, int]], coarser: np.ndarray | None, skipped: list[np.ndarray] | None,
                 traversals: Traversals | None = None) -> Iterator[Chunk]:  # fmt: skip
    """The Chunks of grids of these shapes that code a symbol, without their skipped vertices (skipped: bool grids
    of the shapes, None: none); coarser: the padded grid the coarsest reads (None: none); traversals: where
    worked-out Chunks are kept (None: worked out afresh)."""
    coarser_width = None if coarser is None else coarser.shape[-1]
    for chunk in (traversals or chunks)(shapes, coarser_width):
        if skipped is not None:
            chunk = chunk.keeping(~skipped[chunk.level][chunk.rows, chunk.cols])
        if chunk.rows.size:
            yield chunk


class _Neighbourhood:
    """The padded grids a chunk's contexts read (of one grid [h, w] or a stack [B, h, w] per level), rebuilt when a
    level or a pass starts."""

    def __init__(self) -> None:
        self.key: tuple[int, bool] | None = None
        self.coarse: np.ndarray | None = None
        self.same: np.ndarray | None = None

    def update(self, latents: list[np.ndarray], chunk: Chunk, coarser: np.ndarray | None) -> None:
        level, second = chunk.level, chunk.second
        if self.key == (level, second):
            return
        if self.key is None or self.key[0] != level:
            self.coarse = padded_grid(latents[level + 1], 1) if level + 1 < len(latents) else coarser
        self.same = padded_grid(latents[level], 2) if second else None
        self.key = (level, second)


def chunk_tables(nets: ContextNetworks, around: _Neighbourhood, model_level: int, chunk: Chunk,
                 rate_code: int) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """-> (integer means, table indices) int64 [B N] of a chunk of the model's level `model_level` (of every grid
    of a stack, grid after grid), from the already coded integers."""
    net = (nets.second if chunk.second else nets.first)[model_level]
    inputs = gather_context(around.coarse, around.same, chunk.coarse_at, chunk.same_at, rate_code, chunk.rows.size)
    return table_choice(net(inputs))


def encode_latents(
    latents: list[np.ndarray], nets: ContextNetworks, rate_code: int, first_level: int = 0,
    coarser: np.ndarray | None = None, skipped: list[np.ndarray] | None = None, retable: Retable | None = None,
) -> tuple[bytes, list[np.ndarray]]:
    """Integer grids (finest first) of the model's levels first_level.. -> (stream, the grids as coded). coarser:
    the padded grid (padded_grid's layout) that the coarsest of them reads as its coarser level, None for the
    model's coarsest level. skipped: bool grids of the same shapes (None: none); a skipped vertex is 0 and codes
    no symbol (the contexts read its 0). A latent further than 255 from its predicted mean is clamped to that
    range (it would have no symbol); the returned grids say what was coded. retable: moves the means and tables
    that the context model chose (None: none)."""
    coded = [np.asarray(q, dtype=np.int64).copy() for q in latents]
    if skipped is not None:
        for grid, skip in zip(coded, skipped):
            grid[skip] = 0
    encoder = ChunkEncoder()
    around = _Neighbourhood()
    for chunk in coded_chunks([q.shape for q in coded], coarser, skipped):
        level, rows, cols = chunk.level, chunk.rows, chunk.cols
        around.update(coded, chunk, coarser)
        means, table = chunk_tables(nets, around, first_level + level, chunk, rate_code)
        if retable is not None:
            means, table = retable(level, rows, cols, means, table)
        values = np.clip(coded[level][rows, cols], means - ALPHABET_HALF, means + ALPHABET_HALF)
        coded[level][rows, cols] = values
        order = stable_order(table, N_TABLES)
        residuals, table = (values - means)[order], table[order]
        starts = np.flatnonzero(np.r_[True, table[1:] != table[:-1]])
        for start, end in zip(starts, np.r_[starts[1:], table.size]):
            encoder.add(residuals[start:end], int(table[start]))
    return encoder.to_bytes(), coded


def max_latents(stream_bytes: int) -> int:
    """The most latents that a valid stream of this many bytes can code (tables.LATENTS_PER_STREAM_BIT)."""
    return LATENTS_PER_STREAM_BIT * (8 * stream_bytes + 64)


class StreamError(ValueError):
    """A malformed stream among several decoded together: `position` says which."""

    def __init__(self, position: int, message: str) -> None:
        super().__init__(message)
        self.position = position


def decode_latents(
    data: bytes, shapes: list[tuple[int, int]], nets: ContextNetworks, rate_code: int, first_level: int = 0,
    coarser: np.ndarray | None = None, skipped: list[np.ndarray] | None = None, retable: Retable | None = None,
    traversals: Traversals | None = None,
) -> list[np.ndarray]:
    """Stream -> integer grids int64 (finest first) of the model's levels first_level.. (coarser, skipped,
    retable: as for encode_latents; traversals: as for coded_chunks). ValueError on a stream too short for its
    coded latents, or one that is corrupted or truncated (wrong terminator, bytes left over)."""
    try:
        return decode_streams([data], shapes, nets, rate_code, first_level, [coarser], skipped, retable,
                              traversals)[0]  # fmt: skip
    except StreamError as exc:
        raise ValueError(str(exc)) from None


def decode_streams(
    streams: list[bytes], shapes: list[tuple[int, int]], nets: ContextNetworks, rate_code: int, first_level: int,
    coarsers: list[np.ndarray | None], skipped: list[np.ndarray] | None = None, retable: Retable | None = None,
    traversals: Traversals | None = None,
) -> list[list[np.ndarray]]:
    """Several streams of grids of the same shapes (tiles of one size), each with its own coarser grid, decoded
    in lockstep: each chunk's context network runs once for all of them, so many small streams cost about what
    one stream of their latents would. skipped, retable (one stream only): as for encode_latents; traversals: as
    for coded_chunks. -> per stream, its grids as decode_latents gives them. StreamError (naming the stream's
    position) as decode_latents raises ValueError."""
    if (skipped is not None or retable is not None) and len(streams) != 1:
        raise ValueError("skipped vertices and moved tables are for one stream")
    total = sum(h * w for h, w in shapes) - (0 if skipped is None else sum(int(skip.sum()) for skip in skipped))
    decoders = []
    for position, data in enumerate(streams):
        if total > max_latents(len(data)):
            raise StreamError(position, f"entropy-coded data of {len(data)} bytes is too short for {total} latents")
        try:
            decoders.append(ChunkDecoder(data))
        except ValueError as exc:
            raise StreamError(position, str(exc)) from None
    # grids of all streams stacked, [B, h, w] per level: each context gather serves them all at once
    stacks = [np.zeros((len(streams), *shape), dtype=np.int64) for shape in shapes]
    coarser = None if coarsers[0] is None else np.stack(coarsers)
    around = _Neighbourhood()
    for chunk in coded_chunks(shapes, coarser, skipped, traversals):
        level, rows, cols = chunk.level, chunk.rows, chunk.cols
        around.update(stacks, chunk, coarser)
        means, table = chunk_tables(nets, around, first_level + level, chunk, rate_code)
        if retable is not None:
            means, table = retable(level, rows, cols, means, table)
        # one stable sort for all streams: by stream, then table, raster order kept among equal tables
        single = len(decoders) == 1  # (one stream: the bookkeeping of several costs a tenth of a frame's decode)
        grouping = table if single else table + np.repeat(np.arange(len(decoders)) * N_TABLES, rows.size)
        order = stable_order(grouping, len(decoders) * N_TABLES)
        counts = np.bincount(grouping, minlength=len(decoders) * N_TABLES)
        groups = np.flatnonzero(counts)
        counts = counts[groups]
        bounds = np.searchsorted(groups // N_TABLES, np.arange(len(decoders) + 1))
        residuals = []
        for position, decoder in enumerate(decoders):
            span = slice(bounds[position], bounds[position + 1])
            try:
                residuals.append(decoder.decode_groups(groups[span] - position * N_TABLES, counts[span]))
            except ValueError as exc:
                raise StreamError(position, str(exc)) from None
        values = (residuals[0] if single else np.concatenate(residuals)) + means[order]
        if single:
            stacks[level][0, rows[order], cols[order]] = values
        else:
            stream, vertex = np.divmod(order, rows.size)
            stacks[level][stream, rows[vertex], cols[vertex]] = values
    for position, decoder in enumerate(decoders):
        try:
            decoder.finish()
        except ValueError as exc:
            raise StreamError(position, str(exc)) from None
    return [[grid[position] for grid in stacks] for position in range(len(streams))]
