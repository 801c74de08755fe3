"""Decode time of v2 files: `inrcodec decode` wall seconds (start-up included) and, in this process, the
entropy decoding and rendering separately.

    python eval/bench_decode.py --images kodim01,kodim05,kodim15,kodim20,kodim23 --qualities 1,5,8 \\
        --out eval/results/v2/decode_time.json

Each image is encoded once with the fast preset (the default model); each file is decoded by the CLI three
times in a fresh process (the median is recorded) and three times in-process. The CLI is the `inrcodec` script
installed beside this Python (recorded as "cli").
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def installed_command() -> str:
    """The `inrcodec` script that pip installed beside this Python (what a user of this environment runs), not a
    version manager's shim found first on PATH (pyenv's adds a shell start-up to every command)."""
    beside = Path(sys.executable).parent / "inrcodec"
    return str(beside) if beside.exists() else "inrcodec"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kodak", type=Path, default=Path(__file__).resolve().parent.parent.parent / "shared/data/kodak")
    parser.add_argument("--images", default="kodim01,kodim05,kodim15,kodim20,kodim23")
    parser.add_argument("--qualities", default="1,5,8")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    from PIL import Image

    from inrcodec import api, decoder, hardware
    from inrcodec.bitstream.image_v2 import parse_image

    entry = api.resolve_model(None)
    command = installed_command()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for name in args.images.split(","):
            pixels = np.array(Image.open(args.kodak / f"{name}.png").convert("RGB"))
            for quality in map(int, args.qualities.split(",")):
                data = api.encode_image(pixels, quality=quality, preset="fast").data
                path, out = Path(folder) / f"{name}.inr", Path(folder) / f"{name}.png"
                path.write_bytes(data)
                walls = []
                for _ in range(3):
                    started = time.perf_counter()
                    subprocess.run([command, "decode", str(path), "-o", str(out), "--force"], check=True,
                                   capture_output=True)  # fmt: skip
                    walls.append(time.perf_counter() - started)
                entropy, render = [], []
                for _ in range(3):
                    file = parse_image(data)
                    shared = decoder.model_for(file)
                    t0 = time.perf_counter()
                    latents = decoder.decode_file_latents(file, shared)
                    t1 = time.perf_counter()
                    decoder.pixels_of(decoder.render_latents(file, shared, latents), file.channels)
                    entropy.append(t1 - t0)
                    render.append(time.perf_counter() - t1)
                rows.append({"image": name, "quality": quality, "bytes": len(data),
                             "bpp": len(data) * 8 / (pixels.shape[0] * pixels.shape[1]),
                             "cli_wall_seconds": statistics.median(walls),
                             "entropy_decode_seconds": statistics.median(entropy),
                             "render_seconds": statistics.median(render)})  # fmt: skip
                print(rows[-1], flush=True)
    summary = {key: {"mean": float(np.mean([r[key] for r in rows])), "max": float(np.max([r[key] for r in rows]))}
               for key in ("cli_wall_seconds", "entropy_decode_seconds", "render_seconds")}  # fmt: skip
    report = {"model": {"id": entry.id, "sha256": entry.sha256}, "rows": rows, "summary": summary,
              "hardware": hardware.describe(), "cli": command, "command": " ".join(["python", *sys.argv]),
              "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
