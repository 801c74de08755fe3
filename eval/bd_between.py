"""BD-rate between two codecs' rows from different rd-curve folders (e.g. this version against inrcodec 0.1).

    python eval/bd_between.py --test eval/results/kodak-v2/inrcodec-medium.csv \\
        --reference eval/results/v1/kodak/inrcodec-medium.csv --out eval/results/kodak-v2/vs_v1.json

Each CSV is one codec's per-image rows as `inrcodec rd-curve` writes them; its curve is the mean bpp and mean
PSNR-RGB over the images at each quality (only images present in both files). BD-rate and BD-PSNR as in
bd_rates.md (inrcodec.metrics: pchip, over the overlapping PSNR range).
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path


def curve(path: Path, images: set[str]) -> tuple[list[float], list[float]]:
    """-> (mean bpp, mean PSNR) per quality, in quality order, over `images`."""
    by_quality: dict[float, list[dict]] = defaultdict(list)
    with open(path) as rows:
        for row in csv.DictReader(rows):
            if row["image"] in images:
                by_quality[float(row["quality"])].append(row)
    qualities = sorted(by_quality)
    return ([statistics.mean(float(r["bpp"]) for r in by_quality[q]) for q in qualities],
            [statistics.mean(float(r["psnr_rgb"]) for r in by_quality[q]) for q in qualities])  # fmt: skip


def images_of(path: Path) -> set[str]:
    with open(path) as rows:
        return {row["image"] for row in csv.DictReader(rows)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--test", type=Path, required=True)
    parser.add_argument("--reference", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    from inrcodec.metrics import bd_psnr, bd_rate

    images = images_of(args.test) & images_of(args.reference)
    test, reference = curve(args.test, images), curve(args.reference, images)
    report = {
        "test": str(args.test), "reference": str(args.reference), "images": len(images),
        "bd_rate_percent": bd_rate(*reference, *test), "bd_psnr_db": bd_psnr(*reference, *test),
        "test_curve": {"bpp": test[0], "psnr_rgb": test[1]},
        "reference_curve": {"bpp": reference[0], "psnr_rgb": reference[1]},
        "command": " ".join(["python", *sys.argv]), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"{args.test} vs {args.reference} ({len(images)} images): BD-rate {report['bd_rate_percent']:+.1f} %, "
          f"BD-PSNR {report['bd_psnr_db']:+.2f} dB")  # fmt: skip


if __name__ == "__main__":
    main()
