"""Block motion of predicted video frames, in integers only: its entropy coding (a median predictor, the
normative Laplace tables), and the motion-compensated prediction of latent grids (an integer bilinear warp,
bit-exact on any machine).

A motion field is int [By, Bx, 2]: per block of `block` pixels, (dy, dx) in half pixels such that the current
frame at pixel p looks like the reference at p + (dy, dx) / 2 (inrcodec.encoder.motion finds it). A frame
predicted from two references (a B-frame) has a field for each. Every predicted frame has a mode per block,
int [By, Bx]: PAST (the first reference's warp; a P-frame's only one), BOTH (the mean of the two warps), FUTURE
(the second's) or INTRA (no prediction: the block's latents are coded afresh, where no reference matches).
"""

from __future__ import annotations

import numpy as np

from inrcodec.entropy.ans import ChunkDecoder, ChunkEncoder
from inrcodec.entropy.planes import max_latents
from inrcodec.entropy.tables import ALPHABET_HALF, N_FRACTIONS

BLOCK = 16  # pixels per side of a motion block (normative)
MOTION_FRACTION = N_FRACTIONS // 2  # the tables' mean offset nearest 0 (+1/16)
PAST, BOTH, FUTURE = -1, 0, 1  # a B-frame block's prediction, coded as this symbol
INTRA = 2  # coded as a flag before the prediction modes
P_MODES, B_MODES = (PAST, INTRA), (PAST, BOTH, FUTURE, INTRA)


def predicted_vector(motion, by: int, bx: int) -> tuple[int, int]:
    """The median predictor of block (by, bx) from its decoded neighbours (motion: [By, Bx, 2] array or nested
    lists): left, top, top-right (top-left at the last column); only the left in the first row, only the top in
    the first column, 0 for the first block."""
    if by == 0:
        return (0, 0) if bx == 0 else (int(motion[0][bx - 1][0]), int(motion[0][bx - 1][1]))
    if bx == 0:
        return int(motion[by - 1][0][0]), int(motion[by - 1][0][1])
    right = bx + 1 if bx + 1 < len(motion[0]) else bx - 1
    left, top, corner = motion[by][bx - 1], motion[by - 1][bx], motion[by - 1][right]
    return tuple(int(a + b + c - max(a, b, c) - min(a, b, c)) for a, b, c in zip(left, top, corner))


def _table(left: int, top: int) -> int:
    """A residual's table from its causal neighbours' residual magnitudes (same component): the busier the
    neighbourhood, the wider the Laplace (scale bin 8 + 6 * bit_length, so b = e^-2 for a still one)."""
    return 8 * min(63, 8 + 6 * (abs(left) + abs(top)).bit_length()) + MOTION_FRACTION


def _code_field(coder, field: np.ndarray, decoding: bool, used: np.ndarray | None = None) -> np.ndarray:
    """Encode (coder: ChunkEncoder) or decode (ChunkDecoder, into `field`) int [By, Bx, 2] vectors against
    their median predictions, each component's table from its causal neighbours' residuals (left and top, 0
    outside). A block that does not use the field (used: bool [By, Bx], None: all do) codes nothing: its vector
    is its prediction."""
    # Python lists: a block is a handful of integer operations, which numpy scalars would make 10x slower
    vectors = field.tolist()
    height, width = field.shape[:2]
    users = None if used is None else used.tolist()
    residuals = [[(0, 0)] * width for _ in range(height)]
    largest = 0
    for by in range(height):
        for bx in range(width):
            prediction = predicted_vector(vectors, by, bx)
            if users is not None and not users[by][bx]:
                vectors[by][bx] = list(prediction)
                continue
            left = residuals[by][bx - 1] if bx else (0, 0)
            top = residuals[by - 1][bx] if by else (0, 0)
            coded = []
            for c in range(2):
                table = _table(left[c], top[c])
                if decoding:
                    coded.append(coder.decode_symbol(table))
                    vectors[by][bx][c] = prediction[c] + coded[c]
                else:
                    coded.append(int(vectors[by][bx][c]) - prediction[c])
                    coder.add(np.array(coded[c : c + 1], np.int64), table)
            residuals[by][bx] = (coded[0], coded[1])
            largest = max(largest, abs(coded[0]), abs(coded[1]))
    if largest > ALPHABET_HALF:
        raise ValueError(f"a motion vector differs from its prediction by more than {ALPHABET_HALF} half pixels")
    field[:] = np.array(vectors, np.int64).reshape(field.shape)
    return field


