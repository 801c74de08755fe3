"""Region and scale decode time against a whole decode, on format 2.1 files (not tiled: every decode still
entropy-decodes all the latents; only rendering shrinks with the region).

    python eval/bench_region.py --images kodim01,kodim05,kodim15,kodim20,kodim23 --out eval/results/v2/region_decode.json

Each image is encoded once (fast preset, quality 5, the default model). Each file is decoded by the CLI three
times per variant in a fresh process (the median is recorded): whole, `--region` of the centre quarter
(half the width and half the height), `--scale 0.25`; and in this process the same three, split into entropy
decoding and rendering.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from bench_decode import installed_command


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kodak", type=Path, default=Path(__file__).resolve().parent.parent.parent / "shared/data/kodak")
    parser.add_argument("--images", default="kodim01,kodim05,kodim15,kodim20,kodim23")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    from PIL import Image

    from inrcodec import api, decoder, hardware
    from inrcodec.bitstream.image_v2 import parse_image

    command, rows = installed_command(), []
    with tempfile.TemporaryDirectory() as folder:
        for name in args.images.split(","):
            pixels = np.array(Image.open(args.kodak / f"{name}.png").convert("RGB"))
            height, width = pixels.shape[:2]
            box = (width // 4, height // 4, width // 2, height // 2)
            variants = {"whole": [], "region_quarter": ["--region", ",".join(map(str, box))],
                        "scale_0.25": ["--scale", "0.25"]}  # fmt: skip
            data = api.encode_image(pixels, quality=5, preset="fast").data
            path, out = Path(folder) / f"{name}.inr", Path(folder) / f"{name}.png"
            path.write_bytes(data)
            row = {"image": name, "bytes": len(data), "region": box}
            for variant, extra in variants.items():
                walls = []
                for _ in range(3):
                    started = time.perf_counter()
                    subprocess.run([command, "decode", str(path), "-o", str(out), "--force", *extra], check=True,
                                   capture_output=True)  # fmt: skip
                    walls.append(time.perf_counter() - started)
                row[f"cli_{variant}_seconds"] = statistics.median(walls)
            file = parse_image(data)
            shared = decoder.model_for(file)
            started = time.perf_counter()
            latents = decoder.decode_file_latents(file, shared)
            row["entropy_seconds"] = time.perf_counter() - started
            for variant, (region, scale) in {"whole": (None, None), "region_quarter": (box, None),
                                             "scale_0.25": (None, 0.25)}.items():  # fmt: skip
                view = decoder.view_of(file, region, scale, 1 << 30)
                started = time.perf_counter()
                decoder.render_latents(file, shared, latents, view)
                row[f"render_{variant}_seconds"] = time.perf_counter() - started
            rows.append(row)
            print(json.dumps(row), flush=True)

    def mean(key: str) -> float:
        return float(np.mean([row[key] for row in rows]))

    summary = {key: mean(key) for key in rows[0] if key.endswith("_seconds")}
    summary["cli_region_over_whole"] = summary["cli_region_quarter_seconds"] / summary["cli_whole_seconds"]
    summary["in_process_region_over_whole"] = (summary["entropy_seconds"] + summary["render_region_quarter_seconds"]) / (
        summary["entropy_seconds"] + summary["render_whole_seconds"])
    result = {
        "command": "python eval/bench_region.py --images " + args.images + " --out " + str(args.out),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        **hardware.results_machine(),
        "cli": command,
        "model": api.resolve_model(None).id,
        "format": "2.1, not tiled: region and scale decodes entropy-decode every latent",
        "rows": rows,
        "mean": summary,
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
