"""Video v2 group structures against the image codec frame by frame: hierarchical B-frames, the IPPP chain, the
residual's context rate code and lambda per temporal layer (inrcodec.encoder.clip).

    OMP_NUM_THREADS=1 python eval/bench_clip.py --clips basketballpass_416x240 --frames 17 \
        --out eval/results/video-v2/structure_basketballpass.json

Per clip and quality, the first --frames frames: every frame coded as a v2 image (--preset, modulation as the
image codec chooses), and the clip coded by each variant with --preset's steps for every frame. Bytes of a
frame are its streams as written (an intra frame's latents; a predicted frame's motion, residual and intra
levels), without a container (the video format is not built yet: a file adds a few bytes of framing per
frame); an image is its whole .inr file. PSNR-RGB of each decoded frame, averaged over the frames; BD-rate of each variant against the
image codec on those means.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

# every level a residual, no intra or skipped blocks (the first measurement)
V1 = {"intra_levels": (0,), "intra_bias": None, "skip_blocks": False, "motion_rate": 0.0, "scale_offsets": False}
VARIANTS = {name: {"temporal_mix": False, **settings} for name, settings in {  # measured before format 2.5
    "ippp": {"structure": "ippp", **V1},
    "hierarchical": V1,
    "hierarchical_offset60": {"residual_offset": 60, **V1},
    "hierarchical_offset60_layer1.25": {"residual_offset": 60, "layer_lambda": 1.25, **V1},
    # the finest levels intra where the start codes in fewer bytes that way
    "offset60_layer1.25_intralevels": {"residual_offset": 60, "layer_lambda": 1.25, "intra_bias": None,
                                       "intra_levels": (0, 1, 2), "intra_choice": "start", "skip_blocks": False,
                                       "motion_rate": 0.0, "scale_offsets": False},
    "offset60_layer1.25_intralevels_intrablocks": {"residual_offset": 60, "layer_lambda": 1.25, "intra_bias": 1.0,
                                                   "intra_levels": (0, 1, 2), "intra_choice": "start",
                                                   "skip_blocks": False, "motion_rate": 0.0, "scale_offsets": False},
    # the finest level intra or not, whichever refines to the lower MSE + lam bpp (the encoder's default)
    "offset60_layer1.25_intra_refined": {"residual_offset": 60, "layer_lambda": 1.25, "intra_bias": None,
                                         "intra_levels": (0, 1), "intra_choice": "refined", "skip_blocks": False,
                                         "motion_rate": 0.0, "scale_offsets": False},
    # and blocks whose refined residual is 0 skipped (their zeros not coded): the encoder's default
    "offset60_layer1.25_intra_refined_skip": {"residual_offset": 60, "layer_lambda": 1.25, "intra_bias": None,
                                              "intra_levels": (0, 1), "intra_choice": "refined", "motion_rate": 0.0, "scale_offsets": False},
    # and rate-constrained motion search: a vector's bits weighed against the SAD it saves (2: the encoder's default)
    **{f"skip_motionrate{k}": {"residual_offset": 60, "layer_lambda": 1.25, "intra_bias": None,
                               "intra_levels": (0, 1), "intra_choice": "refined", "motion_rate": k,
                               "scale_offsets": False} for k in (0.5, 1, 2, 4)},
    # whole-pixel motion: the finest latent grid moved without interpolation
    **{f"skip_motionrate{k}_wholepel": {"residual_offset": 60, "layer_lambda": 1.25, "intra_bias": None,
                                        "intra_levels": (0, 1), "intra_choice": "refined", "motion_rate": k,
                                        "half_pel": False, "scale_offsets": False} for k in (0, 1, 2)},
    # and the residual's scale offsets by temporal bucket (format 2.4): the encoder's default
    "skip_motionrate2_offsets": {"residual_offset": 60, "layer_lambda": 1.25, "intra_bias": None,
                                 "intra_levels": (0, 1), "intra_choice": "refined", "motion_rate": 2},
}.items()}
for name in VARIANTS:  # measured before the refinement counted the temporal context
    VARIANTS[name]["context_in_refinement"] = ()
# and the intra levels' temporal mix (format 2.5), fitted to the refined latents
VARIANTS["skip_motionrate2_offsets_mix"] = {**VARIANTS["skip_motionrate2_offsets"], "temporal_mix": True}
# and the refinement counting the intra levels' bits with a mix fitted to its start
VARIANTS["skip_motionrate2_offsets_mixrefined"] = {**VARIANTS["skip_motionrate2_offsets_mix"],
                                                   "context_in_refinement": ("temporal_mix",)}
# and the residual's bits with scale offsets fitted to its start too: the encoder's default
VARIANTS["skip_motionrate2_contextrefined"] = {**VARIANTS["skip_motionrate2_offsets_mix"],
                                               "context_in_refinement": ("scale_offsets", "temporal_mix")}
# the ablation of the default: no motion (every vector 0), P-frames only (IPPP), no temporal context (2.3)
DEFAULT = VARIANTS["skip_motionrate2_contextrefined"]
VARIANTS["default_no_motion"] = {**DEFAULT, "motion": False}
VARIANTS["default_ippp"] = {**DEFAULT, "structure": "ippp"}
VARIANTS["default_no_temporal_context"] = {**DEFAULT, "scale_offsets": False, "temporal_mix": False}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, default=Path(__file__).resolve().parent.parent.parent / "shared/data/video")
    parser.add_argument("--clips", default="basketballpass_416x240,vid4_walk_720x480")
    parser.add_argument("--frames", type=int, default=17)
    parser.add_argument("--group", type=int, default=16)
    parser.add_argument("--preset", default="fast")
    parser.add_argument("--qualities", default="2,4,6,8")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    from PIL import Image

    from inrcodec import api, hardware
    from inrcodec.encoder.clip import ClipSettings, encode_clip
    from inrcodec.encoder.image import encode_image
    from inrcodec.metrics import bd_rate, psnr
    from inrcodec.presets import IMAGE_PRESET_STEPS, QUALITY_LAMBDAS

    entry = api.resolve_model(None)
    steps = IMAGE_PRESET_STEPS[args.preset]
    variants = args.variants.split(",")
    started, rows, summary = time.perf_counter(), [], {}
    for clip in args.clips.split(","):
        frames = [np.array(Image.open(args.video / clip / f"frame_{i:03d}.png").convert("RGB"))
                  for i in range(1, args.frames + 1)]  # fmt: skip
        pixels = frames[0].shape[0] * frames[0].shape[1]
        curves = {name: ([], []) for name in ("image", *variants)}
        for quality in map(int, args.qualities.split(",")):
            lam = QUALITY_LAMBDAS[quality]
            begun = time.perf_counter()
            images = [encode_image(f, entry, lam=lam, steps=steps) for f in frames]
            row = {"clip": clip, "quality": quality, "image": {
                "bytes": [len(r.data) for r in images], "psnr_rgb": [r.stats["psnr_rgb"] for r in images],
                "seconds": time.perf_counter() - begun}}  # fmt: skip
            for name in variants:
                begun = time.perf_counter()
                settings = ClipSettings(lam, steps, steps, group=args.group, **VARIANTS[name])
                coded = sorted(encode_clip(frames, entry, settings), key=lambda f: f.plan.index)
                row[name] = {
                    "kinds": "".join(f.plan.kind for f in coded),
                    "bytes": [f.size for f in coded],
                    "intra_levels": [f.intra_levels for f in coded],
                    "motion_bytes": [len(f.motion) for f in coded],
                    "intra_level_bytes": [len(f.intra_stream) for f in coded],
                    "temporal_mix": [f.temporal_mix is not None for f in coded],
                    "psnr_rgb": [psnr(frames[f.plan.index], f.pixels) for f in coded],
                    "seconds": time.perf_counter() - begun,
                }
            rows.append(row)
            print(json.dumps({k: (v if not isinstance(v, dict) else {"mean_bytes": np.mean(v["bytes"]), "mean_psnr":
                  np.mean(v["psnr_rgb"]), "seconds": v["seconds"]}) for k, v in row.items()}), flush=True)  # fmt: skip
            for name, curve in curves.items():
                curve[0].append(float(np.mean(row[name]["bytes"])) * 8 / pixels)
                curve[1].append(float(np.mean(row[name]["psnr_rgb"])))
        summary[clip] = {
            "bpp_psnr": curves,
            "bd_rate_vs_image_percent": {name: bd_rate(*curves["image"], *curves[name]) for name in variants},
        }
        print(json.dumps({clip: summary[clip]["bd_rate_vs_image_percent"]}), flush=True)
    result = {
        "command": f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '')} python eval/bench_clip.py --clips "
                   f"{args.clips} --frames {args.frames} --group {args.group} --preset {args.preset} --qualities "
                   f"{args.qualities} --variants {args.variants} --out {args.out}",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        **hardware.results_machine(),
        "model": entry.id,
        "steps": steps,
        "variants": {name: VARIANTS[name] for name in variants},
        "seconds": time.perf_counter() - started,
        "summary": summary,
        "rows": rows,
    }  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
