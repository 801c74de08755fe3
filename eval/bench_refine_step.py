"""Encode speed with and without the CLI's allocator setting (inrcodec.runtime.keep_large_allocations_on_the_heap).

    python eval/bench_refine_step.py --out eval/results/v2/refine_step.json

Each measurement is a fresh process that encodes one Kodak image (default kodim05, 768x512) through the Python
API at the given preset, with glibc's default allocator behaviour ("plain") or with the setting the CLI makes
("tuned"), at 1 and 2 torch threads. It records the encode's wall seconds, the median seconds of one refinement
step (from the progress callback's timestamps) and the file's SHA-256 (the setting must not change the bytes at
a given thread count).
Run it with nothing else busy.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

CHILD = """
import hashlib, json, statistics, sys, time
mode, threads, preset, quality, image = sys.argv[1:]
from inrcodec import runtime
tuned = runtime.keep_large_allocations_on_the_heap() if mode == "tuned" else False
import numpy as np, torch
from PIL import Image
torch.set_num_threads(int(threads))
from inrcodec import api
pixels = np.array(Image.open(image).convert("RGB"))
stamps = []
result = api.encode_image(pixels, quality=int(quality), preset=preset, progress=lambda step, info: stamps.append(time.perf_counter()))
steps = [b - a for a, b in zip(stamps, stamps[1:])]
print(json.dumps({"tuned": tuned, "encode_seconds": result.stats["encode_seconds"],
                  "step_seconds": statistics.median(steps) if steps else None, "steps": len(stamps),
                  "sha256": hashlib.sha256(result.data).hexdigest(), "bytes": len(result.data)}))
"""


def measure(mode: str, threads: int, preset: str, quality: int, image: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_") and k != "OMP_NUM_THREADS"}
    env["OMP_WAIT_POLICY"] = "PASSIVE"
    out = subprocess.run([sys.executable, "-c", CHILD, mode, str(threads), preset, str(quality), str(image)],
                         env=env, check=True, capture_output=True, text=True).stdout  # fmt: skip
    return {"mode": mode, "threads": threads, "preset": preset, "quality": quality, **json.loads(out.splitlines()[-1])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", type=Path,
                        default=Path(__file__).resolve().parent.parent.parent / "shared/data/kodak/kodim05.png")
    parser.add_argument("--presets", default="fast,medium")
    parser.add_argument("--quality", type=int, default=5)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    from inrcodec import api, hardware

    rows = []
    for preset in args.presets.split(","):
        for threads in (1, 2):
            for mode in ("plain", "tuned"):
                rows.append(measure(mode, threads, preset, args.quality, args.image))
                print(rows[-1], flush=True)
    # torch's reductions depend on the thread count, so the bytes are compared at equal threads
    same_bytes = all(len({r["sha256"] for r in rows if (r["preset"], r["threads"]) == key}) == 1
                     for key in {(r["preset"], r["threads"]) for r in rows})  # fmt: skip
    entry = api.resolve_model(None)
    report = {"image": args.image.name, "model": {"id": entry.id, "sha256": entry.sha256}, "rows": rows,
              "same_bytes_in_every_mode": same_bytes, "hardware": hardware.describe(), "cpus": os.cpu_count(),
              "command": " ".join(["python", *sys.argv]),
              "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: report[k] for k in ("same_bytes_in_every_mode", "hardware")}, indent=2))


if __name__ == "__main__":
    main()