def _code_flags(coder, flags: np.ndarray, decoding: bool, coded: np.ndarray | None = None) -> np.ndarray:
    """Encode or decode (into `flags`) int [By, Bx] 0/1 flags of the blocks where `coded` (None: all), each with
    its table chosen by the left and top flags (0 for a block that codes none, or outside)."""
    values = flags.tolist()  # Python lists: numpy scalars would make the per-block work 10x slower
    coding = None if coded is None else coded.tolist()
    for by, row in enumerate(values):
        for bx in range(len(row)):
            if coding is not None and not coding[by][bx]:
                continue
            table = _table(row[bx - 1] if bx else 0, values[by - 1][bx] if by else 0)
            if decoding:
                row[bx] = coder.decode_symbol(table)
                if row[bx] not in (0, 1):
                    raise ValueError(f"a block flag of {row[bx]} is not 0 or 1")
            else:
                coder.add(np.array(row[bx : bx + 1], np.int64), table)
    flags[:] = np.array(values, np.int64).reshape(flags.shape)
    return flags


def _code_modes(coder, modes: np.ndarray, skip: np.ndarray, decoding: bool, bidirectional: bool) -> None:
    """Encode or decode (into `modes` and `skip`) int [By, Bx] block modes and bool [By, Bx] skip flags: every
    block's intra flag, then every predicted block's skip flag (SPEC 10.3), then, in a B-frame, each predicted
    block's PAST, BOTH or FUTURE (-1, 0, 1, its table chosen by the neighbours' modes, an intra neighbour
    counting as BOTH: a block among BOTH blocks is cheap). A P-frame's predicted blocks are PAST."""
    intra = _code_flags(coder, np.zeros(modes.shape, np.int64) if decoding else (modes == INTRA).astype(np.int64),
                        decoding)  # fmt: skip
    skipped = _code_flags(coder, np.zeros(modes.shape, np.int64) if decoding else skip.astype(np.int64), decoding,
                          intra == 0)  # fmt: skip
    if decoding:
        modes[:] = np.where(intra == 1, INTRA, PAST)
        skip[:] = skipped == 1
    if not bidirectional:
        return
    predicted = np.where(modes == INTRA, BOTH, modes).tolist()
    for by, bx in zip(*np.nonzero(intra == 0)):
        left = predicted[by][bx - 1] if bx else 0
        top = predicted[by - 1][bx] if by else 0
        table = _table(abs(left) + abs(top), 0)
        if decoding:
            mode = coder.decode_symbol(table)
            if mode not in (PAST, BOTH, FUTURE):
                raise ValueError(f"a B-frame block mode of {mode} is not -1, 0 or 1")
            predicted[by][bx] = modes[by, bx] = mode
        else:
            coder.add(np.asarray(modes[by, bx : bx + 1], np.int64), table)


def _users(modes: np.ndarray, count: int) -> list[np.ndarray]:
    """Per field, the blocks that read it: PAST and BOTH blocks the first field, FUTURE and BOTH the second."""
    return [np.isin(modes, (PAST, BOTH)), np.isin(modes, (FUTURE, BOTH))][:count]


