"""The v2 shared model as the decoder uses it (numpy): gains, synthesis weights and fixed-point context nets.

Loaded from the model's safetensors file (after its sha256 is checked against the manifest) with
safetensors.numpy, so decoding never imports torch. Every tensor's presence and shape is checked against the
configuration, so a damaged or foreign weights file ends in one line rather than a shape error.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from inrcodec.entropy.context_model import IntegerMlp
from inrcodec.entropy.planes import ContextNetworks
from inrcodec.errors import InrCodecError
from inrcodec.field.synthesis import SynthesisWeights
from inrcodec.model.config import RATE_CODES, ModelConfig
from inrcodec.model.registry import ModelEntry, load_weight_arrays

PREFIX = "shared."


@dataclass(frozen=True)
class SharedDecoder:
    config: ModelConfig
    gain_base: np.ndarray  # [L] float32
    gain_slope: np.ndarray  # [L] float32
    synthesis: SynthesisWeights
    contexts: ContextNetworks

    def gains(self, rate_code: int) -> np.ndarray:
        """[L] float32: exp(gain_base + gain_slope * t / 255), as the torch model computes it."""
        frac = np.float32(rate_code) / np.float32(RATE_CODES - 1)
        return np.exp(self.gain_base + self.gain_slope * frac).astype(np.float32)


def _tensor(tensors: dict, name: str, shape: tuple[int, ...]) -> np.ndarray:
    value = tensors.get(PREFIX + name)
    if value is None:
        raise ValueError(f"tensor {name} is missing")
    if tuple(value.shape) != shape:
        raise ValueError(f"tensor {name} has shape {tuple(value.shape)}, expected {shape}")
    if value.dtype != np.float32 or not np.isfinite(value).all():
        raise ValueError(f"tensor {name} is not finite float32")
    return value


def _linear_stack(tensors: dict, prefix: str, widths: tuple[int, ...]) -> list[tuple[np.ndarray, np.ndarray]]:
    return [
        (_tensor(tensors, f"{prefix}.{i}.weight", (b, a)), _tensor(tensors, f"{prefix}.{i}.bias", (b,)))
        for i, (a, b) in enumerate(zip(widths[:-1], widths[1:]))
    ]


def shared_from_tensors(tensors: dict[str, np.ndarray], config: ModelConfig) -> SharedDecoder:
    """Build the decoder's model from the safetensors dict; ValueError naming a missing or misshapen tensor."""
    levels, channels = config.n_levels, config.synth_channels
    if any(not 1 <= width <= 256 for width in config.ctx_hidden):
        raise ValueError("context networks wider than 256 are outside the fixed-point range")
    mlp = _linear_stack(tensors, "synthesis.mlp", (levels, *config.synth_hidden, channels))
    res = [
        (_tensor(tensors, f"synthesis.res.{i}.weight", (channels, channels, 3, 3)),
         _tensor(tensors, f"synthesis.res.{i}.bias", (channels,)))
        for i in range(config.synth_resblocks)
    ]  # fmt: skip
    out = (_tensor(tensors, "synthesis.out.weight", (3, channels, 1, 1))[:, :, 0, 0],
           _tensor(tensors, "synthesis.out.bias", (3,)))  # fmt: skip

    def nets(name: str, second: bool) -> tuple[IntegerMlp, ...]:
        widths = (config.context_inputs(second), *config.ctx_hidden, 2)
        return tuple(
            IntegerMlp.from_float(_linear_stack(tensors, f"{name}.{level}.layers", widths), f"{name}.{level}")
            for level in range(levels)
        )

    return SharedDecoder(
        config=config,
        gain_base=_tensor(tensors, "gain_base", (levels,)),
        gain_slope=_tensor(tensors, "gain_slope", (levels,)),
        synthesis=SynthesisWeights(tuple(mlp), tuple(res), out),
        contexts=ContextNetworks(nets("context_a", False), nets("context_b", True)),
    )


@lru_cache(maxsize=4)
def load_shared(entry: ModelEntry) -> SharedDecoder:
    """The decoder's model of an installed v2 model entry (sha256 checked); InrCodecError on any problem."""
    tensors, _ = load_weight_arrays(entry)
    try:
        return shared_from_tensors(tensors, ModelConfig.from_dict(entry.config))
    except (ValueError, TypeError) as exc:
        raise InrCodecError(f"weights of model '{entry.id}' are not a usable v2 model: {exc}") from None
