"""8-bit RGB <-> YUV 4:2:0 with the BT.601 matrix in limited range, in numpy, for video measurements.

Forward (what the video rd-curve feeds x264/x265 and measures PSNR-YUV on): with Kr = 0.299, Kb = 0.114 and
E = 0.299 R + 0.587 G + 0.114 B on 0..255 samples,
    Y  = 16 + 219 E / 255,  Cb = 128 + 224 (B - E) / (1.772 * 255),  Cr = 128 + 224 (R - E) / (1.402 * 255),
so Y spans 16..235 and Cb/Cr 16..240. Chroma is computed at full resolution and averaged over each 2x2 block
(centred siting; an odd last row or column is averaged with itself), then every plane is rounded to uint8.
Inverse: the exact inverse matrix, with chroma upsampled bilinearly at the same centred siting (weights 3/4 and
1/4 of the two nearest chroma samples per axis, edges replicated), rounded and clipped to uint8.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from inrcodec.metrics import psnr

KR, KB = 0.299, 0.114
KG = 1.0 - KR - KB
DESCRIPTION = ("BT.601 limited range (Y 16-235, Cb/Cr 16-240), 4:2:0 by 2x2 mean, chroma upsampled bilinearly "
               "(centred siting) for RGB; PSNR-YUV = (6 PSNR-Y + PSNR-U + PSNR-V) / 8")


class Yuv420(NamedTuple):
    """uint8 planes: y [H, W], u and v [ceil(H/2), ceil(W/2)]."""

    y: np.ndarray
    u: np.ndarray
    v: np.ndarray


def _to_uint8(plane: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(plane), 0, 255).astype(np.uint8)


def _box_mean(plane: np.ndarray) -> np.ndarray:
    """float [H, W] -> [ceil(H/2), ceil(W/2)]: means of 2x2 blocks, an odd edge padded by replication."""
    height, width = plane.shape
    plane = np.pad(plane, ((0, height % 2), (0, width % 2)), mode="edge")
    return plane.reshape(plane.shape[0] // 2, 2, plane.shape[1] // 2, 2).mean(axis=(1, 3))


def rgb_to_yuv420(rgb: np.ndarray) -> Yuv420:
    """uint8 [H, W, 3] RGB -> BT.601 limited-range YUV 4:2:0 planes (see the module docstring)."""
    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected uint8 [H, W, 3] RGB, got {rgb.dtype} {list(rgb.shape)}")
    r, g, b = (rgb[..., c].astype(np.float64) for c in range(3))
    luma = KR * r + KG * g + KB * b
    y = 16.0 + 219.0 / 255.0 * luma
    cb = 128.0 + 224.0 / 255.0 * (b - luma) / (2.0 * (1.0 - KB))
    cr = 128.0 + 224.0 / 255.0 * (r - luma) / (2.0 * (1.0 - KR))
    return Yuv420(_to_uint8(y), _to_uint8(_box_mean(cb)), _to_uint8(_box_mean(cr)))


def _upsample(plane: np.ndarray, height: int, width: int) -> np.ndarray:
    """float [h, w] chroma -> [height, width], bilinear at centred siting (3/4 near + 1/4 far), edges replicated."""
    for axis, size in ((0, height), (1, width)):
        padded = np.pad(plane, [(1, 1) if a == axis else (0, 0) for a in range(2)], mode="edge")
        inner = np.take(padded, np.arange(1, padded.shape[axis] - 1), axis=axis)
        before = np.take(padded, np.arange(0, padded.shape[axis] - 2), axis=axis)
        after = np.take(padded, np.arange(2, padded.shape[axis]), axis=axis)
        # Output sample 2i sits a quarter step before chroma sample i, 2i + 1 a quarter step after it.
        even, odd = 0.75 * inner + 0.25 * before, 0.75 * inner + 0.25 * after
        plane = np.stack([even, odd], axis=axis + 1).reshape(
            [s * 2 if a == axis else s for a, s in enumerate(inner.shape)])
        plane = np.take(plane, np.arange(size), axis=axis)
    return plane


def yuv420_to_rgb(yuv: Yuv420) -> np.ndarray:
    """BT.601 limited-range YUV 4:2:0 planes -> uint8 [H, W, 3] RGB (the exact inverse matrix)."""
    height, width = yuv.y.shape
    luma = (yuv.y.astype(np.float64) - 16.0) * 255.0 / 219.0
    pb = (_upsample(yuv.u.astype(np.float64), height, width) - 128.0) * 255.0 / 224.0
    pr = (_upsample(yuv.v.astype(np.float64), height, width) - 128.0) * 255.0 / 224.0
    r = luma + 2.0 * (1.0 - KR) * pr
    b = luma + 2.0 * (1.0 - KB) * pb
    g = (luma - KR * r - KB * b) / KG
    return _to_uint8(np.stack([r, g, b], axis=-1))


def pack_yuv420p(yuv: Yuv420) -> np.ndarray:
    """Planes -> the [H * 3 / 2, W] uint8 array that PyAV's yuv420p VideoFrame.from_ndarray takes (even sizes)."""
    height, width = yuv.y.shape
    return np.concatenate([yuv.y.ravel(), yuv.u.ravel(), yuv.v.ravel()]).reshape(height * 3 // 2, width)


def unpack_yuv420p(packed: np.ndarray, height: int, width: int) -> Yuv420:
    """The inverse of pack_yuv420p (what VideoFrame.to_ndarray gives for yuv420p)."""
    flat = np.ascontiguousarray(packed).ravel()
    luma, chroma = height * width, (height // 2) * (width // 2)
    return Yuv420(flat[:luma].reshape(height, width),
                  flat[luma:luma + chroma].reshape(height // 2, width // 2),
                  flat[luma + chroma:luma + 2 * chroma].reshape(height // 2, width // 2))


def psnr_yuv(reference: Yuv420, decoded: Yuv420) -> tuple[float, float, float, float]:
    """(PSNR-YUV, PSNR-Y, PSNR-U, PSNR-V) in dB on 8-bit planes; PSNR-YUV = (6 Y + U + V) / 8 (inf if lossless)."""
    y, u, v = (psnr(a, b) for a, b in zip(reference, decoded))
    return (6.0 * y + u + v) / 8.0, y, u, v
