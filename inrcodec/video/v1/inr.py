"""The v1 field's frame of reference: pixel coordinates x = (i + 0.5) / pixels_per_unit, and its 8-bit output."""

from __future__ import annotations

import torch

MIN_PIXELS_PER_UNIT = 1024


def default_pixels_per_unit(width: int, height: int) -> int:
    """1024, or the smallest power of two >= the longer side above that, so the image lies in [0, 1]^2.

    Fixing the unit in pixels keeps the grid's spacing in pixels the same for every image up to 1024 on a side
    (the default config's finest level has ~1 px spacing, its coarsest ~68 px).
    """
    side = max(width, height, MIN_PIXELS_PER_UNIT)
    return 1 << (side - 1).bit_length()


def to_uint8(rgb: torch.Tensor) -> torch.Tensor:
    """[H, W, 3] in [0, 1] -> uint8, rounding half up as the decoder does."""
    return torch.floor(rgb.clamp(0.0, 1.0) * 255.0 + 0.5).to(torch.uint8)
