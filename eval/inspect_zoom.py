"""Side-by-side 4x crops (nearest neighbour) of a Kodak image and its decode, to look for artefacts.

    python eval/inspect_zoom.py --image kodim23 --quality 5 --out eval/results/v2/zoom

Writes <out>_<region>.png (left: the original, right: the decode at the default preset) and <out>.json with the
file's bpp and PSNR. Regions are 128x96 crops at fixed positions of kodim23 (smooth background above a
parrot's head, feathers, the eye).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REGIONS = {"smooth": (60, 440), "feathers": (300, 600), "eye": (130, 230)}  # (top, left) of 96 x 128 crops
ZOOM = 4


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kodak", type=Path, default=Path(__file__).resolve().parent.parent.parent / "shared/data/kodak")
    parser.add_argument("--image", default="kodim23")
    parser.add_argument("--quality", type=int, default=5)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    from PIL import Image

    from inrcodec.api import decode_image, encode_image, resolve_model

    source = np.array(Image.open(args.kodak / f"{args.image}.png").convert("RGB"))
    result = encode_image(source, quality=args.quality)
    decoded = decode_image(result.data)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for name, (top, left) in REGIONS.items():
        pair = [image[top : top + 96, left : left + 128] for image in (source, decoded)]
        both = np.concatenate([pair[0], np.full((96, 4, 3), 255, np.uint8), pair[1]], axis=1)
        zoomed = Image.fromarray(both).resize((both.shape[1] * ZOOM, both.shape[0] * ZOOM), Image.NEAREST)
        zoomed.save(args.out.with_name(f"{args.out.name}_{name}.png"))
    entry = resolve_model(None)
    report = {"image": args.image, "quality": args.quality, "bpp": result.stats["bpp"], "psnr_rgb": result.stats["psnr_rgb"],
              "model": {"id": entry.id, "sha256": entry.sha256}, "regions": REGIONS, "zoom": ZOOM,
              "command": " ".join(["python", *sys.argv]), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}  # fmt: skip
    args.out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
