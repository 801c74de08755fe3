"""Ablation of the video encoder's choices on the first 16 frames of BasketballPass at quality 4.

Variants: the default (model base-v1, medium preset, first frame at half the rate weight); the first frame at the
full rate weight; later frames with 50 instead of 60 steps; the video model video-v1 (its meta-learned residual
step sizes and rate scales); and inrcodec's image codec (format 2, the default image model) on every frame (medium
preset) for reference. Every figure comes from the bytes written and their decode.

    python eval/bench_video_ablation.py [--frames 16] [--quality 4] [--out eval/results/video/ablation.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

import inrcodec
from inrcodec.api import decode_image, encode_image
from inrcodec.hardware import cpu_name
from inrcodec.metrics import psnr
from inrcodec.presets import VIDEO_PRESET_STEPS
from inrcodec.video import codec as video_codec
from inrcodec.media.video import open_video

CLIP = Path(__file__).resolve().parents[2] / "shared" / "data" / "video" / "basketballpass_416x240"


def first_frames(folder: Path, count: int) -> Path:
    """A temporary folder linking the clip's first `count` frames."""
    target = Path(tempfile.mkdtemp(prefix="inrcodec_ablation_"))
    for path in sorted(folder.glob("frame_*.png"))[:count]:
        (target / path.name).symlink_to(path)
    return target


def video_variant(clip: Path, quality: int, model: str = "default", steps=None, first_scale: float | None = None) -> dict:
    saved = video_codec.FIRST_FRAME_LAMBDA_SCALE
    if first_scale is not None:
        video_codec.FIRST_FRAME_LAMBDA_SCALE = first_scale
    try:
        result = video_codec.encode_video(clip, quality=quality, preset="medium", model=model, steps=steps)
    finally:
        video_codec.FIRST_FRAME_LAMBDA_SCALE = saved
    frames = [round(psnr(a, b), 3) for a, b in zip(open_video(clip).frames(), video_codec.decode_video(result.data))]
    stats = result.stats
    return {"bytes": stats["bytes"], "bpp": stats["bpp"], "psnr_rgb": stats["psnr_rgb"], "encode_seconds":
            stats["encode_seconds"], "model": stats["model"], "steps": stats["steps"], "frame_psnr": frames}


def image_variant(clip: Path, quality: int) -> dict:
    sizes, scores, seconds = [], [], 0.0
    for rgb in open_video(clip).frames():
        result = encode_image(rgb, quality=quality, preset="medium")
        seconds += result.stats["encode_seconds"]
        sizes.append(len(result.data))
        scores.append(psnr(rgb, decode_image(result.data)))
        height, width = rgb.shape[:2]
    return {"bytes": sum(sizes), "bpp": sum(sizes) * 8 / (width * height * len(sizes)), "psnr_rgb": float(np.mean(scores)),
            "encode_seconds": seconds, "model": "default", "steps": "image medium", "frame_psnr": [round(s, 3) for s in scores]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--quality", type=int, default=4)
    parser.add_argument("--out", type=Path, default=Path("eval/results/video/ablation.json"))
    args = parser.parse_args()
    clip = first_frames(CLIP, args.frames)
    first, later = VIDEO_PRESET_STEPS["medium"]
    variants = {
        "default (base-v1, medium, first frame at lambda / 2)": lambda: video_variant(clip, args.quality),
        "first frame at the full lambda": lambda: video_variant(clip, args.quality, first_scale=1.0),
        f"later frames 50 steps instead of {later}": lambda: video_variant(clip, args.quality, steps=(first, 50)),
        "video-v1 (meta-learned residual steps and scales)": lambda: video_variant(clip, args.quality, model="video-v1"),
        "image codec on every frame (medium)": lambda: image_variant(clip, args.quality),
    }
    results = {}
    for name, measure in variants.items():
        start = time.perf_counter()
        results[name] = measure()
        print(f"{name}: {results[name]['bpp']:.4f} bpp, {results[name]['psnr_rgb']:.2f} dB "
              f"({time.perf_counter() - start:.0f} s)", file=sys.stderr)
    document = {
        "what": f"first {args.frames} frames of BasketballPass 416x240, quality {args.quality}, group size 16",
        "command": "python " + " ".join(sys.argv),
        "inrcodec": inrcodec.__version__, "torch": torch.__version__, "threads": torch.get_num_threads(),
        "hardware": cpu_name(), "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(document, indent=2) + "\n")
    lines = [f"# Video encoder ablation: {document['what']}", "", f"`{document['command']}` ({document['hardware']}, "
             f"torch {document['torch']}, {document['threads']} threads, {document['date']})", "",
             "| variant | bpp | PSNR-RGB (dB) | encode (s) |", "|---|---:|---:|---:|"]
    for name, row in results.items():
        lines.append(f"| {name} | {row['bpp']:.4f} | {row['psnr_rgb']:.2f} | {row['encode_seconds']:.1f} |")
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
