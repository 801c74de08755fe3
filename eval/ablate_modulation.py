"""Ablation: does a per-image modulation of the shared synthesis pay on the v2 decoder?

    OMP_NUM_THREADS=1 python eval/ablate_modulation.py --out eval/results/v2/ablation_modulation.json

The modulation is W = W0 + dW on the synthesis' output layer (8 -> 3, with its bias) plus a shift of the first
layer's bias (32), 59 numbers per image, refined jointly with the latents for the default preset's steps under
the same proxy schedule, and charged 16 bits each (stored as float16; the rendered image uses the float16
values). The issue's low-rank W0 + U V form needs a meta-learned U; with none trained, this full delta of the
smallest layers is its cheapest stand-in. Without modulation the encoder is exactly the default one.

Kodak kodim01, 05, 15, 20, 23, the 256x256 crop at (top 128, left 256), qualities 2, 4, 6, 8, default model.
Rate: the real .inr file of the latents (bytes x 8) plus the modulation's bits; PSNR of the 8-bit render.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

ROOT = Path(__file__).resolve().parent.parent
IMAGES = ("kodim01", "kodim05", "kodim15", "kodim20", "kodim23")
QUALITIES = (2, 4, 6, 8)
MODULATION_LR = 2e-3
BITS_PER_NUMBER = 16


class ModulatedOutput(nn.Module):
    """The synthesis' 1x1 output conv with a per-image delta on its weight [3, C, 1, 1] and bias [3]."""

    def __init__(self, base: nn.Conv2d) -> None:
        super().__init__()
        self.base = base
        self.weight = nn.Parameter(torch.zeros_like(base.weight))
        self.bias = nn.Parameter(torch.zeros_like(base.bias))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.base.weight + self.weight, self.base.bias + self.bias)


class ModulatedLinear(nn.Module):
    """A synthesis MLP layer with a per-image shift of its bias [out]."""

    def __init__(self, base: nn.Linear) -> None:
        super().__init__()
        self.base = base
        self.bias = nn.Parameter(torch.zeros_like(base.bias))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.base.weight, self.base.bias + self.bias)


def modulated_copy(model):
    """-> (a copy of the frozen model whose synthesis carries the modulation, the modulation's parameters)."""
    model = copy.deepcopy(model)
    synthesis = model.shared.synthesis
    synthesis.out = ModulatedOutput(synthesis.out)
    synthesis.mlp[0] = ModulatedLinear(synthesis.mlp[0])
    deltas = [synthesis.out.weight, synthesis.out.bias, synthesis.mlp[0].bias]
    return model, deltas


def refine_with_modulation(model, latents, target, rate_code, lam, steps, deltas):
    """The default refinement schedule (inrcodec.encoder.refine) over latents and deltas together."""
    from inrcodec.encoder.proxy import temperature_at
    from inrcodec.encoder.refine import LEARNING_RATE, SEED, SOFT_FRACTION, rd_cost

    torch.manual_seed(SEED)
    params = [y.detach().clone().requires_grad_(True) for y in latents]
    optimiser = torch.optim.Adam([{"params": params, "lr": LEARNING_RATE}, {"params": deltas, "lr": MODULATION_LR}])
    code = torch.tensor([float(rate_code)])
    soft_steps = int(round(steps * SOFT_FRACTION))
    best, best_cost = None, math.inf
    for step in range(steps):
        decay = 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / steps))
        optimiser.param_groups[0]["lr"], optimiser.param_groups[1]["lr"] = LEARNING_RATE * decay, MODULATION_LR * decay
        temperature = temperature_at(step / max(1, soft_steps)) if step < soft_steps else None
        cost, _, _ = rd_cost(model, params, target, code, lam, temperature)
        if temperature is None and float(cost.detach()) < best_cost:
            best_cost = float(cost.detach())
            best = ([p.detach().clone() for p in params], [d.detach().clone() for d in deltas])
        optimiser.zero_grad(set_to_none=True)
        cost.backward()
        optimiser.step()
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kodak", type=Path, default=ROOT.parent / "shared/data/kodak")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    from PIL import Image

    from inrcodec import decoder, hardware
    from inrcodec.api import resolve_model
    from inrcodec.encoder.image import as_target, encode_image, encode_latents_to_file, predict
    from inrcodec.encoder.model_torch import load_codec_model
    from inrcodec.metrics import bd_rate, psnr
    from inrcodec.model.config import lambda_rate_code
    from inrcodec.presets import DEFAULT_PRESET, IMAGE_PRESET_STEPS, QUALITY_LAMBDAS

    steps = IMAGE_PRESET_STEPS[DEFAULT_PRESET]
    entry = resolve_model(None)
    images = [np.array(Image.open(args.kodak / f"{n}.png").convert("RGB"))[128:384, 256:512] for n in IMAGES]
    plain, modulated = [], []
    for quality in QUALITIES:
        lam = QUALITY_LAMBDAS[quality]
        rate_code = lambda_rate_code(lam)
        rows_plain, rows_mod = [], []
        for pixels in images:
            stats = encode_image(pixels, entry, lam=lam, steps=steps).stats
            rows_plain.append((stats["bpp"], stats["psnr_rgb"]))
            target, _ = as_target(pixels)
            model, deltas = modulated_copy(load_codec_model(entry))
            latents, values = refine_with_modulation(model, predict(entry, target, rate_code), target, rate_code,
                                                     lam, steps, deltas)  # fmt: skip
            with torch.no_grad():
                for delta, value in zip(deltas, values):
                    delta.copy_(value.half().float())
                code = torch.tensor([float(rate_code)])
                recon = model.shared.render([torch.round(y) for y in latents], code, *pixels.shape[:2])
            decoded = (recon[0].permute(1, 2, 0).clamp(0, 1).numpy() * 255 + 0.5).astype(np.uint8)
            data = encode_latents_to_file(entry, latents, pixels.shape[1], pixels.shape[0], 3, rate_code)
            assert decoder.decode_image(data).pixels.shape == pixels.shape
            count = sum(v.numel() for v in values)
            rows_mod.append(((len(data) * 8 + BITS_PER_NUMBER * count) / pixels[..., 0].size, psnr(pixels, decoded)))
        for rows, out in ((rows_plain, plain), (rows_mod, modulated)):
            out.append({"quality": quality, "bpp": float(np.mean([r[0] for r in rows])),
                        "psnr": float(np.mean([r[1] for r in rows]))})  # fmt: skip
        print(quality, plain[-1], modulated[-1], flush=True)
    bd = bd_rate([p["bpp"] for p in plain], [p["psnr"] for p in plain],
                 [p["bpp"] for p in modulated], [p["psnr"] for p in modulated])  # fmt: skip
    report = {"model": {"id": entry.id, "sha256": entry.sha256}, "images": list(IMAGES), "steps": steps,
              "crop": "256x256 at top 128, left 256", "qualities": list(QUALITIES),
              "modulation": "output layer weight+bias delta (27) and first-layer bias shift (32), float16, 16 bits each",
              "without_modulation": plain, "with_modulation": modulated, "bd_rate_with_vs_without_percent": bd,
              "hardware": hardware.describe(), "torch_threads": torch.get_num_threads(),
              "command": " ".join(["python", *sys.argv]), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"BD-rate with modulation vs without: {bd:+.2f} %")


if __name__ == "__main__":
    main()
