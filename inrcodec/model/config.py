"""Configuration of the v2 shared model and the normative constants that its file format depends on.

Torch-free: the decoder, the encoder and training all read it. Everything here that changes the decoded image
is also recorded in the model's manifest entry (and so fixed by the model's sha256 in every file).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

# Rate codes: a file stores one byte t; t = 0 is the lowest quality (largest lambda), t = 255 the highest.
RATE_CODES = 256
LAMBDA_MAX = 4.0e-2  # lambda at t = 0 (bits per pixel against MSE on [0, 1] RGB)
LAMBDA_MIN = 1.0e-4  # lambda at t = 255

# Causal context of the entropy model. A level's latents are coded in two checkerboard passes: pass A (i + j
# even) sees only the coarser level, pass B also sees these pass-A neighbours on its own level (every offset
# below has odd i + j, so it lands on pass A).
COARSE_OFFSETS = tuple((dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1))
SAME_LEVEL_OFFSETS = (
    (-1, 0), (1, 0), (0, -1), (0, 1),
    (-1, -2), (-1, 2), (1, -2), (1, 2), (-2, -1), (-2, 1), (2, -1), (2, 1),
)  # fmt: skip
CONTEXT_CLAMP = 255  # neighbour latents enter the context network clamped to [-255, 255]
RATE_FEATURE_DIVISOR = 64  # the rate code enters the context network as t / 64


def rate_code_lambda(t: float) -> float:
    """lambda of rate code t in [0, 255] (log-linear from LAMBDA_MAX to LAMBDA_MIN)."""
    frac = t / (RATE_CODES - 1)
    return math.exp(math.log(LAMBDA_MAX) + frac * (math.log(LAMBDA_MIN) - math.log(LAMBDA_MAX)))


def lambda_rate_code(lam: float) -> int:
    """The nearest rate code of a lambda, clamped to [0, 255]."""
    frac = (math.log(lam) - math.log(LAMBDA_MAX)) / (math.log(LAMBDA_MIN) - math.log(LAMBDA_MAX))
    return int(min(RATE_CODES - 1, max(0, round(frac * (RATE_CODES - 1)))))


def level_shape(height: int, width: int, level: int) -> tuple[int, int]:
    """Latent grid of `level` (0 = finest): one vertex per 2^level x 2^level pixels, rounded up."""
    step = 1 << level
    return (height + step - 1) // step, (width + step - 1) // step


@dataclass(frozen=True)
class ModelConfig:
    """Sizes of the shared networks.

    n_levels latent grids of one feature each, from 1/1 to 1/2^(n_levels-1) of the image; the synthesis is a
    per-pixel MLP (n_levels -> synth_hidden... -> synth_channels), synth_resblocks residual 3x3 convolutions on
    synth_channels, and a 1x1 layer to RGB; the entropy model is one MLP per (level, pass) with ctx_hidden
    hidden widths; the analysis network (encoder only) has analysis_width channels.
    """

    n_levels: int = 7
    synth_hidden: tuple[int, ...] = (32, 32)
    synth_channels: int = 8
    synth_resblocks: int = 2
    ctx_hidden: tuple[int, ...] = (16, 16)
    analysis_width: int = 32

    @classmethod
    def from_dict(cls, data: dict) -> "ModelConfig":
        known = {f: data[f] for f in cls.__dataclass_fields__ if f in data}
        for key in ("synth_hidden", "ctx_hidden"):
            if key in known:
                known[key] = tuple(int(v) for v in known[key])
        return cls(**known)

    def to_dict(self) -> dict:
        data = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}

    @property
    def modulation_size(self) -> int:
        """Numbers of a per-image modulation (SPEC 3.1): the output layer's weight [3, C] and bias [3], then the
        first synthesis layer's bias [hidden_0]."""
        first = self.synth_hidden[0] if self.synth_hidden else self.synth_channels
        return 3 * self.synth_channels + 3 + first

    def context_inputs(self, second_pass: bool) -> int:
        """Inputs of a context network, in order: 9 coarse neighbours, the rate code, 12 same-level neighbours
        (pass B only)."""
        return len(COARSE_OFFSETS) + (len(SAME_LEVEL_OFFSETS) if second_pass else 0) + 1
