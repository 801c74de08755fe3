"""Predicted frames against the image codec frame by frame: the first rate measurement of video v2's P-frames
(motion-compensated latent residuals, image context model, no temporal context, no B-frames yet).

    OMP_NUM_THREADS=1 python eval/bench_predicted.py --frames 9 --out eval/results/video-v2/predicted.json

Per clip and quality: frame 1 is a v2 image (--preset); each later frame t is coded as block motion from frame
t-1 (found on the source frames, inrcodec.encoder.motion) plus the residual of its latents against frame t-1's
coded latents warped by that motion (inrcodec.encoder.predicted, the same refinement steps as the preset), in an
IPPP chain. Against it, every frame coded as a v2 image with the same preset and quality. Bytes of a P-frame
are its two ANS streams (motion and residual) as written, without a container (the video format is not built
yet; a file would add a few bytes of framing per frame); an I-frame is its whole .inr file. PSNR-RGB of the
frames rendered from the coded latents, per frame; BD-rate of the chain against the image codec on the means
over frames per quality.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, default=Path(__file__).resolve().parent.parent.parent / "shared/data/video")
    parser.add_argument("--clips", default=",".join(CLIPS))
    parser.add_argument("--frames", type=int, default=9)
    parser.add_argument("--preset", default="fast")
    parser.add_argument("--qualities", default="2,4,6,8")
    parser.add_argument("--start", default="analysis", choices=("analysis", "zero"),
                        help="where a P-frame's residual refinement starts (inrcodec.encoder.predicted)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    from PIL import Image

    from inrcodec import api, decoder, hardware
    from inrcodec.bitstream.image_v2 import parse_image
    from inrcodec.encoder.image import encode_image
    from inrcodec.encoder.motion import BLOCK, block_motion
    from inrcodec.encoder.predicted import encode_predicted
    from inrcodec.entropy.motion import encode_motion, predict_grids
    from inrcodec.metrics import bd_rate, psnr
    from inrcodec.presets import IMAGE_PRESET_STEPS, QUALITY_LAMBDAS

    entry = api.resolve_model(None)
    steps = IMAGE_PRESET_STEPS[args.preset]
    started, rows, summary = time.perf_counter(), [], {}
    for clip in args.clips.split(","):
        frames = [np.array(Image.open(args.video / clip / f"frame_{i:03d}.png").convert("RGB"))
                  for i in range(1, args.frames + 1)]  # fmt: skip
        height, width = frames[0].shape[:2]
        curves = {"image": ([], []), "ippp": ([], [])}
        for quality in map(int, args.qualities.split(",")):
            lam = QUALITY_LAMBDAS[quality]
            intra = [encode_image(f, entry, lam=lam, steps=steps) for f in frames]
            file = parse_image(intra[0].data)
            shared = decoder.model_for(file)
            reference = decoder.decode_file_latents(file, shared)
            chain_bytes, chain_psnr = [len(intra[0].data)], [intra[0].stats["psnr_rgb"]]
            motion_bytes, seconds = [], []
            for t in range(1, len(frames)):
                frame_started = time.perf_counter()
                motion = block_motion(frames[t], frames[t - 1])
                prediction = predict_grids([reference], [motion], None, BLOCK)
                coded = encode_predicted(frames[t], prediction, entry, file.rate_code, lam, steps, start=args.start,
                                         intra_levels=(0,))  # every level a residual, as measured
                seconds.append(time.perf_counter() - frame_started)
                pixels = decoder.render_latents(file, shared, coded.latents, finish=lambda rgb: decoder.pixels_of(rgb, 3))
                motion_bytes.append(len(encode_motion(motion)))
                chain_bytes.append(motion_bytes[-1] + len(coded.residual_stream))
                chain_psnr.append(psnr(frames[t], pixels))
                reference = coded.latents
            row = {
                "clip": clip, "quality": quality, "frames": len(frames),
                "image_bytes": [len(r.data) for r in intra], "image_psnr_rgb": [r.stats["psnr_rgb"] for r in intra],
                "ippp_bytes": chain_bytes, "ippp_psnr_rgb": chain_psnr, "motion_bytes": motion_bytes,
                "p_frame_encode_seconds_mean": float(np.mean(seconds)),
            }  # fmt: skip
            rows.append(row)
            print(json.dumps(row), flush=True)
            pixels_per_frame = height * width
            for key, byte_key, psnr_key in (("image", "image_bytes", "image_psnr_rgb"), ("ippp", "ippp_bytes", "ippp_psnr_rgb")):
                curves[key][0].append(float(np.mean(row[byte_key])) * 8 / pixels_per_frame)
                curves[key][1].append(float(np.mean(row[psnr_key])))
        summary[clip] = {
            "bpp_psnr": curves,
            "bd_rate_ippp_vs_image_percent": bd_rate(*curves["image"], *curves["ippp"]),
            "p_frames_bytes_share_motion": float(np.sum([sum(r["motion_bytes"]) for r in rows if r["clip"] == clip])
                                                 / np.sum([sum(r["ippp_bytes"][1:]) for r in rows if r["clip"] == clip])),
        }  # fmt: skip
        print(json.dumps({clip: summary[clip]}), flush=True)
    result = {
        "command": f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '')} python eval/bench_predicted.py --clips "
                   f"{args.clips} --frames {args.frames} --preset {args.preset} --qualities {args.qualities} --start {args.start} --out {args.out}",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        **hardware.results_machine(),
        "model": entry.id,
        "steps": steps,
        "start": args.start,
        "seconds": time.perf_counter() - started,
        "summary": summary,
        "rows": rows,
    }  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
