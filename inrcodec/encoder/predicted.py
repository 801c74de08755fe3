"""Predicted frames (the first piece of video v2): a frame's integer latents coded as a residual against a
motion-compensated prediction of them: the reference frames' latent grids warped by block motion
(inrcodec.entropy.motion.predict_grids, integers).

The residual is refined like an image's latents (inrcodec.encoder.refine.refine_with) with the frame rendered
from prediction + residual, and entropy-coded with the image model's context networks (no temporal context
yet): where the prediction is right, the residual is 0 and costs almost nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from inrcodec.encoder.image import as_target, predict
from inrcodec.encoder.model_torch import load_codec_model
from inrcodec.encoder.refine import CostFn, proxied, refine_with
from inrcodec.encoder.shared_torch import laplace_bits
from inrcodec.entropy.planes import encode_latents
from inrcodec.model.registry import ModelEntry
from inrcodec.model.shared import load_shared


@dataclass(frozen=True)
class PredictedFrame:
    """residual_stream: the residual latents' ANS stream; latents: the frame's integer grids (finest first),
    prediction + residual as coded (the next frame's reference)."""

    residual_stream: bytes
    latents: list[np.ndarray]


def residual_cost(entry: ModelEntry, target: torch.Tensor, prediction: list[np.ndarray], rate_code: int, lam: float,
                  proxy: str, residual_code: int) -> CostFn:  # fmt: skip
    """The cost MSE + lam bpp of float residuals [1, 1, h, w] per level: the frame rendered from prediction +
    residual at `rate_code`, the bits of the residual under the context model at `residual_code` reading the
    rounded residuals."""
    model = load_codec_model(entry)
    code = torch.tensor([float(rate_code)])
    entropy_code = torch.tensor([float(residual_code)])
    height, width = target.shape[-2:]
    base = [torch.from_numpy(q.astype(np.float32))[None, None] for q in prediction]

    def evaluate(residuals, modulation, temperature, backward):
        with torch.enable_grad() if backward else torch.no_grad():
            rounded, coded, rendered = proxied(residuals, temperature, proxy)
            params = model.shared.distribution(rounded, entropy_code)
            bits = sum(laplace_bits(r, mean, log_scale).sum() for r, (mean, log_scale) in zip(coded, params))
            recon = model.shared.render([p + r for p, r in zip(base, rendered)], code, height, width, modulation)
            mse = ((recon - target) ** 2).mean()
            bpp = bits / (height * width)
            cost = mse + lam * bpp
        if backward:
            cost.backward()
        return float(cost.detach()), float(mse.detach()), float(bpp.detach())

    return evaluate


def encode_predicted(pixels: np.ndarray, prediction: list[np.ndarray], entry: ModelEntry, rate_code: int, lam: float,
                     steps: int, proxy: str = "soft", start: str = "analysis", learning_rate: float | None = None,
                     residual_code: int | None = None) -> PredictedFrame:  # fmt: skip
    """uint8 [H, W, 3] frame and the integer prediction of its grids -> its residual, refined for `steps` and
    coded. start: "zero" (from the prediction itself) or "analysis" (from the analysis network's latents of the
    frame minus the prediction); learning_rate: the refinement's step (None: the image encoder's rule);
    residual_code: the rate code the context networks code the residual at (None: rate_code)."""
    residual_code = rate_code if residual_code is None else residual_code
    target, _ = as_target(pixels)
    cost = residual_cost(entry, target, prediction, rate_code, lam, proxy, residual_code)
    if start == "analysis":
        analysed = predict(entry, target, rate_code)
        begin = [a - torch.from_numpy(q.astype(np.float32))[None, None] for a, q in zip(analysed, prediction)]
    else:
        begin = [torch.zeros(1, 1, *q.shape) for q in prediction]
    refined = refine_with(cost, begin, pixels.shape[0] * pixels.shape[1], 0, lam, steps, proxy=proxy, modulate=False,
                          learning_rate=learning_rate)  # fmt: skip
    residuals = [torch.round(r).reshape(r.shape[-2:]).numpy().astype(np.int64) for r in refined.latents]
    stream, coded = encode_latents(residuals, load_shared(entry).contexts, residual_code)
    return PredictedFrame(stream, [p + r for p, r in zip(prediction, coded)])
