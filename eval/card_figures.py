"""Write a model card's "Measured figures" section from a committed rd-curve folder (no figure typed by hand).

    python eval/card_figures.py --results eval/results/kodak-v2 --card models/image-v2/CARD.md

Reads bd_rates.json and the inrcodec-*.csv files that `inrcodec rd-curve` wrote and replaces the card's section
(or appends it): BD-rates against JPEG and WebP on PSNR and against JPEG on MS-SSIM, the mean and slowest encode
per preset, and where the results came from. The card's other sections (written by `meta-train`) stay.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
from pathlib import Path

HEADING = "## Measured figures"
PRESETS = ("fast", "medium")
# issue 12's bar, for the card's last column
BARS = {"jpeg": ("fast", -30.0), "webp": ("medium", 0.0), "jpeg-ms-ssim": ("medium", -15.0)}
ENCODE_BARS = {"fast": 10.0, "medium": 40.0}


def bd(rows: list[dict], test: str, reference: str, key: str = "bd_rate_percent") -> float:
    return next(r[key] for r in rows if r["test"] == test and r["reference"] == reference)


def encode_seconds(results: Path, preset: str) -> list[float]:
    with open(results / f"inrcodec-{preset}.csv") as rows:
        return [float(r["encoding_time"]) for r in csv.DictReader(rows)]


def section(results: Path) -> str:
    report = json.loads((results / "bd_rates.json").read_text())
    rows, meta = report["rows"], report["meta"]
    summary = json.loads((results / f"inrcodec-{PRESETS[0]}.json").read_text())["meta"]
    model = summary["config"]["model"]
    steps = {p: json.loads((results / f"inrcodec-{p}.json").read_text())["meta"]["config"].get("refinement_steps")
             for p in PRESETS}

    def cell(value: float) -> str:
        return f"{value:+.1f} %"

    def bar(name: str, values: dict[str, float]) -> str:
        preset, limit = BARS[name]
        return f"{preset} <= {limit:g} % ({'met' if values[preset] <= limit else 'missed'})"

    measures = {
        "jpeg": ("BD-rate vs Pillow JPEG 4:2:0 (PSNR)", {p: bd(rows, f"inrcodec-{p}", "jpeg") for p in PRESETS}),
        "webp": ("BD-rate vs Pillow WebP m6 (PSNR)", {p: bd(rows, f"inrcodec-{p}", "webp") for p in PRESETS}),
        "jpeg-ms-ssim": ("BD-rate vs JPEG on MS-SSIM (dB)",
                         {p: bd(rows, f"inrcodec-{p}", "jpeg", "bd_rate_ms_ssim_percent") for p in PRESETS}),
    }  # fmt: skip
    times = {p: encode_seconds(results, p) for p in PRESETS}
    lines = [
        HEADING,
        "",
        f"Written by `python eval/card_figures.py` from `{results.as_posix()}/` (`{meta['command']}`, "
        f"{meta['date'][:10]}, {meta['hardware']}, {meta['threads']} threads): this model (sha256 "
        f"{model['sha256'][:16]}...), live Pillow baselines in the same run.",
        "",
        "| measure | " + " | ".join(f"{p}" + (f" ({steps[p]} steps)" if steps[p] else "") for p in PRESETS)
        + " | issue 12's bar |",
        "|---|" + "---:|" * len(PRESETS) + "---|",
    ]
    for name, (label, values) in measures.items():
        lines.append(f"| {label} | " + " | ".join(cell(values[p]) for p in PRESETS) + f" | {bar(name, values)} |")
    lines.append(
        "| encode, mean (max) seconds per image | "
        + " | ".join(f"{statistics.mean(times[p]):.1f} ({max(times[p]):.1f})" for p in PRESETS)
        + " | " + " / ".join(f"{p} <= {ENCODE_BARS[p]:g}" for p in PRESETS) + " on the mean ("
        + " / ".join("met" if statistics.mean(times[p]) <= ENCODE_BARS[p] else "missed" for p in PRESETS) + ") |"
    )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, required=True)
    parser.add_argument("--card", type=Path, required=True)
    args = parser.parse_args()
    text = args.card.read_text()
    new = section(args.results)
    if HEADING in text:
        before, after = text.split(HEADING, 1)
        rest = after.split("\n## ", 1)
        text = before + new + ("\n## " + rest[1] if len(rest) > 1 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + new
    args.card.write_text(text)
    print(new)


if __name__ == "__main__":
    main()
