"""Refinement of the predicted latents of one image against the frozen shared decoder, with (optionally) the
image's modulation of the synthesis (59 numbers, coded as binary16 in the file's MODU section).

Adam on the float latents (and the modulation), minimising MSE + lambda x bpp under the quantisation proxy. The
default proxy ("soft") is noisy soft-rounding with the temperature annealed 0.3 -> 0.1 for the first
SOFT_FRACTION of the steps, then straight-through rounding (the rate then counts the rounded latents, as coded).
The variants, for the ablation: "noise" (uniform noise instead of soft-rounding, then straight-through) and "ste"
(straight-through from the first step). The context model always reads the rounded latents, as the decoder does.
Keeps the best rounded state seen in the straight-through phase; at the end the modulation is kept only if it
pays for its MODULATION_BITS per number.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable

import torch

from inrcodec.encoder.model_torch import CodecModel
from inrcodec.encoder.proxy import noisy_soft_round, straight_through, temperature_at
from inrcodec.encoder.shared_torch import laplace_bits

SOFT_FRACTION = 0.8
LEARNING_RATE = 0.05  # in quantisation steps, from REFERENCE_STEPS on (shorter runs: learning_rate_for)
REFERENCE_STEPS = 60
# the modulation's step: beat 2e-3 and 1e-2 at 10 and 60 steps (eval/results/v2/ablation_modulation*.json)
MODULATION_LR = 5e-3
MODULATION_BITS = 16  # binary16 per number
# Smaller images are refined without a modulation: on 64x64 and 128x128 Kodak crops (quality 1) its bits did not
# pay, and latents refined beside a modulation that is then dropped are ~1.4 % worse in cost than plain ones.
MODULATION_MIN_PIXELS = 256 * 256
SEED = 0

ProgressFn = Callable[[int, dict], None]


PROXIES = ("soft", "noise", "mixed", "ste")


def proxied(latents: list[torch.Tensor], temperature: float | None,
            proxy: str) -> tuple[list[torch.Tensor], list[torch.Tensor], list[torch.Tensor]]:  # fmt: skip
    """Float latents -> (rounded straight-through: what the contexts read, the values the rate counts, the
    values rendered) under the proxy at a temperature (None: straight-through, all three the rounded ones)."""
    rounded = [straight_through(y) for y in latents]
    if temperature is None:
        coded = rendered = rounded
    elif proxy in ("noise", "mixed"):
        coded = [y + torch.empty_like(y).uniform_(-0.5, 0.5) for y in latents]
        # mixed, as in training: the distortion through rounding, the rate at the latents plus noise
        rendered = rounded if proxy == "mixed" else coded
    else:
        coded = rendered = [noisy_soft_round(y, temperature) for y in latents]
    return rounded, coded, rendered


def rd_cost(
    model: CodecModel, latents: list[torch.Tensor], target: torch.Tensor, rate_code: torch.Tensor, lam: float,
    temperature: float | None, grey: bool = False, proxy: str = "soft", modulation: torch.Tensor | None = None,
) -> tuple[torch.Tensor, float, float]:
    """-> (cost MSE + lam bpp, MSE, bpp) of float latents under the proxy (temperature None: straight-through).
    target [1, 3, H, W]; grey: the distortion is measured on the mean of the three channels; modulation [M] or
    None (its bits are not counted: they do not depend on the values)."""
    height, width = target.shape[-2:]
    rounded, coded, rendered = proxied(latents, temperature, proxy)
    params = model.shared.distribution(rounded, rate_code)
    bits = sum(laplace_bits(q, mean, log_scale).sum() for q, (mean, log_scale) in zip(coded, params))
    recon = model.shared.render(rendered, rate_code, height, width, modulation)
    if grey:
        recon = recon.mean(dim=1, keepdim=True)
    mse = ((recon - target) ** 2).mean()
    bpp = bits / (height * width)
    return mse + lam * bpp, float(mse.detach()), float(bpp.detach())


@dataclass
class Refined:
    """latents: float latents (finest first) [1, 1, h, w] (round them to code); modulation: [M] float32 holding
    binary16 values, or None when it did not pay."""

    latents: list[torch.Tensor]
    modulation: torch.Tensor | None = None


CostFn = Callable[[list[torch.Tensor], "torch.Tensor | None", "float | None", bool], tuple[float, float, float]]
"""(latents, modulation or None, temperature or None for straight-through, backward?) -> (cost, MSE, bpp) under
the proxy; with backward, the cost's gradients are added to the latents' and the modulation's .grad."""


def whole_image_cost(model: CodecModel, target: torch.Tensor, rate_code: int, lam: float, grey: bool,
                     proxy: str) -> CostFn:  # fmt: skip
    """The cost of one image rendered whole (rd_cost)."""
    code = torch.tensor([float(rate_code)])

    def evaluate(latents, modulation, temperature, backward):
        with torch.enable_grad() if backward else torch.no_grad():
            cost, mse, bpp = rd_cost(model, latents, target, code, lam, temperature, grey, proxy, modulation)
        if backward:
            cost.backward()
        return float(cost.detach()), mse, bpp

    return evaluate


