"""Ablation of the refinement's step size for the latents, at 10 steps (fast) and 60 (medium).

    OMP_NUM_THREADS=1 python eval/ablate_refine_lr.py --out eval/results/v2/ablation_refine_lr.json

Kodak kodim01, 05, 15, 20, 23, the 256x256 crop at (top 128, left 256), qualities 2, 4, 6, 8, the default model
and the shipped encoder (modulation included) with its Adam step for the latents overridden. Real files; BD-rates
(pchip) against the encoder's own rule (inrcodec.encoder.refine.learning_rate_for) at the same number of steps.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from ablate_refine import IMAGES, QUALITIES, crops

SWEEP = {10: (0.01, 0.02, 0.03, 0.05), 60: (0.03, 0.05, 0.08)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kodak", type=Path, default=Path(__file__).resolve().parent.parent.parent / "shared/data/kodak")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    import torch

    from inrcodec import hardware
    from inrcodec.api import resolve_model
    from inrcodec.encoder.image import encode_image
    from inrcodec.encoder.refine import learning_rate_for
    from inrcodec.metrics import bd_rate
    from inrcodec.presets import QUALITY_LAMBDAS

    entry = resolve_model(None)
    images = crops(args.kodak)
    runs = {}
    for steps, rates in SWEEP.items():
        rule = learning_rate_for(steps)
        by_rate = {}
        for rate in sorted({rule, *rates}):
            points = []
            for quality in QUALITIES:
                stats = [encode_image(pixels, entry, lam=QUALITY_LAMBDAS[quality], steps=steps, learning_rate=rate).stats
                         for pixels in images]  # fmt: skip
                points.append({"quality": quality, "bpp": float(np.mean([s["bpp"] for s in stats])),
                               "psnr": float(np.mean([s["psnr_rgb"] for s in stats]))})  # fmt: skip
            by_rate[f"{rate:g}"] = {"points": points}
            print(steps, rate, points, flush=True)
        reference = by_rate[f"{rule:g}"]["points"]
        for result in by_rate.values():
            result["bd_rate_vs_rule_percent"] = bd_rate(
                [p["bpp"] for p in reference], [p["psnr"] for p in reference],
                [p["bpp"] for p in result["points"]], [p["psnr"] for p in result["points"]])  # fmt: skip
        runs[str(steps)] = {"rule": rule, "learning_rates": by_rate}
    report = {"model": {"id": entry.id, "sha256": entry.sha256}, "images": list(IMAGES),
              "crop": "256x256 at top 128, left 256", "qualities": list(QUALITIES), "steps": runs,
              "hardware": hardware.describe(), "torch_threads": torch.get_num_threads(),
              "command": " ".join(["python", *sys.argv]), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    for steps, run in runs.items():
        print(steps, "steps:", ", ".join(f"{rate} {r['bd_rate_vs_rule_percent']:+.2f} %"
                                         for rate, r in run["learning_rates"].items()))  # fmt: skip


if __name__ == "__main__":
    main()
