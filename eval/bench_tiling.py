"""The rate cost of tiling, and what tiles buy: the same integer latents coded as one stream and in tiles of
128, 256 and 512 pixels, on real encodes of Kodak images (so the PSNR is the same and the bytes tell the whole
cost); for each tile size, at one quality (--crop-quality), `crop` of the centre and the top-left quarter (bytes against the whole tiled file, and its decode
against the same box of the whole decode) and the in-process time of a `--region` decode of that quarter
against a whole decode.

    python eval/bench_tiling.py --preset fast --qualities 1,3,5,7 --out eval/results/v2/tiling.json

Each image is encoded once untiled (the default model, --preset), its latents decoded from the file, then
re-coded in tiles (inrcodec.recode.code_latents) and checked to decode to the same latents. Records the file
bytes per image, quality and tile size, and for each tile size the ratio of total bytes to untiled and the
BD-rate of the tiled curve (mean PSNR against mean bpp per quality) against the untiled one.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

TILE_LOG2 = (7, 8, 9)


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
            box = (width // 4, height // 4, width // 2, height // 2)  # the centre quarter
            corner = (0, 0, width // 2, height // 2)  # the top-left quarter
            row["crop_bytes_ratio"], row["crop_max_difference"], row["region_time_ratio"] = {}, {}, {}
            row["corner_crop_bytes_ratio"], row["corner_crop_max_difference"] = {}, {}
            for tile_log2 in TILE_LOG2:
                key = str(1 << tile_log2)
                tiled, _ = code_latents(file, latents, shared.contexts, tile_log2)
                data = tiled.to_bytes()
                again = decoder.decode_file_latents(parse_image(data), shared)
                assert all(np.array_equal(a, b) for a, b in zip(latents, again)), (name, quality, tile_log2)
                row["bytes"][key] = len(data)
                if quality != args.crop_quality:
                    continue
                cropped = crop(data, box)
                x, y, w, h = box
                difference = np.abs(decoder.decode_image(cropped).pixels.astype(int) - whole_pixels[y : y + h, x : x + w])
                row["crop_bytes_ratio"][key] = len(cropped) / len(data)
                row["crop_max_difference"][key] = int(difference.max())
                cropped = crop(data, corner)
                x, y, w, h = corner
                difference = np.abs(decoder.decode_image(cropped).pixels.astype(int) - whole_pixels[y : y + h, x : x + w])
                row["corner_crop_bytes_ratio"][key] = len(cropped) / len(data)
                row["corner_crop_max_difference"][key] = int(difference.max())
                times = []
                for region in (None, box):
                    best = float("inf")
                    for _ in range(3):
                        started_decode = time.perf_counter()
                        decoder.decode_image(data, region=region)
                        best = min(best, time.perf_counter() - started_decode)
                    times.append(best)
                row["region_time_ratio"][key] = times[1] / times[0]
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
    for tile_log2 in TILE_LOG2:
        key = str(1 << tile_log2)
        total = sum(row["bytes"][key] for row in rows) / sum(row["bytes"]["untiled"] for row in rows)
        bpp, psnr = curve(key)
        summary[key] = {
            "bytes_ratio": total, "bd_rate_percent": bd_rate(untiled[0], untiled[1], bpp, psnr),
            "crop_quarter_bytes_ratio_mean": float(np.mean([row["crop_bytes_ratio"][key] for row in cropped])),
            "crop_quarter_bytes_ratio_max": float(np.max([row["crop_bytes_ratio"][key] for row in cropped])),
            "crop_max_difference": int(np.max([row["crop_max_difference"][key] for row in cropped])),
            "corner_crop_bytes_ratio_mean": float(np.mean([row["corner_crop_bytes_ratio"][key] for row in cropped])),
            "corner_crop_bytes_ratio_max": float(np.max([row["corner_crop_bytes_ratio"][key] for row in cropped])),
            "corner_crop_max_difference": int(np.max([row["corner_crop_max_difference"][key] for row in cropped])),
            "region_quarter_time_ratio_mean": float(np.mean([row["region_time_ratio"][key] for row in cropped])),
        }  # fmt: skip
    result = {
        "command": f"python eval/bench_tiling.py --preset {args.preset} --qualities {args.qualities} --crop-quality "
                   f"{args.crop_quality} --out {args.out}",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        **hardware.results_machine(),
        "model": api.resolve_model(None).id,
        "preset": args.preset,
        "images": len(pixels_per_image),
        "note": "bpp over 768 x 512 pixels (Kodak portrait images have the same count); same latents, so same PSNR; "
                "times are the best of three in-process decodes (entropy decoding and rendering)",
        "seconds": time.perf_counter() - started,
        "summary": summary,
        "rows": rows,
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
