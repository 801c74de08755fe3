"""Block motion search for predicted video frames: classical hierarchical block matching on the source frames'
luma (no learned flow), integer-pel from a quarter-resolution full search down, then half-pel.

A motion field is int32 [By, Bx, 2]: per block of `block` x `block` pixels (raster order, the last row and
column of blocks may be cut by the frame's edge), the displacement (dy, dx) in half pixels such that the
current frame at pixel p looks like the reference at p + (dy, dx) / 2. `inrcodec.entropy.motion` codes such a
field and warps latent grids with it.
"""

from __future__ import annotations

import numpy as np

from inrcodec.entropy.motion import BLOCK, INTRA, predicted_vector, vertex_blocks
SEARCH = 32  # pixels of displacement searched in each direction at full resolution
PYRAMID = 2  # halvings: the full search runs at a quarter of the resolution
REFINE = 2  # pixels re-searched around the coarser level's vector at each finer level
LENGTH_PENALTY = 4.0  # SAD units (8-bit luma) per half pixel of vector length: ties go to short vectors


def luma(rgb: np.ndarray) -> np.ndarray:
    """uint8 [H, W, 3] -> float32 [H, W] luma (BT.601 weights, 0..255)."""
    return (rgb[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)).astype(np.float32)


def _halved(y: np.ndarray) -> np.ndarray:
    """[H, W] -> [ceil(H/2), ceil(W/2)]: means of 2x2 cells (edge cells padded by replication)."""
    y = np.pad(y, ((0, y.shape[0] % 2), (0, y.shape[1] % 2)), mode="edge")
    return 0.25 * (y[0::2, 0::2] + y[1::2, 0::2] + y[0::2, 1::2] + y[1::2, 1::2])