def encode_motion(*fields: np.ndarray, modes: np.ndarray | None = None, skip: np.ndarray | None = None) -> bytes:
    """One field int [By, Bx, 2] (half pixels; a P-frame) or two (a B-frame), the block modes int [By, Bx]
    (None: a P-frame's blocks all PAST) and the skipped blocks bool [By, Bx] (no residual coded; None: none) ->
    one ANS stream: the modes and skip flags, then each field's vectors for the blocks that read it (the others
    code nothing; the decoder infers their prediction). ValueError on modes that the frame cannot have, a
    skipped intra block, or a residual beyond the alphabet."""
    if len(fields) not in (1, 2) or (len(fields) == 2 and modes is None):
        raise ValueError("motion is one field, or two fields and their modes")
    if modes is None:
        modes = np.full(fields[0].shape[:2], PAST, np.int64)
    if not np.isin(modes, B_MODES if len(fields) == 2 else P_MODES).all():
        raise ValueError(f"block modes of a {'B' if len(fields) == 2 else 'P'}-frame are in "
                         f"{B_MODES if len(fields) == 2 else P_MODES}")  # fmt: skip
    skip = np.zeros(modes.shape, bool) if skip is None else np.asarray(skip, bool)
    if (skip & (modes == INTRA)).any():
        raise ValueError("an intra block cannot be skipped")
    encoder = ChunkEncoder()
    _code_modes(encoder, np.array(modes, np.int64), skip, decoding=False, bidirectional=len(fields) == 2)
    for field, used in zip(fields, _users(modes, len(fields))):
        _code_field(encoder, np.array(field, np.int64), decoding=False, used=used)
    return encoder.to_bytes()


def decode_motion(data: bytes, blocks: tuple[int, int], count: int = 1) -> tuple[list[np.ndarray], np.ndarray,
                                                                                  np.ndarray]:  # fmt: skip
    """Stream -> (count fields int64 [By, Bx, 2], the block modes int64 [By, Bx], the skipped blocks bool
    [By, Bx]); ValueError on a malformed stream, or one too short for a flag per block (so the work is bounded by
    the bytes: a block codes at most seven symbols)."""
    if blocks[0] * blocks[1] > max_latents(len(data)):
        raise ValueError(f"a motion stream of {len(data)} bytes is too short for {blocks[0] * blocks[1]} blocks")
    decoder = ChunkDecoder(data)
    modes, skip = np.zeros(blocks, np.int64), np.zeros(blocks, bool)
    _code_modes(decoder, modes, skip, decoding=True, bidirectional=count == 2)
    fields = [_code_field(decoder, np.zeros((*blocks, 2), np.int64), decoding=True, used=used)
              for used in _users(modes, count)]  # fmt: skip
    decoder.finish()
    return fields, modes, skip


