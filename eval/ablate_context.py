"""What each context source of the entropy model saves, on the shipped model's own latents.

    python eval/ablate_context.py --out eval/results/v2/ablation_context.json

The latents are the analysis network's (rounded, no refinement) for 160 random 256x256 training crops (rate
codes uniform over 0..255) and for five Kodak images at qualities 2, 4, 6, 8. For each variant the context
networks are fine-tuned from the shipped weights for --steps Adam steps on the training latents, with the
left-out inputs held at zero, and then measured on the Kodak latents: the ideal code length under the float
context model (sum of -log2 p, an estimate that steers nothing and is labelled as such, not a file size; the
files' coder adds well under 1 % to it). The distortion is the same for every variant (the latents are fixed),
so a rate difference is the BD-rate of that component at these points.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
KODAK_IMAGES = ("kodim01", "kodim05", "kodim15", "kodim20", "kodim23")
QUALITIES = (2, 4, 6, 8)
# which inputs of the context networks a variant keeps: 9 coarse, 1 rate code, 12 same-level (pass B)
VARIANTS = {
    "all sources (shipped)": {"coarse": True, "same": True, "rate": True},
    "without the same-level neighbours (pass B sees what pass A sees)": {"coarse": True, "same": False, "rate": True},
    "without the coarser level": {"coarse": False, "same": True, "rate": True},
    "without the rate code": {"coarse": True, "same": True, "rate": False},
    "rate code only (a factorised model per level and pass)": {"coarse": False, "same": False, "rate": True},
}


def input_mask(keep: dict, second: bool):
    import torch

    mask = [keep["coarse"]] * 9 + [keep["rate"]] + ([keep["same"]] * 12 if second else [])
    return torch.tensor(mask, dtype=torch.float32)


def without_inputs(shared, keep: dict) -> list:
    """Wrap every context network of (a copy of) the shared model so the left-out inputs read zero; -> the
    wrapped networks' parameters."""
    import torch

    class MaskedInputs(torch.nn.Module):
        def __init__(self, net, mask):
            super().__init__()
            self.net, self.mask = net, mask

        def forward(self, x):
            return self.net(x * self.mask)

    for nets, second in ((shared.context_a, False), (shared.context_b, True)):
        for level, net in enumerate(nets):
            nets[level] = MaskedInputs(net, input_mask(keep, second))
    return [p for nets in (shared.context_a, shared.context_b) for net in nets for p in net.parameters()]


def bits(shared, latents, rate_codes):
    """Total ideal bits of integer latents (finest first, [B, 1, h, w]) under the context model."""
    from inrcodec.encoder.shared_torch import laplace_bits

    params = shared.distribution(latents, rate_codes)
    return sum(laplace_bits(q, mean, log_scale).sum() for q, (mean, log_scale) in zip(latents, params))


def analysis_latents(model, pixels: np.ndarray, rate_code: float):
    import torch

    target = torch.from_numpy(np.array(pixels)).permute(2, 0, 1)[None].float() / 255.0
    code = torch.tensor([float(rate_code)])
    with torch.no_grad():
        return [torch.round(y) for y in model.analysis(target, code, model.shared.log_gains(code))], code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=Path, default=ROOT.parent / "shared/data/train")
    parser.add_argument("--kodak", type=Path, default=ROOT.parent / "shared/data/kodak")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    import copy

    import torch
    from PIL import Image

    from inrcodec import hardware
    from inrcodec.api import resolve_model
    from inrcodec.encoder.model_torch import load_codec_model
    from inrcodec.model.config import lambda_rate_code
    from inrcodec.presets import QUALITY_LAMBDAS
    from inrcodec.train.data import find_images, load_images, random_crops

    torch.manual_seed(0)
    entry = resolve_model(None)
    shipped = load_codec_model(entry)
    rng = np.random.default_rng(0)
    images = load_images(find_images([args.train]), 256)
    train = [analysis_latents(shipped, crop, rng.uniform(0, 255)) for crop in random_crops(images, rng, 160, 256)]
    kodak = [analysis_latents(shipped, np.array(Image.open(args.kodak / f"{name}.png").convert("RGB")),
                              lambda_rate_code(QUALITY_LAMBDAS[q])) for name in KODAK_IMAGES for q in QUALITIES]
    pixels = sum(768 * 512 for _ in kodak)
    results = {}
    for name, keep in VARIANTS.items():
        shared = copy.deepcopy(shipped.shared)
        parameters = without_inputs(shared, keep)
        for p in parameters:
            p.requires_grad_(True)
        optimiser = torch.optim.Adam(parameters, lr=1e-3)
        for step in range(args.steps):
            batch = [train[i] for i in rng.integers(len(train), size=8)]
            loss = sum(bits(shared, latents, code) for latents, code in batch) / (8 * 256 * 256)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        with torch.no_grad():
            total = float(sum(bits(shared, latents, code) for latents, code in kodak))
        results[name] = {"keep": keep, "bits_per_pixel": total / pixels}
        print(name, results[name], flush=True)
    reference = results["all sources (shipped)"]["bits_per_pixel"]
    for result in results.values():
        result["rate_vs_all_sources_percent"] = 100 * (result["bits_per_pixel"] / reference - 1)
    report = {"model": {"id": entry.id, "sha256": entry.sha256}, "fine_tune_steps": args.steps,
              "kodak_images": list(KODAK_IMAGES), "qualities": list(QUALITIES), "variants": results,
              "note": "ideal code length of the analysis network's rounded latents (no refinement), an estimate",
              "hardware": hardware.describe(), "command": " ".join(["python", *sys.argv]),
              "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    lines = ["| context model | ideal bpp on Kodak latents | vs all sources |", "|---|---:|---:|"]
    lines += [f"| {name} | {r['bits_per_pixel']:.4f} | {r['rate_vs_all_sources_percent']:+.1f} % |"
              for name, r in results.items()]  # fmt: skip
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
