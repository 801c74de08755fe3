"""Random access: seconds to decode one frame alone, by its position in its group, on Vid4 walk (720x480).

Encodes the clip's first 16 frames (fast preset, quality 4) with groups of 16 and of 8, then times
`decode_frame(data, k)` for every k (best of 3, in this process, nothing else running) and decoding all 16 frames
in order. A frame at position p of its group costs one grid decode, p residual decodes and one rendering.

    python eval/bench_video_decode.py [--out eval/results/video/decode_time.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import torch
from bench_video_ablation import first_frames  # eval/ is this script's folder, hence on sys.path

import inrcodec
from inrcodec.hardware import cpu_name
from inrcodec.video.codec import decode_frame, decode_video, encode_video

CLIP = Path(__file__).resolve().parents[2] / "shared" / "data" / "video" / "vid4_walk_720x480"
FRAMES = 16
REPEATS = 3


def best_of(function, repeats: int = REPEATS) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("eval/results/video/decode_time.json"))
    args = parser.parse_args()
    clip = first_frames(CLIP, FRAMES)
    results = {}
    for gop in (16, 8):
        encoded = encode_video(clip, quality=4, preset="fast", gop=gop)
        data = encoded.data
        per_frame = [best_of(lambda k=k: decode_frame(data, k)) for k in range(FRAMES)]
        sequential = best_of(lambda: sum(1 for _ in decode_video(data)), repeats=1)
        results[f"gop {gop}"] = {
            "bpp": encoded.stats["bpp"],
            "psnr_rgb": encoded.stats["psnr_rgb"],
            "one_frame_seconds": per_frame,
            "one_frame_seconds_max": max(per_frame),
            "one_frame_seconds_mean": sum(per_frame) / len(per_frame),
            "all_frames_in_order_seconds": sequential,
        }
        print(f"gop {gop}: one frame {min(per_frame):.3f}..{max(per_frame):.3f} s, all {sequential:.2f} s", file=sys.stderr)
    document = {
        "what": f"Vid4 walk 720x480, first {FRAMES} frames, quality 4, preset fast; decode_frame(k) best of {REPEATS}",
        "command": "python " + " ".join(sys.argv),
        "inrcodec": inrcodec.__version__, "torch": torch.__version__, "threads": torch.get_num_threads(),
        "hardware": cpu_name(), "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(document, indent=2) + "\n")


if __name__ == "__main__":
    main()
