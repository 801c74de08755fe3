"""The v1 field's small MLP that turns interpolated grid features into RGB (the shared MLP of a v1 model)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class MlpConfig:
    """n_hidden_layers hidden layers of hidden_width units with ReLU, then a linear layer to out_channels."""

    n_hidden_layers: int = 2
    hidden_width: int = 16
    out_channels: int = 3


class Mlp(nn.Module):
    """features: [..., n_inputs] -> [..., out_channels]; the output is RGB in [0, 1] before clamping."""

    def __init__(self, n_inputs: int, config: MlpConfig):
        super().__init__()
        self.config = config
        widths = [n_inputs] + [config.hidden_width] * config.n_hidden_layers + [config.out_channels]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:]))
        with torch.no_grad():
            self.layers[-1].bias.fill_(0.5)

    def forward(self, features: torch.Tensor, params: list[torch.Tensor] | None = None) -> torch.Tensor:
        """`params`, if given, replaces the weights: [w0, b0, w1, b1, ...] (quantised values at decode time)."""
        h = features
        for index, layer in enumerate(self.layers):
            weight, bias = (params[2 * index], params[2 * index + 1]) if params is not None else (layer.weight, layer.bias)
            h = torch.nn.functional.linear(h, weight, bias)
            if index < len(self.layers) - 1:
                h = torch.relu(h)
        return h

    def param_list(self) -> list[torch.Tensor]:
        """[w0, b0, w1, b1, ...]: the order in which weights are quantised and coded."""
        return [p for layer in self.layers for p in (layer.weight, layer.bias)]
