"""The shipped v2 model as the encoder uses it: shared decoder and analysis network in torch (cached)."""

from __future__ import annotations

from functools import lru_cache

import torch

from inrcodec.encoder.analysis_net import AnalysisNet
from inrcodec.encoder.shared_torch import SharedModel
from inrcodec.errors import InrCodecError
from inrcodec.model.config import ModelConfig
from inrcodec.model.registry import ModelEntry, parse_weights, read_weights


class CodecModel(torch.nn.Module):
    """The shared model and the analysis network (the same module tree that training writes)."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.shared = SharedModel(config)
        self.analysis = AnalysisNet(config)


def load_model_tensors(entry: ModelEntry) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """(tensors, safetensors metadata) of an installed model, after checking its sha256 against the manifest."""
    from safetensors.torch import load

    return parse_weights(entry, read_weights(entry), load)


@lru_cache(maxsize=2)
def load_codec_model(entry: ModelEntry) -> CodecModel:
    """The torch model of an installed v2 entry, weights checked against the manifest's sha256, frozen."""
    if entry.config.get("codec") != 2:
        raise InrCodecError(f"model '{entry.id}' is not a v2 image model")
    tensors, _ = load_model_tensors(entry)
    model = CodecModel(ModelConfig.from_dict(entry.config))
    try:
        model.load_state_dict(tensors)
    except RuntimeError:
        raise InrCodecError(f"weights of model '{entry.id}' do not fit its configuration") from None
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    return model.eval()
