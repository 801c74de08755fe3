"""Context for the committed Kodak results: per-image BD-rates of inrcodec against the live JPEG and WebP, and
the live baselines against CompressAI's published runs of the same codecs.

    python eval/report_kodak_context.py --results eval/results/kodak --anchors ../shared/anchors/kodak \
        --out eval/results/kodak/context.json

Reads only files: the per-image CSVs of `inrcodec rd-curve` and CompressAI's result JSONs in ../shared/anchors.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from inrcodec import rdcurve
from inrcodec.metrics import bd_rate
from inrcodec.rdcodecs import BASELINES

COMPRESSAI = {"jpeg": "compressai_jpeg.json", "webp": "compressai_webp.json", "jpeg2000": "compressai_jpeg2000.json"}


def curve(rows: list[dict], image: str) -> tuple[list[float], list[float]]:
    points = sorted((row["bpp"], row["psnr_rgb"]) for row in rows if row["image"] == image)
    return [p[0] for p in points], [p[1] for p in points]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--results", type=Path, default=Path("eval/results/kodak"))
    parser.add_argument("--anchors", type=Path, default=Path("../shared/anchors/kodak"))
    parser.add_argument("--out", type=Path, default=Path("eval/results/kodak/context.json"))
    args = parser.parse_args()
    rows = {name: rdcurve.read_rows(args.results / f"{name}.csv") for name in ("inrcodec-fast", "jpeg", "webp")}
    images = sorted({row["image"] for row in rows["inrcodec-fast"]})
    per_image = {
        image: {f"fast_vs_{ref}_percent": bd_rate(*curve(rows[ref], image), *curve(rows["inrcodec-fast"], image))
                for ref in ("jpeg", "webp")}
        for image in images
    }
    published = {}
    fast = json.loads((args.results / "inrcodec-fast.json").read_text())["results"]
    for name, file in COMPRESSAI.items():
        anchor = json.loads((args.anchors / file).read_text())["results"]
        live = json.loads((args.results / f"{name}.json").read_text())["results"]
        published[name] = {
            "live_vs_compressai_percent": bd_rate(anchor["bpp"], anchor["psnr-rgb"], live["bpp"], live["psnr-rgb"]),
            "fast_vs_compressai_percent": bd_rate(anchor["bpp"], anchor["psnr-rgb"], fast["bpp"], fast["psnr-rgb"]),
            "compressai_file": file,
            "live_settings": BASELINES[name].config()["settings"],
        }
    document = {"description": __doc__.split("\n")[0], "command": " ".join(["python", *sys.argv]),
                "per_image": per_image, "against_compressai_published": published}
    args.out.write_text(json.dumps(document, indent=2) + "\n")
    print(json.dumps(published, indent=2))
    for image, values in per_image.items():
        print(image, " ".join(f"{k} {v:+.1f}" for k, v in values.items()))


if __name__ == "__main__":
    main()
