"""Block motion of predicted video frames, in integers only: its entropy coding (a median predictor, the
normative Laplace tables), and the motion-compensated prediction of latent grids (an integer bilinear warp,
bit-exact on any machine).

A motion field is int [By, Bx, 2]: per block of `block` pixels, (dy, dx) in half pixels such that the current
frame at pixel p looks like the reference at p + (dy, dx) / 2 (inrcodec.encoder.motion finds it).
"""

from __future__ import annotations

import numpy as np

from inrcodec.entropy.ans import ChunkDecoder, ChunkEncoder
from inrcodec.entropy.tables import ALPHABET_HALF, N_FRACTIONS

MOTION_FRACTION = N_FRACTIONS // 2  # the tables' mean offset nearest 0 (+1/16)


def predicted_vector(motion: np.ndarray, by: int, bx: int) -> tuple[int, int]:
    """The median predictor of block (by, bx) from its decoded neighbours: left, top, top-right (top-left at the
    last column); only the left in the first row, only the top in the first column, 0 for the first block."""
    if by == 0:
        return (0, 0) if bx == 0 else tuple(int(v) for v in motion[0, bx - 1])
    if bx == 0:
        return tuple(int(v) for v in motion[by - 1, 0])
    right = bx + 1 if bx + 1 < motion.shape[1] else bx - 1
    trio = np.stack([motion[by, bx - 1], motion[by - 1, bx], motion[by - 1, right]])
    return tuple(int(v) for v in np.median(trio, axis=0).astype(np.int64))


def _table(left: int, top: int) -> int:
    """A residual's table from its causal neighbours' residual magnitudes (same component): the busier the
    neighbourhood, the wider the Laplace (scale bin 8 + 6 * bit_length, so b = e^-2 for a still one)."""
    return 8 * min(63, 8 + 6 * (abs(left) + abs(top)).bit_length()) + MOTION_FRACTION


def _residual_neighbours(residuals: np.ndarray, by: int, bx: int, c: int) -> tuple[int, int]:
    left = int(residuals[by, bx - 1, c]) if bx else 0
    top = int(residuals[by - 1, bx, c]) if by else 0
    return left, top


def encode_motion(motion: np.ndarray) -> bytes:
    """int [By, Bx, 2] half pixels -> one ANS stream; ValueError if a residual exceeds the alphabet."""
    residuals = np.zeros_like(motion, dtype=np.int64)
    encoder = ChunkEncoder()
    for by in range(motion.shape[0]):
        for bx in range(motion.shape[1]):
            prediction = predicted_vector(motion, by, bx)
            for c in range(2):
                residuals[by, bx, c] = int(motion[by, bx, c]) - prediction[c]
                encoder.add(residuals[by, bx, c : c + 1], _table(*_residual_neighbours(residuals, by, bx, c)))
    if np.abs(residuals).max(initial=0) > ALPHABET_HALF:
        raise ValueError(f"a motion vector differs from its prediction by more than {ALPHABET_HALF} half pixels")
    return encoder.to_bytes()


def decode_motion(data: bytes, blocks: tuple[int, int]) -> np.ndarray:
    """Stream -> int64 [By, Bx, 2]; ValueError on a malformed stream."""
    motion = np.zeros((*blocks, 2), np.int64)
    residuals = np.zeros_like(motion)
    decoder = ChunkDecoder(data)
    for by in range(blocks[0]):
        for bx in range(blocks[1]):
            prediction = predicted_vector(motion, by, bx)
            for c in range(2):
                residuals[by, bx, c] = decoder.decode(1, _table(*_residual_neighbours(residuals, by, bx, c)))[0]
                motion[by, bx, c] = prediction[c] + residuals[by, bx, c]
    decoder.finish()
    return motion


def warp_grid(grid: np.ndarray, motion: np.ndarray, level: int, block: int) -> np.ndarray:
    """The prediction of latent grid `level` (int [h, w]) of the current frame from the reference's: each vertex
    sampled at its pixel position plus its block's vector, bilinear in integers, clamped at the grid's edge.

    Vertex i of level l sits at pixel (i + 1/2) 2^l - 1/2, so a displacement of d half pixels moves it by
    d / 2^(l+1) vertices: with D = 2^(l+1) and the position i D + d = y0 D + fy (0 <= fy < D), the value is
    ((D - fy)((D - fx) q[y0, x0] + fx q[y0, x1]) + fy((D - fx) q[y1, x0] + fx q[y1, x1]) + D^2 / 2) >> 2(l+1)
    (a floor), indices clamped to the grid -> int64 [h, w]."""
    height, width = grid.shape
    step, denominator = 1 << level, 2 << level
    i, j = np.mgrid[0:height, 0:width]
    # the block of the vertex's pixel position (clamped: vertices of coarse levels can sit past the frame)
    by = np.clip(((2 * i + 1) * step - 1) // (2 * block), 0, motion.shape[0] - 1)
    bx = np.clip(((2 * j + 1) * step - 1) // (2 * block), 0, motion.shape[1] - 1)
    rows, cols = i * denominator + motion[by, bx, 0], j * denominator + motion[by, bx, 1]
    y0, fy = np.divmod(rows, denominator)
    x0, fx = np.divmod(cols, denominator)
    q = np.asarray(grid, dtype=np.int64)

    def at(r: np.ndarray, c: np.ndarray) -> np.ndarray:
        return q[np.clip(r, 0, height - 1), np.clip(c, 0, width - 1)]

    top = (denominator - fx) * at(y0, x0) + fx * at(y0, x0 + 1)
    bottom = (denominator - fx) * at(y0 + 1, x0) + fx * at(y0 + 1, x0 + 1)
    total = (denominator - fy) * top + fy * bottom
    return (total + denominator * denominator // 2) >> (2 * level + 2)
