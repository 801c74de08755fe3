"""Rate-control benchmark: `encode --target-bpp` accuracy and cost on Kodak images.

    python eval/bench_ratecontrol.py --targets 0.25,0.5,1.0 --preset fast --out eval/results/ratecontrol.json

For every image and target: the bpp reached (from the file's bytes), whether it is within 5 %, the number of
trial encodes, the wall time of the search, and, for scale, the wall time of one plain encode at quality 5 with
the same preset in the same process.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_core import load_rgb, run_meta, write_atomically  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", default="kodim01,kodim05,kodim15,kodim20,kodim23")
    parser.add_argument("--data", default="../shared/data/kodak")
    parser.add_argument("--targets", default="0.25,0.5,1.0")
    parser.add_argument("--preset", default="fast")
    parser.add_argument("--out", default="eval/results/ratecontrol.json")
    args = parser.parse_args()

    from inrcodec.codec import encode_image, encode_to_bpp
    from inrcodec.models import resolve

    targets = [float(t) for t in args.targets.split(",")]
    rows = []
    for name in args.images.split(","):
        rgb = load_rgb(Path(args.data) / f"{name}.png")
        start = time.perf_counter()
        encode_image(rgb, quality=5, preset=args.preset)
        single = time.perf_counter() - start
        for target in targets:
            start = time.perf_counter()
            result = encode_to_bpp(rgb, target, preset=args.preset)
            seconds = time.perf_counter() - start
            bpp = len(result.data) * 8 / (rgb.shape[0] * rgb.shape[1])
            row = {
                "image": name,
                "target_bpp": target,
                "bpp": bpp,
                "error_percent": 100 * (bpp / target - 1),
                "within_5_percent": abs(bpp / target - 1) <= 0.05,
                "psnr_rgb": result.stats["psnr_rgb"],
                "trials": len(result.stats["trials"]),
                "search_seconds": seconds,
                "single_encode_seconds": single,
                "trial_log": result.stats["trials"],
            }
            rows.append(row)
            print(f"{name} target {target}: {bpp:.4f} bpp ({row['error_percent']:+.1f} %), {row['trials']} trials, "
                  f"{seconds:.1f} s (one encode {single:.1f} s)", file=sys.stderr)
    meta = run_meta()
    meta["model"] = {"id": resolve().id, "sha256": resolve().sha256}
    document = {
        "name": "rate-control",
        "description": f"encode --target-bpp with the {args.preset} preset; bpp from the bytes",
        "meta": {**meta, "preset": args.preset, "images": args.images.split(","), "targets": targets},
        "within_5_percent": sum(r["within_5_percent"] for r in rows),
        "runs": len(rows),
        "mean_trials": sum(r["trials"] for r in rows) / len(rows),
        "mean_search_over_single_encode": sum(r["search_seconds"] / r["single_encode_seconds"] for r in rows) / len(rows),
        "rows": rows,
    }
    write_atomically(Path(args.out), document)
    print(f"{document['within_5_percent']}/{len(rows)} within 5 %, {document['mean_trials']:.1f} trials on average, "
          f"search = {document['mean_search_over_single_encode']:.1f} x one encode")


if __name__ == "__main__":
    main()
