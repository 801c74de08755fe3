"""Ablation: the per-image modulation of the shared synthesis (format 2.1's MODU section), on and off.

    OMP_NUM_THREADS=1 python eval/ablate_modulation.py --out eval/results/v2/ablation_modulation.json

Both arms are the shipped encoder (inrcodec.encoder.image.encode_image) at the default preset's steps, or
--steps; "on" is the default, which refines the 59 numbers jointly with the latents and writes them (binary16)
only where they pay, "off" passes modulate=False. --modulation-lr overrides the encoder's step for the
modulation (a sweep). Rate and PSNR are those of the real .inr files, decoded by the decoder.

Kodak kodim01, 05, 15, 20, 23 at qualities 2, 4, 6, 8: --crop 256 takes the 256x256 crop at (top 128, left 256),
as the other v2 ablations do; --crop 0 codes the whole 768x512 images.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
IMAGES = ("kodim01", "kodim05", "kodim15", "kodim20", "kodim23")
QUALITIES = (2, 4, 6, 8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kodak", type=Path, default=ROOT.parent / "shared/data/kodak")
    parser.add_argument("--crop", type=int, default=256, help="side of the crop at (128, 256); 0: whole images")
    parser.add_argument("--steps", type=int, default=None, help="refinement steps (default: the default preset's)")
    parser.add_argument("--modulation-lr", type=float, default=None, help="the modulation's Adam step (default: the encoder's)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    import torch
    from PIL import Image

    from inrcodec import hardware
    from inrcodec.api import resolve_model
    from inrcodec.encoder.image import encode_image
    from inrcodec.encoder import refine
    from inrcodec.encoder.refine import MODULATION_BITS
    from inrcodec.metrics import bd_rate
    from inrcodec.presets import DEFAULT_PRESET, IMAGE_PRESET_STEPS, QUALITY_LAMBDAS

    steps = IMAGE_PRESET_STEPS[DEFAULT_PRESET] if args.steps is None else args.steps
    if args.modulation_lr is not None:
        refine.MODULATION_LR = args.modulation_lr
    entry = resolve_model(None)
    images = [np.array(Image.open(args.kodak / f"{n}.png").convert("RGB")) for n in IMAGES]
    if args.crop:
        images = [pixels[128 : 128 + args.crop, 256 : 256 + args.crop] for pixels in images]
    arms: dict[str, list[dict]] = {"off": [], "on": []}
    for quality in QUALITIES:
        for arm, modulate in (("off", False), ("on", True)):
            stats = [encode_image(pixels, entry, lam=QUALITY_LAMBDAS[quality], steps=steps, modulate=modulate).stats
                     for pixels in images]  # fmt: skip
            arms[arm].append({
                "quality": quality, "bpp": float(np.mean([s["bpp"] for s in stats])),
                "psnr": float(np.mean([s["psnr_rgb"] for s in stats])),
                "modulated_files": sum(s["modulated"] for s in stats),
                "encode_seconds": float(np.mean([s["encode_seconds"] for s in stats])),
            })  # fmt: skip
            print(quality, arm, arms[arm][-1], flush=True)
    bd = bd_rate([p["bpp"] for p in arms["off"]], [p["psnr"] for p in arms["off"]],
                 [p["bpp"] for p in arms["on"]], [p["psnr"] for p in arms["on"]])  # fmt: skip
    report = {"model": {"id": entry.id, "sha256": entry.sha256}, "images": list(IMAGES), "steps": steps,
              "crop": f"{args.crop}x{args.crop} at top 128, left 256" if args.crop else "whole images",
              "qualities": list(QUALITIES), "modulation_lr": refine.MODULATION_LR,
              "modulation": f"MODU: output layer weight+bias and first-layer bias, {MODULATION_BITS} bits each",
              "without_modulation": arms["off"], "with_modulation": arms["on"], "bd_rate_with_vs_without_percent": bd,
              "hardware": hardware.describe(), "torch_threads": torch.get_num_threads(),
              "command": " ".join(["python", *sys.argv]), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"BD-rate with modulation vs without: {bd:+.2f} %")


if __name__ == "__main__":
    main()
