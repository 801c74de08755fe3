"""Summarise eval/results/meta_bench.json against the meta-learning issue's bars.

    python eval/report_meta.py --results eval/results/meta_bench.json --core eval/results/core_bench.json

Writes eval/results/meta_bench_summary.json and .md. BD-rates use inrcodec.metrics.bd_rate (pchip over the
overlapping PSNR range of the dataset-mean curves; negative = fewer bits than the anchor). The model-free
encoder at 300 steps (its medium preset) comes from the committed core benchmark, run on the same images and
machine; the other curves come from meta_bench.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from inrcodec.metrics import bd_rate


def curve(results: dict) -> tuple[list[float], list[float]]:
    return results["bpp"], results["psnr-rgb"]


def safe_bd(anchor: dict | None, test: dict | None) -> float | None:
    if anchor is None or test is None:
        return None
    try:
        return bd_rate(*curve(anchor), *curve(test))
    except ValueError:
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", default="eval/results/meta_bench.json")
    parser.add_argument("--core", default="eval/results/core_bench.json")
    parser.add_argument("--out", default="eval/results/meta_bench_summary")
    args = parser.parse_args()
    bench = json.loads(Path(args.results).read_text())
    curves = {name: codec["results"] for name, codec in bench["codecs"].items()}
    core = json.loads(Path(args.core).read_text())
    if "inrcodec-medium" in core["codecs"]:
        curves["nomodel-300steps"] = core["codecs"]["inrcodec-medium"]["results"]
    codecs = bench["codecs"]

    def times(name: str) -> dict | None:
        if name not in codecs:
            return None
        rows = codecs[name]["per_image"]
        encode = [row["encoding_time"] for row in rows]
        decode = [row["decoding_time"] for row in rows]
        return {"mean_encode_s": sum(encode) / len(encode), "max_encode_s": max(encode),
                "mean_decode_s": sum(decode) / len(decode), "max_decode_s": max(decode)}

    generic = {steps: curves.get(f"nomodel-{steps}steps") for steps in (10, 30, 100, 300)}
    match = {steps: safe_bd(curves.get("model-10steps"), c) for steps, c in generic.items()}
    matching = [steps for steps, value in match.items() if value is not None and value <= 0]
    summary = {
        "source": [args.results, args.core],
        "command": f"python eval/report_meta.py --results {args.results} --core {args.core} --out {args.out}",
        "model": bench["meta"].get("model"),
        "hardware": bench["meta"].get("hardware"),
        "torch_threads": bench["meta"].get("torch_threads"),
        "payoff_bd_rate_model10_vs_nomodel10_percent": safe_bd(generic[10], curves.get("model-10steps")),
        "payoff_bar_percent": -50,
        "bd_rate_nomodel_n_vs_model10_percent": {str(k): v for k, v in match.items()},
        "nomodel_steps_to_match_model10": min(matching) if matching else None,
        "fast_bd_rate_vs_jpeg_percent": safe_bd(curves.get("jpeg-pillow-420"), curves.get("model-fast")),
        "fast_bar_percent": -15,
        "fast_times": times("model-fast"),
        "fast_encode_bar_s": 15,
        "medium_bd_rate_vs_webp_percent": safe_bd(curves.get("webp-pillow-m6"), curves.get("model-medium")),
        "medium_bar_percent": 0,
        "medium_bd_rate_vs_jpeg_percent": safe_bd(curves.get("jpeg-pillow-420"), curves.get("model-medium")),
        "medium_times": times("model-medium"),
        "fast_bd_rate_vs_webp_percent": safe_bd(curves.get("webp-pillow-m6"), curves.get("model-fast")),
        "webp_bd_rate_vs_jpeg_percent": safe_bd(curves.get("jpeg-pillow-420"), curves.get("webp-pillow-m6")),
        "modulation_bd_rate_with_vs_without_percent": safe_bd(curves.get("model-fast-nomod"), curves.get("model-fast-mod")),
        "model10_times": times("model-10steps"),
        "predictor_only_bd_rate_vs_model10_percent": safe_bd(curves.get("model-10steps"), curves.get("model-0steps")),
        "predictor_only_bd_rate_vs_nomodel10_percent": safe_bd(generic[10], curves.get("model-0steps")),
        "nomodel10_times": times("nomodel-10steps"),
        "medium_model_vs_nomodel300_percent": safe_bd(generic[300], curves.get("model-medium")),
        "curves": {name: {k: c[k] for k in ("quality", "bpp", "psnr-rgb")} for name, c in curves.items()},
    }
    out = Path(args.out)
    out.with_suffix(".json").write_text(json.dumps(summary, indent=2) + "\n")
    out.with_suffix(".md").write_text(markdown(summary) + "\n")
    print(markdown(summary))


def fmt(value, unit: str = " %") -> str:
    return "n/a" if value is None else f"{value:+.1f}{unit}"


def markdown(s: dict) -> str:
    fast, medium = s["fast_times"] or {}, s["medium_times"] or {}
    lines = [
        f"Model {s['model']['id']} (sha256 {s['model']['sha256'][:12]}...), {s['hardware']}, "
        f"{s['torch_threads']} torch threads.",
        "",
        "| measure | value | bar |",
        "|---|---:|---:|",
        f"| BD-rate, model 10 steps vs model-free 10 steps | {fmt(s['payoff_bd_rate_model10_vs_nomodel10_percent'])} | <= -50 % |",
        f"| model-free steps to match the model's 10-step curve | {s['nomodel_steps_to_match_model10'] or 'more than 300'} | |",
        f"| BD-rate, fast preset vs JPEG | {fmt(s['fast_bd_rate_vs_jpeg_percent'])} | <= -15 % |",
        f"| fast preset encode, mean / max per image | {fast.get('mean_encode_s', 0):.1f} / {fast.get('max_encode_s', 0):.1f} s | <= 15 s |",
        f"| BD-rate, medium (default) preset vs WebP m6 | {fmt(s['medium_bd_rate_vs_webp_percent'])} | <= 0 |",
        f"| BD-rate, medium preset vs JPEG | {fmt(s['medium_bd_rate_vs_jpeg_percent'])} | |",
        f"| medium preset encode, mean / max per image | {medium.get('mean_encode_s', 0):.1f} / {medium.get('max_encode_s', 0):.1f} s | |",
        f"| BD-rate, fast preset vs WebP m6 | {fmt(s['fast_bd_rate_vs_webp_percent'])} | |",
        f"| BD-rate, WebP m6 vs JPEG (same images) | {fmt(s['webp_bd_rate_vs_jpeg_percent'])} | |",
        f"| BD-rate, modulated vs V = V0 (fast preset) | {fmt(s['modulation_bd_rate_with_vs_without_percent'])} | |",
        f"| BD-rate, model medium vs model-free 300 steps | {fmt(s['medium_model_vs_nomodel300_percent'])} | |",
        f"| BD-rate, predictor only (0 steps) vs model 10 steps | {fmt(s['predictor_only_bd_rate_vs_model10_percent'])} | |",
        f"| BD-rate, predictor only (0 steps) vs model-free 10 steps | {fmt(s['predictor_only_bd_rate_vs_nomodel10_percent'])} | |",
        "",
        "BD-rate of the model-free encoder with N steps against the model's 10-step curve: "
        + ", ".join(f"{k} steps {fmt(v)}" for k, v in s["bd_rate_nomodel_n_vs_model10_percent"].items()),
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
