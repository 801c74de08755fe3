"""How well block motion predicts a video frame from a decoded v2 reference: the first measurement for
predicted frames (issue "Video v2"), which chooses between warping the reference's latent grids and warping
its decoded pixels.

    OMP_NUM_THREADS=1 python eval/bench_motion.py --out eval/results/video-v2/motion.json

For each clip and each (reference, current) frame pair, at distance 1 and 4: the reference frame is encoded as
a v2 image (--preset, --quality) and decoded; the motion of the current frame from the reference is found on
the source frames (inrcodec.encoder.motion, 16x16 blocks, half-pel) and entropy-coded (real bytes, decoded
back and checked). Then the PSNR-RGB against the current source frame of: the decoded reference as it is (zero
motion), its pixels warped (bilinear, half-pel), its integer latent grids warped (inrcodec.entropy.motion, every
level, in integers) and rendered, and the same with the vectors rounded to whole pixels.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

CLIPS = ("basketballpass_416x240", "vid4_walk_720x480")
PAIRS = ((1, 2), (2, 3), (3, 4), (4, 5), (1, 5), (5, 9), (9, 13), (13, 17))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, default=Path(__file__).resolve().parent.parent.parent / "shared/data/video")
    parser.add_argument("--preset", default="fast")
    parser.add_argument("--quality", type=int, default=5)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    from PIL import Image

    from inrcodec import api, decoder, hardware
    from inrcodec.bitstream.image_v2 import parse_image
    from inrcodec.encoder.motion import BLOCK, block_motion, warp_pixels
    from inrcodec.entropy.motion import decode_motion, encode_motion, warp_grid
    from inrcodec.metrics import psnr

    def frame(clip: str, index: int) -> np.ndarray:
        return np.array(Image.open(args.video / clip / f"frame_{index:03d}.png").convert("RGB"))

    started, rows = time.perf_counter(), []
    for clip in CLIPS:
        references = {}
        for reference_index, current_index in PAIRS:
            if reference_index not in references:
                result = api.encode_image(frame(clip, reference_index), quality=args.quality, preset=args.preset)
                file = parse_image(result.data)
                shared = decoder.model_for(file)
                references[reference_index] = (result, file, shared, decoder.decode_file_latents(file, shared))
            result, file, shared, latents = references[reference_index]
            source_reference, current = frame(clip, reference_index), frame(clip, current_index)
            decoded = decoder.decode_image(result.data).pixels

            def rendered(motion: np.ndarray) -> np.ndarray:
                warped = [warp_grid(q, motion, level, BLOCK) for level, q in enumerate(latents)]
                return decoder.render_latents(file, shared, warped, finish=lambda rgb: decoder.pixels_of(rgb, 3))

            search_started = time.perf_counter()
            motion = block_motion(current, source_reference)
            search_seconds = time.perf_counter() - search_started
            stream = encode_motion(motion)
            assert np.array_equal(decode_motion(stream, motion.shape[:2])[0][0], motion)
            whole_pel = 2 * np.round(motion / 2).astype(np.int64)
            pixel_warp = np.clip(np.floor(warp_pixels(decoded.astype(np.float32), motion) + 0.5), 0, 255).astype(np.uint8)
            row = {
                "clip": clip, "reference": reference_index, "current": current_index,
                "reference_bytes": len(result.data), "reference_psnr_rgb": psnr(source_reference, decoded),
                "motion_bytes": len(stream), "motion_bytes_whole_pel": len(encode_motion(whole_pel)),
                "search_seconds": search_seconds,
                "prediction_psnr_rgb": {
                    "zero_motion": psnr(current, decoded),
                    "pixel_warp_half_pel": psnr(current, pixel_warp),
                    "grid_warp_half_pel": psnr(current, rendered(motion)),
                    "grid_warp_whole_pel": psnr(current, rendered(whole_pel)),
                },
            }  # fmt: skip
            rows.append(row)
            print(json.dumps(row), flush=True)

    summary = {}
    for clip in CLIPS:
        for distance in (1, 4):
            chosen = [r for r in rows if r["clip"] == clip and r["current"] - r["reference"] == distance]
            summary[f"{clip}/distance_{distance}"] = {
                "pairs": len(chosen),
                "motion_bytes_mean": float(np.mean([r["motion_bytes"] for r in chosen])),
                "reference_bytes_mean": float(np.mean([r["reference_bytes"] for r in chosen])),
                **{f"{key}_psnr_mean": float(np.mean([r["prediction_psnr_rgb"][key] for r in chosen]))
                   for key in chosen[0]["prediction_psnr_rgb"]},
            }  # fmt: skip
    result = {
        "command": f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '')} python eval/bench_motion.py --preset "
                   f"{args.preset} --quality {args.quality} --out {args.out}",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        **hardware.results_machine(),
        "model": api.resolve_model(None).id,
        "seconds": time.perf_counter() - started,
        "summary": summary,
        "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
