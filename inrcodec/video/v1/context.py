"""Integer context modelling of a v1 grid plane (a video frame's grid or residual), so the coder can adapt to where
the detail is.

A dense level's plane of symbols q [extent_y, extent_x] is coded row by row. The context of q[y, x] is
    min(|q[y-1, x-1]| + |q[y-1, x]| + |q[y-1, x+1]|, 2) + 3 * (parent[y, x] != 0)
(neighbours outside the plane count as 0), where parent is the same feature one level coarser at
(min(y // 2, h - 1), min(x // 2, w - 1)), or 0 on level 0. Within a row, the symbols of context 0, then 1, ...
5 are coded in order of x, each context with its own table. Hashed levels use context 0 for every entry.
Everything here is integer arithmetic on decoded symbols, so it is bit-exact. Knows nothing of networks.
"""

from __future__ import annotations

import numpy as np

from inrcodec.video.v1.header import TABLES_PER_FEATURE

N_CONTEXTS = TABLES_PER_FEATURE


def parent_nonzero(parent: np.ndarray | None, height: int, width: int) -> np.ndarray:
    """parent: int [h, w] or None -> bool [height, width]: is the coarser symbol under each vertex non-zero."""
    if parent is None:
        return np.zeros((height, width), dtype=bool)
    rows = np.minimum(np.arange(height) // 2, parent.shape[0] - 1)
    cols = np.minimum(np.arange(width) // 2, parent.shape[1] - 1)
    return parent[rows][:, cols] != 0


def row_contexts(above: np.ndarray | None, parent_row: np.ndarray) -> np.ndarray:
    """above: int [W] (the decoded row above, None on row 0); parent_row: bool [W] -> contexts int [W]."""
    activity = np.zeros(parent_row.shape[0], dtype=np.int64)
    if above is not None:
        magnitude = np.abs(above.astype(np.int64))
        activity += magnitude
        activity[1:] += magnitude[:-1]
        activity[:-1] += magnitude[1:]
    return np.minimum(activity, 2) + 3 * parent_row.astype(np.int64)


def context_map(plane: np.ndarray, parent: np.ndarray | None) -> np.ndarray:
    """Contexts of a whole plane at once (the encoder's view): int [H, W] -> int [H, W]."""
    height, width = plane.shape
    nonzero_parent = parent_nonzero(parent, height, width)
    rows = [row_contexts(plane[y - 1] if y else None, nonzero_parent[y]) for y in range(height)]
    return np.stack(rows) if rows else np.zeros((0, width), dtype=np.int64)


def plane_chunks(plane: np.ndarray, parent: np.ndarray | None) -> list[tuple[np.ndarray, int]]:
    """The coding order of a plane: (symbols, context) chunks, row by row, contexts ascending in a row."""
    contexts = context_map(plane, parent)
    chunks = []
    for y in range(plane.shape[0]):
        for context in range(N_CONTEXTS):
            selected = plane[y][contexts[y] == context]
            if selected.size:
                chunks.append((selected, context))
    return chunks


def decode_plane(decode, height: int, width: int, parent: np.ndarray | None) -> np.ndarray:
    """Inverse of `plane_chunks`. decode(count, context) -> int32 [count] pulls symbols from the stream."""
    plane = np.zeros((height, width), dtype=np.int32)
    nonzero_parent = parent_nonzero(parent, height, width)
    for y in range(height):
        contexts = row_contexts(plane[y - 1] if y else None, nonzero_parent[y])
        for context in range(N_CONTEXTS):
            mask = contexts == context
            count = int(mask.sum())
            if count:
                plane[y, mask] = decode(count, context)
    return plane


def inter_context_map(parent: np.ndarray | None, previous: np.ndarray | None, height: int, width: int) -> np.ndarray:
    """Contexts of a video residual plane [height, width], known before any of its symbols is decoded:
        min(|previous[y, x]|, 2) + 3 * (parent[y, x] != 0)
    where previous is the same plane's residual in the frame before (None: zeros) and parent as above (the
    coarser level's residual of this frame). A plane is then coded context by context in raster order, which
    decodes in N_CONTEXTS calls instead of one call per row and context."""
    contexts = 3 * parent_nonzero(parent, height, width).astype(np.int8)
    if previous is not None:
        contexts += np.minimum(np.abs(previous), 2).astype(np.int8)
    return contexts


def inter_plane_chunks(plane: np.ndarray, parent: np.ndarray | None, previous: np.ndarray | None) -> list[tuple[np.ndarray, int]]:
    """The coding order of a residual plane: one (symbols, context) chunk per non-empty context, ascending."""
    contexts = inter_context_map(parent, previous, *plane.shape)
    return [(plane[contexts == c], c) for c in range(N_CONTEXTS) if (contexts == c).any()]


def decode_inter_plane(decode, height: int, width: int, parent: np.ndarray | None, previous: np.ndarray | None) -> np.ndarray:
    """Inverse of `inter_plane_chunks`. decode(count, context) -> int32 [count]."""
    contexts = inter_context_map(parent, previous, height, width).ravel()
    # A stable sort by context lists the entries context by context, each in raster order: the coding order.
    order = np.argsort(contexts, kind="stable")
    counts = np.bincount(contexts, minlength=N_CONTEXTS)
    values = [decode(int(count), context) for context, count in enumerate(counts) if count]
    plane = np.zeros(height * width, dtype=np.int32)
    if values:
        plane[order] = np.concatenate(values)
    return plane.reshape(height, width)
