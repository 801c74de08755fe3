"""Refinement of the predicted latents of one image against the frozen shared decoder (latents only).

Adam on the float latents, minimising MSE + lambda x bpp under the quantisation proxy. The default proxy
("soft") is noisy soft-rounding with the temperature annealed 0.3 -> 0.1 for the first SOFT_FRACTION of the
steps, then straight-through rounding (the rate then counts the rounded latents, as coded). The variants, for
the ablation: "noise" (uniform noise instead of soft-rounding, then straight-through) and "ste"
(straight-through from the first step). The context model always reads the rounded latents, as the decoder
does. Keeps the best rounded state seen in the straight-through phase.
"""

from __future__ import annotations

import math
from typing import Callable

import torch

from inrcodec.encoder.model_torch import CodecModel
from inrcodec.encoder.proxy import noisy_soft_round, straight_through, temperature_at
from inrcodec.encoder.shared_torch import laplace_bits

SOFT_FRACTION = 0.8
LEARNING_RATE = 0.05  # in quantisation steps (image-v2, a Kodak crop at qualities 1 and 5: 0.05 beat 0.2 at 60 steps)
SEED = 0

ProgressFn = Callable[[int, dict], None]


PROXIES = ("soft", "noise", "mixed", "ste")


def rd_cost(
    model: CodecModel, latents: list[torch.Tensor], target: torch.Tensor, rate_code: torch.Tensor, lam: float,
    temperature: float | None, grey: bool = False, proxy: str = "soft",
) -> tuple[torch.Tensor, float, float]:
    """-> (cost MSE + lam bpp, MSE, bpp) of float latents under the proxy (temperature None: straight-through).
    target [1, 3, H, W]; grey: the distortion is measured on the mean of the three channels."""
    height, width = target.shape[-2:]
    rounded = [straight_through(y) for y in latents]
    if temperature is None:
        coded = rendered = rounded
    elif proxy in ("noise", "mixed"):
        coded = [y + torch.empty_like(y).uniform_(-0.5, 0.5) for y in latents]
        # mixed, as in training: the distortion through rounding, the rate at the latents plus noise
        rendered = rounded if proxy == "mixed" else coded
    else:
        coded = rendered = [noisy_soft_round(y, temperature) for y in latents]
    params = model.shared.distribution(rounded, rate_code)
    bits = sum(laplace_bits(q, mean, log_scale).sum() for q, (mean, log_scale) in zip(coded, params))
    recon = model.shared.render(rendered, rate_code, height, width)
    if grey:
        recon = recon.mean(dim=1, keepdim=True)
    mse = ((recon - target) ** 2).mean()
    bpp = bits / (height * width)
    return mse + lam * bpp, float(mse.detach()), float(bpp.detach())


def refine(
    model: CodecModel, latents: list[torch.Tensor], target: torch.Tensor, rate_code: int, lam: float, steps: int,
    grey: bool = False, progress: ProgressFn | None = None, proxy: str = "soft",
) -> list[torch.Tensor]:
    """Predicted latents (finest first) [1, 1, h, w] -> refined float latents (round them to code)."""
    if proxy not in PROXIES:
        raise ValueError(f"unknown quantisation proxy {proxy!r}")
    if steps <= 0:
        return [y.detach() for y in latents]
    # The proxy's noise comes from a fixed seed (the caller's generator is left alone), so the same image gives
    # the same file for a given torch version and thread count.
    with torch.random.fork_rng():
        torch.manual_seed(SEED)
        return _refine(model, latents, target, rate_code, lam, steps, grey, progress, proxy)


def _refine(
    model: CodecModel, latents: list[torch.Tensor], target: torch.Tensor, rate_code: int, lam: float, steps: int,
    grey: bool, progress: ProgressFn | None, proxy: str,
) -> list[torch.Tensor]:
    params = [y.detach().clone().requires_grad_(True) for y in latents]
    optimiser = torch.optim.Adam(params, lr=LEARNING_RATE)
    code = torch.tensor([float(rate_code)])
    soft_steps = 0 if proxy == "ste" else int(round(steps * SOFT_FRACTION))
    # The prediction itself is a candidate: a few steps under a proxy can end worse than where they started.
    with torch.no_grad():
        start_cost, _, _ = rd_cost(model, params, target, code, lam, None, grey)
    best, best_cost = [p.detach().clone() for p in params], float(start_cost)
    for step in range(steps):
        for group in optimiser.param_groups:
            group["lr"] = LEARNING_RATE * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / steps)))
        temperature = temperature_at(step / max(1, soft_steps)) if step < soft_steps else None
        cost, mse, bpp = rd_cost(model, params, target, code, lam, temperature, grey, proxy)
        if temperature is None and float(cost.detach()) < best_cost:
            best_cost, best = float(cost.detach()), [p.detach().clone() for p in params]
        optimiser.zero_grad(set_to_none=True)
        cost.backward()
        optimiser.step()
        if progress is not None:
            progress(step, {"psnr": -10 * math.log10(max(mse, 1e-10)), "bpp": bpp})
    with torch.no_grad():
        cost, _, _ = rd_cost(model, params, target, code, lam, None, grey)
    if float(cost) < best_cost:
        best = [p.detach().clone() for p in params]
    return best