def block_axes(shape: tuple[int, int], level: int, block: int, blocks: tuple[int, int]) -> tuple[np.ndarray,
                                                                                                np.ndarray]:  # fmt: skip
    """Of a level-`level` grid of `shape`: per row, the block row by [h] its pixel position lies in, and per
    column the block column bx [w] (clamped: vertices of coarse levels can sit past the frame)."""
    step = 1 << level
    by = np.clip(((2 * np.arange(shape[0]) + 1) * step - 1) // (2 * block), 0, blocks[0] - 1)
    bx = np.clip(((2 * np.arange(shape[1]) + 1) * step - 1) // (2 * block), 0, blocks[1] - 1)
    return by, bx


def vertex_blocks(shape: tuple[int, int], level: int, block: int, blocks: tuple[int, int]):
    """Per vertex of a level-`level` grid of `shape`, the block (by, bx) [h, w] its pixel position lies in
    (block_axes), and the vertex indices (i, j)."""
    i, j = np.mgrid[0 : shape[0], 0 : shape[1]]
    by, bx = block_axes(shape, level, block, blocks)
    return by[i], bx[j], i, j


def reference_warps(references: list[list[np.ndarray]], fields: list[np.ndarray], block: int,
                    first_level: int = 0) -> list[list[np.ndarray]]:  # fmt: skip
    """Per level first_level.. (finest first), each reference's grid warped by its field (SPEC 10.4)."""
    return [[warp_grid(grids_of[level], field, level, block) for grids_of, field in zip(references, fields)]
            for level in range(first_level, len(references[0]))]  # fmt: skip


def prediction_from_warps(warps: list[list[np.ndarray]], modes: np.ndarray | None, block: int) -> list[np.ndarray]:
    """The prediction of a frame's integer grids (finest first) from reference_warps of every level: per vertex, its block's
    mode: PAST the first reference's warp, FUTURE the second's, BOTH (a + b + 1) >> 1 of the two, INTRA 0.
    modes None: every block PAST."""
    grids = []
    for level, warped in enumerate(warps):
        if modes is None:
            grids.append(warped[0])
            continue
        by, bx, _, _ = vertex_blocks(warped[0].shape, level, block, modes.shape)
        mode = modes[by, bx]
        future = warped[-1]
        grids.append(np.select([mode == PAST, mode == FUTURE, mode == BOTH],
                               [warped[0], future, (warped[0] + future + 1) >> 1], 0))  # fmt: skip
    return grids


def disagreement_from_warps(warps: list[list[np.ndarray]]) -> list[np.ndarray]:
    """Per level of reference_warps, |w0 - w1| int64 [h, w]: how far the two references' warps disagree at each
    vertex (zeros for a frame with one reference); where they do, the prediction is unsure."""
    return [np.abs(warped[0] - warped[-1]) for warped in warps]


def predict_grids(references: list[list[np.ndarray]], fields: list[np.ndarray], modes: np.ndarray | None,
                  block: int) -> list[np.ndarray]:  # fmt: skip
    """prediction_from_warps of the references' grids warped by the fields."""
    return prediction_from_warps(reference_warps(references, fields, block), modes, block)


def reference_disagreement(references: list[list[np.ndarray]], fields: list[np.ndarray], block: int,
                           first_level: int = 0) -> list[np.ndarray]:  # fmt: skip
    """disagreement_from_warps of levels first_level.. (finest first)."""
    return disagreement_from_warps(reference_warps(references, fields, block, first_level))


def warp_grid(grid: np.ndarray, motion: np.ndarray, level: int, block: int) -> np.ndarray:
    """The prediction of latent grid `level` (int [h, w]) of the current frame from the reference's: each vertex
    sampled at its pixel position plus its block's vector, bilinear in integers, clamped at the grid's edge.

    Vertex i of level l sits at pixel (i + 1/2) 2^l - 1/2, so a displacement of d half pixels moves it by
    d / 2^(l+1) vertices: with D = 2^(l+1) and the position i D + d = y0 D + fy (0 <= fy < D), the value is
    ((D - fy)((D - fx) q[y0, x0] + fx q[y0, x1]) + fy((D - fx) q[y1, x0] + fx q[y1, x1]) + D^2 / 2) >> 2(l+1)
    (a floor), indices clamped to the grid -> int64 [h, w]."""
    height, width = grid.shape
    shift = level + 1
    denominator = 1 << shift
    q = np.asarray(grid).ravel()
    # int32 where the sum of D^2 weighted values cannot overflow it (always, but for hostile values): half the
    # memory traffic of int64, the same integers
    dtype = np.int32 if np.abs(q).max(initial=0) < (1 << 30) >> (2 * shift) else np.int64
    q = q.astype(dtype)
    by, bx = block_axes(grid.shape, level, block, motion.shape[:2])
    vectors = motion.astype(dtype)[by][:, bx]
    rows = (np.arange(height, dtype=dtype) * denominator)[:, None] + vectors[..., 0]
    cols = (np.arange(width, dtype=dtype) * denominator)[None, :] + vectors[..., 1]
    y0, fy = rows >> shift, rows & (denominator - 1)  # floor division and remainder by a power of two
    x0, fx = cols >> shift, cols & (denominator - 1)
    top_row, bottom_row = np.clip(y0, 0, height - 1) * width, np.clip(y0 + 1, 0, height - 1) * width
    left, right = np.clip(x0, 0, width - 1), np.clip(x0 + 1, 0, width - 1)
    fx_left = denominator - fx
    top = fx_left * q.take(top_row + left)
    top += fx * q.take(top_row + right)
    bottom = fx_left * q.take(bottom_row + left)
    bottom += fx * q.take(bottom_row + right)
    top *= denominator - fy
    bottom *= fy
    top += bottom
    top += denominator * denominator // 2
    top >>= 2 * shift
    return top.astype(np.int64)