def refine(
    model: CodecModel, latents: list[torch.Tensor], target: torch.Tensor, rate_code: int, lam: float, steps: int,
    grey: bool = False, progress: ProgressFn | None = None, proxy: str = "soft", modulate: bool = True,
    learning_rate: float | None = None,
) -> Refined:
    """Predicted latents (finest first) [1, 1, h, w] -> refined latents, and the modulation if `modulate`, the
    image has MODULATION_MIN_PIXELS and it pays. learning_rate: the latents' step (None: learning_rate_for)."""
    cost = whole_image_cost(model, target, rate_code, lam, grey, proxy)
    pixels = target.shape[-1] * target.shape[-2]
    return refine_with(cost, latents, pixels, model.shared.config.modulation_size, lam, steps, progress, proxy,
                       modulate, learning_rate)  # fmt: skip


def refine_with(
    cost: CostFn, latents: list[torch.Tensor], pixels: int, modulation_size: int, lam: float, steps: int,
    progress: ProgressFn | None = None, proxy: str = "soft", modulate: bool = True,
    learning_rate: float | None = None,
) -> Refined:
    """refine, for any cost (the whole image, or tile by tile: inrcodec.encoder.tiled): latents of any shape."""
    if proxy not in PROXIES:
        raise ValueError(f"unknown quantisation proxy {proxy!r}")
    if steps <= 0:
        return Refined([y.detach() for y in latents])
    modulate = modulate and pixels >= MODULATION_MIN_PIXELS
    step_size = learning_rate_for(steps) if learning_rate is None else learning_rate
    # The proxy's noise comes from a fixed seed (the caller's generator is left alone), and torch's deterministic
    # kernels are used, so the same image gives the same file for a given torch version and thread count (with
    # torch's defaults, 60 steps on two threads gave a different file in each of three runs; no slower).
    with torch.random.fork_rng(), deterministic_kernels():
        torch.manual_seed(SEED)
        return _refine(cost, latents, pixels, modulation_size if modulate else 0, lam, steps, progress, proxy,
                       step_size)  # fmt: skip


@contextmanager
def deterministic_kernels():
    """torch.use_deterministic_algorithms(True) for the block, then the caller's setting again."""
    before = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before)


def learning_rate_for(steps: int) -> float:
    """The latents' Adam step for a run of `steps`: LEARNING_RATE x sqrt(steps / 60) below 60 steps. Measured
    on five Kodak crops (eval/results/v2/ablation_refine_lr.json): at 10 steps 0.01 / 0.03 / 0.05 cost +1.2 /
    +1.1 / +2.9 % against this rule's 0.0204; at 60 steps 0.03 costs +1.4 % and 0.08 ties with 0.05 (-0.1 %)."""
    return LEARNING_RATE * min(1.0, steps / REFERENCE_STEPS) ** 0.5


def as_binary16(modulation: torch.Tensor) -> torch.Tensor:
    """[M] -> the same rounded to binary16 (as stored), as float32."""
    return modulation.detach().half().float()


def _refine(
    cost: CostFn, latents: list[torch.Tensor], pixels: int, modulation_size: int, lam: float, steps: int,
    progress: ProgressFn | None, proxy: str, learning_rate: float,
) -> Refined:
    params = [y.detach().clone().requires_grad_(True) for y in latents]
    groups = [{"params": params, "lr": learning_rate, "base_lr": learning_rate}]
    modulation = None
    if modulation_size:
        modulation = torch.zeros(modulation_size, requires_grad=True)
        groups.append({"params": [modulation], "lr": MODULATION_LR, "base_lr": MODULATION_LR})
    optimiser = torch.optim.Adam(groups)
    soft_steps = 0 if proxy == "ste" else int(round(steps * SOFT_FRACTION))
    modulation_bpp = 0.0 if modulation is None else MODULATION_BITS * modulation.numel() / pixels

    def coded_cost(candidate: Refined) -> float:
        """The cost of a candidate as coded: rounded latents, the binary16 modulation and its bits."""
        value, _, _ = cost(candidate.latents, candidate.modulation, None, False)
        return value + (0.0 if candidate.modulation is None else lam * modulation_bpp)

    def current() -> Refined:
        return Refined([p.detach().clone() for p in params], None if modulation is None else as_binary16(modulation))

    # The prediction itself is a candidate: a few steps under a proxy can end worse than where they started.
    candidates = [Refined([y.detach() for y in latents])]
    best_cost = math.inf
    for step in range(steps):
        for group in optimiser.param_groups:
            group["lr"] = group["base_lr"] * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / steps)))
        temperature = temperature_at(step / max(1, soft_steps)) if step < soft_steps else None
        optimiser.zero_grad(set_to_none=True)
        value, mse, bpp = cost(params, modulation, temperature, True)
        # straight-through, the step's cost is the coded cost (up to the modulation's binary16 rounding)
        if temperature is None and value + lam * modulation_bpp < best_cost:
            best_cost = value + lam * modulation_bpp
            best = current()
        optimiser.step()
        if progress is not None:
            progress(step, {"psnr": -10 * math.log10(max(mse, 1e-10)), "bpp": bpp})
    candidates.append(current())
    if math.isfinite(best_cost):
        candidates.append(best)
    # each with its modulation and without it: the modulation stays only where it pays for its bits
    candidates += [Refined(c.latents) for c in candidates if c.modulation is not None]
    return min(candidates, key=coded_cost)
