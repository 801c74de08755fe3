"""Summarise eval/results/core_bench.json: BD-rate of inrcodec against JPEG over the issue's span and per image.

Reads the results file written by eval/bench_core.py and writes eval/results/core_bench_summary.json and .md:

    python eval/report_core.py --results eval/results/core_bench.json

BD-rates are computed (inrcodec.metrics.bd_rate, pchip, overlapping PSNR range) on the dataset-mean curves,
(a) with every inrcodec quality, (b) with the qualities whose mean bpp is at most --max-bpp (the issue's 0.1-1.0
bpp span), and (c) per image with every quality.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from inrcodec.metrics import bd_rate

INR, JPEG = "inrcodec-medium", "jpeg-pillow-420"


def curve(results: dict, keep: list[int] | None = None) -> tuple[list[float], list[float]]:
    """(bpp, psnr) of a CompressAI-style results block, optionally only at the given indices."""
    indices = keep if keep is not None else range(len(results["bpp"]))
    return [results["bpp"][i] for i in indices], [results["psnr-rgb"][i] for i in indices]


def image_curve(rows: list[dict], image: str) -> tuple[list[float], list[float]]:
    picked = sorted((r for r in rows if r["image"] == image), key=lambda r: r["quality"])
    return [r["bpp"] for r in picked], [r["psnr_rgb"] for r in picked]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", default="eval/results/core_bench.json")
    parser.add_argument("--max-bpp", type=float, default=1.0)
    args = parser.parse_args()
    data = json.loads(Path(args.results).read_text())
    inr, jpeg = data["codecs"][INR], data["codecs"][JPEG]
    jpeg_curve = curve(jpeg["results"])
    in_span = [i for i, bpp in enumerate(inr["results"]["bpp"]) if bpp <= args.max_bpp]
    rows = inr["per_image"]
    summary = {
        "source": args.results,
        "command": f"python eval/report_core.py --results {args.results} --max-bpp {args.max_bpp}",
        "bd_rate_vs_jpeg_percent_all_qualities": bd_rate(*jpeg_curve, *curve(inr["results"])),
        "span_qualities": [inr["results"]["quality"][i] for i in in_span],
        "span_mean_bpp": [inr["results"]["bpp"][i] for i in in_span],
        "bd_rate_vs_jpeg_percent_in_span": bd_rate(*jpeg_curve, *curve(inr["results"], in_span)),
        "bd_rate_vs_jpeg_percent_per_image": {
            image: bd_rate(*image_curve(jpeg["per_image"], image), *image_curve(rows, image))
            for image in data["meta"]["images"]
        },
        "max_encode_seconds": max(r["encoding_time"] for r in rows),
        "max_decode_seconds": max(r["decoding_time"] for r in rows),
        "estimated_over_actual_bpp": sorted(r["encoder_estimated_bpp"] / r["bpp"] for r in rows),
        "encoder_psnr_all_match": all(r["encoder_psnr_matches"] for r in rows),
    }
    ratios = summary["estimated_over_actual_bpp"]
    summary["estimated_over_actual_bpp"] = {"min": ratios[0], "median": ratios[len(ratios) // 2], "max": ratios[-1]}
    out = Path(args.results).with_name("core_bench_summary")
    out.with_suffix(".json").write_text(json.dumps(summary, indent=2) + "\n")
    lines = [
        f"# inrcodec (medium preset) vs Pillow JPEG 4:2:0 on {', '.join(data['meta']['images'])}",
        "",
        f"From `{args.results}` ({data['meta']['hardware']}, {data['meta']['date']}); written by `{summary['command']}`.",
        "",
        "| quality | mean bpp | mean PSNR-RGB (dB) | max encode s | max decode s |",
        "|---|---|---|---|---|",
    ]
    for i, quality in enumerate(inr["results"]["quality"]):
        at_q = [r for r in rows if r["quality"] == quality]
        lines.append(
            f"| {quality} | {inr['results']['bpp'][i]:.3f} | {inr['results']['psnr-rgb'][i]:.2f} | "
            f"{max(r['encoding_time'] for r in at_q):.1f} | {max(r['decoding_time'] for r in at_q):.2f} |"
        )
    lines += [
        "",
        f"- BD-rate vs JPEG, qualities {summary['span_qualities']} (mean bpp <= {args.max_bpp}): "
        f"**{summary['bd_rate_vs_jpeg_percent_in_span']:+.1f} %**",
        f"- BD-rate vs JPEG, all qualities: {summary['bd_rate_vs_jpeg_percent_all_qualities']:+.1f} %",
        "- per image (all qualities): "
        + ", ".join(f"{k} {v:+.1f} %" for k, v in summary["bd_rate_vs_jpeg_percent_per_image"].items()),
        f"- fit's rate estimate / actual bpp: median {summary['estimated_over_actual_bpp']['median']:.3f} "
        f"(min {summary['estimated_over_actual_bpp']['min']:.3f}, max {summary['estimated_over_actual_bpp']['max']:.3f})",
        f"- encoder's reported PSNR equals the PSNR of the decoded file for every point: {summary['encoder_psnr_all_match']}",
    ]
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
