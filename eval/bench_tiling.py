"""The rate cost of tiling, and what tiles buy: the same integer latents coded as one stream and in tiles of
64, 128 and 256 pixels, on real encodes of Kodak images (so the PSNR is the same and the bytes tell the whole
cost); at one quality (--crop-quality), for the untiled file and each tiling, `crop` of the centre quarter (on
64-px borders), the top-left quarter and a quarter on no tile border (bytes against the file cropped, and its
decode against the same box of the whole decode), and the in-process time of a `--region` decode of the centre
and the top-left quarter against a whole decode.

    OMP_NUM_THREADS=1 python eval/bench_tiling.py --preset fast --qualities 1,3,5,7 --out eval/results/v2/tiling.json

Each image is encoded once untiled (the default model, --preset), its latents decoded from the file, then
re-coded in tiles (inrcodec.recode.code_latents) and checked to decode to the same latents. Records the file
bytes per image, quality and tile size, and for each tile size the ratio of total bytes to untiled and the
BD-rate of the tiled curve (mean PSNR against mean bpp per quality) against the untiled one.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

TILE_LOG2 = (6, 7, 8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kodak", type=Path, default=Path(__file__).resolve().parent.parent.parent / "shared/data/kodak")
    parser.add_argument("--preset", default="fast")
    parser.add_argument("--qualities", default="1,3,5,7")
    parser.add_argument("--images", default=",".join(f"kodim{i:02d}" for i in range(1, 25)))
    parser.add_argument("--crop-quality", type=int, default=5, help="the quality whose files are also cropped and timed")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    from PIL import Image

    from inrcodec import api, decoder, hardware
    from inrcodec.bitstream.image_v2 import parse_image
    from inrcodec.metrics import bd_rate
    from inrcodec.recode import code_latents, crop

    rows, started = [], time.perf_counter()
    for name in args.images.split(","):
        pixels = np.array(Image.open(args.kodak / f"{name}.png").convert("RGB"))
        for quality in map(int, args.qualities.split(",")):
            result = api.encode_image(pixels, quality=quality, preset=args.preset)
            file = parse_image(result.data)
            shared = decoder.model_for(file)
            latents = decoder.decode_file_latents(file, shared)
            row = {"image": name, "quality": quality, "psnr_rgb": result.stats["psnr_rgb"],
                   "bytes": {"untiled": len(result.data)}}  # fmt: skip
            whole_pixels = decoder.decode_image(result.data).pixels
            height, width = pixels.shape[:2]
            boxes = {"centre": (width // 4, height // 4, width // 2, height // 2),  # on 64-px borders
                     "corner": (0, 0, width // 2, height // 2),  # the top-left quarter
                     "offset": (width // 8 + 5, height // 8 + 7, width // 2, height // 2)}  # on no tile border
            row["crop_bytes_ratio"], row["crop_max_difference"], row["region_time_ratio"] = {}, {}, {}
            files = {"untiled": result.data}
            for tile_log2 in TILE_LOG2:
                key = str(1 << tile_log2)
                tiled, _ = code_latents(file, latents, shared.contexts, tile_log2)
                data = tiled.to_bytes()
                again = decoder.decode_file_latents(parse_image(data), shared)
                assert all(np.array_equal(a, b) for a, b in zip(latents, again)), (name, quality, tile_log2)
                row["bytes"][key] = len(data)
                files[key] = data
            if quality != args.crop_quality:
                rows.append(row)
                print(json.dumps(row), flush=True)
                continue
            for key, data in files.items():
                for where, (x, y, w, h) in boxes.items():
                    cropped = crop(data, (x, y, w, h))
                    difference = np.abs(decoder.decode_image(cropped).pixels.astype(int) - whole_pixels[y : y + h, x : x + w])
                    row["crop_bytes_ratio"][f"{key}/{where}"] = len(cropped) / len(data)
                    row["crop_max_difference"][f"{key}/{where}"] = int(difference.max())
                for where in ("centre", "corner"):
                    times = {None: float("inf"), where: float("inf")}
                    for _ in range(5):  # interleaved, so that a slower moment of the machine hits both
                        for region in times:
                            started_decode = time.perf_counter()
                            decoder.decode_image(data, region=None if region is None else boxes[region])
                            times[region] = min(times[region], time.perf_counter() - started_decode)
                    row["region_time_ratio"][f"{key}/{where}"] = times[where] / times[None]
            rows.append(row)
            print(json.dumps(row), flush=True)

    pixels_per_image = {row["image"]: None for row in rows}
    qualities = sorted({row["quality"] for row in rows})

    def curve(key: str) -> tuple[list[float], list[float]]:
        bpp, psnr = [], []
        for quality in qualities:
            chosen = [row for row in rows if row["quality"] == quality]
            bpp.append(float(np.mean([row["bytes"][key] * 8 / (768 * 512) for row in chosen])))
            psnr.append(float(np.mean([row["psnr_rgb"] for row in chosen])))
        return bpp, psnr

    untiled = curve("untiled")
    cropped = [row for row in rows if row["quality"] == args.crop_quality]
    summary = {}
    for key in ["untiled"] + [str(1 << tile_log2) for tile_log2 in TILE_LOG2]:
        entry = {}
        if key != "untiled":
            bpp, psnr = curve(key)
            entry["bytes_ratio"] = sum(row["bytes"][key] for row in rows) / sum(row["bytes"]["untiled"] for row in rows)
            entry["bd_rate_percent"] = bd_rate(untiled[0], untiled[1], bpp, psnr)
        for where in ("centre", "corner", "offset"):
            ratios = [row["crop_bytes_ratio"][f"{key}/{where}"] for row in cropped]
            entry[f"crop_{where}_bytes_ratio_mean"] = float(np.mean(ratios))
            entry[f"crop_{where}_bytes_ratio_max"] = float(np.max(ratios))
            entry[f"crop_{where}_max_difference"] = int(np.max([row["crop_max_difference"][f"{key}/{where}"] for row in cropped]))
        for where in ("centre", "corner"):
            entry[f"region_{where}_time_ratio_mean"] = float(np.mean([row["region_time_ratio"][f"{key}/{where}"] for row in cropped]))
        summary[key] = entry
    result = {
        "command": f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '')} python eval/bench_tiling.py --preset {args.preset} --qualities {args.qualities} --crop-quality "
                   f"{args.crop_quality} --out {args.out}",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        **hardware.results_machine(),
        "model": api.resolve_model(None).id,
        "preset": args.preset,
        "images": len(pixels_per_image),
        "note": "bpp over 768 x 512 pixels (Kodak portrait images have the same count); same latents, so same PSNR; "
                "crops and region times at --crop-quality; the untiled file (the default below 4 MP) is cropped by "
                "re-coding it in 64-px tiles; times are the best of five in-process decodes (entropy decoding and "
                "rendering), whole and region interleaved",
        "seconds": time.perf_counter() - started,
        "summary": summary,
        "rows": rows,
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
