"""The video ablation table: the encoder's default against it without motion, with P-frames only and without the
temporal context, per clip, gathered from eval/bench_clip.py's files.

    python eval/video_ablation_table.py --results eval/results/video-v2 --out eval/results/video-v2/ablation.md

Reads temporal_context_refined_CLIP.json (the default, variant skip_motionrate2_contextrefined) and
ablation_CLIP.json (variants default_no_motion, default_ippp, default_no_temporal_context), same frames, group,
preset and qualities, and writes each variant's BD-rate (PSNR-RGB) against image mode and against the default;
negative = fewer bits at equal PSNR. Both files code every frame as an image too: the table checks that those
rows agree (the image encoder is deterministic), so the two runs compare like with like.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

DEFAULT = "skip_motionrate2_contextrefined"
VARIANTS = {
    DEFAULT: "the encoder's default (motion, hierarchical B-frames, temporal context of formats 2.4 and 2.5)",
    "default_no_motion": "motion off (every vector 0; block modes and skipped blocks kept)",
    "default_ippp": "P-frames only (each frame predicted from the one before)",
    "default_no_temporal_context": "temporal context off (no scale offsets, no mix: format 2.3)",
}
NOT_BUILT = ("grid warp vs pixel warp with a pixel-domain residual", "not built")


def clip_rows(results: Path, clip: str) -> list[tuple[str, str, str]]:
    from inrcodec.metrics import bd_rate

    default = json.loads((results / f"temporal_context_refined_{clip}.json").read_text())
    ablation = json.loads((results / f"ablation_{clip}.json").read_text())
    for key in ("steps", "model"):
        if default[key] != ablation[key]:
            raise SystemExit(f"{clip}: the two runs differ in {key}")
    curves = {**default["summary"][clip]["bpp_psnr"], **ablation["summary"][clip]["bpp_psnr"]}
    if default["summary"][clip]["bpp_psnr"]["image"] != ablation["summary"][clip]["bpp_psnr"]["image"]:
        raise SystemExit(f"{clip}: image mode differs between the two runs")
    rows = []
    for name, what in VARIANTS.items():
        vs_image = bd_rate(*curves["image"], *curves[name])
        vs_default = "" if name == DEFAULT else f"{bd_rate(*curves[DEFAULT], *curves[name]):+.1f} %"
        rows.append((what, f"{vs_image:+.1f} %", vs_default))
    rows.append((*NOT_BUILT, ""))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=Path("eval/results/video-v2"))
    parser.add_argument("--clips", default="basketballpass_416x240,vid4_walk_720x480")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    lines = ["# Video v2 ablations", "",
             "Written by `python eval/video_ablation_table.py`; BD-rate PSNR-RGB over the clip's mean bpp and PSNR "
             "per quality (eval/bench_clip.py; the runs' commands are in their files). Negative = fewer bits.", ""]
    for clip in args.clips.split(","):
        meta = json.loads((args.results / f"ablation_{clip}.json").read_text())
        qualities = sorted({row["quality"] for row in meta["rows"]})
        frames = len(meta["rows"][0]["image"]["bytes"])
        lines += [f"## {clip}: {frames} frames, preset steps {meta['steps']}, qualities {qualities}", "",
                  "| variant | vs image mode | vs the default |", "|---|---:|---:|"]
        lines += [f"| {what} | {image} | {default} |" for what, image, default in clip_rows(args.results, clip)]
        lines.append("")
    args.out.write_text("\n".join(lines))


if __name__ == "__main__":
    main()
