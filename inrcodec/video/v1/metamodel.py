"""The v1 meta-learned model (models/base-v1, models/video-v1): what every video frame shares, shipped in models/
and never transmitted.

Shared by encoder and decoder:
  mlp          the MLP from grid features to RGB (the "pattern composition rule")
  mod_basis    U [hidden, rank]: instance modulation of the first layer, W0(image) = W0 + U @ V(image)
  mod_init     V0 [rank, L * F]: the modulation every image starts from (the file codes V - V0, in integers)
  step_offset  [L], step_slope []: per-level grid quantisation step index, 128 + offset + slope log2(lambda / 1e-3)
Encoder only (a decoder never reads them):
  log_lr_grid  [L], log_lr_mod []: Meta-SGD step sizes of the encoder's first, meta-learned steps
  log_scales   [L, F, N_CONTEXTS], mod_log_scale []: the rate model's starting Laplace scales
  predictor    per level a 3x3 convolution (no bias) from the image's YCbCr pyramid coefficients to grid features
  residual_log_lr_grid [L], residual_log_scales [L, F, N_CONTEXTS]: a video model's Meta-SGD step sizes and
               starting rate-model scales for the residual of a frame from the frame before

Grid values are held in quantisation steps (integers once coded); a level's features are step_l * symbols_l.
A constant initial grid would fold into the first layer's bias, so the grid starts from the predictor's output.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn

from inrcodec.video.v1.context import N_CONTEXTS
from inrcodec.video.v1.grid import GridConfig, level_scales
from inrcodec.video.v1.mlp import Mlp, MlpConfig

# JPEG (full-range BT.601) YCbCr; rows map RGB in [0, 1] to (Y - 1/2, Cb, Cr).
RGB_TO_YCC = torch.tensor(
    [[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]], dtype=torch.float32
)
YCC_TO_RGB = torch.linalg.inv(RGB_TO_YCC)
N_COLOUR = 3


def linear_mlp_init(mlp: Mlp, n_levels: int, gain: float) -> None:
    """MLP weights so that output = YCC_TO_RGB @ (gain * sum over levels of features) + (1/2, 0, 0) mapped.

    Needs 3 features per level and hidden layers at least 6 wide; the other hidden units keep 1 % of their
    random weights."""
    layers = mlp.layers
    for layer in layers:
        layer.weight.mul_(0.01)
        layer.bias.zero_()
    first = layers[0].weight
    first[: 2 * N_COLOUR].zero_()
    for level in range(n_levels):
        for colour in range(N_COLOUR):
            first[colour, level * N_COLOUR + colour] = gain
            first[N_COLOUR + colour, level * N_COLOUR + colour] = -gain
    for layer in layers[1:-1]:
        layer.weight[: 2 * N_COLOUR].zero_()
        layer.weight[:, : 2 * N_COLOUR].zero_()
        layer.weight[: 2 * N_COLOUR, : 2 * N_COLOUR] = torch.eye(2 * N_COLOUR)
    last = layers[-1]
    last.weight[:, : 2 * N_COLOUR] = torch.cat([YCC_TO_RGB, -YCC_TO_RGB], dim=1)
    last.bias.copy_(YCC_TO_RGB @ torch.tensor([0.5, 0.0, 0.0]))


def initial_log_scale() -> float:
    return math.log(0.5)


N_COLOUR = 3
PREDICTOR_KERNEL = 3
TRAINING_PIXELS_PER_UNIT = 1024  # default_pixels_per_unit of any image up to 1024 px a side


@dataclass(frozen=True)
class MetaConfig:
    """Architecture of a meta-learned model; stored in MANIFEST.json and in the weights' metadata."""

    n_levels: int = 7
    n_features: int = 3
    base_resolution: float = 16.0
    per_level_scale: float = 2.0
    log2_hashmap_size: int = 20
    mlp_hidden_layers: int = 2
    mlp_hidden_width: int = 16
    mod_rank: int = 2
    meta_steps: int = 10
    video_meta_steps: int = 0  # > 0: a video model, with Meta-SGD step sizes and rate scales for frame residuals

    @property
    def grid(self) -> GridConfig:
        return GridConfig(
            n_dims=2,
            n_levels=self.n_levels,
            n_features=self.n_features,
            log2_hashmap_size=self.log2_hashmap_size,
            base_resolution=self.base_resolution,
            per_level_scale=self.per_level_scale,
        )

    @property
    def mlp(self) -> MlpConfig:
        return MlpConfig(n_hidden_layers=self.mlp_hidden_layers, hidden_width=self.mlp_hidden_width)

    @property
    def n_inputs(self) -> int:
        return self.n_levels * self.n_features

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "MetaConfig":
        return cls(**{k: values[k] for k in cls.__dataclass_fields__ if k in values})


REFERENCE_LAMBDA = 1e-3


