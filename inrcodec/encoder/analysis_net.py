"""The amortised encoder (encoder only, never in a file): a small CNN from the image to every latent grid.

Image [B, 3, H, W] in [0, 1] -> 2x2 space-to-depth (so no convolution runs at full resolution) plus the rate
code as a constant channel -> one feature map per scale 1/2 .. 1/2^(L-1) (stride-2 convolutions, so sizes
round up exactly as `level_shape`) -> per level a 3x3 head (level 0: four channels at 1/2, depth-to-space) ->
divided by the synthesis gain of that level, so the network predicts latents in integer units at every rate.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from inrcodec.model.config import RATE_CODES, ModelConfig


class AnalysisNet(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        width = config.analysis_width
        self.stem = nn.ModuleList([nn.Conv2d(13, width, 3, padding=1), nn.Conv2d(width, width, 3, padding=1)])
        self.down = nn.ModuleList(
            nn.ModuleList([nn.Conv2d(width, width, 3, stride=2, padding=1), nn.Conv2d(width, width, 3, padding=1)])
            for _ in range(config.n_levels - 2)
        )
        self.head_fine = nn.Conv2d(width + 1, 4, 3, padding=1)
        self.heads = nn.ModuleList(nn.Conv2d(width + 1, 1, 3, padding=1) for _ in range(config.n_levels - 1))

    def forward(self, image: torch.Tensor, rate_codes: torch.Tensor, log_gains: torch.Tensor) -> list[torch.Tensor]:
        """image [B, 3, H, W], rate_codes [B], log_gains [B, L] -> latents (finest first) [B, 1, h_l, w_l]."""
        batch, _, height, width = image.shape
        rate = (rate_codes / (RATE_CODES - 1)).view(-1, 1, 1, 1)
        padded = F.pad(image - 0.5, (0, width % 2, 0, height % 2), mode="replicate")
        x = F.pixel_unshuffle(padded, 2)
        x = torch.cat([x, rate.expand(batch, 1, *x.shape[-2:])], dim=1)
        x = F.relu(self.stem[0](x))
        x = F.relu(self.stem[1](x)) + x
        features = [x]
        for first, second in self.down:
            x = F.relu(first(x))
            x = F.relu(second(x)) + x
            features.append(x)

        def with_rate(feature: torch.Tensor) -> torch.Tensor:
            return torch.cat([feature, rate.expand(batch, 1, *feature.shape[-2:])], dim=1)

        fine = F.pixel_shuffle(self.head_fine(with_rate(features[0])), 2)[..., :height, :width]
        raw = [fine] + [head(with_rate(feature)) for head, feature in zip(self.heads, features)]
        return [y * torch.exp(-log_gains[:, level]).view(-1, 1, 1, 1) for level, y in enumerate(raw)]