def _block_grid(shape: tuple[int, int], block: int, count: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Pixel rows [By, block] and columns [Bx, block] of count = (By, Bx) blocks on a frame of `shape`, clamped
    to the frame (edge blocks repeat its last row or column rather than reading outside)."""
    rows = np.minimum(np.arange(count[0])[:, None] * block + np.arange(block), shape[0] - 1)
    cols = np.minimum(np.arange(count[1])[:, None] * block + np.arange(block), shape[1] - 1)
    return rows, cols


def _sample(reference: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """reference [H, W] at integer rows, cols (any equal shapes), clamped to the frame."""
    return reference[np.clip(rows, 0, reference.shape[0] - 1), np.clip(cols, 0, reference.shape[1] - 1)]


def _bilinear(reference: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """reference [H, W] at real rows, cols, bilinear, clamped to the frame."""
    r0, c0 = np.floor(rows).astype(np.int64), np.floor(cols).astype(np.int64)
    wr, wc = (rows - r0).astype(np.float32), (cols - c0).astype(np.float32)
    top = (1 - wc) * _sample(reference, r0, c0) + wc * _sample(reference, r0, c0 + 1)
    bottom = (1 - wc) * _sample(reference, r0 + 1, c0) + wc * _sample(reference, r0 + 1, c0 + 1)
    return (1 - wr) * top + wr * bottom


def _search(current: np.ndarray, reference: np.ndarray, block: int, centres: list[np.ndarray], radius: int,
            step: float = 1.0) -> np.ndarray:  # fmt: skip
    """Per block, the displacement among every centre + step * (-radius..radius)^2 (pixels) with the least SAD
    plus the length penalty. centres: float [By, Bx, 2] pixels each -> float [By, Bx, 2]."""
    rows, cols = _block_grid(current.shape, block, centres[0].shape[:2])
    target = current[rows[:, None, :, None], cols[None, :, None, :]]  # [By, Bx, block, block]
    best = np.full(centres[0].shape[:2], np.inf, np.float32)
    chosen = centres[0].copy()
    offsets = [(dy, dx) for dy in range(-radius, radius + 1) for dx in range(-radius, radius + 1)]
    for centre in centres:
        for dy, dx in offsets:
            candidate = centre + step * np.array([dy, dx], np.float32)
            sample_rows = rows[:, None, :, None] + candidate[:, :, 0, None, None]
            sample_cols = cols[None, :, None, :] + candidate[:, :, 1, None, None]
            if step == 1.0 and np.all(candidate == np.round(candidate)):
                predicted = _sample(reference, sample_rows.astype(np.int64), sample_cols.astype(np.int64))
            else:
                predicted = _bilinear(reference, sample_rows, sample_cols)
            cost = np.abs(predicted - target).sum(axis=(2, 3))
            cost += LENGTH_PENALTY * 2 * np.abs(candidate).sum(axis=2) * (block / BLOCK) ** 2
            better = cost < best
            best = np.where(better, cost, best)
            chosen[better] = candidate[better]
    return chosen


def _with_neighbours(vectors: np.ndarray) -> list[np.ndarray]:
    """The field, and the field shifted by one block each way (edges repeated): a block also tries its four
    neighbours' vectors, which rescues blocks that the coarse level matched wrongly (as predictive block
    matchers do), and zero motion."""
    padded = np.pad(vectors, ((1, 1), (1, 1), (0, 0)), mode="edge")
    shifted = [padded[1 + dy : 1 + dy + vectors.shape[0], 1 + dx : 1 + dx + vectors.shape[1]]
               for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1))]  # fmt: skip
    return [vectors, *shifted, np.zeros_like(vectors)]


def motion_bits(difference: np.ndarray) -> np.ndarray:
    """About the bits of coding vectors that differ from their median prediction by `difference` [..., 2] (half
    pixels) -> float [...]: a component equal to its prediction costs almost nothing in the quiet neighbourhood
    that a smooth field makes; another one a few bits plus two per doubling (the tables of
    inrcodec.entropy.motion)."""
    size = np.abs(difference)
    return np.where(size == 0, 0.05, 4.0 + 2.0 * np.log2(np.maximum(size, 1))).sum(axis=-1)


def _smoothed(current: np.ndarray, reference: np.ndarray, block: int, vectors: np.ndarray,
              rate_weight: float) -> np.ndarray:  # fmt: skip
    """Rate-constrained motion: block by block in coding (raster) order, the vector among the searched one, the
    median prediction from the blocks already chosen (inrcodec.entropy.motion.predicted_vector), those blocks'
    vectors and zero with the least SAD + rate_weight x motion_bits(vector - prediction). current, reference:
    luma [H, W]; vectors: int [By, Bx, 2] half pixels -> the same."""
    rows, cols = _block_grid(current.shape, block, vectors.shape[:2])
    chosen = vectors.astype(np.int64).tolist()
    for by in range(vectors.shape[0]):
        r = rows[by][:, None]
        for bx in range(vectors.shape[1]):
            c = cols[bx][None, :]
            prediction = predicted_vector(chosen, by, bx)
            neighbours = [chosen[y][x] for y, x in ((by, bx - 1), (by - 1, bx), (by - 1, bx + 1))
                          if 0 <= y and 0 <= x < vectors.shape[1]]  # fmt: skip
            candidates = {tuple(v) for v in (vectors[by, bx].tolist(), prediction, (0, 0), *neighbours)}
            target = current[r, c]
            best, best_cost = None, np.inf
            for candidate in sorted(candidates):
                sad = np.abs(_bilinear(reference, r + candidate[0] / 2, c + candidate[1] / 2) - target).sum()
                cost = sad + rate_weight * float(motion_bits(np.subtract(candidate, prediction)))
                if cost < best_cost:
                    best, best_cost = candidate, cost
            chosen[by][bx] = list(best)
    return np.array(chosen, np.int64).reshape(vectors.shape)


def block_motion(current: np.ndarray, reference: np.ndarray, block: int = BLOCK, search: int = SEARCH,
                 rate_weight: float = 0.0, half_pel: bool = True) -> np.ndarray:  # fmt: skip
    """Motion of `current` from `reference` (uint8 [H, W, 3] frames of one size) -> int32 [By, Bx, 2], half
    pixels (module docstring). A full search of +-search / 4 pixels at a quarter of the resolution, refined by
    +-REFINE pixels at each finer level around the block's vector, its neighbours' and zero, then by +-1 half
    pixel (half_pel False: whole pixels only, which warp the finest latent grid without interpolating it); then,
    with rate_weight > 0 (SAD units of 8-bit luma per bit), smoothed where the bits of a vector
    its neighbours do not predict are worth more than the SAD it saves (_smoothed)."""
    levels = [(luma(current), luma(reference))]
    for _ in range(PYRAMID):
        levels.append((_halved(levels[-1][0]), _halved(levels[-1][1])))
    rows, cols = -(-current.shape[0] // block), -(-current.shape[1] // block)
    vectors = np.zeros((rows, cols, 2), np.float32)
    for depth in reversed(range(PYRAMID + 1)):
        cur, ref = levels[depth]
        scale = 1 << depth
        # blocks of block / scale pixels at this level cover the same areas as the full-resolution blocks
        if depth == PYRAMID:
            centres, radius = [vectors], max(1, search // scale)
        else:
            centres, radius = _with_neighbours(vectors / scale), REFINE
        vectors = _search(cur, ref, max(1, block // scale), centres, radius) * scale
    vectors = np.round((_search(levels[0][0], levels[0][1], block, [vectors], 1, step=0.5) if half_pel else vectors)
                       * 2)  # fmt: skip
    if rate_weight > 0:
        vectors = _smoothed(levels[0][0], levels[0][1], block, vectors, rate_weight)
    return vectors.astype(np.int32)


def warp_pixels(reference: np.ndarray, motion: np.ndarray, block: int = BLOCK) -> np.ndarray:
    """The motion-compensated prediction in the pixel domain: float [H, W, C] reference (any range) sampled at
    p + motion / 2 with bilinear interpolation, clamped at the edges -> float32 [H, W, C]."""
    height, width = reference.shape[:2]
    y, x = np.mgrid[0:height, 0:width]
    vectors = motion[np.minimum(y // block, motion.shape[0] - 1), np.minimum(x // block, motion.shape[1] - 1)]
    rows, cols = y + vectors[..., 0] / 2, x + vectors[..., 1] / 2
    return np.stack([_bilinear(reference[..., c].astype(np.float32), rows, cols) for c in range(reference.shape[2])],
                    axis=-1)  # fmt: skip


def latent_modes(analysis: list[np.ndarray], predictions: dict[int, list[np.ndarray]], blocks: tuple[int, int],
                 block: int = BLOCK, intra_bias: float | None = 1.0) -> np.ndarray:  # fmt: skip
    """A predicted frame's block modes (inrcodec.entropy.motion): the current frame's analysis latents (finest
    first, rounded) and each candidate mode's prediction of them (PAST, FUTURE: a reference's grids warped; BOTH
    their mean) -> int64 [By, Bx], per block the mode whose residual would start smallest (the sum of
    |analysis - prediction| over the block's vertices at every level), or INTRA where the latents themselves
    are smaller than that times intra_bias (None: no INTRA blocks). The choice is made on the latents, where the residual is coded, not
    on pixels: the mean of two warped grids can predict the pixels better and still leave a larger residual."""
    modes = [*predictions, *([INTRA] if intra_bias is not None else [])]
    costs = np.zeros((len(modes), *blocks))
    for level, target in enumerate(analysis):
        by, bx, _, _ = vertex_blocks(target.shape, level, block, blocks)
        for m, mode in enumerate(modes):
            residual = target - predictions[mode][level] if mode != INTRA else target
            np.add.at(costs[m], (by, bx), np.abs(residual))
    if intra_bias is not None:
        costs[-1] *= intra_bias
    return np.array(modes)[np.argmin(costs, axis=0)].astype(np.int64)