class MetaModel(nn.Module):
    """The shared parameters; see the module docstring. Construct, then `from_tensors`."""

    def __init__(self, config: MetaConfig):
        super().__init__()
        self.config = config
        levels, feats, hidden = config.n_levels, config.n_features, config.mlp_hidden_width
        self.mlp = Mlp(config.n_inputs, config.mlp)
        with torch.no_grad():
            linear_mlp_init(self.mlp, levels, gain=1.0)
        self.mod_basis = nn.Parameter(0.1 * torch.randn(hidden, config.mod_rank))
        self.mod_init = nn.Parameter(torch.zeros(config.mod_rank, config.n_inputs))
        # Start from the core codec's steps: min(1/16, 1.77 sqrt(lambda)) is ~ 2^-7.7 * lambda^0.22 over q1..q8.
        self.step_offset = nn.Parameter(torch.full((levels,), -39.5))
        self.step_slope = nn.Parameter(torch.tensor(1.73))
        spacing = torch.tensor([TRAINING_PIXELS_PER_UNIT / scale for scale in level_scales(config.grid)])
        # Step sizes start near the inverse curvature of the loss in one vertex, ~ 1 / (pixels per vertex), shared among
        # the overlapping levels that all move at once.
        self.log_lr_grid = nn.Parameter(torch.log(0.015 / spacing**2))
        self.log_lr_mod = nn.Parameter(torch.tensor(math.log(0.01)))
        self.log_scales = nn.Parameter(torch.full((levels, feats, N_CONTEXTS), initial_log_scale()))
        self.mod_log_scale = nn.Parameter(torch.tensor(1.0))
        kernel = torch.zeros(levels, feats, N_COLOUR, PREDICTOR_KERNEL, PREDICTOR_KERNEL)
        kernel[:, :, :, 1, 1] = torch.eye(feats, N_COLOUR)
        # No bias: a constant per level would only shift the image's mean, which the MLP's biases already set
        # (a first trial run let such biases drift together and ruin the prediction).
        self.predictor_weight = nn.Parameter(kernel)
        if config.video_meta_steps:
            # A video frame after a group's first is coded as an integer residual from the frame before: it starts
            # at zero and takes its own Meta-SGD steps under its own rate model.
            self.residual_log_lr_grid = nn.Parameter(self.log_lr_grid.detach().clone())
            self.residual_log_scales = nn.Parameter(torch.full((levels, feats, N_CONTEXTS), initial_log_scale()))

    # -- shared by encoder and decoder ------------------------------------------------------------------------

    def step_indices(self, lam: float) -> list[int]:
        """Per level, the integer step index the encoder writes into the file for rate weight lam."""
        raw = self._step_index(lam).detach()
        return [int(i) for i in torch.clamp(torch.round(raw), 0, 255).tolist()]

    def steps(self, lam: float) -> torch.Tensor:
        """[L] quantisation steps as used in the file (rounded index), but with a straight-through gradient
        to step_offset, so meta-training sees the steps the encoder will use."""
        raw = self._step_index(lam)
        index = raw + (torch.round(raw) - raw).detach()
        return 2.0 ** ((index - 128.0) / 8.0)

    def _step_index(self, lam: float) -> torch.Tensor:
        return 128.0 + self.step_offset + self.step_slope * math.log2(lam / REFERENCE_LAMBDA)

    def first_weight(self, mod_symbols: torch.Tensor) -> torch.Tensor:
        """mod_symbols: [B, rank, L * F] (coded V - V0) -> modulated first-layer weights [B, hidden, L * F]."""
        return self.mlp.layers[0].weight + self.mod_basis @ (self.mod_init + mod_symbols)

    def decode_rgb(self, features: torch.Tensor, mod_symbols: torch.Tensor) -> torch.Tensor:
        """features: [B, H, W, L * F] -> RGB [B, H, W, 3] (unclamped), with each image's modulation."""
        weight = self.first_weight(mod_symbols)
        h = torch.einsum("bhwi,boi->bhwo", features, weight) + self.mlp.layers[0].bias
        for layer in self.mlp.layers[1:]:
            h = torch.nn.functional.linear(torch.relu(h), layer.weight, layer.bias)
        return h

    # -- weights I/O -------------------------------------------------------------------------------------------

    def to_tensors(self) -> dict[str, torch.Tensor]:
        return {name: value.detach().contiguous().clone() for name, value in self.state_dict().items()}

    @classmethod
    def from_tensors(cls, config: MetaConfig, tensors: dict[str, torch.Tensor]) -> "MetaModel":
        """Raises ValueError if the tensors do not fit the config."""
        with torch.random.fork_rng():
            model = cls(config)
        expected = model.state_dict()
        if set(expected) != set(tensors):
            raise ValueError(f"weights have tensors {sorted(tensors)}, expected {sorted(expected)}")
        for name, value in tensors.items():
            if tuple(value.shape) != tuple(expected[name].shape):
                raise ValueError(f"tensor {name} has shape {list(value.shape)}, expected {list(expected[name].shape)}")
        model.load_state_dict({k: v.float() for k, v in tensors.items()})
        model.requires_grad_(False)
        return model
