"""Ablation of the v2 encoder's refinement: steps 0 / 10 / 60 / 150 / 400 and the quantisation proxy, on fixed crops.

    python eval/ablate_refine.py --out eval/results/v2/ablation_refine.json

Kodak kodim01, 05, 15, 20, 23, the 256x256 crop at (top 128, left 256), qualities 2, 4, 6, 8, with the
default model. Every point is a real file (bytes x 8 / pixels) and the PSNR of its decode; BD-rates (pchip)
against the default encoder (the medium preset's 60 steps, soft-rounding proxy). Crops keep the run to minutes.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

IMAGES = ("kodim01", "kodim05", "kodim15", "kodim20", "kodim23")
QUALITIES = (2, 4, 6, 8)
VARIANTS = {
    "0 steps (analysis network only)": {"steps": 0, "proxy": "soft"},
    "10 steps (fast)": {"steps": 10, "proxy": "soft"},
    "60 steps (medium, reference)": {"steps": 60, "proxy": "soft"},
    "150 steps": {"steps": 150, "proxy": "soft"},
    "400 steps": {"steps": 400, "proxy": "soft"},
    "60 steps, uniform noise then straight-through": {"steps": 60, "proxy": "noise"},
    "60 steps, rounded render and noisy rate (the training proxy) then straight-through": {"steps": 60, "proxy": "mixed"},
    "60 steps, straight-through only": {"steps": 60, "proxy": "ste"},
}
REFERENCE = "60 steps (medium, reference)"


def crops(kodak: Path) -> list[np.ndarray]:
    from PIL import Image

    return [np.array(Image.open(kodak / f"{name}.png").convert("RGB"))[128:384, 256:512] for name in IMAGES]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kodak", type=Path, default=Path(__file__).resolve().parent.parent.parent / "shared/data/kodak")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    import torch

    from inrcodec import hardware
    from inrcodec.api import resolve_model
    from inrcodec.encoder.image import encode_image
    from inrcodec.metrics import bd_rate
    from inrcodec.presets import QUALITY_LAMBDAS

    entry = resolve_model(None)
    images = crops(args.kodak)
    results = {}
    for name, variant in VARIANTS.items():
        points = []
        for quality in QUALITIES:
            stats = [encode_image(image, entry, lam=QUALITY_LAMBDAS[quality], **variant).stats for image in images]
            points.append({"quality": quality, "bpp": float(np.mean([s["bpp"] for s in stats])),
                           "psnr": float(np.mean([s["psnr_rgb"] for s in stats])),
                           "encode_seconds": float(np.mean([s["encode_seconds"] for s in stats]))})  # fmt: skip
            print(name, points[-1], flush=True)
        results[name] = {"variant": variant, "points": points}
    reference = results[REFERENCE]["points"]
    for name, result in results.items():
        result["bd_rate_vs_reference_percent"] = bd_rate(
            [p["bpp"] for p in reference], [p["psnr"] for p in reference],
            [p["bpp"] for p in result["points"]], [p["psnr"] for p in result["points"]],
        )
    report = {"model": {"id": entry.id, "sha256": entry.sha256}, "images": list(IMAGES),
              "crop": "256x256 at top 128, left 256", "qualities": list(QUALITIES), "variants": results,
              "hardware": hardware.describe(), "torch_threads": torch.get_num_threads(),
              "command": " ".join(["python", *sys.argv]), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    lines = ["| variant | BD-rate vs 60 steps | mean encode s (256x256) |", "|---|---:|---:|"]
    for name, result in results.items():
        seconds = np.mean([p["encode_seconds"] for p in result["points"]])
        lines.append(f"| {name} | {result['bd_rate_vs_reference_percent']:+.1f} % | {seconds:.2f} |")
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
